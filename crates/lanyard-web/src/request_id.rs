//! Every request gets an id: the `X-Request-Id` a trusted proxy sent (see
//! `trusted_proxies`; from anyone else the header is ignored, so a client
//! cannot pick ids that collide with others'), else a new random one. The
//! id is returned in the response's `X-Request-Id` header, is a field of
//! every log line written while the request is served (the `request`
//! span), and is stored with the audit events the request causes
//! (`lanyard_app::request`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::AppState;

pub const HEADER: &str = "x-request-id";

/// Longest id taken from a proxy.
const MAX_LEN: usize = 128;

/// The request's id, in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn assign(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let trusted = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| state.settings().http.is_trusted(peer.ip()));
    let given = trusted
        .then(|| req.headers().get(HEADER))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned);
    let id = match given {
        Some(id) => id,
        None => new_id(),
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = std::time::Instant::now();
    let mut response = lanyard_app::request::scope(id.clone(), next.run(req))
        .instrument(span.clone())
        .await;
    state.lanyard.metrics().request(
        lanyard_app::metrics::route_group(&path),
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    // The access log, at debug level (`--log lanyard_web=debug`): the path
    // only (a query may carry a SAMLRequest), quoted like every value from
    // a request.
    span.in_scope(|| {
        tracing::debug!(
            method = %method,
            path = ?path,
            status = response.status().as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "request served"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// 1-128 visible ASCII characters, no spaces: safe in a header and a log line.
fn acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// 96 random bits as 24 hex digits (from the system's generator; a failure
/// of it, which does not happen, still yields a usable id).
fn new_id() -> String {
    let bytes = lanyard_app::secrets::random_bytes::<12>().unwrap_or_default();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_proxies_must_be_plain() {
        assert!(acceptable("abc-123_XYZ.7"));
        for bad in ["", "a b", "line\nbreak", "é", &"x".repeat(129)] {
            assert!(!acceptable(bad), "{bad:?}");
        }
        let a = new_id();
        assert_eq!(a.len(), 24);
        assert_ne!(a, new_id());
    }
}
