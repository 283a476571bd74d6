//! Reads on PostgreSQL streaming replicas (`QIANCHUAN_DATABASE_REPLICA_URLS`), against a real
//! replica of the test database: `.ci/run` starts one with `tests/replica/start.sh`
//! (`pg_basebackup -R`, a second port) and names it in `QIANCHUAN_TEST_REPLICA_URL`.

use std::time::{Duration, Instant};

use gateway::auth::Role;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use tests::{Outage, TestApp};

const SOON: Duration = Duration::from_secs(10);
/// How long the gateway under test waits for a replica before reading from the primary.
const MAX_LAG_MS: u64 = 1_500;

/// `host:port` of a `postgres://user@host:port/db…` URL.
fn host_of(url: &str) -> String {
    url.split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string()
}

async fn replica_reads(app: &TestApp) -> u64 {
    app.metric("qianchuan_db_reads_total{database=\"replica\"}").await
}

async fn primary_reads(app: &TestApp) -> u64 {
    app.metric("qianchuan_db_reads_total{database=\"primary\"}").await
}

/// Waits until `/readyz` shows the replica in `state` (`up` or `down…`).
async fn wait_replica(app: &TestApp, state: &str) {
    let until = Instant::now() + SOON;
    loop {
        let ready = app.get_json("/readyz").await;
        if ready["replicas"][0]["state"]
            .as_str()
            .is_some_and(|s| s.starts_with(state))
        {
            return;
        }
        assert!(Instant::now() < until, "the replica is not {state}: {ready}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The number of live cases, counted on the primary.
async fn cases_on_primary(app: &TestApp) -> i64 {
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT count(*) AS n FROM cases WHERE deleted = false",
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

const COUNT: &str = "{ cases { totalCount } }";

/// One enforcement record (NDJSON line) of the given number, in 330784.
fn enforcement(n: u32) -> String {
    json!({
        "JDBH": format!("ZFJD-330784-2024-8{n:05}"),
        "BBH": 1,
        "AJBH": format!("(2024)浙0784执8{n:03}号"),
        "AJMC": format!("副本测试执行案{n}"),
        "AJLB": "执行",
        "BLDW": "测试法院",
        "BLDWDM": "330784310000",
        "DSR": [{"XM": "宋珍", "ZJLX": "居民身份证", "ZJHM": "330109196607249993", "JS": "申请人"}],
        "WTLX": "执法不规范",
        "WTMS": "执行立案后未采取执行措施。",
        "JDLY": "案件评查",
        "JDZT": "发现",
        "FXRQ": "20240105",
        "XZQH": "330784",
        "SCSJ": "2024-01-05 10:00:00",
    })
    .to_string()
}

/// Queries, chains, aggregates and subscriptions read from a replica that has replayed every
/// change committed before them; when the replica is behind (its replay paused) or down (cut
/// off by a proxy), the same requests read from the primary and still see every change —
/// no request fails, and a client always reads its own writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_follow_a_caught_up_replica_and_the_primary_otherwise() {
    let (Ok(primary), Ok(replica)) = (
        std::env::var("QIANCHUAN_TEST_DATABASE_URL"),
        std::env::var("QIANCHUAN_TEST_REPLICA_URL"),
    ) else {
        assert!(
            !tests::services_required(),
            "QIANCHUAN_REQUIRE_SERVICES=1 but QIANCHUAN_TEST_REPLICA_URL is not set (start one with tests/replica/start.sh)"
        );
        return;
    };
    let proxy = Outage::start(&host_of(&replica)).await;
    let through = replica.replacen(&host_of(&replica), &proxy.addr.to_string(), 1);
    let Some(app) = TestApp::postgres_with(|c| {
        // The same database and schema (search_path), on the replica, through the proxy.
        c.database_replica_urls = Some(vec![c.database_url.replacen(&primary, &through, 1)]);
        c.replica_max_lag_ms = MAX_LAG_MS;
    })
    .await
    else {
        return;
    };
    wait_replica(&app, "up").await;
    // The administrator's count is every live case: comparable with the primary's.
    let plc = app.token(Role::Admin, &[]);

    // Caught up: a client that has just written reads its write, from the replica.
    tests::load_samples(&app, entities::Source::ALL).await;
    let before = replica_reads(&app).await;
    let count = app.data(&plc, COUNT, json!({})).await;
    assert_eq!(count["cases"]["totalCount"], cases_on_primary(&app).await, "{count}");
    let data = app
        .data(
            &plc,
            "{ cases(first: 1) { edges { node { id } } } caseStats(groupBy: [SOURCE]) { count } }",
            json!({}),
        )
        .await;
    let root = data["cases"]["edges"][0]["node"]["id"].clone();
    let chain = app
        .data(
            &plc,
            "query($id: ID!) { caseChain(caseId: $id, maxDepth: 3) { nodes { case { id } } } }",
            json!({"id": root}),
        )
        .await;
    assert!(
        chain["caseChain"]["nodes"].as_array().is_some_and(|n| !n.is_empty()),
        "{chain}"
    );
    assert!(
        replica_reads(&app).await >= before + 3,
        "the three queries read from the replica"
    );

    // Behind: with the replica's replay paused, a case ingested now is still in every answer
    // (read from the primary after waiting up to the lag bound), a subscription included.
    let direct = Database::connect(replica.clone()).await.expect("replica");
    direct
        .execute_unprepared("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    let mut ws = app.ws(&plc).await;
    ws.subscribe("s", "subscription { stageChanged { case { sourceKey } } }", json!({}))
        .await;
    app.wait_subscriptions(1).await;
    let from_primary = primary_reads(&app).await;
    app.ingest("enforcement", "replica.ndjson", enforcement(1)).await;
    let delivered = ws.next_within(SOON).await;
    let count = app.graphql(&plc, COUNT, json!({})).await;
    let expected = cases_on_primary(&app).await;
    let read_from_primary = primary_reads(&app).await - from_primary;
    direct
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .expect("resume replay");
    let delivered: Value = delivered.expect("the stage change is delivered while the replica is behind");
    assert_eq!(
        delivered["payload"]["data"]["stageChanged"]["case"]["sourceKey"], "ZFJD-330784-2024-800001",
        "{delivered}"
    );
    assert_eq!(count.0, 200);
    assert_eq!(count.1["data"]["cases"]["totalCount"], expected, "{count:?}");
    assert!(
        read_from_primary >= 2,
        "the subscription and the query read from the primary"
    );

    // Down: cut off, the replica is skipped and nothing fails; back, it serves again.
    proxy.down();
    for n in 2..5 {
        app.ingest("enforcement", "replica.ndjson", enforcement(n)).await;
        let (status, body) = app.graphql(&plc, COUNT, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(body["data"]["cases"]["totalCount"], cases_on_primary(&app).await);
    }
    wait_replica(&app, "down").await;
    assert_eq!(
        app.metric("qianchuan_db_replicas{state=\"down\"}").await,
        1,
        "the metrics tell the replica is down"
    );
    proxy.up();
    wait_replica(&app, "up").await;
    let before = replica_reads(&app).await;
    let count = app.data(&plc, COUNT, json!({})).await;
    assert_eq!(count["cases"]["totalCount"], cases_on_primary(&app).await);
    assert!(replica_reads(&app).await > before, "the replica serves again");
}
