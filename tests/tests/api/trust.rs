//! Trust first: every way issue #18 found to stop the hub or to learn what a scope hides,
//! each answered with a refusal, a bound or the right data, on both databases where the
//! database matters.

use std::time::{Duration, Instant};

use gateway::auth::{mint_hs256, Role};
use serde_json::{json, Value};
use tests::{on_both_databases, Outage, TestApp, SECRET};

const ID_A: &str = "330113196805167045";
const ID_B: &str = "330703198101281914";
const PHONE: &str = "18558403123";

/// One enforcement export line (sources/enforcement.md).
fn record(key: &str, region: &str, found_on: &str, parties: Value, description: &str) -> String {
    json!({"JDBH": key, "BBH": 1, "AJBH": format!("({})浙0110刑初{}号", &found_on[..4], key.len()), "AJMC": "某案",
           "AJLB": "刑事", "BLDW": "杭州市公安局余杭区分局", "BLDWDM": "330110540000", "BLR": [],
           "DSR": parties, "WTLX": "应立未立", "WTMS": description, "JDLY": "群众来信", "JDZT": "发现",
           "FXRQ": found_on, "XZQH": region, "XZJD": "仓前街道", "SCSJ": "2022-09-01 10:15:00"})
    .to_string()
}

fn person(name: &str, id: &str, phone: Option<&str>) -> Value {
    let mut p = json!({"XM": name, "ZJLX": "居民身份证", "ZJHM": id, "JS": "犯罪嫌疑人"});
    if let Some(phone) = phone {
        p["LXDH"] = json!(phone);
    }
    p
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

/// Any run of 11 or more digits: a full ID number or phone (masked ones carry `*`).
fn full_identifiers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() >= 11 {
                found.push(run.clone());
            }
            run.clear();
        }
    }
    found
}

async fn ingest_lines(app: &TestApp, file: &str, lines: &[String]) -> Value {
    app.ingest("enforcement", file, lines.join("\n")).await
}

