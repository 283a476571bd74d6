//! The governance index and trends against hand-counted data.

use chrono::NaiveDate;
use entities::{LinkKind, Source};
use gateway::auth::Role;
use hub::demo::{NewCase, Seeder};
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

fn d(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// 仓前街道 in March 2022: 12 cases — 4 overdue, 2 complaints sharing a phone, 3 with court
/// numbers, 6 still open.
async fn seed(app: &TestApp) {
    let s = Seeder::new(&app.db);
    for i in 0..12 {
        let source = if i < 3 { Source::Social } else { Source::Enforcement };
        let mut c = NewCase::new(source, &format!("K{i}"), "t", Some("330110"));
        c.town = Some("仓前街道".into());
        c.opened_on = d("2022-03-05");
        if i < 6 {
            c.closed_on = d("2022-03-20");
        }
        if (3..7).contains(&i) {
            c.deadline_on = d("2022-03-10");
        }
        if (7..10).contains(&i) {
            c.case_numbers = vec![format!("(2022)浙0110民初{i}号")];
        }
        let id = s.case(c).await.unwrap();
        if i < 2 {
            s.key(id, LinkKind::Phone, "13805711234").await.unwrap();
        }
    }
    let mut quiet = NewCase::new(Source::Enforcement, "Q1", "t", Some("330110"));
    quiet.town = Some("良渚街道".into());
    quiet.opened_on = d("2022-03-01");
    s.case(quiet).await.unwrap();
    // A year before, for the trend.
    for i in 0..6 {
        let mut c = NewCase::new(Source::Enforcement, &format!("Y{i}"), "t", Some("330110"));
        c.opened_on = d("2021-03-02");
        s.case(c).await.unwrap();
    }
}

async fn the_index_counts_what_the_hub_holds(app: TestApp) {
    seed(&app).await;
    let plc = app.token(Role::Plc, &["3301"]);
    // An overdue supervision task of the town counts as one more overdue rectification.
    app.data(
        &plc,
        "mutation { openSupervisionTask(input: {regionCode: \"330110\", town: \"仓前街道\", department: \"仓前街道办事处\", title: \"整改\", deadline: \"2022-03-15\"}) { id } }",
        json!({}),
    )
    .await;
    let q = "query($l: GovernanceLevel) { governanceIndex(from: \"2022-02\", to: \"2022-03\", level: $l) { region town month index color warning problems overdue repeatComplaints courtDisputes unclosed closureRate suppressed } }";
    let data = app.data(&plc, q, json!({"l": "TOWN"})).await;
    let scores = data["governanceIndex"].as_array().unwrap();
    let march = scores
        .iter()
        .find(|s| s["town"] == "仓前街道" && s["month"] == "2022-03")
        .unwrap();
    assert_eq!(
        (
            march["problems"].as_i64(),
            march["overdue"].as_i64(),
            march["repeatComplaints"].as_i64(),
            march["courtDisputes"].as_i64(),
            march["unclosed"].as_i64()
        ),
        (Some(12), Some(5), Some(2), Some(3), Some(6)),
        "{march}"
    );
    // 12 problems + 5×5 overdue (4 cases, 1 task) + 3×2 repeat + 2×3 court + 1×6 unclosed = 55 → RED.
    assert_eq!(
        (
            march["index"].as_f64(),
            march["color"].as_str(),
            march["warning"].as_str()
        ),
        (Some(55.0), Some("RED"), Some("REMIND"))
    );
    assert_eq!(march["closureRate"], 0.5);
    let feb = scores
        .iter()
        .find(|s| s["town"] == "仓前街道" && s["month"] == "2022-02")
        .unwrap();
    assert_eq!(
        (feb["index"].as_f64(), feb["color"].as_str()),
        (Some(0.0), Some("GREEN"))
    );
    let quiet = scores
        .iter()
        .find(|s| s["town"] == "良渚街道" && s["month"] == "2022-03")
        .unwrap();
    assert_eq!(quiet["color"], "GREEN");

    let analyst = app.token(Role::Analyst, &["33"]);
    let data = app.data(&analyst, q, json!({"l": "TOWN"})).await;
    let quiet = data["governanceIndex"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["town"] == "良渚街道" && s["month"] == "2022-03")
        .unwrap()
        .clone();
    assert_eq!(
        (
            quiet["suppressed"].as_bool(),
            quiet["index"].is_null(),
            quiet["problems"].is_null()
        ),
        (Some(true), true, true)
    );
    let other = app.token(Role::Plc, &["3307"]);
    let data = app.data(&other, q, json!({"l": "REGION"})).await;
    assert_eq!(
        data["governanceIndex"],
        json!([]),
        "outside the regions nothing is counted"
    );
    let (_, body) = app.graphql(&app.token(Role::Auditor, &["33"]), q, json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

async fn trends_compare_with_last_month_and_last_year(app: TestApp) {
    seed(&app).await;
    let plc = app.token(Role::Plc, &["3301"]);
    let data = app
        .data(&plc, "{ caseTrend(from: \"2022-03\", to: \"2022-03\") { key points { month count previousMonth monthOverMonth lastYear yearOverYear } } }", json!({}))
        .await;
    let p = &data["caseTrend"][0]["points"][0];
    assert_eq!(
        (p["count"].as_i64(), p["previousMonth"].as_i64(), p["lastYear"].as_i64()),
        (Some(13), Some(0), Some(6))
    );
    assert_eq!(p["yearOverYear"].as_f64(), Some(1.167), "13 against 6: +116.7%");
    assert!(p["monthOverMonth"].is_null(), "no change against an empty month");
    let by_source = app
        .data(
            &plc,
            "{ caseTrend(from: \"2022-03\", to: \"2022-03\", by: SOURCE) { key points { count } } }",
            json!({}),
        )
        .await;
    let social = by_source["caseTrend"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "SOCIAL")
        .unwrap()
        .clone();
    assert_eq!(social["points"][0]["count"], 3);
}

/// Satisfaction (满意度) recorded by complainants is a signal: each dissatisfied case weighs 3.
async fn dissatisfaction_raises_the_index(app: TestApp) {
    use entities::Satisfaction;
    let s = Seeder::new(&app.db);
    for (i, satisfaction) in [Some(Satisfaction::Dissatisfied), Some(Satisfaction::Satisfied), None]
        .into_iter()
        .enumerate()
    {
        let mut c = NewCase::new(Source::Social, &format!("GD{i}"), "t", Some("330110"));
        c.town = Some("良渚街道".into());
        c.opened_on = d("2022-05-03");
        c.satisfaction = satisfaction;
        s.case(c).await.unwrap();
    }
    let plc = app.token(Role::Plc, &["3301"]);
    let data = app
        .data(
            &plc,
            "{ governanceIndex(from: \"2022-05\", to: \"2022-05\") { town index problems unclosed dissatisfied satisfactionRate } cases(first: 5) { edges { node { sourceKey satisfaction } } } }",
            json!({}),
        )
        .await;
    // problems 3 x 1 + unclosed 3 x 1 + dissatisfied 1 x 3
    assert_eq!(
        data["governanceIndex"],
        json!([{"town": "良渚街道", "index": 9.0, "problems": 3, "unclosed": 3, "dissatisfied": 1, "satisfactionRate": 0.5}])
    );
    let satisfaction: Vec<&Value> = data["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["satisfaction"])
        .collect();
    assert_eq!(
        satisfaction,
        [&json!("DISSATISFIED"), &json!("SATISFIED"), &Value::Null]
    );
}

on_both_databases!(
    the_index_counts_what_the_hub_holds,
    trends_compare_with_last_month_and_last_year,
    dissatisfaction_raises_the_index
);
