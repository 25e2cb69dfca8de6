//! The node's metrics, in the Prometheus / OpenMetrics text format
//! (`prometheus-client`), for `GET /metrics` on the separate
//! `metrics_listen` address.
//!
//! Names follow Prometheus conventions (base units, `_total` counters,
//! `_seconds`); every label has a bounded set of values: an app's slug (as
//! many as there are apps), a reason or outcome code from the code, a route
//! group, a status class. No user names, no raw paths.
//!
//! - `lanyard_sso_responses_total{app, outcome, reason}`: `issued` (reason
//!   `ok`) or `denied` (the denial's code, e.g. `not_authorized`,
//!   `role_not_granted`, `invalid_request`);
//! - `lanyard_sign_ins_total{account, outcome}`: `user`/`admin`, `success`
//!   or the failure's reason (`wrong_password`, `locked`, `throttled`, ...);
//! - `lanyard_http_request_duration_seconds{group, status}`: a histogram per
//!   route group (`sso`, `api`, `admin`, `portal`, `sign_in`, `metadata`,
//!   `static`, `health`, `other`) and status class (`2xx` ... `5xx`);
//! - `lanyard_audit_queue_depth`, `lanyard_audit_events_written_total`,
//!   `lanyard_audit_events_logged_instead_total` (spills: queue full or
//!   writer stopped);
//! - `lanyard_db_connections{state="in_use"|"idle"}`,
//!   `lanyard_db_statement_errors_total`;
//! - `lanyard_signing_certificate_not_after_timestamp_seconds{app}`: each
//!   app's active signing certificate's expiry (read at scrape time);
//! - `lanyard_build_info{version}`.

use std::sync::Arc;

use lanyard_core::store::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;

use crate::audit::Audit;

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SsoLabels {
    app: String,
    outcome: &'static str,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    account: &'static str,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    group: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabel {
    app: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type Latency = Family<HttpLabels, Histogram, fn() -> Histogram>;

/// Request latency buckets: 0.25 ms to about 4 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_25, 2.0, 15,
    ))
}

/// The metrics of one node (cheap to share: counters are atomics).
pub struct Metrics {
    registry: Registry,
    sso: Family<SsoLabels, Counter>,
    sign_ins: Family<SignInLabels, Counter>,
    latency: Latency,
    certificate_expiry: Family<AppLabel, Gauge<f64, AtomicU64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub(crate) fn new(store: Arc<dyn Store>, audit: Audit) -> Self {
        let mut registry = Registry::default();
        let sso = Family::<SsoLabels, Counter>::default();
        registry.register(
            "lanyard_sso_responses",
            "SSO answers to signed-in users, by app, outcome (issued, denied) and reason",
            sso.clone(),
        );
        let sign_ins = Family::<SignInLabels, Counter>::default();
        registry.register(
            "lanyard_sign_ins",
            "Sign-in attempts by account kind (user, admin) and outcome",
            sign_ins.clone(),
        );
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "lanyard_http_request_duration",
            "Time to answer a request, by route group and status class",
            Unit::Seconds,
            latency.clone(),
        );
        let certificate_expiry = Family::<AppLabel, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "lanyard_signing_certificate_not_after_timestamp_seconds",
            "When each app's active signing certificate expires (Unix time)",
            certificate_expiry.clone(),
        );
        registry.register(
            "lanyard_build",
            "The running Lanyard",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        registry.register_collector(Box::new(Scraped { store, audit }));
        Metrics {
            registry,
            sso,
            sign_ins,
            latency,
            certificate_expiry,
        }
    }

    /// One SSO answer for `app`: `issued`, or `denied` for `reason`.
    pub(crate) fn sso(&self, app: &str, outcome: &'static str, reason: &str) {
        self.sso
            .get_or_create(&SsoLabels {
                app: app.to_owned(),
                outcome,
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// One sign-in attempt of a `user` or `admin`: `success` or the reason.
    pub(crate) fn sign_in(&self, account: &'static str, outcome: &str) {
        self.sign_ins
            .get_or_create(&SignInLabels {
                account,
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// One request of route `group` answered with `status` after `seconds`.
    pub fn request(&self, group: &'static str, status: u16, seconds: f64) {
        let status = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.latency
            .get_or_create(&HttpLabels { group, status })
            .observe(seconds);
    }

    /// Sets each app's certificate expiry (replacing the previous set, so
    /// deleted apps disappear).
    pub(crate) fn set_certificate_expiries(&self, expiries: &[(String, f64)]) {
        self.certificate_expiry.clear();
        for (app, not_after) in expiries {
            self.certificate_expiry
                .get_or_create(&AppLabel { app: app.clone() })
                .set(*not_after);
        }
    }

    /// The exposition text.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The route group of a request path (bounded: never the path itself).
pub fn route_group(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "saml2" if path.ends_with("/metadata") => "metadata",
        "saml2" => "sso",
        "api" => "api",
        "admin" => "admin",
        "portal" => "portal",
        "login" | "logout" => "sign_in",
        "static" | "app-images" => "static",
        "healthz" | "readyz" => "health",
        _ => "other",
    }
}

/// Values read at scrape time: the audit queue and the database pool.
struct Scraped {
    store: Arc<dyn Store>,
    audit: Audit,
}

impl std::fmt::Debug for Scraped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scraped({})", self.store.backend_name())
    }
}

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let gauge = |encoder: &mut DescriptorEncoder, name: &str, help: &str, v: i64| {
            let g = ConstGauge::new(v);
            let m = encoder.encode_descriptor(name, help, None, g.metric_type())?;
            g.encode(m)
        };
        let counter = |encoder: &mut DescriptorEncoder, name: &str, help: &str, v: u64| {
            let c = ConstCounter::new(v);
            let m = encoder.encode_descriptor(name, help, None, c.metric_type())?;
            c.encode(m)
        };
        gauge(
            &mut encoder,
            "lanyard_audit_queue_depth",
            "Sign-in and SSO audit events waiting to be written",
            self.audit.queue_depth() as i64,
        )?;
        counter(
            &mut encoder,
            "lanyard_audit_events_written",
            "Batched audit events written since the node started",
            self.audit.written(),
        )?;
        counter(
            &mut encoder,
            "lanyard_audit_events_logged_instead",
            "Audit events written to the log instead (queue full, writer stopped, retries exhausted)",
            self.audit.logged_instead(),
        )?;
        let pool = self.store.pool_stats();
        let connections = ConstGauge::new(0i64);
        let mut family = encoder.encode_descriptor(
            "lanyard_db_connections",
            "Database pool connections by state",
            None,
            connections.metric_type(),
        )?;
        for (state, n) in [("in_use", pool.in_use), ("idle", pool.idle)] {
            let labels = [("state", state)];
            let m = family.encode_family(&labels)?;
            ConstGauge::new(i64::from(n)).encode(m)?;
        }
        counter(
            &mut encoder,
            "lanyard_db_statement_errors",
            "Database statements that failed since the node started",
            self.store.statement_errors(),
        )?;
        Ok(())
    }
}
