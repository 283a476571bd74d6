//! Tokens, revocation, rate limits, query limits, introspection and the audit log.
//! Tokens here are signed by the `openssl` command line, not by the gateway's own code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use gateway::auth::Role;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use tests::{on_both_databases, TempDir, TestApp, SECRET};

fn keys() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/keys")
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn openssl(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}");
    out.stdout
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` → the 64-byte `r || s` JWS wants.
fn der_to_raw(der: &[u8]) -> Vec<u8> {
    let mut i = 2;
    let mut out = Vec::new();
    for _ in 0..2 {
        let len = der[i + 1] as usize;
        let int = &der[i + 2..i + 2 + len];
        let int = if int.len() > 32 { &int[int.len() - 32..] } else { int };
        out.extend(std::iter::repeat_n(0u8, 32 - int.len()));
        out.extend(int);
        i += 2 + len;
    }
    out
}

enum Signer<'a> {
    Hmac(&'a str),
    Rsa(&'a Path),
    Ec(&'a Path),
    Nothing,
}

fn token(header: Value, claims: Value, signer: Signer) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = match signer {
        Signer::Hmac(secret) => openssl(
            &[
                "dgst",
                "-sha256",
                "-mac",
                "HMAC",
                "-macopt",
                &format!("key:{secret}"),
                "-binary",
            ],
            input.as_bytes(),
        ),
        Signer::Rsa(key) => openssl(
            &["dgst", "-sha256", "-sign", key.to_str().unwrap(), "-binary"],
            input.as_bytes(),
        ),
        Signer::Ec(key) => der_to_raw(&openssl(
            &["dgst", "-sha256", "-sign", key.to_str().unwrap(), "-binary"],
            input.as_bytes(),
        )),
        Signer::Nothing => Vec::new(),
    };
    format!("{input}.{}", b64(&signature))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims() -> Value {
    json!({"sub": "ext", "role": "plc", "regions": ["3301"], "exp": now() + 300})
}

async fn me(app: &TestApp, token: &str) -> u16 {
    let r = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": "{ me { sub } }"}))
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

async fn app_with_keys(dir: &TempDir) -> TestApp {
    std::fs::copy(keys().join("jwks.json"), dir.0.join("jwks.json")).unwrap();
    let jwks = dir.0.join("jwks.json");
    TestApp::sqlite_with(move |c| {
        c.jwks = Some(jwks);
        c.jwt_public_key = Some(keys().join("ec1_public.pem"));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_an_independent_implementation_are_accepted() {
    let dir = TempDir::new("qc-keys");
    let app = app_with_keys(&dir).await;
    let hs = token(json!({"alg": "HS256", "typ": "JWT"}), claims(), Signer::Hmac(SECRET));
    let rs = token(
        json!({"alg": "RS256", "kid": "rsa-1"}),
        claims(),
        Signer::Rsa(&keys().join("rsa1_private.pem")),
    );
    let es = token(
        json!({"alg": "ES256", "kid": "ec-1"}),
        claims(),
        Signer::Ec(&keys().join("ec1_private.pem")),
    );
    let es_pem = token(
        json!({"alg": "ES256"}),
        claims(),
        Signer::Ec(&keys().join("ec1_private.pem")),
    );
    for (name, t) in [
        ("HS256", hs),
        ("RS256 by kid", rs),
        ("ES256 by kid", es),
        ("ES256 by the PEM key", es_pem),
    ] {
        assert_eq!(me(&app, &t).await, 200, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_unauthenticated() {
    let dir = TempDir::new("qc-keys");
    let app = app_with_keys(&dir).await;
    let rsa1 = keys().join("rsa1_private.pem");
    let rsa2 = keys().join("rsa2_private.pem");
    let ec1 = keys().join("ec1_private.pem");
    let public_pem = std::fs::read_to_string(keys().join("rsa1_public.pem")).unwrap();
    let with = |patch: Value| {
        let mut c = claims();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let valid = token(json!({"alg": "RS256", "kid": "rsa-1"}), claims(), Signer::Rsa(&rsa1));
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(with(json!({"role": "admin"})).to_string().as_bytes()),
        parts[2]
    );
    let cases: Vec<(&str, String)> = vec![
        ("alg none", token(json!({"alg": "none"}), claims(), Signer::Nothing)),
        (
            "HS256 keyed with the RSA public key",
            token(json!({"alg": "HS256"}), claims(), Signer::Hmac(public_pem.trim())),
        ),
        (
            "RS256 header, HMAC signature",
            token(json!({"alg": "RS256", "kid": "rsa-1"}), claims(), Signer::Hmac(SECRET)),
        ),
        (
            "ES256 header naming an RSA kid",
            token(json!({"alg": "ES256", "kid": "rsa-1"}), claims(), Signer::Ec(&ec1)),
        ),
        (
            "signed by another RSA key",
            token(json!({"alg": "RS256", "kid": "rsa-1"}), claims(), Signer::Rsa(&rsa2)),
        ),
        (
            "unknown kid",
            token(json!({"alg": "RS256", "kid": "nope"}), claims(), Signer::Rsa(&rsa1)),
        ),
        (
            "expired",
            token(
                json!({"alg": "RS256", "kid": "rsa-1"}),
                with(json!({"exp": now() - 120})),
                Signer::Rsa(&rsa1),
            ),
        ),
        (
            "not yet valid",
            token(
                json!({"alg": "RS256", "kid": "rsa-1"}),
                with(json!({"nbf": now() + 300})),
                Signer::Rsa(&rsa1),
            ),
        ),
        ("tampered payload", tampered),
        (
            "exp as a string",
            token(
                json!({"alg": "HS256"}),
                with(json!({"exp": (now() + 300).to_string()})),
                Signer::Hmac(SECRET),
            ),
        ),
        (
            "regions as a string",
            token(
                json!({"alg": "HS256"}),
                with(json!({"regions": "3301"})),
                Signer::Hmac(SECRET),
            ),
        ),
        (
            "role as a number",
            token(json!({"alg": "HS256"}), with(json!({"role": 1})), Signer::Hmac(SECRET)),
        ),
        (
            "sub as a number",
            token(json!({"alg": "HS256"}), with(json!({"sub": 7})), Signer::Hmac(SECRET)),
        ),
        (
            "nbf as a string",
            token(json!({"alg": "HS256"}), with(json!({"nbf": "0"})), Signer::Hmac(SECRET)),
        ),
        (
            "no exp",
            token(
                json!({"alg": "HS256"}),
                json!({"sub": "x", "role": "plc", "regions": ["33"]}),
                Signer::Hmac(SECRET),
            ),
        ),
    ];
    for (name, t) in cases {
        let r = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&t)
            .json(&json!({"query": "{ me { sub } }"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{name}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_audience_and_the_algorithm_list_are_enforced_when_configured() {
    let app = TestApp::sqlite_with(|c| {
        c.jwt_issuer = Some("https://idp.example".into());
        c.jwt_audience = Some("qianchuan".into());
    })
    .await;
    let sign = |extra: Value| {
        let mut c = claims();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        token(json!({"alg": "HS256"}), c, Signer::Hmac(SECRET))
    };
    assert_eq!(
        me(&app, &sign(json!({"iss": "https://idp.example", "aud": "qianchuan"}))).await,
        200
    );
    assert_eq!(
        me(&app, &sign(json!({"iss": "https://other", "aud": "qianchuan"}))).await,
        401
    );
    assert_eq!(
        me(
            &app,
            &sign(json!({"iss": "https://idp.example", "aud": "someone-else"}))
        )
        .await,
        401
    );
    assert_eq!(me(&app, &sign(json!({}))).await, 401);

    let rs_only = TestApp::sqlite_with(|c| {
        c.jwt_public_key = Some(keys().join("rsa1_public.pem"));
        c.jwt_algorithms = Some(vec!["RS256".into()]);
    })
    .await;
    assert_eq!(
        me(
            &rs_only,
            &token(json!({"alg": "HS256"}), claims(), Signer::Hmac(SECRET))
        )
        .await,
        401,
        "HS256 not allowed"
    );
    assert_eq!(
        me(
            &rs_only,
            &token(
                json!({"alg": "RS256"}),
                claims(),
                Signer::Rsa(&keys().join("rsa1_private.pem"))
            )
        )
        .await,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_without_a_restart() {
    let dir = TempDir::new("qc-keys");
    let app = app_with_keys(&dir).await;
    let old = token(
        json!({"alg": "RS256", "kid": "rsa-1"}),
        claims(),
        Signer::Rsa(&keys().join("rsa1_private.pem")),
    );
    let new = token(
        json!({"alg": "RS256", "kid": "rsa-2"}),
        claims(),
        Signer::Rsa(&keys().join("rsa2_private.pem")),
    );
    assert_eq!((me(&app, &old).await, me(&app, &new).await), (200, 401));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    std::fs::copy(keys().join("jwks_rotated.json"), dir.0.join("jwks.json")).unwrap();
    let file = std::fs::File::options()
        .append(true)
        .open(dir.0.join("jwks.json"))
        .unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!((me(&app, &old).await, me(&app, &new).await), (401, 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_by_every_gateway() {
    let a = TestApp::sqlite().await;
    let b = TestApp::sqlite().await;
    let jti = format!("jti-{}-{}", std::process::id(), now());
    let victim = token(
        json!({"alg": "HS256"}),
        {
            let mut c = claims();
            c["jti"] = json!(jti);
            c
        },
        Signer::Hmac(SECRET),
    );
    let other = token(json!({"alg": "HS256"}), claims(), Signer::Hmac(SECRET));
    assert_eq!(me(&a, &victim).await, 200);
    let plc = a.token(Role::Plc, &["33"]);
    let (_, body) = a
        .graphql(
            &plc,
            "mutation($j: String!) { revokeToken(jti: $j) }",
            json!({"j": jti}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "only admin revokes"
    );
    let admin = a.token(Role::Admin, &[]);
    let data = a
        .data(
            &admin,
            "mutation($j: String!) { revokeToken(jti: $j) }",
            json!({"j": jti}),
        )
        .await;
    assert_eq!(data["revokeToken"], true);
    assert_eq!(me(&a, &victim).await, 401);
    assert_eq!(me(&a, &other).await, 200, "other tokens are untouched");
    if std::env::var("QIANCHUAN_TEST_REDIS_URL")
        .map(|u| !u.is_empty())
        .unwrap_or(false)
    {
        assert_eq!(
            me(&b, &victim).await,
            401,
            "the revocation reaches the other gateway through Redis"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_limit_exceeded_without_hurting_others() {
    let a = TestApp::sqlite_with(|c| c.rate_limit_per_minute = 3).await;
    let b = TestApp::sqlite_with(|c| c.rate_limit_per_minute = 3).await;
    let sub = format!("busy-{}-{}", std::process::id(), now());
    let busy = token(
        json!({"alg": "HS256"}),
        {
            let mut c = claims();
            c["sub"] = json!(sub);
            c
        },
        Signer::Hmac(SECRET),
    );
    let calm = token(
        json!({"alg": "HS256"}),
        {
            let mut c = claims();
            c["sub"] = json!(format!("{sub}-calm"));
            c
        },
        Signer::Hmac(SECRET),
    );
    let shared = std::env::var("QIANCHUAN_TEST_REDIS_URL")
        .map(|u| !u.is_empty())
        .unwrap_or(false);
    // With Redis the two gateways share one count; without, each counts alone.
    let statuses = [
        me(&a, &busy).await,
        me(&b, &busy).await,
        me(&a, &busy).await,
        me(&a, &busy).await,
        me(&a, &busy).await,
    ];
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert_eq!(statuses[4], 429);
    if shared {
        assert_eq!(statuses[3], 429);
    }
    let r = a
        .client
        .post(a.url("/graphql"))
        .bearer_auth(&busy)
        .json(&json!({"query": "{ me { sub } }"}))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
    assert_eq!(me(&a, &calm).await, 200, "another subject is not affected");
}

async fn query_limits_and_introspection_hold(app: TestApp) {
    let plc = app.token(Role::Plc, &["33"]);
    let admin = app.token(Role::Admin, &[]);
    let code = |body: &Value| {
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let mut deep = String::from("sourceKey");
    for _ in 0..5 {
        deep = format!("parties {{ party {{ cases(first: 1) {{ edges {{ node {{ {deep} }} }} }} }} }}");
    }
    let (_, body) = app
        .graphql(
            &plc,
            &format!("{{ cases(first: 1) {{ edges {{ node {{ {deep} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "nested too deep: {body}");
    let (_, body) = app
        .graphql(
            &plc,
            "{ cases(first: 100) { edges { node { parties { party { cases(first: 100) { totalCount } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "nested pages multiply: {body}");
    let directives = format!("{{ me {{ sub {} }} }}", "@include(if: true) ".repeat(60));
    let (_, body) = app.graphql(&plc, &directives, json!({})).await;
    assert!(body["errors"].is_array(), "too many directives: {body}");
    let (_, body) = app.graphql(&plc, "{ __schema { types { name } } }", json!({})).await;
    assert_eq!(code(&body), "FORBIDDEN", "no introspection for plc: {body}");
    let data = app.data(&admin, "{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    let (_, body) = app.graphql(&plc, "{ casess { totalCount } }", json!({})).await;
    assert!(
        !body.to_string().contains("Did you mean"),
        "no suggestions for plc: {body}"
    );
    let (_, body) = app.graphql(&admin, "{ casess { totalCount } }", json!({})).await;
    assert!(
        body.to_string().contains("Did you mean"),
        "suggestions for admin: {body}"
    );
    let r = app
        .client
        .post(app.url("/graphql"))
        .header(AUTHORIZATION, format!("Bearer {plc}"))
        .header(CONTENT_TYPE, "application/json")
        .body(r#"[{"query":"{ me { sub } }"},{"query":"{ me { sub } }"}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "batches are not accepted");
}

async fn the_audit_log_answers_who_looked_at_whom(app: TestApp) {
    app.seed_demo().await;
    let plc = app.token(Role::Plc, &["3301"]);
    let data = app
        .data(&plc, "query Lookup($f: CaseFilter) { cases(filter: $f) { edges { node { sourceKey parties { party { id name } } } } } }", json!({"f": {"identifier": "11010519491231002x"}}))
        .await;
    let li_si = data["cases"]["edges"][0]["node"]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["party"]["name"] == "李四")
        .map(|p| p["party"]["id"].clone())
        .unwrap();
    let auditor = app.token(Role::Auditor, &["33"]);
    let q = "query($f: AuditFilter) { auditLog(filter: $f) { totalCount edges { node { sub role operation queryHash variables caseIds partyIds at } } } }";
    let log = app.data(&auditor, q, json!({"f": {"partyId": li_si}})).await;
    let entries = log["auditLog"]["edges"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    let e = &entries[0]["node"];
    assert_eq!(
        (e["sub"].as_str(), e["role"].as_str(), e["operation"].as_str()),
        (Some("test-plc"), Some("plc"), Some("Lookup"))
    );
    assert_eq!(e["caseIds"].as_array().unwrap().len(), 2);
    assert_eq!(
        e["variables"]["f"]["identifier"], "110105********002X",
        "identifiers in variables are masked"
    );
    assert_eq!(e["queryHash"].as_str().unwrap().len(), 64);
    let by_subject = app.data(&auditor, q, json!({"f": {"subject": "nobody"}})).await;
    assert_eq!(by_subject["auditLog"]["totalCount"], 0);
    let (_, body) = app.graphql(&plc, q, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "plc may not read the audit log"
    );
}

/// Every `case(id)` is audited (it was not), and entries of concurrent requests, written
/// together (one statement for a group), each keep their own subjects: the entries found by
/// a case are exactly the requests that read it.
async fn concurrent_audit_entries_keep_their_own_subjects(app: TestApp) {
    app.seed_demo().await;
    let plc = app.token(Role::Plc, &["3301"]);
    let listed = app
        .data(&plc, "{ cases(first: 20) { edges { node { id } } } }", json!({}))
        .await;
    let ids: Vec<String> = listed["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 2, "{listed}");
    // Request i reads case i mod n, as operation `Look{i}`.
    let requests = 24;
    let queries: Vec<String> = (0..requests)
        .map(|i| format!("query Look{i}($id: ID!) {{ case(id: $id) {{ id }} }}"))
        .collect();
    let (app_ref, plc_ref) = (&app, &plc);
    futures_util::future::join_all(
        queries
            .iter()
            .enumerate()
            .map(|(i, q)| app_ref.data(plc_ref, q, json!({"id": ids[i % ids.len()]}))),
    )
    .await;
    let auditor = app.token(Role::Auditor, &["33"]);
    let q = "query($f: AuditFilter) { auditLog(filter: $f, first: 50) { edges { node { operation caseIds } } } }";
    let found_by_each_case = || async {
        for (n, id) in ids.iter().enumerate() {
            let log = app.data(&auditor, q, json!({"f": {"caseId": id}})).await;
            let entries = log["auditLog"]["edges"].as_array().unwrap();
            let mut looks: Vec<usize> = Vec::new();
            for e in entries {
                let cases = e["node"]["caseIds"].as_array().unwrap();
                assert!(cases.iter().any(|c| c == id), "an entry found by {id} lists it: {log}");
                if let Some(i) = e["node"]["operation"].as_str().and_then(|op| op.strip_prefix("Look")) {
                    looks.push(i.parse().unwrap());
                }
            }
            looks.sort_unstable();
            let expected: Vec<usize> = (0..requests).filter(|i| i % ids.len() == n).collect();
            assert_eq!(looks, expected, "the requests that read {id}: {log}");
        }
    };
    // On PostgreSQL new entries wait in the GIN index's pending list (up to 64 MB, migration
    // 000018) until a VACUUM merges them into the index: found the same before and after.
    found_by_each_case().await;
    use sea_orm::ConnectionTrait;
    if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        app.db.execute_unprepared("VACUUM audit_log").await.unwrap();
        found_by_each_case().await;
    }
}

async fn no_audit_entry_means_no_personal_data(app: TestApp) {
    use sea_orm::ConnectionTrait;
    app.seed_demo().await;
    app.db.execute_unprepared("DROP TABLE audit_log").await.unwrap();
    let plc = app.token(Role::Plc, &["3301"]);
    let (status, body) = app
        .graphql(&plc, "{ cases { edges { node { sourceKey summary } } } }", json!({}))
        .await;
    assert_eq!(status, 500);
    assert_eq!(body["errors"][0]["extensions"]["code"], "INTERNAL");
    assert!(!body.to_string().contains("ZFJD"), "nothing of the data leaves: {body}");
    assert!(
        !body.to_string().contains("audit_log"),
        "internals stay in the log: {body}"
    );
}

/// On PostgreSQL the audit writer writes on a connection of its own: lost, it is opened again
/// (a group that met the closed connection withholds its data), and no entry is lost after.
async fn the_audit_writer_survives_the_loss_of_its_connection(app: TestApp) {
    app.seed_demo().await;
    let plc = app.token(Role::Plc, &["3301"]);
    let q = "query Look($id: ID!) { case(id: $id) { id } }";
    let listed = app
        .data(&plc, "{ cases(first: 1) { edges { node { id } } } }", json!({}))
        .await;
    let id = listed["cases"]["edges"][0]["node"]["id"].clone();
    app.data(&plc, q, json!({ "id": id })).await;
    if app.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        assert_eq!(
            app.terminate_backends(hub::audit::AUDIT_CONNECTION, None).await,
            1,
            "the audit writer's own connection"
        );
        // The first group may meet the closed connection: no entry, no data.
        let (status, body) = app.graphql(&plc, q, json!({ "id": id })).await;
        assert!(
            status == 200 || (status == 500 && body["errors"][0]["extensions"]["code"] == "INTERNAL"),
            "{status} {body}"
        );
        assert!(status == 200 || body.get("data").is_none_or(Value::is_null), "{body}");
    }
    let auditor = app.token(Role::Auditor, &["33"]);
    let count = |log: Value| log["auditLog"]["totalCount"].as_i64().unwrap();
    let looks = "query($f: AuditFilter) { auditLog(filter: $f) { totalCount } }";
    let before = count(app.data(&auditor, looks, json!({"f": {"caseId": id}})).await);
    for _ in 0..3 {
        app.data(&plc, q, json!({ "id": id })).await;
    }
    let after = count(app.data(&auditor, looks, json!({"f": {"caseId": id}})).await);
    assert_eq!(after, before + 3, "every answered request has its entry");
}

/// The one entry of `operation` on an `auditLog` page the viewer was shown.
fn the_one_entry(seen: &Value, operation: &str) -> Value {
    let entries: Vec<&Value> = seen["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["operation"] == operation)
        .collect();
    assert_eq!(entries.len(), 1, "the auditor sees the entry: {seen}");
    entries[0].clone()
}

/// A filter by a case outside an auditor's regions finds nothing, even where an entry
/// it sees cites that subject beside one of its own: the id is withheld from the entry, and the
/// filter would otherwise tell which entries cite it.
async fn an_auditor_cannot_filter_by_a_subject_it_may_not_see(app: TestApp) {
    app.seed_demo().await;
    let admin = app.token(Role::Admin, &[]);
    let all = app
        .data(
            &admin,
            "{ cases(first: 100) { edges { node { id regionCode } } } }",
            json!({}),
        )
        .await;
    let cases = all["cases"]["edges"].as_array().cloned().unwrap_or_default();
    let in_3301 = |c: &Value| c["node"]["regionCode"].as_str().is_some_and(|r| r.starts_with("3301"));
    let inside = cases.iter().find(|c| in_3301(c)).cloned().unwrap();
    let outside = cases.iter().find(|c| !in_3301(c)).cloned().unwrap();
    // One entry citing a case of 3301 and a case (with its parties) elsewhere.
    app.data(
        &admin,
        "query Both($a: ID!, $b: ID!) { a: case(id: $a) { id } b: case(id: $b) { id parties { party { id } } } }",
        json!({"a": inside["node"]["id"], "b": outside["node"]["id"]}),
    )
    .await;
    let auditor = app.token(Role::Auditor, &["3301"]);
    let q = "query($f: AuditFilter) { auditLog(filter: $f) { totalCount nodes { operation caseIds partyIds } } }";
    let seen = app
        .data(&auditor, q, json!({"f": {"caseId": inside["node"]["id"]}}))
        .await;
    let both = the_one_entry(&seen, "Both");
    assert_eq!(both["caseIds"], json!([inside["node"]["id"]]), "{seen}");
    let found = app
        .data(&auditor, q, json!({"f": {"caseId": outside["node"]["id"]}}))
        .await;
    assert_eq!(found["auditLog"]["totalCount"], 0, "{found}");
    // The administrator's filters are unchanged.
    let found = app
        .data(&admin, q, json!({"f": {"caseId": outside["node"]["id"]}}))
        .await;
    assert!(found.to_string().contains("Both"), "{found}");
}

/// The same for a party: a filter by a party that takes part in no case of the auditor's
/// regions finds nothing, even where an entry it sees cites that party beside one of its cases.
async fn an_auditor_cannot_filter_by_a_party_it_may_not_see(app: TestApp) {
    // A generated world: the demo's few parties all take part in cases of one district.
    let dir = tests::TempDir::new("qc-audit-party");
    hub::demo::load_generated_world(&app.db, &dir.0, 300, 3).await.unwrap();
    let admin = app.token(Role::Admin, &[]);
    let all = app
        .data(
            &admin,
            "{ cases(first: 30) { edges { node { id regionCode \
             parties { party { id cases(first: 10) { totalCount edges { node { regionCode } } } } } } } } }",
            json!({}),
        )
        .await;
    let cases = all["cases"]["edges"].as_array().cloned().unwrap_or_default();
    let region = |c: &Value| c["regionCode"].as_str().unwrap_or_default().to_string();
    // The auditor's region: the whole code of one case, so that most parties lie outside it.
    let inside = cases
        .iter()
        .map(|c| &c["node"])
        .find(|c| region(c).len() >= 6)
        .cloned()
        .unwrap();
    let r = region(&inside);
    // Every case of the party read (at most 10 of them), none in the region.
    let outside_only = |p: &Value| {
        p["cases"]["totalCount"].as_i64().is_some_and(|n| n <= 10)
            && p["cases"]["edges"]
                .as_array()
                .is_some_and(|cs| cs.iter().all(|c| !region(&c["node"]).starts_with(&r)))
    };
    let (other, party) = cases
        .iter()
        .map(|c| &c["node"])
        .find_map(|c| {
            let parties = c["parties"].as_array()?;
            let p = parties.iter().map(|p| &p["party"]).find(|p| outside_only(p))?;
            Some((c.clone(), p["id"].clone()))
        })
        .unwrap();
    // One entry citing the auditor's case and that party (with its case).
    app.data(
        &admin,
        "query Both($a: ID!, $b: ID!) { a: case(id: $a) { id } b: case(id: $b) { id parties { party { id } } } }",
        json!({"a": inside["id"], "b": other["id"]}),
    )
    .await;
    let auditor = app.token(Role::Auditor, &[r.as_str()]);
    let q = "query($f: AuditFilter) { auditLog(filter: $f) { totalCount nodes { operation caseIds partyIds } } }";
    let seen = app.data(&auditor, q, json!({"f": {"caseId": inside["id"]}})).await;
    let both = the_one_entry(&seen, "Both");
    assert!(
        !both["partyIds"].to_string().contains(party.as_str().unwrap()),
        "{seen}"
    );
    let found = app.data(&auditor, q, json!({"f": {"partyId": party}})).await;
    assert_eq!(found["auditLog"]["totalCount"], 0, "{found}");
    // The administrator's filters are unchanged.
    let found = app.data(&admin, q, json!({"f": {"partyId": party}})).await;
    assert!(found.to_string().contains("Both"), "{found}");
}

on_both_databases!(
    an_auditor_cannot_filter_by_a_subject_it_may_not_see,
    an_auditor_cannot_filter_by_a_party_it_may_not_see,
    the_audit_writer_survives_the_loss_of_its_connection,
    concurrent_audit_entries_keep_their_own_subjects,
    query_limits_and_introspection_hold,
    the_audit_log_answers_who_looked_at_whom,
    no_audit_entry_means_no_personal_data
);
