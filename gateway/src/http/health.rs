use std::time::Duration;

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde_json::json;

use crate::state::AppState;
use hub::link_index::IndexState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// How long `/readyz` waits for the database to answer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// 200 while the database answers (within two seconds); Redis is reported but never decides
/// readiness. The details are for loopback or the metrics token; others get the status alone.
pub async fn readyz(State(state): State<AppState>, request: Parts) -> (StatusCode, Json<serde_json::Value>) {
    let database = matches!(tokio::time::timeout(PING_TIMEOUT, state.db.ping()).await, Ok(Ok(())));
    let status = if database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if !super::ops::ops_allowed(&state, super::ops::peer(&request), &request.headers) {
        return (
            status,
            Json(json!({ "database": if database { "up" } else { "down" } })),
        );
    }
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
    (
        status,
        Json(json!({
            "database": if database { "up" } else { "down" },
            "redis": redis,
            "events": events,
            "linkIndex": link_index,
            "replicas": state.reads.replicas().iter().map(|r| json!({
                "name": r.name,
                "state": if r.up { "up" } else { "down (reads go to the primary)" },
                "replayed": r.replayed,
                "trouble": r.trouble,
            })).collect::<Vec<_>>(),
        })),
    )
}
