//! Subscriptions over `/graphql/ws` (graphql-transport-ws): the protocol, and live updates
//! delivered only within the subscriber's scope — across two gateway instances through Redis.

use std::time::Duration;

use gateway::auth::Role;
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp, WsClient};

const SOON: Duration = Duration::from_secs(10);

/// One enforcement record (NDJSON line) in region `region` with the given parties.
fn record(n: u32, version: u32, region: &str, stage: &str, parties: Value) -> String {
    json!({
        "JDBH": format!("ZFJD-{region}-2024-9{n:05}"),
        "BBH": version,
        "AJBH": format!("(2024)浙{}执9{n:03}号", &region[2..]),
        "AJMC": format!("测试执行案{n}"),
        "AJLB": "执行",
        "BLDW": "测试法院",
        "BLDWDM": format!("{region}310000"),
        "DSR": parties,
        "WTLX": "执法不规范",
        "WTMS": "执行立案后未采取执行措施。",
        "JDLY": "案件评查",
        "JDZT": stage,
        "FXRQ": "20240105",
        "XZQH": region,
        "SCSJ": format!("2024-01-0{} 10:00:00", version.min(9)),
    })
    .to_string()
}

const SONG: &str = "330109196607249993";
const ZHANG: &str = "330703198101281914";
const PHONE: &str = "18558403123";

fn song() -> Value {
    json!([{"XM": "宋珍", "ZJLX": "居民身份证", "ZJHM": SONG, "JS": "申请人"}])
}

