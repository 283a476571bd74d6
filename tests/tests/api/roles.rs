//! Every role × every query field × in-scope and out-of-scope records, on the samples:
//! nothing outside the scope comes back, through any field, and masked values never
//! appear in clear anywhere in a response.

use std::collections::{BTreeMap, BTreeSet};

use entities::{case, party, Source};
use gateway::auth::Role;
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

/// The policy of API.md, written out again independently of `hub::policy`.
fn may_see(role: Role, regions: &[&str], c: &case::Model) -> bool {
    if c.deleted {
        return false;
    }
    let source_ok = match role {
        Role::Admin | Role::Discipline => true,
        Role::Plc | Role::Congress => c.source != Source::Discipline,
        Role::Procurator => c.source != Source::Discipline || c.transferred,
        Role::Analyst
        | Role::Auditor
        | Role::Ingestor
        | Role::Agency
        | Role::Inspector
        | Role::Citizen
        | Role::Employer => false,
    };
    let region_ok = role == Role::Admin
        || match &c.region_code {
            Some(code) => regions.iter().any(|p| code.starts_with(p)),
            None => regions.contains(&"33"),
        };
    source_ok && region_ok
}

fn collect_keys(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "sourceKey" {
                    if let Some(s) = v.as_str() {
                        out.insert(s.to_string());
                    }
                }
                collect_keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, out)),
        _ => {}
    }
}

async fn no_role_reaches_anything_outside_its_scope(app: TestApp) {
    tests::load_samples(&app, Source::ALL).await;
    let cases = case::Entity::find().all(&app.db).await.unwrap();
    let parties = party::Entity::find().all(&app.db).await.unwrap();
    let clear: Vec<String> = parties
        .iter()
        .flat_map(|p| p.id_number.iter().map(|i| i.to_string()).chain(p.phone_list()))
        .collect();
    // A spread of cases: every source, in and out of the regions below, deleted ones too.
    let mut by_source: BTreeMap<&str, Vec<&case::Model>> = BTreeMap::new();
    for c in &cases {
        by_source.entry(c.source.as_str()).or_default().push(c);
    }
    let probes: Vec<&case::Model> = by_source.values().flat_map(|v| v.iter().step_by(7).copied()).collect();
    let probe_parties: Vec<i64> = parties.iter().step_by(9).map(|p| p.id).collect();
    let shared_id = "330127199606155713";

    for (role, regions) in Role::ALL
        .iter()
        .flat_map(|r| [(*r, vec!["3301"]), (*r, vec!["330784", "330110"]), (*r, vec!["33"])])
    {
        let token = app.token(role, &regions);
        let expected: BTreeSet<String> = cases
            .iter()
            .filter(|c| may_see(role, &regions, c))
            .map(|c| c.source_key.clone())
            .collect();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut texts: Vec<String> = Vec::new();
        let mut ask = |body: Value| {
            collect_keys(&body, &mut seen);
            texts.push(body.to_string());
            body
        };

        let (_, body) = app
            .graphql(&token, "{ cases(first: 100) { totalCount edges { node { sourceKey parties { party { id name idNumber phones } } } } } }", json!({}))
            .await;
        let body = ask(body);
        if role.records() {
            // Every visible case is listed (in pages).
            let mut listed = BTreeSet::new();
            let mut after = Value::Null;
            loop {
                let (_, page) = app
                    .graphql(&token, "query($a: String) { cases(first: 100, after: $a) { pageInfo { hasNextPage endCursor } edges { node { sourceKey } } } }", json!({"a": after}))
                    .await;
                collect_keys(&page, &mut listed);
                if page["data"]["cases"]["pageInfo"]["hasNextPage"] != true {
                    break;
                }
                after = page["data"]["cases"]["pageInfo"]["endCursor"].clone();
            }
            assert_eq!(listed, expected, "{role} {regions:?}: cases lists exactly the scope");
            assert_eq!(
                body["data"]["cases"]["totalCount"].as_u64().unwrap() as usize,
                expected.len()
            );
        } else {
            assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{role}");
        }
        for filter in [
            json!({"identifier": shared_id}),
            json!({"caseNumber": "(2022)浙0106执159号"}),
            json!({"text": "案"}),
        ] {
            let (_, body) = app
                .graphql(
                    &token,
                    "query($f: CaseFilter) { cases(filter: $f, first: 100) { edges { node { sourceKey } } } }",
                    json!({"f": filter}),
                )
                .await;
            ask(body);
        }
        for c in &probes {
            let id = format!("Case:{}", c.id);
            let (_, body) = app
                .graphql(
                    &token,
                    "query($id: ID!, $s: Source!, $k: String!) { case(id: $id) { sourceKey provenance { payload } } node(id: $id) { ... on Case { sourceKey } } caseBySourceKey(source: $s, sourceKey: $k) { sourceKey } caseChain(caseId: $id) { nodes { case { sourceKey } } links { key } } }",
                    json!({"id": id, "s": c.source.as_str(), "k": c.source_key}),
                )
                .await;
            let visible = may_see(role, &regions, c);
            let body = ask(body);
            assert_eq!(
                body["data"]["case"].is_null(),
                !visible,
                "{role} {regions:?} case {}",
                c.source_key
            );
            if visible && role != Role::Admin {
                assert!(body["data"]["case"]["provenance"].is_null(), "provenance is admin only");
            }
        }
        for p in &probe_parties {
            let (_, body) = app
                .graphql(&token, "query($id: ID!) { party(id: $id) { name idNumber phones cases(first: 50) { edges { node { sourceKey } } } } node(id: $id) { id } }", json!({"id": format!("Party:{p}")}))
                .await;
            ask(body);
        }
        let (_, body) = app
            .graphql(
                &token,
                "{ caseStats(groupBy: [SOURCE]) { source count suppressed } quarantine { totalCount } }",
                json!({}),
            )
            .await;
        let stats = ask(body);
        if role.records() {
            let total: i64 = stats["data"]["caseStats"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["count"].as_i64().unwrap())
                .sum();
            assert_eq!(
                total as usize,
                expected.len(),
                "{role} {regions:?}: counts equal the listed scope"
            );
        }
        if role != Role::Admin {
            assert!(stats["data"]["quarantine"].is_null(), "quarantine is admin only");
        }

        let outside: Vec<&String> = seen.difference(&expected).collect();
        assert!(
            outside.is_empty(),
            "{role} {regions:?} reached records outside its scope: {outside:?}"
        );
        if role == Role::Congress {
            let all = texts.join("\n");
            let leaked: Vec<&String> = clear.iter().filter(|v| all.contains(v.as_str())).collect();
            assert!(leaked.is_empty(), "congress saw identifiers in clear: {leaked:?}");
        }
    }
}

on_both_databases!(no_role_reaches_anything_outside_its_scope);
