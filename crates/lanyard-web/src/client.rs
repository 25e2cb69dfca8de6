//! Who the client of a request is, decided once per request at the edge.
//!
//! [`resolve`] (a layer of [`crate::app`]) reads the TCP peer that the
//! server put in the request (`ConnectInfo`) and, only when that peer is one
//! of the `trusted_proxies`, the `Forwarded` / `X-Forwarded-For` headers
//! (the rules are `lanyard_core::settings::HttpSettings::client_address`:
//! the right-most address that is not a trusted proxy). It stores the
//! answer as [`ClientAddr`]; the doors read that, never the peer or the
//! headers, so the per-address rate limit, the per-source sign-in counters,
//! sessions and the audit log all see the same client. From an untrusted
//! peer the headers are ignored, whatever they say.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::FORWARDED;
use axum::http::{Extensions, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The client's address, as [`resolve`] decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The client address of a request, when the server knows its peer.
pub fn client_addr(extensions: &Extensions) -> Option<IpAddr> {
    extensions.get::<ClientAddr>().map(|c| c.0)
}

/// Every value of header `name`; a value that is not text stays in the
/// chain as an entry no rule accepts (so it ends the walk).
fn values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .collect()
}

/// The layer: decides [`ClientAddr`] for the request.
pub async fn resolve(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let headers = req.headers();
        let forwarded = values(headers, FORWARDED.as_str());
        let xff = values(headers, "x-forwarded-for");
        let client = state
            .settings()
            .http
            .client_address(peer.ip(), &forwarded, &xff);
        req.extensions_mut().insert(ClientAddr(client));
    }
    next.run(req).await
}