async fn a_congress_viewer_receives_no_full_identifier_anywhere(app: TestApp) {
    let text = format!("当事人身份证（{ID_A}）联系电话{PHONE}，另一人 330703 19810128 1914");
    ingest_lines(
        &app,
        "zfjd_1.ndjson",
        &[record(
            "ZFJD-330110-2022-000001",
            "330110",
            "20220901",
            json!([person("张三", ID_A, Some(PHONE)), person("李四", ID_B, None)]),
            &text,
        )],
    )
    .await;
    let plc = app.token(Role::Plc, &["3301"]);
    let case = app.data(&plc, "{ cases { edges { node { id } } } }", json!({})).await["cases"]["edges"][0]["node"]
        ["id"]
        .clone();
    app.data(
        &plc,
        "mutation($c: ID!) { openSupervisionTask(input: {caseId: $c, department: \"某局\", title: \"核查 330113196805167045 与 18558403123\", deadline: \"2030-01-31\", note: \"电话 185 5840 3123\"}) { id } }",
        json!({"c": case}),
    )
    .await;
    let congress = app.token(Role::Congress, &["3301"]);
    let (status, body) = app
        .graphql(
            &congress,
            "{ cases(first: 5) { edges { node { title summary parties { nameAsRecorded party { name idNumber phones } }
                 chain(maxNodes: 20) { links { key } hubs { key } nodes { case { summary } } } } } }
               supervisionTasks { edges { node { title history { note } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let text = body.to_string();
    assert!(text.contains("330113********7045"), "the ID is there, masked: {text}");
    assert!(text.contains("185****3123"), "{text}");
    assert_eq!(full_identifiers(&text), Vec::<String>::new(), "{text}");

    // A search can never confirm a hidden digit; an identifier look-up is refused.
    let count = |filter: Value| {
        let (app, congress) = (&app, &congress);
        async move {
            app.graphql(
                congress,
                "query($f: CaseFilter) { cases(filter: $f) { totalCount } }",
                json!({"f": filter}),
            )
            .await
            .1
        }
    };
    assert_eq!(count(json!({"text": PHONE})).await["data"]["cases"]["totalCount"], 0);
    assert_eq!(
        count(json!({"text": "185****3123"})).await["data"]["cases"]["totalCount"],
        1
    );
    assert_eq!(code(&count(json!({"identifier": PHONE})).await), "FORBIDDEN");
    // Others still find it by the clear number.
    let (_, found) = app
        .graphql(
            &plc,
            "query($f: CaseFilter) { cases(filter: $f) { totalCount } }",
            json!({"f": {"text": PHONE}}),
        )
        .await;
    assert_eq!(found["data"]["cases"]["totalCount"], 1);

    // The same over WebSocket: a new case announced to a congress subscriber.
    let mut ws = app.ws(&congress).await;
    ws.subscribe(
        "s",
        "subscription { stageChanged { case { summary title } to } }",
        json!({}),
    )
    .await;
    app.wait_subscriptions(1).await;
    ingest_lines(
        &app,
        "zfjd_2.ndjson",
        &[record(
            "ZFJD-330110-2022-000002",
            "330110",
            "20220902",
            json!([person("王五", ID_B, Some("13912345678"))]),
            "举报电话 13912345678，身份证 330703198101281914",
        )],
    )
    .await;
    let message = ws.next_within(Duration::from_secs(10)).await.expect("a stage change");
    let text = message.to_string();
    assert!(text.contains("139****5678"), "{text}");
    assert_eq!(full_identifiers(&text), Vec::<String>::new(), "{text}");
}

async fn a_party_shows_only_what_the_viewers_records_say(app: TestApp) {
    ingest_lines(
        &app,
        "zfjd_1.ndjson",
        &[
            record(
                "ZFJD-330110-2022-000001",
                "330110",
                "20220901",
                json!([person("张三", ID_A, Some(PHONE))]),
                "余杭",
            ),
            record(
                "ZFJD-330702-2022-000002",
                "330702",
                "20220902",
                json!([person("张老三", ID_A, None)]),
                "婺城",
            ),
        ],
    )
    .await;
    let query = "{ cases { edges { node { parties { party { id name idNumber phones } } } } } }";
    let jinhua = app.data(&app.token(Role::Plc, &["3307"]), query, json!({})).await;
    let party = &jinhua["cases"]["edges"][0]["node"]["parties"][0]["party"];
    assert_eq!(
        party["phones"],
        json!([]),
        "the phone only a 330110 record gives: {party}"
    );
    assert_eq!(party["name"], "张老三", "{party}");
    assert_eq!(party["idNumber"], ID_A);
    let by_id = app
        .data(
            &app.token(Role::Plc, &["3307"]),
            "query($id: ID!) { party(id: $id) { name phones } node(id: $id) { ... on Party { phones } } }",
            json!({"id": party["id"]}),
        )
        .await;
    assert_eq!(by_id["party"], json!({"name": "张老三", "phones": []}));
    assert_eq!(by_id["node"]["phones"], json!([]));
    let everywhere = app.data(&app.token(Role::Plc, &["33"]), query, json!({})).await;
    assert!(everywhere.to_string().contains(PHONE), "{everywhere}");
}

async fn filters_are_no_oracles_and_every_lookup_is_audited(app: TestApp) {
    ingest_lines(
        &app,
        "zfjd_1.ndjson",
        &[record(
            "ZFJD-330110-2022-000001",
            "330110",
            "20220901",
            json!([person("张三", ID_A, Some(PHONE))]),
            "x",
        )],
    )
    .await;
    let analyst = app.token(Role::Analyst, &["33"]);
    for filter in [
        json!({"identifier": ID_A}),
        json!({"text": "张三"}),
        json!({"partyId": "Party:1"}),
        json!({"caseNumber": "(2022)浙0110刑初23号"}),
    ] {
        let (_, stats) = app
            .graphql(
                &analyst,
                "query($f: CaseFilter) { caseStats(filter: $f, groupBy: [REGION]) { count } }",
                json!({"f": filter}),
            )
            .await;
        assert_eq!(code(&stats), "FORBIDDEN", "caseStats {filter}: {stats}");
        let (_, trend) = app
            .graphql(
                &analyst,
                "query($f: CaseFilter) { caseTrend(filter: $f, from: \"2022-01\", to: \"2022-12\") { key } }",
                json!({"f": filter}),
            )
            .await;
        assert_eq!(code(&trend), "FORBIDDEN", "caseTrend {filter}: {trend}");
    }
    // A count-only probe leaves a trace, with the identifier masked.
    let plc = app.token(Role::Plc, &["33"]);
    let probe = app
        .data(
            &plc,
            "query Probe($f: CaseFilter) { cases(filter: $f, first: 0) { totalCount } }",
            json!({"f": {"identifier": ID_B}}),
        )
        .await;
    assert_eq!(probe["cases"]["totalCount"], 0);
    let admin = app.token(Role::Admin, &[]);
    let log = app
        .data(
            &admin,
            "{ auditLog(filter: {subject: \"test-plc\"}) { edges { node { operation variables } } } }",
            json!({}),
        )
        .await;
    let entries = log["auditLog"]["edges"].as_array().cloned().unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["node"]["operation"] == "Probe"
                && e["node"]["variables"].to_string().contains("330703********1914")),
        "{log}"
    );
    assert!(!log.to_string().contains(ID_B), "{log}");
    // The probe cites nothing: an auditor of the whole province reads it, one of a city does not.
    let probes = |regions: &'static [&'static str]| {
        let app = &app;
        async move {
            let log = app
                .data(
                    &app.token(Role::Auditor, regions),
                    "{ auditLog(first: 100) { totalCount nodes { operation caseIds partyIds } } }",
                    json!({}),
                )
                .await;
            let nodes = log["auditLog"]["nodes"].as_array().cloned().unwrap_or_default();
            assert_eq!(
                log["auditLog"]["totalCount"].as_u64(),
                Some(nodes.len() as u64),
                "{log}"
            );
            nodes.iter().filter(|n| n["operation"] == "Probe").count()
        }
    };
    assert_eq!(probes(&["33"]).await, 1);
    assert_eq!(probes(&["3301"]).await, 0);
}

