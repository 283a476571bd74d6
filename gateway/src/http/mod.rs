//! The HTTP surface: `/graphql`, `/graphql/ws`, ingestion, health, readiness, metrics.

mod assets;
mod cors;
pub(crate) mod documents;
pub(crate) use cors::layer as cors_layer;
pub mod graphql;
mod health;
mod ingest;
mod linger;
pub mod metrics;
mod ops;
pub(crate) mod persisted;
mod ws;

use std::future::Future;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit};
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
    let cors = cors::layer(state.config.cors_origins.as_deref()).unwrap_or_else(|e| {
        // `Config::validate_for_serve` refuses such origins before a router is built.
        tracing::error!(error = %e, "CORS is off");
        None
    });
    let router = Router::new()
        .route(
            "/ingest/{source}",
            post(ingest::ingest).layer(DefaultBodyLimit::max(ingest_limit)),
        )
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphql/ws", get(ws::upgrade))
        .route("/assets/{file}", get(assets::serve))
        .route("/", get(assets::app_page))
        .route("/demo/tokens", get(assets::demo_tokens))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::count))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// 405 with a GraphQL error body (API.md, "Codes and bodies").
async fn method_not_allowed() -> axum::response::Response {
    graphql::coded_response(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "this method is not allowed on this path",
        "BAD_USER_INPUT",
    )
}

/// 404 with a GraphQL error body.
async fn not_found() -> axum::response::Response {
    graphql::coded_response(axum::http::StatusCode::NOT_FOUND, "no such path", "NOT_FOUND")
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
                .serve_connection(
                    TokioIo::new(linger::LingeringStream::new(stream)),
                    TowerToHyperService::new(service),
                )
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
