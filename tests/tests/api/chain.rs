//! The chain walk: exact ties found, look-alikes left out, hubs not walked,
//! scope never crossed, and the same chains whatever the ingestion order.

use std::collections::BTreeSet;

use entities::{case, LinkKind, Source};
use gateway::auth::{Role, Viewer};
use hub::demo::{NewCase, Seeder};
use hub::linkage::{walk, WalkParams};
use hub::policy::Scope;
use hub::store::ScopedStore;
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

const CHAIN: &str = "query($id: ID!, $min: Float, $depth: Int) { caseChain(caseId: $id, minScore: $min, maxDepth: $depth) {
    root { sourceKey } nodes { depth score case { id sourceKey } } links { from to kind key score } hubs { kind key caseCount } truncated } }";

async fn seed_case(
    s: &Seeder<'_, sea_orm::DatabaseConnection>,
    key: &str,
    region: &str,
    keys: &[(LinkKind, &str)],
) -> String {
    let id = s
        .case(NewCase::new(Source::Enforcement, key, key, Some(region)))
        .await
        .unwrap();
    for (kind, value) in keys {
        s.key(id, *kind, value).await.unwrap();
    }
    format!("Case:{id}")
}

fn node_keys(chain: &Value) -> Vec<String> {
    chain["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["case"]["sourceKey"].as_str().unwrap().to_string())
        .collect()
}

async fn chain(app: &TestApp, token: &str, id: &str, vars: Value) -> Value {
    let mut v = json!({ "id": id });
    if let (Some(obj), Some(extra)) = (v.as_object_mut(), vars.as_object()) {
        obj.extend(extra.clone());
    }
    app.data(token, CHAIN, v).await["caseChain"].clone()
}

async fn exact_ties_are_followed_and_scores_multiply(app: TestApp) {
    let s = Seeder::new(&app.db);
    let a = seed_case(
        &s,
        "A",
        "330110",
        &[
            (LinkKind::PersonId, "11010519491231002X"),
            (LinkKind::Phone, "13805711234"),
        ],
    )
    .await;
    seed_case(
        &s,
        "B",
        "330110",
        &[(LinkKind::Phone, "13805711234"), (LinkKind::Phone, "13900000000")],
    )
    .await;
    seed_case(&s, "C", "330110", &[(LinkKind::Phone, "13900000000")]).await;
    seed_case(
        &s,
        "D",
        "330110",
        &[
            (LinkKind::PersonId, "11010519491231002X"),
            (LinkKind::CaseNo, "(2022)浙0110民初1号"),
        ],
    )
    .await;
    seed_case(&s, "E", "330110", &[(LinkKind::CaseNo, "(2022)浙0110民初1号")]).await;
    seed_case(&s, "F", "330110", &[(LinkKind::Phone, "13700000000")]).await;
    let token = app.token(Role::Plc, &["3301"]);
    let c = chain(&app, &token, &a, json!({})).await;
    assert_eq!(
        c["nodes"][0],
        json!({"depth": 0, "score": 1.0, "case": {"id": a, "sourceKey": "A"}})
    );
    let scores: Vec<(String, i64, f64)> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["case"]["sourceKey"].as_str().unwrap().to_string(),
                n["depth"].as_i64().unwrap(),
                n["score"].as_f64().unwrap(),
            )
        })
        .collect();
    let find = |k: &str| {
        scores
            .iter()
            .find(|(key, _, _)| key == k)
            .map(|(_, d, s)| (*d, (*s * 100.0).round() / 100.0))
    };
    assert_eq!(find("D"), Some((1, 1.0)));
    assert_eq!(find("E"), Some((2, 1.0)));
    assert_eq!(find("B"), Some((1, 0.8)));
    assert_eq!(find("C"), Some((2, 0.64)));
    assert_eq!(find("F"), None, "no shared key");
    assert_eq!(c["truncated"], false);
    let link = c["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "CASE_NO")
        .unwrap();
    assert_eq!(link["key"], "(2022)浙0110民初1号");
    let c = chain(&app, &token, &a, json!({"min": 0.7})).await;
    assert!(!node_keys(&c).contains(&"C".to_string()), "0.8 × 0.8 < 0.7");
    let c = chain(&app, &token, &a, json!({"depth": 1})).await;
    let mut keys = node_keys(&c);
    keys.sort();
    assert_eq!(keys, vec!["A", "B", "D"]);
}

