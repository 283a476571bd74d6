use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use crate::link_index::IndexState;
use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 while the database answers; Redis is reported but never decides readiness.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let database = state.db.ping().await.is_ok();
    let redis = match state.redis.ping().await {
        None => "not configured",
        Some(true) => "up",
        Some(false) => "down",
    };
    let events = match state.events.fanout().await {
        None => "in process",
        Some(true) => "shared through redis",
        Some(false) => "in process (redis not reachable yet)",
    };
    let link_index = match &state.links {
        None => json!("off"),
        Some(index) => {
            let f = index.figures();
            json!({
                "state": match f.state {
                    IndexState::Building => "building (chains are walked in SQL meanwhile)",
                    IndexState::Ready => "ready",
                },
                "cases": f.cases,
                "keys": f.keys,
                "journal": f.applied,
                "megabytes": f.bytes / (1 << 20),
            })
        }
    };
    let status = if database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "database": if database { "up" } else { "down" },
            "redis": redis,
            "events": events,
            "linkIndex": link_index,
        })),
    )
}