async fn case_id(app: &TestApp, source_key: &str) -> String {
    let data = app
        .data(
            &app.token(Role::Admin, &[]),
            "{ cases(first: 100) { edges { node { id sourceKey } } } }",
            json!({}),
        )
        .await;
    data["cases"]["edges"]
        .as_array()
        .and_then(|edges| edges.iter().find(|e| e["node"]["sourceKey"] == source_key))
        .map(|e| e["node"]["id"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("no case {source_key}"))
}

/// The next message of `id` (skipping none): panics when nothing comes in time.
async fn next(ws: &mut WsClient, id: &str) -> Value {
    let message = ws.next_within(SOON).await.expect("a message in time");
    assert_eq!(message["id"], id, "{message}");
    message
}

fn new_case_keys(growth: &Value) -> Vec<String> {
    let mut keys: Vec<String> = growth["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| n["case"]["sourceKey"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

const WATCH: &str = "subscription($id: ID!) { chainGrew(caseId: $id) { watched nodes { depth score case { sourceKey regionCode } } links { kind key score } } }";

/// A case ingested later that joins a watched chain is announced to the watcher — and only
/// the part of the chain the watcher may see: never a case out of its regions, nor a case
/// reached only through one.
async fn a_watcher_is_told_when_a_case_joins_the_chain(app: TestApp) {
    app.ingest("enforcement", "a.ndjson", record(1, 1, "330784", "发现", song()))
        .await;
    let a = case_id(&app, "ZFJD-330784-2024-900001").await;
    let mut province = app.ws(&app.token(Role::Plc, &["33"])).await;
    let mut jinhua = app.ws(&app.token(Role::Plc, &["3307"])).await;
    province.subscribe("c", WATCH, json!({"id": a})).await;
    jinhua.subscribe("c", WATCH, json!({"id": a})).await;
    app.wait_subscriptions(2).await;

    // B (Hangzhou) shares 宋珍's ID number with A; C (Jinhua) shares only B's phone.
    let b_and_c = [
        record(
            2,
            1,
            "330109",
            "发现",
            json!([
                {"XM": "宋珍", "ZJLX": "居民身份证", "ZJHM": SONG, "JS": "申请人"},
                {"XM": "张龙旭", "ZJLX": "居民身份证", "ZJHM": ZHANG, "LXDH": PHONE, "JS": "被执行人"}
            ]),
        ),
        record(
            3,
            1,
            "330784",
            "发现",
            json!([{"XM": "王五", "LXDH": PHONE, "JS": "申请人"}]),
        ),
    ]
    .join("\n");
    app.ingest("enforcement", "bc.ndjson", b_and_c).await;
    let growth = next(&mut province, "c").await;
    assert_eq!(growth["type"], "next");
    let growth = &growth["payload"]["data"]["chainGrew"];
    assert_eq!(growth["watched"], a);
    assert_eq!(
        new_case_keys(growth),
        ["ZFJD-330109-2024-900002", "ZFJD-330784-2024-900003"]
    );
    let kinds: Vec<&str> = growth["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"PERSON_ID") && kinds.contains(&"PHONE"), "{growth}");

    // D (Jinhua) shares the ID number with A directly: the Jinhua watcher's first news is D
    // alone — it was never told of B (outside its regions) nor of C (behind B).
    app.ingest("enforcement", "d.ndjson", record(4, 1, "330784", "发现", song()))
        .await;
    let first = next(&mut jinhua, "c").await;
    assert_eq!(
        new_case_keys(&first["payload"]["data"]["chainGrew"]),
        ["ZFJD-330784-2024-900004"],
        "{first}"
    );
    let more = next(&mut province, "c").await;
    assert_eq!(
        new_case_keys(&more["payload"]["data"]["chainGrew"]),
        ["ZFJD-330784-2024-900004"]
    );
    // Loading the same file again changes nothing and announces nothing new.
    app.ingest("enforcement", "d.ndjson", record(4, 1, "330784", "发现", song()))
        .await;
    assert_eq!(province.next_within(Duration::from_millis(500)).await, None);
}

/// Stage changes reach the subscribers who may see the case, with the stage before and after.
async fn stage_changes_are_delivered_within_scope(app: TestApp) {
    app.ingest("enforcement", "a.ndjson", record(1, 1, "330784", "发现", song()))
        .await;
    let query = "subscription($f: CaseFilter) { stageChanged(filter: $f) { from to case { sourceKey stage } } }";
    let mut jinhua = app.ws(&app.token(Role::Plc, &["3307"])).await;
    let mut hangzhou = app.ws(&app.token(Role::Plc, &["3301"])).await;
    let mut filtered = app.ws(&app.token(Role::Plc, &["33"])).await;
    jinhua.subscribe("s", query, json!({})).await;
    hangzhou.subscribe("s", query, json!({})).await;
    filtered
        .subscribe("s", query, json!({"f": {"regionPrefix": "3301"}}))
        .await;
    app.wait_subscriptions(3).await;

    app.ingest("enforcement", "a2.ndjson", record(1, 2, "330784", "督办", song()))
        .await;
    let change = next(&mut jinhua, "s").await;
    assert_eq!(
        change["payload"]["data"]["stageChanged"],
        json!({"from": "DISCOVERED", "to": "NOTIFIED", "case": {"sourceKey": "ZFJD-330784-2024-900001", "stage": "NOTIFIED"}})
    );
    // A new Hangzhou case: announced to Hangzhou and to the filter, never to Jinhua.
    app.ingest("enforcement", "h.ndjson", record(5, 1, "330109", "发现", song()))
        .await;
    for ws in [&mut hangzhou, &mut filtered] {
        let change = next(ws, "s").await;
        assert_eq!(
            change["payload"]["data"]["stageChanged"],
            json!({"from": null, "to": "DISCOVERED", "case": {"sourceKey": "ZFJD-330109-2024-900005", "stage": "DISCOVERED"}}),
            "the first change these subscribers see is the Hangzhou case"
        );
    }
    app.ingest("enforcement", "a3.ndjson", record(1, 3, "330784", "整改", song()))
        .await;
    let change = next(&mut jinhua, "s").await;
    assert_eq!(change["payload"]["data"]["stageChanged"]["to"], "RECTIFYING");
    // The subscriber stops; the server confirms nothing more for that id.
    jinhua.send(json!({"id": "s", "type": "complete"})).await;
    app.wait_subscriptions(2).await;
}

/// Every message with case data leaves an audit entry, as a response on /graphql does.
async fn delivered_cases_are_audited(app: TestApp) {
    let mut ws = app.ws(&app.token(Role::Plc, &["33"])).await;
    ws.subscribe("s", "subscription { stageChanged { case { sourceKey } } }", json!({}))
        .await;
    app.wait_subscriptions(1).await;
    app.ingest("enforcement", "a.ndjson", record(1, 1, "330784", "发现", song()))
        .await;
    next(&mut ws, "s").await;
    let id = case_id(&app, "ZFJD-330784-2024-900001").await;
    let data = app
        .data(
            &app.token(Role::Admin, &[]),
            "query($c: ID) { auditLog(filter: {caseId: $c}, first: 10) { edges { node { sub } } } }",
            json!({"c": id}),
        )
        .await;
    let subs: Vec<&str> = data["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["sub"].as_str())
        .collect();
    assert!(subs.contains(&"test-plc"), "{data}");
}

/// A warning raised by a supervision task that falls overdue reaches the supervisors of that
/// place; task steps reach those who may see the task.
async fn warnings_and_task_steps_are_delivered_within_scope(app: TestApp) {
    let plc = app.token(Role::Plc, &["3301"]);
    let warnings = "subscription { governanceWarnings(from: \"2022-03\", to: \"2022-03\") { region town month color warning overdue } }";
    let mut hangzhou = app.ws(&plc).await;
    let mut ningbo = app.ws(&app.token(Role::Plc, &["3302"])).await;
    let mut agency = app.ws(&app.agency_token("仓前街道办事处")).await;
    let mut town = app.ws(&app.agency_token("仓前街道")).await;
    town.subscribe(
        "t",
        "subscription { taskChanged { title stage department regionCode town openedBy } }",
        json!({}),
    )
    .await;
    hangzhou.subscribe("w", warnings, json!({})).await;
    ningbo.subscribe("w", warnings, json!({})).await;
    agency
        .subscribe(
            "t",
            "subscription { taskChanged { title stage department } }",
            json!({}),
        )
        .await;
    app.wait_subscriptions(4).await;
    let opened = app
        .data(
            &plc,
            "mutation { openSupervisionTask(input: {regionCode: \"330110\", town: \"仓前街道\", department: \"仓前街道办事处\", title: \"整改\", deadline: \"2022-03-15\"}) { id } }",
            json!({}),
        )
        .await;
    let warning = next(&mut hangzhou, "w").await;
    assert_eq!(
        warning["payload"]["data"]["governanceWarnings"],
        json!({"region": "330110", "town": "仓前街道", "month": "2022-03", "color": "RED", "warning": "REMIND", "overdue": 1})
    );
    let task = next(&mut agency, "t").await;
    assert_eq!(
        task["payload"]["data"]["taskChanged"],
        json!({"title": "整改", "stage": "NOTIFIED", "department": "仓前街道办事处"})
    );
    app.data(
        &app.agency_token("仓前街道办事处"),
        "mutation($id: ID!) { answerSupervisionTask(id: $id, note: \"已整改\") { stage } }",
        json!({"id": opened["openSupervisionTask"]["id"]}),
    )
    .await;
    let task = next(&mut agency, "t").await;
    assert_eq!(task["payload"]["data"]["taskChanged"]["stage"], "RECTIFYING");
    // The RED warning opened a task of its own, assigned to the town, once.
    let raised = next(&mut town, "t").await;
    assert_eq!(
        raised["payload"]["data"]["taskChanged"],
        json!({"title": "治理指数预警 仓前街道 2022-03：RED，提醒", "stage": "NOTIFIED", "department": "仓前街道",
               "regionCode": "330110", "town": "仓前街道", "openedBy": "qianchuan:governance-index"})
    );
    let listed = app
        .data(
            &plc,
            "{ supervisionTasks(filter: {department: \"仓前街道\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["supervisionTasks"]["totalCount"], 1);
    assert_eq!(
        ningbo.next_within(Duration::from_millis(500)).await,
        None,
        "Ningbo's supervisors hear nothing of Hangzhou's warning"
    );
}

async fn warning_app_sqlite() -> TestApp {
    TestApp::sqlite_with(|c| c.governance_thresholds = "1,2,3".into()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_and_task_steps_on_sqlite() {
    warnings_and_task_steps_are_delivered_within_scope(warning_app_sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_and_task_steps_on_postgres() {
    if let Some(app) = TestApp::postgres_with(|c| c.governance_thresholds = "1,2,3".into()).await {
        warnings_and_task_steps_are_delivered_within_scope(app).await;
    }
}

/// Two gateway instances on one database: a case ingested through one reaches a watcher on
/// the other — through Redis when configured. Without Redis each instance hears only itself,
/// which the test checks too.
async fn events_reach_every_instance_through_redis(app: TestApp) {
    let shared = std::env::var("QIANCHUAN_TEST_REDIS_URL")
        .map(|u| !u.is_empty())
        .unwrap_or(false);
    let other = app.twin().await;
    other.wait_events_shared().await;
    app.ingest("enforcement", "a.ndjson", record(1, 1, "330784", "发现", song()))
        .await;
    let a = case_id(&app, "ZFJD-330784-2024-900001").await;
    let mut watcher = app.ws(&app.token(Role::Plc, &["33"])).await;
    watcher.subscribe("c", WATCH, json!({"id": a})).await;
    app.wait_subscriptions(1).await;
    let sent = std::time::Instant::now();
    other
        .ingest("enforcement", "d.ndjson", record(4, 1, "330784", "发现", song()))
        .await;
    if shared {
        let growth = next(&mut watcher, "c").await;
        // A figure for the README (`--nocapture`), not an assertion: timing belongs to benchmarks.
        eprintln!(
            "cross-instance chain update: {} ms from the ingest request to the watcher",
            sent.elapsed().as_millis()
        );
        assert_eq!(
            new_case_keys(&growth["payload"]["data"]["chainGrew"]),
            ["ZFJD-330784-2024-900004"]
        );
    } else {
        assert_eq!(watcher.next_within(Duration::from_millis(500)).await, None);
        // The instance that ingested still tells its own watchers.
        let mut local = other.ws(&other.token(Role::Plc, &["33"])).await;
        local.subscribe("c", WATCH, json!({"id": a})).await;
        other.wait_subscriptions(1).await;
        other
            .ingest("enforcement", "e.ndjson", record(6, 1, "330784", "发现", song()))
            .await;
        let growth = next(&mut local, "c").await;
        assert_eq!(
            new_case_keys(&growth["payload"]["data"]["chainGrew"]),
            ["ZFJD-330784-2024-900006"]
        );
    }
}

/// The graphql-transport-ws protocol: handshake, ping, one-shot operations, errors, closes.
async fn the_protocol_is_graphql_transport_ws(app: TestApp) {
    let (ws, answer) = app.ws_init("not-a-token").await;
    assert_eq!(answer["close"], 4403, "{answer}");
    drop(ws);
    let mut ws = app.ws(&app.token(Role::Plc, &["33"])).await;
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next_within(SOON).await, Some(json!({"type": "pong"})));
    // A query runs once: next, then complete.
    ws.subscribe("q", "{ cases(first: 1) { totalCount } }", json!({})).await;
    let first = next(&mut ws, "q").await;
    assert_eq!(first["type"], "next");
    assert_eq!(first["payload"]["data"]["cases"]["totalCount"], 0);
    assert_eq!(next(&mut ws, "q").await["type"], "complete");
    // An invalid document: one error message with a code.
    ws.subscribe("bad", "subscription { noSuchField }", json!({})).await;
    let error = next(&mut ws, "bad").await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["payload"][0]["extensions"]["code"], "BAD_USER_INPUT");
    // Mutations over the socket are allowed by the protocol; the role rules still hold.
    let analyst = app.ws(&app.token(Role::Analyst, &["33"])).await;
    let mut analyst = analyst;
    analyst
        .subscribe("s", "subscription { stageChanged { case { id } } }", json!({}))
        .await;
    let refused = analyst.next_within(SOON).await.expect("an answer");
    assert_eq!(
        refused["payload"]
            .as_array()
            .or_else(|| refused["payload"]["errors"].as_array())
            .and_then(|e| e.first())
            .map(|e| e["extensions"]["code"].clone()),
        Some(json!("FORBIDDEN")),
        "{refused}"
    );
    // The same id twice while the first runs closes the connection.
    ws.subscribe("live", "subscription { taskChanged { title } }", json!({}))
        .await;
    ws.subscribe("live", "subscription { taskChanged { title } }", json!({}))
        .await;
    let closed = ws.next_within(SOON).await.expect("a close");
    assert_eq!(closed["close"], 4409, "{closed}");
    // A second connection_init closes the connection too.
    let mut again = app.ws(&app.token(Role::Plc, &["33"])).await;
    again.send(json!({"type": "connection_init", "payload": {}})).await;
    assert_eq!(again.next_within(SOON).await.expect("a close")["close"], 4429);
}

on_both_databases!(
    a_watcher_is_told_when_a_case_joins_the_chain,
    stage_changes_are_delivered_within_scope,
    delivered_cases_are_audited,
    events_reach_every_instance_through_redis,
    the_protocol_is_graphql_transport_ws,
);

/// A warning step claimed by a gateway that stopped before opening its task (a claim without a
/// task, minutes old) is taken over: the next recomputation opens the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warning_step_left_without_its_task_is_taken_over() {
    use sea_orm::{ActiveModelTrait, EntityTrait, Set};
    let app = warning_app_sqlite().await;
    entities::governance_warning::ActiveModel {
        region_code: Set("330110".into()),
        town: Set("仓前街道".into()),
        month: Set("2022-03".into()),
        action: Set(entities::WarningAction::Remind),
        color: Set(entities::WarningColor::Red),
        index: Set(5.0),
        task_id: Set(None),
        raised_at: Set(chrono::Utc::now() - chrono::Duration::hours(1)),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap();
    let plc = app.token(Role::Plc, &["3301"]);
    app.data(
        &plc,
        "mutation { openSupervisionTask(input: {regionCode: \"330110\", town: \"仓前街道\", department: \"仓前街道办事处\", title: \"整改\", deadline: \"2022-03-15\"}) { id } }",
        json!({}),
    )
    .await;
    let town_tasks = "{ supervisionTasks(filter: {department: \"仓前街道\"}) { totalCount } }";
    for _ in 0..100 {
        if app.data(&plc, town_tasks, json!({})).await["supervisionTasks"]["totalCount"] == 1 {
            let claim = entities::governance_warning::Entity::find()
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            assert!(claim.task_id.is_some(), "the claim now names its task");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the stale claim was never taken over");
}
