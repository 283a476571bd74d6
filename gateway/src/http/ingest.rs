//! `POST /ingest/{feed}`: one export file (or one procuratorate page, or one inspections CSV)
//! in the body.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::http::graphql::{authenticate, read_body, BodyError, Refusal};
use crate::state::AppState;
use hub::events::Event;

/// An error answered before (or instead of) reading the file: the connection closes after it.
fn error(status: StatusCode, message: &str, code: &str) -> Response {
    crate::http::graphql::closing(
        (
            status,
            Json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })),
        )
            .into_response(),
    )
}

pub async fn ingest(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let viewer = match authenticate(&state, &headers).await {
        Ok(v) => v,
        Err(Refusal::Unauthenticated) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required",
                "UNAUTHENTICATED",
            )
        }
        Err(Refusal::RateLimited) => {
            return error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests for this subject",
                "LIMIT_EXCEEDED",
            )
        }
    };
    let mut response = load(&state, &viewer, &source, &headers, body).await;
    response.extensions_mut().insert(super::metrics::AccessNote {
        sub: Some(viewer.sub.clone()),
        operation: Some(format!("ingest {source}")),
        operation_type: None,
    });
    response
}

/// Loads the body as one file of `source` for `viewer`.
async fn load(state: &AppState, viewer: &hub::Viewer, source: &str, headers: &HeaderMap, body: Body) -> Response {
    if !hub::policy::Scope::for_viewer(viewer).ingests() {
        return error(StatusCode::FORBIDDEN, "only admin and ingestor may ingest", "FORBIDDEN");
    }
    let Some(feed) = entities::Feed::parse(source) else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown feed: enforcement, discipline, congress, procuratorate, social, inspections, registry, insurance, tax, practitioners or convictions",
            "NOT_FOUND",
        );
    };
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the export file itself as the body, not a multipart form",
            "BAD_USER_INPUT",
        );
    }
    let limit = state.config.max_ingest_bytes;
    // A large file may take a while to arrive, as long as it keeps arriving.
    let body = match read_body(state, headers, body, limit, std::time::Duration::from_secs(600)).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the file is larger than {limit} bytes; use `qianchuan ingest`"),
                "LIMIT_EXCEEDED",
            )
        }
        Err(BodyError::Slow) => {
            return error(
                StatusCode::REQUEST_TIMEOUT,
                "the file did not arrive in time",
                "LIMIT_EXCEEDED",
            )
        }
        Err(BodyError::Broken) => {
            return error(StatusCode::BAD_REQUEST, "the body could not be read", "BAD_USER_INPUT")
        }
    };
    let file = headers
        .get("x-file-name")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or("upload")
        .to_string();
    let started = std::time::Instant::now();
    let loaded = match (feed.source(), hub::ingest::refused_as_other_feed(feed, &file, &body)) {
        (_, Some(refused)) => Ok(refused),
        (Some(source), None) => hub::ingest::ingest_file(&state.db, source, &file, &body)
            .await
            .map_err(|e| e.to_string()),
        (None, None) if feed == entities::Feed::Inspections => {
            hub::inspections::load::load_file(&state.db, &file, &body, state.inspections.task_days)
                .await
                .map_err(|e| format!("{e:?}"))
        }
        (None, None) => hub::reference::load_file(&state.db, feed, &file, &body)
            .await
            .map_err(|e| format!("{e:?}")),
    };
    let seconds = started.elapsed().as_secs_f64();
    let slug = feed.slug();
    match loaded {
        Ok(report) if report.rejected.is_some() => {
            state.metrics.record_ingest(&slug, "rejected", &[], seconds);
            (StatusCode::UNPROCESSABLE_ENTITY, Json(report)).into_response()
        }
        Ok(report) => {
            state.metrics.record_ingest(
                &slug,
                "loaded",
                &[
                    ("inserted", report.inserted),
                    ("updated", report.updated),
                    ("unchanged", report.unchanged),
                    ("deleted", report.deleted),
                    ("quarantined", report.quarantined),
                ],
                seconds,
            );
            if !report.changes.is_empty() {
                state
                    .events
                    .publish(Event::CasesChanged {
                        changes: report.changes.clone(),
                    })
                    .await;
            }
            (StatusCode::OK, Json(report)).into_response()
        }
        Err(e) => {
            state.metrics.record_ingest(&slug, "failed", &[], seconds);
            tracing::error!(error = %e, %file, "ingest failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", "INTERNAL")
        }
    }
}
