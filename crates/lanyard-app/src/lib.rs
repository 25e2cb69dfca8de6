//! Lanyard's use-cases: the one home of every rule, below all doors.
//!
//! The doors (the REST API and the pages in `lanyard-web`, the CLI and the
//! demo in `lanyard`) parse their input, call one use-case here, and map
//! its outcome to JSON, a page or an exit status. Nothing here knows HTTP
//! or SQL: the store is reached through `lanyard-core`'s traits, and every
//! change is made in a unit of work that also writes its audit event, so
//! both are stored or neither is.
//!
//! [`Lanyard`] is the context every use-case runs in: settings, the clock,
//! the store, the catalog, the password hasher, and the per-node state of
//! sign-in and SSO. Capabilities come from it ([`access`]): a [`Reader`]
//! for any authenticated caller, a [`Writer`] only for a role that may
//! write, so a change cannot be reached without the role check.
//!
//! Map of the crate:
//! - [`access`]: authentication of API keys and admin sessions, and the
//!   capabilities ([`Reader`], [`Writer`], [`Public`]);
//! - `work`: the unit of work a [`Writer`] opens: the change and its audit
//!   events in one transaction;
//! - [`audit`]: the batched writer for sign-in and SSO events, and the
//!   audit log's paging rules;
//! - [`directory`]: users, groups, memberships, and what an admin does
//!   about a user's sign-in (sessions, lockout, TOTP);
//! - [`admins`]: admin accounts (with the last-administrator rule, an
//!   admin's own password, sessions and second factor) and API keys;
//! - [`apps`]: applications: creation from the catalog, settings,
//!   activation, deletion, signing keys, metadata, bindings, entitlements,
//!   portal images, the Preview;
//! - [`sign_in`]: the sign-in state machine shared by users and admins,
//!   and the second factor;
//! - [`sessions`]: what a session cookie means for a request, sign-out,
//!   and the batched writes of each session's last use;
//! - [`portal`]: a user's own changes (TOTP enrollment, password);
//! - [`factors`]: the rules of an account's own factors (TOTP enrollment
//!   and removal, confirming and checking the password), shared by users
//!   and admins;
//! - [`sso`]: issuing (or refusing) a SAML response: request checks, the
//!   decision, replay memory, signing, and the `sso.*` events;
//! - [`secrets`], [`totp`], `ratelimit`: randomness and password hashing
//!   off the runtime, TOTP codes, the per-address sign-in limit.

use std::sync::Arc;

use lanyard_core::catalog::Catalog;
use lanyard_core::store::Store;
use lanyard_core::{Clock, Error, Result, Settings};
use time::OffsetDateTime;

pub mod access;
pub mod admins;
pub mod apps;
pub mod audit;
pub mod directory;
pub mod factors;
pub mod metrics;
pub mod portal;
mod ratelimit;
pub mod request;
pub mod retention;
pub mod secrets;
pub mod sessions;
pub mod sign_in;
pub mod sso;
pub mod totp;
mod work;

pub use access::{Authenticated, KeyCheck, Public, Reader, Writer};
pub use audit::{Audit, AuditWriter};

/// The context of every use-case. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Lanyard(Arc<Inner>);

struct Inner {
    settings: Settings,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    audit: Audit,
    passwords: secrets::PasswordHasher,
    catalog: Catalog,
    throttle: sign_in::Throttle,
    signer: sso::Signer,
    sso_apps: sso::AppCache,
    touches: sessions::Touches,
    metrics: metrics::Metrics,
    expiry: apps::expiry::ExpiryState,
}

impl Lanyard {
    /// `audit` is the handle of an [`AuditWriter`] started on (usually) the
    /// same store; the caller owns the writer and shuts it down last. Fails
    /// only when the embedded catalog does not parse (a build defect).
    pub fn new(
        settings: Settings,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
        audit: Audit,
    ) -> Result<Self> {
        let catalog =
            Catalog::embedded().map_err(|e| Error::Store(format!("the embedded catalog: {e}")))?;
        let throttle = sign_in::Throttle::new(settings.auth.login_attempts_per_minute);
        let (store_for_metrics, audit_for_metrics) = (store.clone(), audit.clone());
        Ok(Lanyard(Arc::new(Inner {
            settings,
            clock,
            store,
            audit,
            passwords: secrets::PasswordHasher::new(),
            catalog,
            throttle,
            signer: sso::Signer::new(),
            sso_apps: sso::AppCache::default(),
            touches: sessions::Touches::default(),
            metrics: metrics::Metrics::new(store_for_metrics, audit_for_metrics),
            expiry: apps::expiry::ExpiryState::default(),
        })))
    }

    /// Settings, validated once at startup.
    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    /// "Now", from the clock every use-case reads.
    pub fn now(&self) -> OffsetDateTime {
        self.0.clock.now()
    }

    /// The connector templates applications are created from.
    pub fn catalog(&self) -> &Catalog {
        &self.0.catalog
    }

    /// Whether the database answers within `timeout` (readiness): the
    /// error says why not.
    pub async fn database_ready(&self, timeout: std::time::Duration) -> Result<()> {
        match tokio::time::timeout(timeout, self.0.store.ping()).await {
            Ok(answered) => answered,
            Err(_) => Err(Error::Store(format!(
                "the database did not answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    /// The node's metrics (the doors record request latency here).
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.0.metrics
    }

    /// The metrics exposition: each app's certificate expiry is read from
    /// the database now (an error leaves the previous values), the rest are
    /// counters and gauges of this node.
    pub async fn render_metrics(&self) -> String {
        match self.0.store.active_key_expiries().await {
            Ok(expiries) => {
                let expiries: Vec<(String, f64)> = expiries
                    .into_iter()
                    .map(|e| (e.slug, e.not_after.unix_timestamp() as f64))
                    .collect();
                self.0.metrics.set_certificate_expiries(&expiries);
            }
            Err(e) => tracing::warn!("metrics: cannot read the certificates' expiry: {e}"),
        }
        self.0.metrics.encode()
    }

    /// Writes the sessions' last uses noted and not yet written (at
    /// shutdown, so none is lost).
    pub async fn flush_session_uses(&self) {
        self.0.touches.flush(&self.0.store).await;
    }

    /// The batched audit writer's handle (its counters, a flush).
    pub fn audit(&self) -> &Audit {
        &self.0.audit
    }

    /// `"sqlite"` or `"postgres"` (the kind only, never the URL).
    pub fn database_kind(&self) -> &'static str {
        self.0.store.backend_name()
    }

    fn store(&self) -> &dyn Store {
        &*self.0.store
    }

    fn passwords(&self) -> &secrets::PasswordHasher {
        &self.0.passwords
    }
}

/// The client of a flow as the server sees it: the peer's address and the
/// user agent (truncated by the door). Sessions keep both; audit events
/// keep the address.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub addr: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

impl Client {
    /// The address as text, for audit events and sessions.
    pub fn source(&self) -> Option<String> {
        self.addr.map(|a| a.to_string())
    }
}
