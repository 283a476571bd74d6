//! Request counters in the Prometheus text format.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

use crate::state::AppState;

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
    state.metrics.record(route, status, seconds);
    response
}

/// Who a request was for and what it ran, as its handler noted them (for the access log).
#[derive(Debug, Clone, Default)]
pub struct AccessNote {
    pub sub: Option<String>,
    pub operation: Option<String>,
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
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render()
            + &format!(
                "# HELP qianchuan_subscriptions Live subscriptions on this instance.\n\
                 # TYPE qianchuan_subscriptions gauge\nqianchuan_subscriptions {}\n",
                state.events.live_subscriptions()
            )
            + &format!(
                "# HELP qianchuan_subscription_states_computed_total Subscription states computed (one per change, shared by the subscribers of one scope and arguments).\n\
                 # TYPE qianchuan_subscription_states_computed_total counter\nqianchuan_subscription_states_computed_total {}\n",
                state.shared_states.computed()
            )
            + &link_index_metrics(&state),
    )
        .into_response()
}

fn link_index_metrics(state: &AppState) -> String {
    let Some(index) = &state.links else {
        return String::new();
    };
    let f = index.figures();
    format!(
        "# HELP qianchuan_link_index_ready 1 when chains are walked on the in-memory linkage index.\n\
         # TYPE qianchuan_link_index_ready gauge\nqianchuan_link_index_ready {}\n\
         # HELP qianchuan_link_index_cases Cases held by the linkage index.\n\
         # TYPE qianchuan_link_index_cases gauge\nqianchuan_link_index_cases {}\n\
         # HELP qianchuan_link_index_keys Shared keys held by the linkage index.\n\
         # TYPE qianchuan_link_index_keys gauge\nqianchuan_link_index_keys {}\n\
         # HELP qianchuan_link_index_journal_applied The last linkage journal row applied.\n\
         # TYPE qianchuan_link_index_journal_applied gauge\nqianchuan_link_index_journal_applied {}\n",
        u8::from(f.state == hub::link_index::IndexState::Ready),
        f.cases,
        f.keys,
        f.applied
    )
}
