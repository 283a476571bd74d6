//! No record outside a token's sources or regions is reachable through any field.

use entities::{LinkKind, PartyKind, Source};
use gateway::auth::Role;
use hub::demo::{NewCase, Seeder};
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

/// The demo world plus a transferred DISCIPLINE clue, a record without region
/// and a record in Jinhua, all sharing one party.
async fn seed(app: &TestApp) {
    app.seed_demo().await;
    let s = Seeder::new(&app.db);
    let shared = s
        .party(PartyKind::Person, "王五", Some("110105491231002"), None, &[])
        .await
        .unwrap();
    let mut transferred = NewCase::new(
        Source::Discipline,
        "余纪线〔2022〕500号",
        "移送检察机关的线索",
        Some("330110"),
    );
    transferred.transferred = true;
    let t = s.case(transferred).await.unwrap();
    let unregioned = s
        .case(NewCase::new(Source::Social, "GD-NO-REGION", "无区划工单", None))
        .await
        .unwrap();
    let jinhua = s
        .case(NewCase::new(
            Source::Enforcement,
            "ZFJD-330782-2022-000001",
            "义乌案件",
            Some("330782"),
        ))
        .await
        .unwrap();
    for (i, case_id) in [t, unregioned, jinhua].into_iter().enumerate() {
        s.join(case_id, shared, "当事人", "王五", i as i32).await.unwrap();
        s.key(case_id, LinkKind::PersonId, "11010519491231002X").await.unwrap();
    }
}

async fn source_keys(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let data = app
        .data(
            token,
            "query($f: CaseFilter) { cases(filter: $f, first: 100) { totalCount edges { node { sourceKey } } } }",
            json!({ "f": filter }),
        )
        .await;
    let keys: Vec<String> = data["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["sourceKey"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        data["cases"]["totalCount"].as_u64().unwrap() as usize,
        keys.len(),
        "totalCount agrees with the list"
    );
    keys
}

async fn admin_case_id(app: &TestApp, source: &str, key: &str) -> String {
    let token = app.token(Role::Admin, &[]);
    let data = app
        .data(
            &token,
            "query($s: Source!, $k: String!) { caseBySourceKey(source: $s, sourceKey: $k) { id } }",
            json!({"s": source, "k": key}),
        )
        .await;
    data["caseBySourceKey"]["id"].as_str().unwrap().to_string()
}

async fn party_id_of(app: &TestApp, source: &str, key: &str, name: &str) -> String {
    let token = app.token(Role::Admin, &[]);
    let data = app
        .data(&token, "query($s: Source!, $k: String!) { caseBySourceKey(source: $s, sourceKey: $k) { parties { party { id name } } } }", json!({"s": source, "k": key}))
        .await;
    data["caseBySourceKey"]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["party"]["name"] == name)
        .map(|p| p["party"]["id"].as_str().unwrap().to_string())
        .unwrap()
}

/// Every way of reaching one case, for a token that must not see it.
async fn assert_unreachable(app: &TestApp, token: &str, source: &str, key: &str) {
    let id = admin_case_id(app, source, key).await;
    let data = app
        .data(
            token,
            "query($id: ID!, $s: Source!, $k: String!) { case(id: $id) { id } node(id: $id) { id } caseBySourceKey(source: $s, sourceKey: $k) { id } }",
            json!({"id": id, "s": source, "k": key}),
        )
        .await;
    assert_eq!(
        data,
        json!({"case": null, "node": null, "caseBySourceKey": null}),
        "{source} {key}"
    );
    assert!(!source_keys(app, token, json!({})).await.contains(&key.to_string()));
    assert!(!source_keys(app, token, json!({"identifier": "11010519491231002X"}))
        .await
        .contains(&key.to_string()));
}

async fn admin_sees_everything(app: TestApp) {
    seed(&app).await;
    let keys = source_keys(&app, &app.token(Role::Admin, &[]), json!({})).await;
    assert_eq!(keys.len(), 9, "{keys:?}");
}

async fn plc_sees_its_sources_in_its_regions_only(app: TestApp) {
    seed(&app).await;
    let token = app.token(Role::Plc, &["330110"]);
    let mut keys = source_keys(&app, &token, json!({})).await;
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "GD20220901000123",
            "PROC-SUP-2022-000812",
            "RDJD-330100-2022-0031",
            "ZFJD-330110-2022-000123"
        ]
    );
    assert_unreachable(&app, &token, "DISCIPLINE", "余纪线〔2022〕456号").await;
    assert_unreachable(&app, &token, "DISCIPLINE", "余纪线〔2022〕500号").await;
    assert_unreachable(&app, &token, "SOCIAL", "GD-NO-REGION").await;
    assert_unreachable(&app, &token, "ENFORCEMENT", "ZFJD-330782-2022-000001").await;
    assert_unreachable(&app, &token, "SOCIAL", "GD20221011000456").await;
}

