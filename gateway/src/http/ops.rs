//! Who may read the operations endpoints' details (`/metrics`, `/readyz`).

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap};

use crate::state::AppState;

/// Whether a request may read `/metrics` and the details of `/readyz`: from loopback (and not
/// relayed by a proxy, whose requests all come from loopback), or with the metrics token.
pub(crate) fn ops_allowed(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    if let Some(expected) = &state.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(super::graphql::bearer_token);
        if given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.expose().as_bytes())) {
            return true;
        }
    }
    let relayed = headers.contains_key("forwarded") || headers.contains_key("x-forwarded-for");
    peer.is_some_and(|p| p.ip().is_loopback()) && !relayed
}

/// The address of the peer a request came from (set by `serve`).
pub(crate) fn peer(request: &axum::http::request::Parts) -> Option<SocketAddr> {
    request.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
