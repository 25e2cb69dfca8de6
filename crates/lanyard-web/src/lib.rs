//! Lanyard's HTTP edge: [`app`] builds the whole axum [`Router`].
//!
//! Each area owns its `router()` (`health` for now; pages, SAML endpoints and
//! the REST API join later) and [`app`] merges them, adds the cross-cutting
//! layers (request body limit) and the JSON fallbacks from `error`. Handlers
//! read shared, already-validated state from [`AppState`]; nothing here reads
//! configuration, the environment or the system clock directly.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use lanyard_core::{Clock, Settings};

mod error;
mod health;

/// Largest request body any extractor will accept (1 MiB). Every route added
/// to [`app`] inherits it; an endpoint that needs more says so on its route.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Shared state handed to every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Settings, validated once at startup.
    pub settings: Arc<Settings>,
    /// Where handlers and use-cases get "now" from.
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn new(settings: Settings, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings: Arc::new(settings),
            clock,
        }
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    // Areas are merged first: the method fallback and the layers below only
    // apply to routes that already exist when they are added.
    Router::new()
        .merge(health::router())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
