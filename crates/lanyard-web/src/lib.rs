//! Lanyard's HTTP edge: [`app`] builds the whole axum [`Router`].
//!
//! Each area owns its `router()` (`health`: `/healthz` and `/readyz`, the REST API under `/api/v1`,
//! the pages, the SAML endpoints) and [`app`] merges them, adds the
//! cross-cutting layers (the client's address, request body limit, the
//! refusal of duplicated cookies) and the JSON fallbacks from
//! `error`. Handlers read shared, already-validated state from [`AppState`];
//! nothing here reads configuration, the environment or the system clock
//! directly.
//!
//! The rules live below, in `lanyard-app`: a door parses its input, calls
//! one use-case, and maps the outcome to JSON or a page. Nothing here names
//! a store trait.
//!
//! Map of the crate:
//! - `api`: the REST API, one file per area, its error type and extractors
//!   (`Caller`, `ApiWriter`), and the OpenAPI document generated from the
//!   handlers;
//! - `public`: unauthenticated metadata and portal images;
//! - `pages`: server-rendered pages (askama), their headers and static
//!   files: sign-in and sign-out (`pages::signin`), the user portal
//!   (`pages::portal`), the admin portal (`pages::admin`);
//! - [`client`]: the client's address (trusted proxies), decided once per
//!   request; [`request_id`]: its id (`X-Request-Id`, log span, audit);
//! - `session`: cookies, CSRF tokens, the signed-in extractor;
//! - `sso`: `/saml2/<slug>`: the HTTP-Redirect and HTTP-POST bindings and
//!   the pages of single sign-on;
//! - [`standin`]: the demo's stand-in for AWS's sign-in page.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use lanyard_app::Lanyard;
use lanyard_core::Settings;

mod api;
pub mod client;
mod error;
mod health;
pub mod metrics;
mod pages;
mod public;
pub mod request_id;
pub mod server;
mod session;
mod sso;
pub mod standin;
pub mod tls;

/// Largest request body any extractor will accept (1 MiB). Every route added
/// to [`app`] inherits it; an endpoint that needs more says so on its route.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Shared state handed to every handler: the use-case layer. Cheap to
/// clone.
#[derive(Clone)]
pub struct AppState {
    pub lanyard: Lanyard,
    /// Set once the node stops: `/readyz` answers 503 from then on.
    draining: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(lanyard: Lanyard) -> Self {
        Self {
            lanyard,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The node is stopping: `/readyz` answers 503 so load balancers send
    /// no new work (requests are still served).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Settings, validated once at startup.
    pub fn settings(&self) -> &Settings {
        self.lanyard.settings()
    }
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    // Areas are merged first: the method fallback and the layers below only
    // apply to routes that already exist when they are added.
    Router::new()
        .merge(health::router())
        .merge(api::router())
        .merge(public::router())
        .merge(pages::router())
        .merge(pages::signin::router())
        .merge(pages::portal::router())
        .merge(pages::admin::router())
        .merge(sso::router())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(session::refuse_duplicate_cookies))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client::resolve,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::assign,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), hsts))
        .with_state(state)
}

/// On an https base URL, every response tells browsers to use https only
/// (`Strict-Transport-Security`, two years; subdomains are left alone: they
/// may be other services).
async fn hsts(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(req).await;
    if state.settings().base_url.as_str().starts_with("https://") {
        response.headers_mut().insert(
            axum::http::header::STRICT_TRANSPORT_SECURITY,
            axum::http::HeaderValue::from_static("max-age=63072000"),
        );
    }
    response
}

/// An audit event as `GET /api/v1/audit-events` shows it (the same fields,
/// for `lanyard audit export`).
pub fn audit_event_json(event: lanyard_core::audit::AuditEvent) -> serde_json::Value {
    serde_json::to_value(api::audit::AuditEventView::from(event)).unwrap_or_default()
}

/// The REST API's OpenAPI document as pretty JSON (what
/// `GET /api/v1/openapi.json` serves and `docs/openapi.json` holds).
pub fn openapi_json() -> String {
    api::openapi_json()
}
