//! `pull procuratorate` against a real local HTTP server that pages, filters by
//! `updatedSince`, and fails the ways the interface document describes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use entities::case;
use hub::pull::{pull_procuratorate, watermark, PullConfig, PullError};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tests::TestApp;

#[derive(Default)]
struct Api {
    items: Mutex<Vec<serde_json::Value>>,
    /// Responses to give before serving normally: (status, Retry-After).
    failures: Mutex<Vec<(u16, Option<u64>)>>,
    /// Fail every request for this cursor with 500.
    broken_cursor: Mutex<Option<String>>,
    requests: AtomicUsize,
}

fn item(n: usize, day: u32, version: i32) -> serde_json::Value {
    json!({"id": format!("PROC-{n:03}"), "version": version, "docNo": format!("杭余检刑监〔2022〕{n}号"), "kind": "CASE_FILING_SUPERVISION",
           "title": "立案监督", "summary": "监督", "procuratorate": {"name": "余杭区人民检察院", "regionCode": "330110"},
           "procurators": [], "targetAgency": "余杭分局", "relatedCases": [], "subjects": [], "status": "ISSUED",
           "filedAt": "2022-09-01T10:00:00+08:00", "updatedAt": format!("2022-10-{day:02}T10:00:00+08:00"), "closedAt": null,
           "feedback": null, "regionCode": "330110"})
}

async fn supervisions(
    State(api): State<Arc<Api>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    api.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer right") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if let Some((status, retry_after)) = {
        let mut f = api.failures.lock().unwrap();
        (!f.is_empty()).then(|| f.remove(0))
    } {
        let mut r = StatusCode::from_u16(status).unwrap().into_response();
        if let Some(s) = retry_after {
            r.headers_mut().insert("retry-after", s.to_string().parse().unwrap());
        }
        return r;
    }
    let cursor: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    if api.broken_cursor.lock().unwrap().as_deref() == q.get("cursor").map(String::as_str) && q.contains_key("cursor") {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(10);
    let since = q
        .get("updatedSince")
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    let items = api.items.lock().unwrap().clone();
    let mut matching: Vec<_> = items
        .into_iter()
        .filter(|i| {
            since
                .map(|s| chrono::DateTime::parse_from_rfc3339(i["updatedAt"].as_str().unwrap()).unwrap() > s)
                .unwrap_or(true)
        })
        .collect();
    matching.sort_by_key(|i| i["updatedAt"].as_str().unwrap().to_string());
    let page: Vec<_> = matching.iter().skip(cursor).take(limit).cloned().collect();
    let next = (cursor + limit < matching.len()).then(|| (cursor + limit).to_string());
    axum::Json(json!({"items": page, "nextCursor": next})).into_response()
}