async fn procurator_sees_only_transferred_discipline_clues(app: TestApp) {
    seed(&app).await;
    let token = app.token(Role::Procurator, &["3301"]);
    let keys = source_keys(&app, &token, json!({"sources": ["DISCIPLINE"]})).await;
    assert_eq!(keys, vec!["余纪线〔2022〕500号"]);
    assert_unreachable(&app, &token, "DISCIPLINE", "余纪线〔2022〕456号").await;
}

async fn records_without_region_need_the_province_prefix(app: TestApp) {
    seed(&app).await;
    let province = app.token(Role::Discipline, &["33"]);
    assert!(source_keys(&app, &province, json!({}))
        .await
        .contains(&"GD-NO-REGION".to_string()));
    let city = app.token(Role::Discipline, &["3301"]);
    assert_unreachable(&app, &city, "SOCIAL", "GD-NO-REGION").await;
}

async fn party_cases_and_party_lookups_are_scoped(app: TestApp) {
    seed(&app).await;
    let party = party_id_of(&app, "SOCIAL", "GD-NO-REGION", "王五").await;
    let query =
        "query($id: ID!) { party(id: $id) { name cases(first: 50) { totalCount edges { node { sourceKey } } } } }";

    let jinhua = app.token(Role::Plc, &["3307"]);
    let data = app.data(&jinhua, query, json!({"id": party})).await;
    assert_eq!(data["party"]["cases"]["totalCount"], 1);
    assert_eq!(
        data["party"]["cases"]["edges"][0]["node"]["sourceKey"],
        "ZFJD-330782-2022-000001"
    );

    let procurator = app.token(Role::Procurator, &["3301"]);
    let data = app.data(&procurator, query, json!({"id": party})).await;
    assert_eq!(
        data["party"]["cases"]["edges"],
        json!([{"node": {"sourceKey": "余纪线〔2022〕500号"}}])
    );

    // A party that only takes part in invisible cases is itself invisible.
    let officer = party_id_of(&app, "DISCIPLINE", "余纪线〔2022〕456号", "陈建国").await;
    let other_city = app.token(Role::Plc, &["330784"]);
    let data = app
        .data(
            &other_city,
            "query($id: ID!) { party(id: $id) { id } node(id: $id) { id } }",
            json!({"id": officer}),
        )
        .await;
    assert_eq!(data, json!({"party": null, "node": null}));

    // Case.parties never reveals more than the case's own parties.
    let plc = app.token(Role::Plc, &["330110"]);
    let data = app.data(&plc, query, json!({"id": officer})).await;
    let keys: Vec<&str> = data["party"]["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["sourceKey"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec!["ZFJD-330110-2022-000123", "PROC-SUP-2022-000812"]);
}

async fn congress_gets_masked_identifiers(app: TestApp) {
    app.seed_demo().await;
    let token = app.token(Role::Congress, &["330110"]);
    let data = app
        .data(&token, "{ cases(filter: {sources: [ENFORCEMENT]}) { edges { node { parties { party { name idNumber phones } } } } } }", json!({}))
        .await;
    let text = data.to_string();
    assert!(text.contains("110105********002X"), "{text}");
    assert!(text.contains("138****1234"), "{text}");
    assert!(
        !text.contains("11010519491231002X") && !text.contains("13805711234"),
        "clear values leaked: {text}"
    );
}

async fn roles_without_record_access_get_forbidden(app: TestApp) {
    app.seed_demo().await;
    for role in [Role::Analyst, Role::Auditor, Role::Ingestor, Role::Agency] {
        let token = app.token(role, &["33"]);
        let (status, body) = app
            .graphql(&token, "{ case(id: \"Case:1\") { id } me { role } }", json!({}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{role}: {body}");
        assert_eq!(body["data"]["case"], Value::Null);
        assert_eq!(
            body["data"]["me"]["role"],
            role.as_str(),
            "the rest of the response still comes"
        );
        let (_, body) = app.graphql(&token, "{ cases { totalCount } }", json!({})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{role}: {body}");
    }
}

on_both_databases!(
    admin_sees_everything,
    plc_sees_its_sources_in_its_regions_only,
    procurator_sees_only_transferred_discipline_clues,
    records_without_region_need_the_province_prefix,
    party_cases_and_party_lookups_are_scoped,
    congress_gets_masked_identifiers,
    roles_without_record_access_get_forbidden,
);