async fn the_differencing_attack_recovers_no_suppressed_cell(app: TestApp) {
    // Regions × months: 330110 holds 2 cases in January, which a region total less its
    // other months would give away.
    let plan = [
        ("330110", "20220105", 2),
        ("330110", "20220205", 20),
        ("330110", "20220305", 8),
        ("330106", "20220105", 9),
        ("330106", "20220205", 7),
        ("330106", "20220305", 12),
    ];
    let mut lines = Vec::new();
    for (region, day, n) in plan {
        for i in 0..n {
            lines.push(record(
                &format!("ZFJD-{region}-{day}-{i:04}"),
                region,
                day,
                json!([]),
                "x",
            ));
        }
    }
    ingest_lines(&app, "zfjd_grid.ndjson", &lines).await;
    let analyst = app.token(Role::Analyst, &["33"]);
    let stats = |group_by: &'static str| {
        let (app, analyst) = (&app, &analyst);
        async move {
            app.data(
                analyst,
                &format!("{{ caseStats(groupBy: [{group_by}]) {{ region month count suppressed }} }}"),
                json!({}),
            )
            .await["caseStats"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let cells = stats("REGION, MONTH").await;
    let rows = stats("REGION").await;
    let columns = stats("MONTH").await;
    let total = stats("").await;
    let hidden: Vec<&Value> = cells.iter().filter(|c| c["suppressed"] == true).collect();
    assert!(
        hidden
            .iter()
            .any(|c| c["region"] == "330110" && c["month"] == "2022-01"),
        "{cells:?}"
    );
    assert!(hidden.len() >= 4, "complements in its row and its column: {cells:?}");
    // The attack: a line's published total less its published cells.
    let total_of = |list: &[Value], field: &str, value: &Value| {
        list.iter()
            .find(|b| &b[field] == value)
            .and_then(|b| b["count"].as_i64())
    };
    for cell in &hidden {
        for (line, field, list) in [("region", "region", &rows), ("month", "month", &columns)] {
            let members: Vec<&Value> = cells.iter().filter(|c| c[field] == cell[field]).collect();
            let unknown = members.iter().filter(|c| c["suppressed"] == true).count();
            let known = total_of(list, field, &cell[field]).is_some();
            assert!(!(known && unknown == 1), "{line} {} gives {cell} away", cell[field]);
        }
    }
    assert_eq!(total[0]["count"], 58);
}

async fn sixteen_concurrent_closes_of_one_task_give_one_success(app: TestApp) {
    app.seed_demo().await;
    let admin = app.token(Role::Admin, &[]);
    let case = app
        .data(
            &admin,
            "{ caseBySourceKey(source: ENFORCEMENT, sourceKey: \"ZFJD-330110-2022-000123\") { id } }",
            json!({}),
        )
        .await["caseBySourceKey"]["id"]
        .clone();
    let plc = app.token(Role::Plc, &["330110"]);
    let dept = "杭州市公安局余杭区分局";
    let task = app
        .data(
            &plc,
            "mutation($c: ID!, $d: String!) { openSupervisionTask(input: {caseId: $c, department: $d, title: \"t\", deadline: \"2030-01-31\"}) { id } }",
            json!({"c": case, "d": dept}),
        )
        .await["openSupervisionTask"]["id"]
        .clone();
    app.data(
        &app.agency_token(dept),
        "mutation($id: ID!) { answerSupervisionTask(id: $id, note: \"改了\") { id } }",
        json!({"id": task}),
    )
    .await;
    app.data(
        &plc,
        "mutation($id: ID!) { revisitSupervisionTask(id: $id) { id } }",
        json!({"id": task}),
    )
    .await;
    let steps = (0..16).map(|i| {
        let (app, plc, task) = (&app, &plc, &task);
        async move {
            let mutation = if i % 2 == 0 {
                "mutation($id: ID!) { closeSupervisionTask(id: $id, note: \"销号\") { stage } }"
            } else {
                "mutation($id: ID!) { returnSupervisionTask(id: $id, note: \"退回\") { stage } }"
            };
            app.graphql(plc, mutation, json!({"id": task})).await.1
        }
    });
    let answers = futures_util::future::join_all(steps).await;
    let succeeded = answers.iter().filter(|a| a.get("errors").is_none()).count();
    assert_eq!(succeeded, 1, "{answers:?}");
    for a in answers.iter().filter(|a| a.get("errors").is_some()) {
        assert_eq!(code(a), "BAD_USER_INPUT", "{a}");
    }
    let tasks = app
        .data(
            &plc,
            "{ supervisionTasks { edges { node { id history { fromStage } } } } }",
            json!({}),
        )
        .await;
    let ours = tasks["supervisionTasks"]["edges"]
        .as_array()
        .and_then(|edges| edges.iter().find(|e| e["node"]["id"] == task))
        .cloned()
        .unwrap_or_default();
    let from_revisited = ours["node"]["history"]
        .as_array()
        .map(|h| h.iter().filter(|e| e["fromStage"] == "REVISITED").count());
    assert_eq!(from_revisited, Some(1), "{tasks}");
}

async fn a_nul_character_quarantines_its_record_not_the_file(app: TestApp) {
    let good = record("ZFJD-330110-2022-000001", "330110", "20220901", json!([]), "ok");
    let escaped = record(
        "ZFJD-330110-2022-000002",
        "330110",
        "20220901",
        json!([]),
        "bad\u{0}text",
    );
    let raw = format!(
        "{{\"JDBH\":\"ZFJD-330110-2022-000003\",\"BBH\":1,\"WTMS\":\"raw{}nul\",\"XZQH\":\"330110\",\"FXRQ\":\"20220901\"}}",
        '\u{0}'
    );
    let report = ingest_lines(&app, "zfjd_nul.ndjson", &[good, escaped, raw]).await;
    assert_eq!(
        (report["read"].as_u64(), report["inserted"].as_u64()),
        (Some(3), Some(1)),
        "{report}"
    );
    assert_eq!(report["quarantined"], 2, "{report}");
    assert!(report["rejected"].is_null(), "{report}");
    let admin = app.token(Role::Admin, &[]);
    let q = app
        .data(
            &admin,
            "{ quarantine { edges { node { reason rawText } } } }",
            json!({}),
        )
        .await;
    assert!(q.to_string().contains("invalid_text"), "{q}");
}

async fn redis_down_costs_little_and_revocations_hold_on_every_gateway(app: TestApp) {
    let _alone = tests::REVOCATIONS_IN_REDIS.lock().await;
    // `app` only provides the database; the gateways under test talk to Redis through a proxy.
    let Some(redis) = std::env::var("QIANCHUAN_TEST_REDIS_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(!tests::services_required(), "Redis is required");
        return;
    };
    let target = redis.trim_start_matches("redis://").trim_end_matches('/').to_string();
    let proxy = Outage::start(&target).await;
    let via_proxy = format!("redis://{}", proxy.addr);
    let a = app.twin_with(|c| c.redis_url = Some(via_proxy.clone())).await;
    let b = app.twin_with(|c| c.redis_url = Some(via_proxy.clone())).await;
    for g in [&a, &b] {
        for _ in 0..100 {
            if g.get_json("/readyz").await["redis"] == "up" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let admin = app.token(Role::Admin, &[]);
    let revoke = |token: String| {
        let (a, admin) = (&a, &admin);
        async move {
            let jti = claims(&token)["jti"].as_str().unwrap().to_string();
            a.data(
                admin,
                "mutation($j: String!) { revokeToken(jti: $j) }",
                json!({"j": jti}),
            )
            .await
        }
    };
    let me = "{ me { sub } }";
    let first = app.token(Role::Plc, &["33"]);
    revoke(first.clone()).await;
    assert_eq!(b.graphql(&first, me, json!({})).await.0, 401);

    proxy.down();
    let second = mint_hs256(SECRET, "second", Role::Plc, &["33".into()], 600, (None, None)).unwrap();
    assert_eq!(b.graphql(&second, me, json!({})).await.0, 200);
    revoke(second.clone()).await;
    assert_eq!(
        b.graphql(&second, me, json!({})).await.0,
        401,
        "revoked on a, refused on b without Redis"
    );
    let plc = mint_hs256(SECRET, "third", Role::Plc, &["33".into()], 600, (None, None)).unwrap();
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(b.graphql(&plc, me, json!({})).await.0, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "20 queries with Redis down took {:?}",
        started.elapsed()
    );
    // A gateway started during the outage knows both revocations.
    let fresh = app.twin_with(|c| c.redis_url = Some(via_proxy.clone())).await;
    assert_eq!(fresh.graphql(&first, me, json!({})).await.0, 401);
    assert_eq!(fresh.graphql(&second, me, json!({})).await.0, 401);

    // Redis comes back empty (a restart without persistence): revocations still hold.
    proxy.up();
    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for token in [&first, &second] {
        let key = format!("qianchuan:revoked:{}", claims(token)["jti"].as_str().unwrap());
        let _: () = redis::cmd("DEL").arg(key).query_async(&mut conn).await.unwrap();
    }
    let _: () = redis::cmd("DEL")
        .arg("qianchuan:revoked:loaded")
        .query_async(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(b.graphql(&first, me, json!({})).await.0, 401);
    assert_eq!(b.graphql(&second, me, json!({})).await.0, 401);
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

on_both_databases!(
    a_congress_viewer_receives_no_full_identifier_anywhere,
    a_party_shows_only_what_the_viewers_records_say,
    filters_are_no_oracles_and_every_lookup_is_audited,
    the_differencing_attack_recovers_no_suppressed_cell,
    sixteen_concurrent_closes_of_one_task_give_one_success,
    a_nul_character_quarantines_its_record_not_the_file,
    redis_down_costs_little_and_revocations_hold_on_every_gateway,
);

/// `fragment F0 on Query { ...F1 ...F1 }`, … `levels` deep: 2^levels selections expanded.
fn doubling_fragments(levels: usize) -> String {
    let mut q = String::from("{ ...F0 }\n");
    for i in 0..levels {
        q.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }}\n", i + 1, i + 1));
    }
    q.push_str(&format!("fragment F{levels} on Query {{ me {{ sub }} }}\n"));
    q
}

fn deep_argument(levels: usize) -> String {
    format!("{{ me(x: {}1{}) {{ sub }} }}", "[".repeat(levels), "]".repeat(levels))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_that_cost_too_much_are_refused_before_they_run_while_healthz_answers() {
    let app = TestApp::sqlite().await;
    let token = app.token(Role::Plc, &["33"]);
    let started = Instant::now();
    let (status, body) = app.graphql(&token, &doubling_fragments(30), json!({})).await;
    assert_eq!((status, code(&body)), (200, "LIMIT_EXCEEDED"), "{body}");
    let (_, body) = app.graphql(&token, &deep_argument(2_000), json!({})).await;
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body}");
    let get = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", deep_argument(2_000))])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body: Value = get.json().await.unwrap();
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body}");
    let mut ws = app.ws(&token).await;
    ws.subscribe("deep", &deep_argument(2_000), json!({})).await;
    let refused = ws.next_within(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refused}"
    );
    ws.subscribe("fragments", &doubling_fragments(30), json!({})).await;
    let refused = ws.next_within(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refused}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once: {:?}",
        started.elapsed()
    );
    // A thousand aliased text searches are priced as what they cost.
    let aliases: String = (0..1000)
        .map(|i| format!("a{i}: cases(first: 0, filter: {{text: \"某\"}}) {{ totalCount }} "))
        .collect();
    let (_, body) = app.graphql(&token, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body}");
    // The process is alive and well.
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        app.data(&token, "{ me { sub } }", json!({})).await["me"]["sub"],
        "test-plc"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_is_cancelled_and_answered_limit_exceeded() {
    let app = TestApp::sqlite_with(|c| c.request_timeout_ms = 1).await;
    tests::load_samples(&app, entities::Source::ALL).await;
    let admin = app.token(Role::Admin, &[]);
    let (status, body) = app
        .graphql(
            &admin,
            "{ cases(first: 20) { totalCount edges { node { parties { party { name } } chain(maxNodes: 20) { nodes { depth } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("time budget"),
        "{body}"
    );
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

/// A dropped execution does not stop a statement PostgreSQL is running: the snapshot's
/// `statement_timeout` does. Here the statement waits for a lock the test holds; without the
/// timeout it would wait (and the response with it) for as long as the lock is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_its_request_budget_is_stopped_in_postgresql() {
    let Some(app) = TestApp::postgres_with(|c| c.request_timeout_ms = 700).await else {
        return;
    };
    tests::load_samples(&app, entities::Source::ALL).await;
    app.wait_link_index_ready().await;
    let admin = app.token(Role::Admin, &[]);
    let lock = stopped_at_the_budget_while_locked(
        &app,
        &admin,
        "cases",
        "{ cases(first: 5) { totalCount edges { node { id } } } }",
    )
    .await;
    lock.rollback().await.unwrap();
    // The pool is whole again: the next request is answered.
    let data = app
        .data(&admin, "{ cases(first: 1) { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(data["cases"]["edges"].as_array().map(Vec::len), Some(1));
}

/// Holds `table` locked while `document` is sent with a 700 ms budget: the answer comes at the
/// budget (`LIMIT_EXCEEDED`), and the request's statement is gone from PostgreSQL while the
/// lock is still held. Answers the lock's transaction.
async fn stopped_at_the_budget_while_locked(
    app: &TestApp,
    token: &str,
    table: &str,
    document: &str,
) -> sea_orm::DatabaseTransaction {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let lock = app.db.begin().await.unwrap();
    lock.execute_unprepared(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        .await
        .unwrap();
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(20), app.graphql(token, document, json!({}))).await;
    let waited = started.elapsed();
    let (status, body) = answer.expect("the answer came at the budget, not when the lock was released");
    assert_eq!(status, 200);
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body}");
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    assert_no_backend_waits_on(&lock).await;
    lock
}

/// Waits up to 5 s for no other backend of the database to wait on a lock `lock` holds.
async fn assert_no_backend_waits_on(lock: &sea_orm::DatabaseTransaction) {
    use sea_orm::ConnectionTrait;
    let waiting_on_the_lock = || async {
        let row = lock
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    let mut left = waiting_on_the_lock().await;
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = waiting_on_the_lock().await;
    }
    if left > 0 {
        let rows = lock
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT coalesce(query, '') AS query FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
            ))
            .await
            .unwrap();
        let waiting: Vec<String> = rows.iter().filter_map(|r| r.try_get("", "query").ok()).collect();
        panic!("a statement of the cancelled request still waits in PostgreSQL: {waiting:?}");
    }
}

