//! The access log and request metrics of every route, and `/metrics`.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

use crate::state::AppState;
use crate::telemetry::Metrics;

pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().clone();
    let start = Instant::now();
    let response = next.run(request).await;
    let seconds = start.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    // The access log: one line per request, never the token or the variables.
    let note = response.extensions().get::<AccessNote>().cloned().unwrap_or_default();
    tracing::info!(
        target: "qianchuan::access",
        method = %method,
        route = %route,
        status,
        duration_ms = (seconds * 1000.0 * 10.0).round() / 10.0,
        sub = note.sub.as_deref().unwrap_or("-"),
        operation = note.operation.as_deref().unwrap_or("-"),
        "request"
    );
    state
        .metrics
        .record(&route, status, note.operation_type.unwrap_or("none"), seconds);
    response
}

/// Who a request was for and what it ran, as its handler noted them (for the access log).
#[derive(Debug, Clone, Default)]
pub struct AccessNote {
    pub sub: Option<String>,
    pub operation: Option<String>,
    /// `query`, `mutation` or `subscription` (GraphQL requests that got that far).
    pub operation_type: Option<&'static str>,
}

/// `/metrics`: on loopback, or with `QIANCHUAN_METRICS_TOKEN` (`super::ops_allowed`).
pub async fn render(State(state): State<AppState>, request: axum::http::request::Parts) -> Response {
    if !super::ops::ops_allowed(&state, super::ops::peer(&request), &request.headers) {
        return super::graphql::coded_response(
            axum::http::StatusCode::FORBIDDEN,
            "metrics are served on loopback, or with the metrics token",
            "FORBIDDEN",
        );
    }
    let m = &state.metrics;
    m.subscriptions.set(state.events.live_subscriptions() as i64);
    m.set_totals(
        state.shared_states.computed(),
        state.audit.written(),
        state.statements.get(),
        hub::db::connection_trouble(),
        state.reads.reads(),
    );
    m.set_document_lookups(state.documents.lookups());
    let replicas = state.reads.replicas();
    let up = replicas.iter().filter(|r| r.up).count() as i64;
    Metrics::set_state(&m.db_replicas, "up", up);
    Metrics::set_state(&m.db_replicas, "down", replicas.len() as i64 - up);
    if let Some(pool) = hub::db::pool_figures(&state.db) {
        Metrics::set_state(&m.pool_connections, "in_use", pool.in_use);
        Metrics::set_state(&m.pool_connections, "idle", pool.idle);
        Metrics::set_state(&m.pool_connections, "max", pool.max);
    }
    if let Some(index) = &state.links {
        let f = index.figures();
        Metrics::set_state(
            &m.link_index,
            "ready",
            i64::from(f.state == hub::link_index::IndexState::Ready),
        );
        Metrics::set_state(&m.link_index, "cases", f.cases as i64);
        Metrics::set_state(&m.link_index, "keys", f.keys as i64);
        Metrics::set_state(&m.link_index, "journal_applied", f.applied);
        let c = index.cache().figures();
        m.set_case_cache_lookups((c.hits, c.misses));
        Metrics::set_state(&m.case_cache, "cases", c.cases as i64);
        Metrics::set_state(&m.case_cache, "parties", c.parties as i64);
        Metrics::set_state(&m.case_cache, "bytes", c.bytes as i64);
        Metrics::set_state(&m.case_cache, "budget_bytes", c.budget as i64);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.render(),
    )
        .into_response()
}
