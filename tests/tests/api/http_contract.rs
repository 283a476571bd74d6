//! `/graphql` follows the GraphQL over HTTP specification; health, readiness, metrics.

use gateway::auth::Role;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

const GRJ: &str = "application/graphql-response+json";

async fn post_raw(app: &TestApp, accept: &str, content_type: Option<&str>, body: &str) -> (u16, String, Value) {
    let token = app.token(Role::Admin, &[]);
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(ACCEPT, accept)
        .body(body.to_string());
    if let Some(ct) = content_type {
        request = request.header(CONTENT_TYPE, ct);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let ct = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, ct, body)
}

async fn media_types_and_status_codes_follow_the_spec(app: TestApp) {
    let ok = r#"{"query":"{ __typename }"}"#;
    let (s, ct, body) = post_raw(&app, GRJ, Some("application/json"), ok).await;
    assert_eq!((s, ct.starts_with(GRJ)), (200, true));
    assert_eq!(body["data"]["__typename"], "Query");
    let (s, ct, _) = post_raw(&app, "application/json", Some("application/json; charset=utf-8"), ok).await;
    assert_eq!((s, ct.starts_with("application/json")), (200, true));
    let (s, ct, _) = post_raw(&app, "*/*", Some("application/json"), ok).await;
    assert_eq!((s, ct.starts_with("application/json")), (200, true));

    // Malformed requests: 400 without data, whatever the accepted media type.
    for body in [
        r#"{ "not a JSON"#,
        r#"{"qeury":"{ __typename }"}"#,
        r#"{"query":0}"#,
        r#"{"query":"{ __typename }","variables":[]}"#,
        r#"{"query":"{ __typename }","operationName":false}"#,
        r#"{"query":"{ __typename }","extensions":"x"}"#,
        "",
    ] {
        for accept in [GRJ, "application/json"] {
            let (s, _, b) = post_raw(&app, accept, Some("application/json"), body).await;
            assert_eq!(s, 400, "{accept} {body}: {b}");
            assert!(b.get("data").is_none(), "{body}: {b}");
            assert!(b["errors"][0]["extensions"]["code"].is_string(), "{body}: {b}");
        }
    }
    // Documents that do not parse or validate: 400 without data for graphql-response+json, 200 for json.
    for body in [
        r#"{"query":"{"}"#,
        r#"{"query":"{ nope }"}"#,
        r#"{"query":"query($n: Int!) { __typename }","variables":{"n":"x"}}"#,
    ] {
        let (s, _, b) = post_raw(&app, GRJ, Some("application/json"), body).await;
        assert_eq!(s, 400, "{body}: {b}");
        assert!(b.get("data").is_none(), "{body}: {b}");
        assert_eq!(b["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}: {b}");
        let (s, _, b) = post_raw(&app, "application/json", Some("application/json"), body).await;
        assert_eq!(s, 200, "{body}");
        assert!(b["errors"].is_array(), "{body}: {b}");
    }
    let (s, _, _) = post_raw(&app, GRJ, None, ok).await;
    assert_eq!(s, 415, "a missing content type is refused");
    let (s, _, _) = post_raw(&app, GRJ, Some("application/json; charset=latin1"), ok).await;
    assert_eq!(s, 415);
    let (s, _, b) = post_raw(
        &app,
        GRJ,
        Some("application/json"),
        r#"{"query":"{ __typename }","variables":null,"operationName":null,"extensions":null}"#,
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

async fn get_serves_queries_but_not_mutations(app: TestApp) {
    let token = app.token(Role::Admin, &[]);
    let get = |query: &str, vars: Option<&str>| {
        let mut url = reqwest::Url::parse(&app.url("/graphql")).unwrap();
        url.query_pairs_mut().append_pair("query", query);
        if let Some(v) = vars {
            url.query_pairs_mut().append_pair("variables", v);
        }
        app.client
            .get(url)
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .header(ACCEPT, GRJ)
            .send()
    };
    let r = get(
        "query Type($name: String!) { __type(name: $name) { name } }",
        Some(r#"{"name":"Case"}"#),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["data"]["__type"]["name"], "Case");
    let r = get("mutation { __typename }", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = get("mutation Named { revokeToken(jti: \"x\") }", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 405, "a lone named mutation is a mutation too");
    let html = app
        .client
        .get(app.url("/graphql"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(html.status().as_u16(), 200);
    assert!(html.text().await.unwrap().to_lowercase().contains("graphiql"));
}

async fn requests_without_a_valid_token_are_unauthenticated(app: TestApp) {
    let expired = gateway::auth::mint_hs256(tests::SECRET, "x", Role::Admin, &[], 0, (None, None)).unwrap();
    let forged = gateway::auth::mint_hs256("another-secret", "x", Role::Admin, &[], 600, (None, None)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(10));
    for auth in [
        None,
        Some("Bearer nonsense".to_string()),
        Some(format!("Bearer {forged}")),
        Some(format!("Basic {}", app.token(Role::Admin, &[]))),
    ] {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .json(&json!({"query": "{ me { sub } }"}));
        if let Some(a) = &auth {
            request = request.header(AUTHORIZATION, a);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{auth:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(body.get("data").map(Value::is_null).unwrap_or(true));
    }
    // Expired beyond the 30 s leeway is checked in the unit tests; within it the token still works.
    let (status, _) = app.graphql(&expired, "{ me { sub } }", json!({})).await;
    assert_eq!(status, 200);
}

async fn health_readiness_and_metrics_answer(app: TestApp) {
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["database"], "up");
    if std::env::var("QIANCHUAN_TEST_REDIS_URL")
        .map(|u| !u.is_empty())
        .unwrap_or(false)
    {
        // The connection is made in the background; give it a moment.
        let mut redis = body["redis"].clone();
        for _ in 0..50 {
            if redis == "up" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            redis = app
                .client
                .get(app.url("/readyz"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["redis"]
                .clone();
        }
        assert_eq!(redis, "up", "Redis at QIANCHUAN_TEST_REDIS_URL must answer");
    } else {
        assert_eq!(body["redis"], "not configured");
    }
    // A query and a posted file, to be measured.
    let admin = app.token(Role::Admin, &[]);
    app.data(&admin, "query Me { me { sub } }", serde_json::json!({})).await;
    app.ingest(
        "tax",
        "nsxx_202301.ndjson",
        "{\"nsrsbh\":\"91330110MA2H3K4L5F\",\"sssq\":\"2023-01\",\"sjse\":\"1.00\",\"sbrq\":\"2023-02-01\"}\n".into(),
    )
    .await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let metrics = response.text().await.unwrap();
    assert!(
        metrics.contains("qianchuan_http_requests_total{route=\"/healthz\",status=\"200\"} 1"),
        "{metrics}"
    );
    // Latency histograms by route and operation type: what `histogram_quantile` reads.
    let buckets = metrics
        .lines()
        .filter(|l| {
            l.starts_with("qianchuan_http_request_duration_seconds_bucket")
                && l.contains("route=\"/graphql\"")
                && l.contains("operation_type=\"query\"")
        })
        .count();
    assert!(buckets >= 10, "{metrics}");
    assert!(metrics.contains("le=\"+Inf\""), "{metrics}");
    assert!(
        metrics.contains("qianchuan_ingest_records_total{feed=\"tax\",outcome=\"inserted\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("qianchuan_ingest_files_total{feed=\"tax\",outcome=\"loaded\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("qianchuan_db_pool_connections{state=\"max\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("qianchuan_audit_entries_written_total"), "{metrics}");
    assert!(metrics.ends_with("# EOF\n"));
}

async fn oversized_bodies_get_413(app: TestApp) {
    let token = app.token(Role::Admin, &[]);
    let big = format!(
        r#"{{"query":"{{ __typename }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(2 << 20)
    );
    let r = app
        .client
        .post(app.url("/graphql"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{body}");
}

/// A document that passed validation runs without most of it next time, only when its
/// variables plainly have their declared types: whatever the variables, the answer is the one
/// full validation gives (the same refusals, the cost limit computed with this request's values).
async fn a_document_validated_before_answers_as_full_validation_would(app: TestApp) {
    let plc = app.token(Role::Plc, &["33"]);
    let validated_before = || app.metric("qianchuan_documents_validated_before_total");
    let query = "query($n: Int!, $id: ID!) { case(id: $id) { sourceKey } \
        cases(first: $n) { edges { node { parties { party { cases(first: $n) { totalCount } } } } } } }";
    // The same document with other whitespace has never been validated: full validation's answer.
    let fresh = format!("{query} ");
    let before = validated_before().await;
    // Executed, not refused (the id names no case of this API: an error at `case`).
    let executed = |body: &Value| body["data"]["cases"].is_object() && body["errors"][0]["path"][0] == "case";
    let (status, body) = app.graphql(&plc, query, json!({"n": 1, "id": "1"})).await;
    assert!(status == 200 && executed(&body), "{body}");
    assert_eq!(validated_before().await, before, "the first run validates");
    let (status, body) = app.graphql(&plc, query, json!({"n": 2, "id": 1})).await;
    assert!(status == 200 && executed(&body), "{body}");
    assert_eq!(validated_before().await, before + 1, "the second does not");
    // Cost with this request's values: 100 x 100 is over the limit.
    for q in [query, fresh.as_str()] {
        let (_, body) = app.graphql(&plc, q, json!({"n": 100, "id": "1"})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{body}");
    }
    // Variables that are not plain (wrong type, missing, null) are validated in full: the same
    // answer as for the document never seen.
    for variables in [
        json!({"n": "1", "id": "1"}),
        json!({"n": 1.5, "id": "1"}),
        json!({"n": 1, "id": true}),
        json!({"n": 1}),
        json!({"n": null, "id": "1"}),
    ] {
        for accept in [GRJ, "application/json"] {
            let answer = |q: &str| {
                let body = json!({"query": q, "variables": variables}).to_string();
                let app = &app;
                let plc = plc.clone();
                async move {
                    let r = app
                        .client
                        .post(app.url("/graphql"))
                        .bearer_auth(&plc)
                        .header(ACCEPT, accept)
                        .header(CONTENT_TYPE, "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    (r.status().as_u16(), r.json::<Value>().await.unwrap())
                }
            };
            let (validated, fresh) = (answer(query).await, answer(&fresh).await);
            assert_eq!(validated, fresh, "{variables} {accept}");
            assert!(
                validated.1["errors"][0]["extensions"]["code"].is_string(),
                "{validated:?}"
            );
        }
    }
}

on_both_databases!(
    a_document_validated_before_answers_as_full_validation_would,
    media_types_and_status_codes_follow_the_spec,
    get_serves_queries_but_not_mutations,
    requests_without_a_valid_token_are_unauthenticated,
    health_readiness_and_metrics_answer,
    oversized_bodies_get_413,
);

#[tokio::test]
async fn readiness_survives_an_unreachable_redis() {
    let app = TestApp::sqlite_with(|c| c.redis_url = Some("redis://127.0.0.1:1".into())).await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["redis"], "down");
    let token = app.token(Role::Admin, &[]);
    let (status, _) = app.graphql(&token, "{ cases { totalCount } }", json!({})).await;
    assert_eq!(status, 200, "queries never need Redis");
}

/// Automatic persisted queries as Apollo Client and urql send them: an unknown hash is
/// answered PERSISTED_QUERY_NOT_FOUND, the query sent with its hash runs and is remembered
/// (shared through Redis by every gateway when configured), a hash that is not the query's is
/// refused, and GET works as POST.
#[tokio::test]
async fn persisted_queries_follow_apollos_protocol() {
    use sha2::Digest;
    let app = TestApp::sqlite().await;
    let twin = app.twin().await;
    app.wait_events_shared().await;
    twin.wait_events_shared().await;
    let token = app.token(Role::Admin, &[]);
    // Unique per run: Redis outlives test runs.
    let query = format!("query Me {{ me {{ role }} }} # {:?}", std::time::SystemTime::now());
    let hash = hex::encode(sha2::Sha256::digest(query.as_bytes()));
    let persisted = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let post = |app: &TestApp, body: Value| {
        let request = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&token)
            .header(ACCEPT, GRJ)
            .json(&body);
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post(&app, json!({ "extensions": persisted })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
        "{body}"
    );
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": "0".repeat(64) } });
    let (status, body) = post(&app, json!({ "query": query, "extensions": wrong })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    let (status, body) = post(&app, json!({ "query": query, "extensions": persisted })).await;
    assert_eq!((status, &body["data"]["me"]["role"]), (200, &json!("admin")), "{body}");
    let (status, body) = post(&app, json!({ "extensions": persisted })).await;
    assert_eq!((status, &body["data"]["me"]["role"]), (200, &json!("admin")), "{body}");

    // GET with the hash alone, as Apollo's useGETForHashedQueries sends it.
    let r = app
        .client
        .get(app.url("/graphql"))
        .bearer_auth(&token)
        .query(&[("operationName", "Me"), ("extensions", &persisted.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["data"]["me"]["role"], "admin");

    // Another gateway of the deployment knows it through Redis; without Redis it asks again.
    let (_, body) = post(&twin, json!({ "extensions": persisted })).await;
    if std::env::var("QIANCHUAN_TEST_REDIS_URL").is_ok_and(|u| !u.is_empty()) {
        assert_eq!(body["data"]["me"]["role"], "admin", "{body}");
    } else {
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
            "{body}"
        );
    }
}

/// 405 and 404 answer with a GraphQL error body, like every other client error.
#[tokio::test]
async fn wrong_methods_and_paths_get_coded_bodies() {
    let app = TestApp::sqlite().await;
    let response = app.client.put(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert!(response.headers()["allow"].to_str().unwrap().contains("POST"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let response = app.client.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

/// CORS: preflights for `/graphql` and `/ingest` are answered from their headers for the
/// configured origins (tower-http), and answers carry the origin; other origins, or none
/// configured, get no CORS headers.
#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let allowed = "http://screen.example:5173";
    let app = TestApp::sqlite_with(|c| c.cors_origins = Some(vec![allowed.to_string()])).await;
    let preflight = |app: &TestApp, path: &str, origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    for path in ["/graphql", "/ingest/social"] {
        let r = preflight(&app, path, allowed).await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        let h = r.headers();
        assert_eq!(h["access-control-allow-origin"], allowed, "{path}");
        let headers = h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
        assert!(
            headers.contains("authorization") && headers.contains("content-type"),
            "{headers}"
        );
        assert!(h["access-control-allow-methods"].to_str().unwrap().contains("POST"));
        let r = preflight(&app, path, "http://elsewhere.example").await.unwrap();
        assert!(r.headers().get("access-control-allow-origin").is_none(), "{path}");
    }
    // The answer itself carries the origin, also when it is a refusal.
    let token = app.token(Role::Admin, &[]);
    for bearer in [token.as_str(), "not-a-token"] {
        let r = app
            .client
            .post(app.url("/graphql"))
            .header("origin", allowed)
            .bearer_auth(bearer)
            .json(&json!({"query": "{ me { role } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["access-control-allow-origin"], allowed);
    }
    let none = TestApp::sqlite().await;
    let r = preflight(&none, "/graphql", allowed).await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

/// GraphiQL works offline: its page loads only the gateway's own embedded assets (built from
/// `web/`), with a Content-Security-Policy that keeps every request on the host.
#[tokio::test]
async fn graphiql_is_served_from_embedded_assets() {
    let app = TestApp::sqlite().await;
    let r = app
        .client
        .get(app.url("/graphql"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    let references: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with('/') || s.contains("://"))
        .collect();
    assert!(!references.is_empty(), "{html}");
    for reference in &references {
        assert!(reference.starts_with("/assets/"), "{reference} in {html}");
        let asset = app.client.get(app.url(reference)).send().await.unwrap();
        assert_eq!(asset.status().as_u16(), 200, "{reference}");
        let name = reference.trim_start_matches("/assets/");
        let built = std::fs::read(format!("{}/../web/dist/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(asset.bytes().await.unwrap().as_ref(), built.as_slice(), "{reference}");
    }
    let missing = app.client.get(app.url("/assets/nothing.js")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    // The command screen at /, from the same embedded assets.
    let screen = app.client.get(app.url("/")).send().await.unwrap();
    assert!(screen.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let html = screen.text().await.unwrap();
    assert!(
        html.contains("/assets/app.js") && html.contains("/assets/app.css"),
        "{html}"
    );
    for asset in ["/assets/app.js", "/assets/app.css"] {
        assert_eq!(
            app.client.get(app.url(asset)).send().await.unwrap().status().as_u16(),
            200
        );
    }
    // Only `serve --demo` on loopback offers its tokens.
    let tokens = app.client.get(app.url("/demo/tokens")).send().await.unwrap();
    assert_eq!(tokens.status().as_u16(), 404);
}

/// A multipart upload to `/ingest` is refused (415, coded) before anything is read or stored.
#[tokio::test]
async fn a_multipart_upload_to_ingest_is_refused() {
    let app = TestApp::sqlite().await;
    let response = app
        .client
        .post(app.url("/ingest/social"))
        .bearer_auth(app.token(Role::Admin, &[]))
        .header(CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\nid\r\n--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    let token = app.token(Role::Admin, &[]);
    let (_, quarantine) = app.graphql(&token, "{ quarantine { totalCount } }", json!({})).await;
    assert_eq!(quarantine["data"]["quarantine"]["totalCount"], 0, "{quarantine}");
}

/// A file that is plainly another feed's is refused whole, naming the feed it looks like.
#[tokio::test]
async fn a_file_of_another_feed_is_refused_naming_it() {
    let app = TestApp::sqlite().await;
    let page = r#"{"items":[{"id":"PROC-1","version":1,"title":"t"}],"nextCursor":null}"#;
    let response = app
        .client
        .post(app.url("/ingest/enforcement"))
        .bearer_auth(app.token(Role::Admin, &[]))
        .header("x-file-name", "proc_page_0001.json")
        .body(page)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(body["rejected"].as_str().unwrap().contains("procuratorate"), "{body}");
    assert_eq!(body["quarantined"], 0, "nothing of it was read as enforcement: {body}");
}