async fn start(api: Arc<Api>) -> String {
    let app = axum::Router::new()
        .route("/api/v2/supervisions", axum::routing::get(supervisions))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn config(base: &str, token: &str) -> PullConfig {
    let mut c = PullConfig::new(base, token);
    c.limit = 4;
    c.max_retries = 3;
    c.backoff = Duration::from_millis(10);
    c
}

async fn live(app: &TestApp) -> u64 {
    case::Entity::find()
        .filter(case::Column::Deleted.eq(false))
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_every_page_then_only_what_is_newer() {
    let app = TestApp::sqlite().await;
    let api = Arc::new(Api::default());
    *api.items.lock().unwrap() = (1..=10).map(|n| item(n, n as u32, 1)).collect();
    let base = start(api.clone()).await;
    let report = pull_procuratorate(&app.db, &config(&base, "right")).await.unwrap();
    assert_eq!(report.pages.len(), 3);
    assert_eq!(live(&app).await, 10);
    assert_eq!(
        watermark(&app.db).await.unwrap().as_deref(),
        Some("2022-10-10T10:00:00+08:00")
    );

    api.items.lock().unwrap().push(item(3, 20, 2));
    api.items.lock().unwrap().push(item(11, 21, 1));
    let report = pull_procuratorate(&app.db, &config(&base, "right")).await.unwrap();
    let inserted: u64 = report.pages.iter().map(|p| p.inserted).sum();
    let updated: u64 = report.pages.iter().map(|p| p.updated).sum();
    assert_eq!(
        (report.pages.len(), inserted, updated),
        (1, 1, 1),
        "only what changed after the watermark"
    );
    assert_eq!(live(&app).await, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_on_retry_after_and_backs_off_on_server_errors() {
    let app = TestApp::sqlite().await;
    let api = Arc::new(Api::default());
    *api.items.lock().unwrap() = (1..=6).map(|n| item(n, n as u32, 1)).collect();
    *api.failures.lock().unwrap() = vec![(429, Some(1)), (503, Some(0)), (500, None), (502, None)];
    let base = start(api.clone()).await;
    let started = std::time::Instant::now();
    pull_procuratorate(&app.db, &config(&base, "right")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
    assert_eq!(live(&app).await, 6);
    assert_eq!(api.requests.load(Ordering::SeqCst), 4 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_keeps_failing_stops_the_pull_and_the_next_pull_resumes() {
    let app = TestApp::sqlite().await;
    let api = Arc::new(Api::default());
    *api.items.lock().unwrap() = (1..=10).map(|n| item(n, n as u32, 1)).collect();
    *api.broken_cursor.lock().unwrap() = Some("4".into());
    let base = start(api.clone()).await;
    let err = pull_procuratorate(&app.db, &config(&base, "right")).await.unwrap_err();
    assert!(matches!(&err, PullError::Page { page: 2, .. }), "{err}");
    assert!(err.to_string().contains("page 2"), "{err}");
    assert_eq!(live(&app).await, 4, "the first page stays stored");
    assert_eq!(
        watermark(&app.db).await.unwrap().as_deref(),
        Some("2022-10-04T10:00:00+08:00")
    );

    *api.broken_cursor.lock().unwrap() = None;
    let report = pull_procuratorate(&app.db, &config(&base, "right")).await.unwrap();
    let inserted: u64 = report.pages.iter().map(|p| p.inserted).sum();
    assert_eq!(inserted, 6, "resumes after the watermark: nothing lost, nothing twice");
    assert_eq!(live(&app).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_stops_at_once() {
    let app = TestApp::sqlite().await;
    let api = Arc::new(Api::default());
    *api.items.lock().unwrap() = (1..=3).map(|n| item(n, n as u32, 1)).collect();
    let base = start(api.clone()).await;
    let err = pull_procuratorate(&app.db, &config(&base, "wrong")).await.unwrap_err();
    assert!(matches!(err, PullError::Unauthorized));
    assert_eq!(api.requests.load(Ordering::SeqCst), 1, "no retries on 401");
    assert_eq!(live(&app).await, 0);
}

/// An upstream that misbehaves in the ways a pull must survive, one per path.
async fn hostile(other_origin: String) -> String {
    use axum::routing::get;
    let endless = || async {
        let chunks = futures_util::stream::repeat_with(|| {
            Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; 64 * 1024]))
        });
        axum::body::Body::from_stream(chunks).into_response()
    };
    let app = axum::Router::new()
        .route("/endless/api/v2/supervisions", get(endless))
        .route(
            "/flood/api/v2/supervisions",
            get(|| async {
                let items: Vec<_> = (0..5_000).map(|n| item(n, 1, 1)).collect();
                axum::Json(json!({"items": items, "nextCursor": null})).into_response()
            }),
        )
        .route(
            "/loop/api/v2/supervisions",
            get(|| async { axum::Json(json!({"items": [item(1, 1, 1)], "nextCursor": "same"})).into_response() }),
        )
        .route(
            "/away/api/v2/supervisions",
            get(move || {
                let to = format!("{other_origin}/api/v2/supervisions");
                async move { axum::response::Redirect::temporary(&to).into_response() }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_upstream_is_bounded_in_size_items_cursors_and_origin() {
    let app = TestApp::sqlite().await;
    let elsewhere = Arc::new(Api::default());
    let other = start(elsewhere.clone()).await;
    let base = hostile(other).await;
    let mut endless = config(&format!("{base}/endless"), "right");
    endless.max_page_bytes = 1 << 20;
    let err = pull_procuratorate(&app.db, &endless).await.unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");

    let err = pull_procuratorate(&app.db, &config(&format!("{base}/flood"), "right"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("5000 items"), "{err}");
    assert_eq!(live(&app).await, 0, "nothing of a flooded page is stored");

    let err = pull_procuratorate(&app.db, &config(&format!("{base}/loop"), "right"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a second time"), "{err}");

    let err = pull_procuratorate(&app.db, &config(&format!("{base}/away"), "right"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("redirect"), "{err}");
    assert_eq!(
        elsewhere.requests.load(Ordering::SeqCst),
        0,
        "no request went to the other origin"
    );
}
