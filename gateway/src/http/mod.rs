//! The HTTP surface: `/graphql`, `/graphql/ws`, ingestion, health, readiness, metrics.

pub mod graphql;
mod health;
mod ingest;
pub mod metrics;
pub mod rate_limit;
mod ws;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

/// The gateway's router; `main` and the tests both serve exactly this.
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
