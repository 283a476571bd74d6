//! The fast tier: the schema executed directly (`schema.execute`, no HTTP, no server) on an
//! in-memory SQLite database seeded with the demo cases. Each test runs in milliseconds.

use gateway::graphql::{build_schema, with_viewer, Limits};
use hub::db::{connect_and_migrate, Db, DbOptions};
use hub::policy::Scope;
use hub::store::ScopedStore;
use hub::{Role, Viewer};
use serde_json::Value;

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A fresh in-memory database (one per test), migrated and seeded.
async fn seeded() -> Db {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let db = connect_and_migrate(&DbOptions {
        url: format!("sqlite:file:fast{}_{n}?mode=memory&cache=shared", std::process::id()),
        max_connections: 0,
        acquire_timeout: std::time::Duration::from_secs(5),
    })
    .await
    .expect("in-memory database");
    hub::demo::seed_demo(&db).await.expect("seed");
    db
}

async fn run(db: &Db, role: Role, regions: &[&str], query: &str) -> Value {
    let viewer = Viewer {
        sub: format!("fast-{}", role.as_str()),
        role,
        regions: regions.iter().map(|r| r.to_string()).collect(),
        unit: None,
        own_id: None,
    };
    let schema = build_schema(
        Limits {
            max_page_size: 100,
            hub_threshold: 50,
        },
        true,
    );
    let store = ScopedStore::new(db.clone(), Scope::for_viewer(&viewer));
    let request = with_viewer(async_graphql::Request::new(query), viewer, store);
    let response = schema.execute(request).await;
    serde_json::to_value(&response).expect("json")
}

const CASE: &str =
    "{ caseBySourceKey(source: SOCIAL, sourceKey: \"GD20220901000123\") { summary parties { party { phones } } } }";

#[tokio::test]
async fn a_plc_viewer_reads_a_case_in_clear() {
    let db = seeded().await;
    let body = run(&db, Role::Plc, &["33"], CASE).await;
    assert!(
        body["data"]["caseBySourceKey"]["summary"]
            .as_str()
            .unwrap()
            .contains("13805711234"),
        "{body}"
    );
}

#[tokio::test]
async fn the_schema_itself_does_not_mask_but_the_store_scopes() {
    // Masking of free text happens where data leaves (the HTTP and WebSocket handlers); the
    // structured fields are masked by the types, whatever path executes the schema.
    let db = seeded().await;
    let body = run(&db, Role::Congress, &["33"], CASE).await;
    let phones = &body["data"]["caseBySourceKey"]["parties"];
    assert!(!phones.to_string().contains("13805711234"), "{body}");
    let outside = run(&db, Role::Plc, &["3302"], CASE).await;
    assert_eq!(outside["data"]["caseBySourceKey"], Value::Null, "{outside}");
}

#[tokio::test]
async fn an_analyst_reads_no_record_and_no_oracle() {
    let db = seeded().await;
    let body = run(&db, Role::Analyst, &["33"], CASE).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
    let stats = run(
        &db,
        Role::Analyst,
        &["33"],
        "{ caseStats(filter: {text: \"诈骗\"}, groupBy: [SOURCE]) { count } }",
    )
    .await;
    assert_eq!(stats["errors"][0]["extensions"]["code"], "FORBIDDEN", "{stats}");
}

#[tokio::test]
async fn a_chain_spans_the_demo_systems() {
    let db = seeded().await;
    let body = run(
        &db,
        Role::Discipline,
        &["33"],
        "{ caseBySourceKey(source: ENFORCEMENT, sourceKey: \"ZFJD-330110-2022-000123\") { chain { nodes { case { source } } } } }",
    )
    .await;
    let sources: std::collections::BTreeSet<String> = body["data"]["caseBySourceKey"]["chain"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["case"]["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sources.len(), 5, "{body}");
}
