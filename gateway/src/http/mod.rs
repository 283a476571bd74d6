//! The HTTP surface: `/graphql`, `/graphql/ws`, ingestion, health, readiness, metrics.

pub mod graphql;
mod health;
mod ingest;
pub mod metrics;
pub mod rate_limit;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt;

use crate::state::AppState;

/// The gateway's router; `serve` (and so `main` and the tests) serves exactly this.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    let ingest_limit = state.config.max_ingest_bytes;
    Router::new()
        .route(
            "/ingest/{source}",
            post(ingest::ingest).layer(DefaultBodyLimit::max(ingest_limit)),
        )
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::count))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// How long open connections may take to finish their requests once shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router(state)` on `listener` until `shutdown` completes, then lets open requests
/// finish (at most `DRAIN`). Each connection must send a request's headers within
/// `read_timeout_ms` (a client that trickles them, or sends none, is cut off), and the peer's
/// address goes with every request (`ConnectInfo`), for the loopback rule of the ops endpoints.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send) {
    let read_timeout = Duration::from_millis(state.config.read_timeout_ms);
    let app = router(state);
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, and keep serving those open.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = tower::service_fn(move |mut request: axum::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(read_timeout);
            let connection = builder
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = closing.wait_for(|c| *c) => connection.as_mut().graceful_shutdown(),
            }
            let _ = tokio::time::timeout(DRAIN, connection).await;
        });
    }
    let _ = closing_tx.send(true);
    // Connections hold a receiver each: wait until they are gone (or the drain time is up).
    let _ = tokio::time::timeout(DRAIN, closing_tx.closed()).await;
}

/// Whether a request may read `/metrics` and the details of `/readyz`: from loopback (and not
/// relayed by a proxy, whose requests all come from loopback), or with the metrics token.
pub(crate) fn ops_allowed(state: &AppState, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    if let Some(expected) = &state.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(graphql::bearer_token);
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