async fn name_only_look_alikes_stay_out_at_the_default_score(app: TestApp) {
    let s = Seeder::new(&app.db);
    let a = seed_case(&s, "A", "330110", &[(LinkKind::PersonName, "张伟")]).await;
    seed_case(&s, "B", "330110", &[(LinkKind::PersonName, "张伟")]).await;
    let token = app.token(Role::Admin, &[]);
    assert_eq!(node_keys(&chain(&app, &token, &a, json!({})).await), vec!["A"]);
    assert_eq!(
        node_keys(&chain(&app, &token, &a, json!({"min": 0.3})).await),
        vec!["A", "B"]
    );
}

async fn a_case_the_viewer_cannot_see_does_not_pass_the_chain_on(app: TestApp) {
    let s = Seeder::new(&app.db);
    let a = seed_case(&s, "A", "330110", &[(LinkKind::CaseNo, "(2022)浙0110民初1号")]).await;
    seed_case(
        &s,
        "B",
        "330782",
        &[
            (LinkKind::CaseNo, "(2022)浙0110民初1号"),
            (LinkKind::OrgUscc, "91350100M000100Y43"),
        ],
    )
    .await;
    seed_case(&s, "C", "330110", &[(LinkKind::OrgUscc, "91350100M000100Y43")]).await;
    let hangzhou = app.token(Role::Plc, &["3301"]);
    let c = chain(&app, &hangzhou, &a, json!({})).await;
    assert_eq!(node_keys(&c), vec!["A"]);
    assert_eq!(c["links"], json!([]));
    let admin = app.token(Role::Admin, &[]);
    assert_eq!(
        node_keys(&chain(&app, &admin, &a, json!({})).await),
        vec!["A", "B", "C"]
    );
    // The root itself must be visible.
    let jinhua = app.token(Role::Plc, &["3307"]);
    let (_, body) = app.graphql(&jinhua, CHAIN, json!({"id": a})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let analyst = app.token(Role::Analyst, &["33"]);
    let (_, body) = app.graphql(&analyst, CHAIN, json!({"id": a})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

async fn hubs_are_listed_not_walked(app: TestApp) {
    let s = Seeder::new(&app.db);
    let a = seed_case(
        &s,
        "A",
        "330110",
        &[
            (LinkKind::Phone, "057185310013"),
            (LinkKind::PersonId, "11010519491231002X"),
        ],
    )
    .await;
    for i in 0..6 {
        seed_case(&s, &format!("H{i}"), "330110", &[(LinkKind::Phone, "057185310013")]).await;
    }
    seed_case(&s, "D", "330110", &[(LinkKind::PersonId, "11010519491231002X")]).await;
    let token = app.token(Role::Congress, &["3301"]);
    let c = chain(&app, &token, &a, json!({})).await;
    // The test app runs with a hub threshold of 5.
    assert_eq!(node_keys(&c), vec!["A", "D"]);
    assert_eq!(
        c["hubs"],
        json!([{"kind": "PHONE", "key": "057*****0013", "caseCount": 7}]),
        "masked for congress"
    );
    assert_eq!(c["truncated"], true);
    assert_eq!(c["links"][0]["key"], "110105********002X");
}

async fn the_demo_chain_spans_all_five_systems(app: TestApp) {
    app.seed_demo().await;
    let token = app.token(Role::Discipline, &["33"]);
    let data = app
        .data(&token, r#"{ caseBySourceKey(source: SOCIAL, sourceKey: "GD20220901000123") { chain { nodes { case { source } } } } }"#, json!({}))
        .await;
    let sources: BTreeSet<&str> = data["caseBySourceKey"]["chain"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["case"]["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 5, "{sources:?}");
    let plc = app.token(Role::Plc, &["33"]);
    let data = app
        .data(&plc, r#"{ caseBySourceKey(source: SOCIAL, sourceKey: "GD20220901000123") { chain { nodes { case { source } } } } }"#, json!({}))
        .await;
    assert!(
        !data.to_string().contains("DISCIPLINE"),
        "plc never sees discipline records in a chain"
    );
}

type ChainSignature = (BTreeSet<(String, String)>, BTreeSet<(String, String, String, String)>);

/// Every chain of a world, by source keys, so that two databases can be compared.
async fn all_chains(app: &TestApp) -> Vec<((String, String), ChainSignature)> {
    let viewer = Viewer {
        sub: "t".into(),
        role: Role::Admin,
        regions: vec![],
        unit: None,
        own_id: None,
    };
    let store = ScopedStore::new(app.db.clone(), Scope::for_viewer(&viewer));
    let cases = case::Entity::find().all(&app.db).await.unwrap();
    let name = |id: i64| {
        cases
            .iter()
            .find(|c| c.id == id)
            .map(|c| (c.source.as_str().to_string(), c.source_key.clone()))
            .unwrap()
    };
    let mut out = Vec::new();
    for c in cases.iter().filter(|c| !c.deleted) {
        let chain = walk(&store, c.id, WalkParams::new(3, 0.5, 200, 50).unwrap())
            .await
            .unwrap();
        let nodes = chain.nodes.iter().map(|n| name(n.case_id)).collect();
        let links = chain
            .links
            .iter()
            .map(|l| {
                let (a, b) = (name(l.from).1, name(l.to).1);
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                (a, b, l.kind.as_str().to_string(), l.key.clone())
            })
            .collect();
        out.push(((c.source.as_str().to_string(), c.source_key.clone()), (nodes, links)));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_do_not_depend_on_ingestion_order() {
    let forward = TestApp::sqlite().await;
    tests::load_samples(&forward, Source::ALL).await;
    let backward = TestApp::sqlite().await;
    let reversed: Vec<Source> = Source::ALL.iter().rev().copied().collect();
    tests::load_samples(&backward, &reversed).await;
    let (a, b) = (all_chains(&forward).await, all_chains(&backward).await);
    assert_eq!(a.len(), 298);
    assert!(
        a.iter().any(|(_, (nodes, _))| nodes.len() >= 4),
        "some chains span several systems"
    );
    for (x, y) in a.iter().zip(b.iter()) {
        assert_eq!(x, y, "the chain of {:?} differs", x.0);
    }
}

on_both_databases!(
    exact_ties_are_followed_and_scores_multiply,
    name_only_look_alikes_stay_out_at_the_default_score,
    a_case_the_viewer_cannot_see_does_not_pass_the_chain_on,
    hubs_are_listed_not_walked,
    the_demo_chain_spans_all_five_systems,
);

/// A generated world whose true chains are known (`truth.jsonl`): from each incident's
/// ENFORCEMENT record the walk finds every stored record of the incident, and at depth 1
/// exactly the cases that share a walkable key with the root (a brute-force self-join).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walk_finds_the_true_chains_of_a_generated_world() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::sqlite().await;
    let dir = tests::TempDir::new("qc-world");
    hub::demo::load_generated_world(&app.db, &dir.0, 600, 11).await.unwrap();
    let viewer = Viewer {
        sub: "t".into(),
        role: Role::Admin,
        regions: vec![],
        unit: None,
        own_id: None,
    };
    let store = ScopedStore::new(app.db.clone(), Scope::for_viewer(&viewer));
    let cases = case::Entity::find().all(&app.db).await.unwrap();
    let id_of = |source: &str, key: &str| {
        cases
            .iter()
            .find(|c| c.source.as_str() == source && c.source_key == key && !c.deleted)
            .map(|c| c.id)
    };
    let truth = std::fs::read_to_string(dir.0.join("truth.jsonl")).unwrap();
    let mut checked = 0;
    for line in truth.lines().take(60) {
        let incident: Value = serde_json::from_str(line).unwrap();
        let records: Vec<i64> = incident["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| id_of(r[0].as_str().unwrap(), r[1].as_str().unwrap()))
            .collect();
        let Some(root) = records.first().copied() else { continue };
        let chain = walk(&store, root, WalkParams::new(1, 0.5, 1000, 50).unwrap())
            .await
            .unwrap();
        let found: BTreeSet<i64> = chain.nodes.iter().map(|n| n.case_id).collect();
        for r in &records {
            assert!(
                found.contains(r),
                "incident {}: case {r} missing from the chain of {root}",
                incident["incident"]
            );
        }
        let rows = app
            .db
            .query_all_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!(
                    "SELECT DISTINCT k2.case_id FROM case_keys k1 JOIN case_keys k2 ON k1.kind = k2.kind AND k1.value = k2.value \
                     JOIN cases c ON c.id = k2.case_id WHERE k1.case_id = {root} AND k1.score >= 0.5 AND c.deleted = false"
                ),
            ))
            .await
            .unwrap();
        let mut expected: BTreeSet<i64> = rows.iter().map(|r| r.try_get_by_index::<i64>(0).unwrap()).collect();
        expected.insert(root);
        if chain.hubs.is_empty() {
            assert_eq!(found, expected, "depth-1 chain of {root}");
        }
        checked += 1;
    }
    assert!(checked >= 50);
}