/// The same for a mutation's write transaction (it carries the budget as `statement_timeout`
/// too): without it the insert would wait for the lock, and write once it is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_past_its_request_budget_is_stopped_in_postgresql() {
    let Some(app) = TestApp::postgres_with(|c| c.request_timeout_ms = 700).await else {
        return;
    };
    let admin = app.token(Role::Admin, &[]);
    let open = "mutation { openSupervisionTask(input: {regionCode: \"330110\", town: \"仓前街道\", \
                department: \"仓前街道办事处\", title: \"整改\", deadline: \"2022-03-15\"}) { id } }";
    // Nothing is written.
    let lock = stopped_at_the_budget_while_locked(&app, &admin, "supervision_tasks", open).await;
    lock.rollback().await.unwrap();
    let tasks = app
        .data(&admin, "{ supervisionTasks(first: 10) { totalCount } }", json!({}))
        .await;
    assert_eq!(tasks["supervisionTasks"]["totalCount"], 0, "{tasks}");
    // The same mutation within its budget is written.
    let data = app.data(&admin, open, json!({})).await;
    assert!(data["openSupervisionTask"]["id"].is_string(), "{data}");
}

/// A subscription's reading after a change has the request budget too: held up by a lock,
/// the subscriber gets `LIMIT_EXCEEDED` at the budget, the statement is gone from PostgreSQL,
/// and the subscription goes on to deliver the next change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_reading_past_its_budget_is_stopped_in_postgresql() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    // Without the governance follower, which reads changed tasks in the background (not a
    // request; it waits for the lock as any writer's follower would).
    let Some(app) = TestApp::postgres_with(|c| {
        c.request_timeout_ms = 700;
        c.warning_task_days = 0;
    })
    .await
    else {
        return;
    };
    // The change is announced as another instance would: through Redis.
    let Some(redis) = std::env::var("QIANCHUAN_TEST_REDIS_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(!tests::services_required(), "QIANCHUAN_TEST_REDIS_URL is not set");
        return;
    };
    let admin = app.token(Role::Admin, &[]);
    let open = "mutation { openSupervisionTask(input: {regionCode: \"330110\", town: \"仓前街道\", \
                department: \"仓前街道办事处\", title: \"整改\", deadline: \"2022-03-15\"}) { id } }";
    app.data(&admin, open, json!({})).await;
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT max(id) AS id FROM supervision_tasks",
        ))
        .await
        .unwrap()
        .unwrap();
    let task_id: i64 = row.try_get("", "id").unwrap();
    let changed = || {
        hub::events::announce(
            Some(&redis),
            &app.events_channel,
            hub::events::Event::TaskChanged { task_id },
        )
    };
    let mut ws = app.ws(&admin).await;
    ws.subscribe("t", "subscription { taskChanged { title } }", json!({}))
        .await;
    app.wait_subscriptions(1).await;

    let lock = app.db.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE supervision_tasks IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let started = Instant::now();
    changed().await;
    let message = ws
        .next_within(Duration::from_secs(20))
        .await
        .expect("an answer at the budget, not when the lock was released");
    let waited = started.elapsed();
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{message}"
    );
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    assert_no_backend_waits_on(&lock).await;
    lock.rollback().await.unwrap();

    changed().await;
    let message = ws
        .next_within(Duration::from_secs(10))
        .await
        .expect("the next change is delivered");
    assert_eq!(message["payload"]["data"]["taskChanged"]["title"], "整改", "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_out_of_bounds_are_refused_with_401() {
    let app = TestApp::sqlite().await;
    let me = "{ me { sub regions } }";
    let regions: Vec<String> = (0..20_000).map(|i| format!("33{:02}", i % 100)).collect();
    let huge = mint_hs256(SECRET, "many", Role::Plc, &regions, 600, (None, None)).unwrap();
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&huge)
        .json(&json!({"query": me}))
        .send()
        .await
        .unwrap();
    assert!(matches!(response.status().as_u16(), 401 | 431), "{}", response.status());
    let empty = mint_hs256(SECRET, "nobody", Role::Plc, &[], 600, (None, None)).unwrap();
    assert_eq!(
        app.graphql(&empty, me, json!({})).await.0,
        401,
        "regions [] is no scope"
    );
    // The scheme is case-insensitive.
    let token = app.token(Role::Plc, &["33"]);
    let upper = app
        .client
        .post(app.url("/graphql"))
        .header("authorization", format!("BEARER {token}"))
        .json(&json!({"query": me}))
        .send()
        .await
        .unwrap();
    assert_eq!(upper.status().as_u16(), 200);
    assert_eq!(app.data(&token, me, json!({})).await["me"]["sub"], "test-plc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_filter_values_and_bodies_get_coded_client_errors() {
    let app = TestApp::sqlite_with(|c| c.max_body_bytes = 2 << 20).await;
    let plc = app.token(Role::Plc, &["33"]);
    let sources = vec!["SOCIAL"; 100_000];
    let (status, body) = app
        .graphql(
            &plc,
            "query($s: [Source!]) { cases(filter: {sources: $s}) { totalCount } }",
            json!({"s": sources}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = app
        .graphql(
            &plc,
            "query($t: String) { cases(filter: {text: $t}) { totalCount } }",
            json!({"t": "\u{0}"}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let small = TestApp::sqlite().await;
    let response = small
        .client
        .post(small.url("/graphql"))
        .bearer_auth(small.token(Role::Plc, &["33"]))
        .json(&json!({"query": "{ me { sub } }", "variables": {"pad": "x".repeat(2 << 20)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "LIMIT_EXCEEDED", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_strangers_refused_before_their_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::sqlite_with(|c| c.read_timeout_ms = 300).await;
    // Headers that never end.
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was not closed");
    // A body announced and never sent, without a token: 401 at once.
    let mut stranger = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stranger
        .write_all(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(2), stranger.read_exact(&mut head))
        .await
        .expect("an answer before the body")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 401");
    // A body that stops arriving: 408.
    let mut stalled = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let token = app.token(Role::Plc, &["33"]);
    stalled
        .write_all(format!("POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"query\"").as_bytes())
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(5), stalled.read_exact(&mut head))
        .await
        .expect("an answer once the body stalls")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 408");
}

/// PostgreSQL behind a proxy the test cuts: requests and `/readyz` fail within seconds, and
/// serving resumes by itself once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_fails_fast_and_recovers_by_itself() {
    let _alone = tests::REVOCATIONS_IN_REDIS.lock().await;
    let Ok(base) = std::env::var("QIANCHUAN_TEST_DATABASE_URL") else {
        assert!(!tests::services_required(), "PostgreSQL is required");
        return;
    };
    let host = base
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_string();
    let proxy = Outage::start(&host).await;
    let through = proxy.addr.to_string();
    let Some(app) = TestApp::postgres_with(|c| c.database_url = c.database_url.replacen(&host, &through, 1)).await
    else {
        return;
    };
    let plc = app.token(Role::Plc, &["33"]);
    let query = "{ cases { totalCount } }";
    assert_eq!(app.data(&plc, query, json!({})).await["cases"]["totalCount"], 0);
    proxy.down();
    let started = Instant::now();
    let (status, body) = app.graphql(&plc, query, json!({})).await;
    assert!(status == 500 || code(&body) == "INTERNAL", "{status} {body}");
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert_eq!(ready, 503);
    let timeouts = app
        .metric("qianchuan_db_connection_failures_total{kind=\"connection\"}")
        .await;
    assert!(timeouts >= 1, "the lost connection is counted: {timeouts}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    proxy.up();
    let mut recovered = false;
    for _ in 0..50 {
        if app.graphql(&plc, query, json!({})).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "serving resumed once the database was back");
}

async fn scope_gaps_in_the_loop_are_closed(app: TestApp) {
    app.seed_demo().await;
    let admin = app.token(Role::Admin, &[]);
    let plc = app.token(Role::Plc, &["33"]);
    let open = |region: &'static str, town: &'static str| {
        let (app, plc) = (&app, &plc);
        async move {
            app.graphql(
                plc,
                "mutation($r: String!, $t: String!) { openSupervisionTask(input: {regionCode: $r, town: $t, department: \"某局\", title: \"t\", deadline: \"2030-01-31\"}) { id } }",
                json!({"r": region, "t": town}),
            )
            .await
            .1
        }
    };
    open("330702", "某镇").await;
    open("330110", "仓前街道").await;
    let agency = gateway::auth::mint_hs256_for_unit(
        SECRET,
        "agency-x",
        Role::Agency,
        &["330110".into()],
        Some("某局"),
        600,
        (None, None),
    )
    .unwrap();
    let seen = app
        .data(
            &agency,
            "{ supervisionTasks { edges { node { regionCode } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        seen["supervisionTasks"]["edges"],
        json!([{"node": {"regionCode": "330110"}}]),
        "an agency's regions bound its tasks"
    );
    // A task on a case takes the case's town.
    let case = app
        .data(
            &admin,
            "{ caseBySourceKey(source: ENFORCEMENT, sourceKey: \"ZFJD-330110-2022-000123\") { id town } }",
            json!({}),
        )
        .await["caseBySourceKey"]
        .clone();
    let (_, wrong_town) = app
        .graphql(
            &plc,
            "mutation($c: ID!) { openSupervisionTask(input: {caseId: $c, town: \"别的镇\", department: \"某局\", title: \"t\", deadline: \"2030-01-31\"}) { town } }",
            json!({"c": case["id"]}),
        )
        .await;
    assert_eq!(code(&wrong_town), "BAD_USER_INPUT", "{wrong_town}");
    // revokeToken(ttlSeconds: 0) revokes nothing and says so.
    let (_, zero) = app
        .graphql(&admin, "mutation { revokeToken(jti: \"x\", ttlSeconds: 0) }", json!({}))
        .await;
    assert_eq!(code(&zero), "BAD_USER_INPUT", "{zero}");
    // `3` is not `33`: records without a region stay out of reach.
    let regionless = app
        .data(
            &admin,
            "{ cases(first: 100) { edges { node { regionCode } } } }",
            json!({}),
        )
        .await;
    let without = regionless["cases"]["edges"]
        .as_array()
        .map(|e| e.iter().filter(|n| n["node"]["regionCode"].is_null()).count())
        .unwrap_or(0);
    let three = app
        .data(
            &app.token(Role::Discipline, &["3"]),
            "{ cases(first: 100) { edges { node { regionCode } } } }",
            json!({}),
        )
        .await;
    assert!(
        three["cases"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| !n["node"]["regionCode"].is_null()),
        "{three}"
    );
    let whole = app
        .data(
            &app.token(Role::Discipline, &["33"]),
            "{ cases(first: 100) { edges { node { regionCode } } } }",
            json!({}),
        )
        .await;
    let whole_without = whole["cases"]["edges"]
        .as_array()
        .map(|e| e.iter().filter(|n| n["node"]["regionCode"].is_null()).count())
        .unwrap_or(0);
    assert_eq!(whole_without, without);
    // An auditor reads the entries of its regions only.
    app.data(
        &app.token(Role::Plc, &["330110"]),
        "{ cases { edges { node { id } } } }",
        json!({}),
    )
    .await;
    app.data(
        &app.token(Role::Plc, &["330784"]),
        "{ cases { edges { node { id } } } }",
        json!({}),
    )
    .await;
    let log = app
        .data(
            &app.token(Role::Auditor, &["330784"]),
            "{ auditLog(first: 100) { edges { node { sub caseIds } } } }",
            json!({}),
        )
        .await;
    let entries = log["auditLog"]["edges"].as_array().cloned().unwrap_or_default();
    assert!(!entries.is_empty(), "{log}");
    let all_cases = app
        .data(
            &admin,
            "{ cases(first: 100) { edges { node { id regionCode } } } }",
            json!({}),
        )
        .await;
    let region_of = |id: &Value| {
        all_cases["cases"]["edges"]
            .as_array()
            .and_then(|e| e.iter().find(|n| &n["node"]["id"] == id))
            .map(|n| n["node"]["regionCode"].as_str().unwrap_or("").to_string())
    };
    for e in &entries {
        let ids = e["node"]["caseIds"].as_array().cloned().unwrap_or_default();
        assert!(!ids.is_empty(), "an entry citing nothing needs the prefix 33: {e}");
        for id in ids {
            assert!(region_of(&id).is_some_and(|r| r.starts_with("330784")), "{e}");
        }
    }
}

async fn a_revoked_token_loses_its_subscriptions_within_seconds(app: TestApp) {
    let token = app.token(Role::Plc, &["33"]);
    let mut ws = app.ws(&token).await;
    ws.subscribe("s", "subscription { stageChanged { to } }", json!({}))
        .await;
    app.wait_subscriptions(1).await;
    let jti = claims(&token)["jti"].as_str().unwrap().to_string();
    app.data(
        &app.token(Role::Admin, &[]),
        "mutation($j: String!) { revokeToken(jti: $j) }",
        json!({"j": jti}),
    )
    .await;
    let closed = ws
        .next_within(Duration::from_secs(4))
        .await
        .expect("closed within seconds");
    assert_eq!(closed["close"], 4403, "{closed}");
}

async fn governance_subscriptions_share_one_computation_and_are_capped(app: TestApp) {
    let plc = app.token(Role::Plc, &["3301"]);
    let warnings = "subscription { governanceWarnings(from: \"2022-01\", to: \"2022-12\") { town } }";
    let mut ws = app.ws(&plc).await;
    for id in ["a", "b", "c", "d"] {
        ws.subscribe(id, warnings, json!({})).await;
    }
    app.wait_subscriptions(4).await;
    ws.subscribe("e", warnings, json!({})).await;
    let refused = ws
        .next_within(Duration::from_secs(5))
        .await
        .expect("the fifth is refused");
    assert_eq!(refused["id"], "e");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{refused}"
    );
    let computed = || app.metric("qianchuan_subscription_states_computed_total");
    let before = computed().await;
    ingest_lines(
        &app,
        "zfjd_1.ndjson",
        &[record("ZFJD-330110-2022-000001", "330110", "20220901", json!([]), "x")],
    )
    .await;
    for _ in 0..100 {
        if computed().await > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(computed().await, before + 1, "one computation for four subscribers");
}

on_both_databases!(
    scope_gaps_in_the_loop_are_closed,
    a_revoked_token_loses_its_subscriptions_within_seconds,
    governance_subscriptions_share_one_computation_and_are_capped,
);

/// While a case moves in and out of a viewer's regions with each new version, every response
/// that lists it can also walk its chain: one snapshot per request.
async fn a_response_reads_one_snapshot_while_files_load(app: TestApp) {
    let line = |version: i32, region: &str| {
        let mut v: Value = serde_json::from_str(&record(
            "ZFJD-330110-2022-000777",
            region,
            "20220901",
            json!([person("张三", ID_A, None)]),
            "x",
        ))
        .unwrap();
        v["BBH"] = json!(version);
        v.to_string()
    };
    ingest_lines(&app, "zfjd_0.ndjson", &[line(1, "330110")]).await;
    let writer = {
        let url = app.url("/ingest/enforcement");
        let admin = app.token(Role::Admin, &[]);
        let client = app.client.clone();
        tokio::spawn(async move {
            for version in 2..60 {
                let region = if version % 2 == 0 { "330702" } else { "330110" };
                let _ = client
                    .post(&url)
                    .bearer_auth(&admin)
                    .header("x-file-name", format!("zfjd_{version}.ndjson"))
                    .body(line(version, region))
                    .send()
                    .await;
            }
        })
    };
    let plc = app.token(Role::Plc, &["3301"]);
    let mut answered = 0;
    while !writer.is_finished() {
        let (_, body) = app
            .graphql(
                &plc,
                "{ cases { edges { node { id version chain(maxDepth: 1) { root { id version } } } } } }",
                json!({}),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        for edge in body["data"]["cases"]["edges"].as_array().cloned().unwrap_or_default() {
            assert_eq!(
                edge["node"]["version"], edge["node"]["chain"]["root"]["version"],
                "{body}"
            );
        }
        answered += 1;
    }
    assert!(answered > 0);
}

on_both_databases!(a_response_reads_one_snapshot_while_files_load);

/// Without Redis, each gateway keeps the revocations table in memory, re-read every second:
/// a request asks no database, and a revocation made elsewhere arrives within seconds.
async fn without_redis_revocations_reach_every_gateway_within_seconds(app: TestApp) {
    let a = app.twin_with(|c| c.redis_url = None).await;
    let b = app.twin_with(|c| c.redis_url = None).await;
    let me = "{ me { sub } }";
    let token = mint_hs256(SECRET, "fourth", Role::Plc, &["33".into()], 600, (None, None)).unwrap();
    assert_eq!(b.graphql(&token, me, json!({})).await.0, 200);
    let jti = claims(&token)["jti"].as_str().unwrap().to_string();
    a.data(
        &app.token(Role::Admin, &[]),
        "mutation($j: String!) { revokeToken(jti: $j) }",
        json!({"j": jti}),
    )
    .await;
    assert_eq!(
        a.graphql(&token, me, json!({})).await.0,
        401,
        "at once where it was revoked"
    );
    let mut refused = false;
    for _ in 0..40 {
        if b.graphql(&token, me, json!({})).await.0 == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the other gateway refuses it within seconds");
    let fresh = app.twin_with(|c| c.redis_url = None).await;
    assert_eq!(
        fresh.graphql(&token, me, json!({})).await.0,
        401,
        "and so does one started later"
    );
}

on_both_databases!(without_redis_revocations_reach_every_gateway_within_seconds);
