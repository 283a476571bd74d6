//! `caseStats`: counts equal what `cases` lists for the same filter and role; suppression.

use entities::Source;
use gateway::auth::Role;
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

const STATS: &str = "query($f: CaseFilter, $g: [CaseDimension!]!) { caseStats(filter: $f, groupBy: $g) { source region month category stage count suppressed } }";
const TOTAL: &str = "query($f: CaseFilter) { cases(filter: $f, first: 1) { totalCount } }";

async fn counts_equal_what_cases_lists(app: TestApp) {
    tests::load_samples(&app, Source::ALL).await;
    for (role, regions) in [
        (Role::Admin, vec![]),
        (Role::Plc, vec!["3301"]),
        (Role::Procurator, vec!["330782", "3301"]),
        (Role::Congress, vec!["3307"]),
    ] {
        let token = app.token(role, &regions);
        for filter in [
            json!({}),
            json!({"sources": ["SOCIAL"]}),
            json!({"regionPrefix": "330110"}),
            json!({"openedFrom": "2022-01-01"}),
        ] {
            let total = app.data(&token, TOTAL, json!({"f": filter})).await["cases"]["totalCount"]
                .as_i64()
                .unwrap();
            for group in [
                json!([]),
                json!(["SOURCE"]),
                json!(["REGION", "MONTH"]),
                json!(["CATEGORY", "STAGE", "SOURCE"]),
            ] {
                let buckets = app.data(&token, STATS, json!({"f": filter, "g": group})).await["caseStats"].clone();
                let sum: i64 = buckets
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b["count"].as_i64().unwrap())
                    .sum();
                assert_eq!(sum, total, "{role} {filter} {group}");
            }
        }
    }
    let token = app.token(Role::Admin, &[]);
    let by_source = app.data(&token, STATS, json!({"g": ["SOURCE"]})).await["caseStats"].clone();
    let enforcement = by_source
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["source"] == "ENFORCEMENT")
        .unwrap();
    assert_eq!(enforcement["count"], 75);
    assert_eq!(enforcement["region"], Value::Null, "only grouped dimensions are set");
    let months = app.data(&token, STATS, json!({"g": ["MONTH"]})).await["caseStats"].clone();
    assert!(
        months.as_array().unwrap().iter().any(|b| b["month"] == "2022-09"),
        "{months}"
    );
}

async fn analysts_get_small_cells_suppressed_and_no_discipline(app: TestApp) {
    tests::load_samples(&app, Source::ALL).await;
    let analyst = app.token(Role::Analyst, &["33"]);
    let buckets = app.data(&analyst, STATS, json!({"g": ["REGION", "SOURCE"]})).await["caseStats"].clone();
    let buckets = buckets.as_array().unwrap();
    assert!(buckets.iter().all(|b| b["source"] != "DISCIPLINE"));
    assert!(
        buckets.iter().any(|b| b["suppressed"] == true),
        "some region×source cells are small"
    );
    for b in buckets {
        match b["count"].as_i64() {
            Some(n) => assert!(n >= 5 && b["suppressed"] == false, "{b}"),
            None => assert_eq!(b["suppressed"], true),
        }
    }
    let total = app.data(&analyst, STATS, json!({"g": []})).await["caseStats"][0]["count"]
        .as_i64()
        .unwrap();
    assert_eq!(total, 298 - 30, "everything but DISCIPLINE");
    let admin = app.token(Role::Admin, &[]);
    let small = app.data(&admin, STATS, json!({"g": ["REGION", "SOURCE"]})).await["caseStats"].clone();
    assert!(
        small.as_array().unwrap().iter().all(|b| b["suppressed"] == false),
        "record roles see every count"
    );
    for role in [Role::Auditor, Role::Ingestor] {
        let token = app.token(role, &["33"]);
        let (_, body) = app.graphql(&token, STATS, json!({"g": []})).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{role}");
    }
}

on_both_databases!(
    counts_equal_what_cases_lists,
    analysts_get_small_cells_suppressed_and_no_discipline
);
