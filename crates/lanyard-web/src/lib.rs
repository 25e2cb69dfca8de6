//! Lanyard's HTTP edge: [`app`] builds the whole axum [`Router`].
//!
//! Each area owns its `router()` (`health`, the REST API under `/api/v1`;
//! pages and SAML endpoints join later) and [`app`] merges them, adds the
//! cross-cutting layers (request body limit) and the JSON fallbacks from
//! `error`. Handlers read shared, already-validated state from [`AppState`];
//! nothing here reads configuration, the environment or the system clock
//! directly.
//!
//! Map of the crate:
//! - [`access`]: the only way to the store: authentication, then a read or
//!   (role permitting) a write capability;
//! - [`audit`]: the batching audit writer every state change goes through;
//! - `secrets`: randomness, API key minting and password hashing and
//!   verification off the async runtime;
//! - `api`: the REST API, one file per area, its error type and extractors,
//!   and the OpenAPI document generated from the handlers;
//! - `apps_service`: the rules of changing applications, shared by the API
//!   and the admin portal;
//! - `idp`: per-application IdP URL, signing keys and metadata (and zips);
//! - `images`: portal image checks (decoded, size-limited);
//! - `public`: unauthenticated metadata and portal images;
//! - `pages`: server-rendered pages (askama), their headers and static
//!   files: sign-in and sign-out (`pages::signin`), the user portal
//!   (`pages::portal`), the admin portal (`pages::admin`);
//! - `ratelimit`: the per-address sign-in rate limiter (in memory, per node);
//! - `totp`: TOTP secrets, code checks, otpauth URIs and QR codes;
//! - `session`: the session cookie, the signed-in extractor, CSRF tokens;
//! - `sso`: `/saml2/<slug>`, IdP- and SP-initiated single sign-on.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use lanyard_core::store::Store;
use lanyard_core::{Clock, Settings};

pub mod access;
mod api;
mod apps_service;
pub mod audit;
mod error;
mod health;
mod idp;
mod images;
mod pages;
mod public;
mod ratelimit;
mod secrets;
mod session;
mod sso;
pub mod standin;
mod totp;

pub use crate::access::StoreAccess;
pub use crate::audit::{Audit, AuditWriter};

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
    /// The store, behind authentication and role checks (see [`access`]).
    pub(crate) access: StoreAccess,
    /// Where state changes are recorded.
    pub(crate) audit: Audit,
    /// Argon2id hashing on blocking threads, a few at a time.
    pub(crate) passwords: secrets::PasswordHasher,
    /// Per-node sign-in rate limit and session purge schedule.
    pub(crate) sign_in: pages::signin::Throttle,
    /// Parsed signing keys (by key id); RSA-2048 signs inline, larger keys
    /// on the blocking pool.
    pub(crate) signer: sso::Signer,
    /// Each app's SSO inputs, reused while its `sso_version` holds.
    pub(crate) sso_apps: sso::AppCache,
    /// Sessions' last use, written in batches.
    pub(crate) touches: session::Touches,
}

impl AppState {
    /// `audit` is the handle of an [`AuditWriter`] started on (usually) the
    /// same store; the caller owns the writer and shuts it down last.
    pub fn new(
        settings: Settings,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
        audit: Audit,
    ) -> Self {
        let sign_in = pages::signin::Throttle::new(settings.auth.login_attempts_per_minute);
        Self {
            settings: Arc::new(settings),
            clock,
            access: StoreAccess::new(store),
            audit,
            passwords: secrets::PasswordHasher::new(),
            sign_in,
            signer: sso::Signer::new(),
            sso_apps: sso::AppCache::default(),
            touches: session::Touches::default(),
        }
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
        .with_state(state)
}

/// The REST API's OpenAPI document as pretty JSON (what
/// `GET /api/v1/openapi.json` serves and `docs/openapi.json` holds).
pub fn openapi_json() -> String {
    api::openapi_json()
}
