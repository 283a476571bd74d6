//! The browser assets built from `web/` (Vite; `web/dist`, committed and checked against a
//! fresh build in CI), embedded in the binary: nothing a page of the gateway loads comes from
//! another host, and the Content-Security-Policy of the pages says so to the browser.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The embedded files: name, bytes, content type.
const FILES: &[(&str, &[u8], &str)] = &[
    (
        "graphiql.js",
        include_bytes!("../../../web/dist/graphiql.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "graphiql.css",
        include_bytes!("../../../web/dist/graphiql.css"),
        "text/css; charset=utf-8",
    ),
    (
        "app.js",
        include_bytes!("../../../web/dist/app.js"),
        "text/javascript; charset=utf-8",
    ),
    (
        "app.css",
        include_bytes!("../../../web/dist/app.css"),
        "text/css; charset=utf-8",
    ),
];

/// Pages load scripts, styles, fonts and images from the gateway alone and talk to it alone
/// (`connect-src 'self'` covers its WebSocket). Inline styles are allowed: the editor sets them.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     font-src 'self' data:; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// GraphiQL for `/graphql`, from the embedded assets.
pub fn graphiql_page() -> Response {
    page(
        "Qianchuan GraphiQL",
        r#"<div id="graphiql" style="height:100vh"></div><script type="module" src="/assets/graphiql.js"></script>"#,
        "/assets/graphiql.css",
    )
}

/// The command screen (一屏掌控全局) at `/`.
pub async fn app_page() -> Response {
    page(
        "牵串 Qianchuan",
        r#"<div id="app"></div><script type="module" src="/assets/app.js"></script>"#,
        "/assets/app.css",
    )
}

/// `GET /demo/tokens`: the demo's role tokens (`{"roles": {role: token}, "chain": {source,
/// sourceKey}}`, the chain being one across all five systems), for the sign-in page of
/// `serve --demo` bound to a loopback address; 404 otherwise.
pub async fn demo_tokens(axum::extract::State(state): axum::extract::State<crate::state::AppState>) -> Response {
    match &state.demo_tokens {
        Some(tokens) => axum::Json(serde_json::json!({
            "roles": tokens
                .iter()
                .map(|(role, token)| (role.clone(), serde_json::Value::from(token.as_str())))
                .collect::<serde_json::Map<_, _>>(),
            "chain": state
                .demo_chain
                .as_ref()
                .map(|key| serde_json::json!({"source": "ENFORCEMENT", "sourceKey": key})),
        }))
        .into_response(),
        None => super::graphql::coded_response(StatusCode::NOT_FOUND, "no such path", "NOT_FOUND"),
    }
}

fn page(title: &str, body: &str, stylesheet: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"{stylesheet}\"></head><body style=\"margin:0\">{body}</body></html>"
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        html,
    )
        .into_response()
}

/// `GET /assets/{file}`: an embedded file, or 404.
pub async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, bytes, content_type)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                // Names carry no hash: a browser checks again after a restart of the gateway.
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")),
                (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            ],
            *bytes,
        )
            .into_response(),
        None => super::graphql::coded_response(StatusCode::NOT_FOUND, "no such asset", "NOT_FOUND"),
    }
}
