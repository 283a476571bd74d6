//! 平安督: an inspector records inspections, each problem opens a task the town answers, the
//! monthly index and ranking follow from the loop; offline CSVs load with exact counts; bad
//! input is refused with the field named, and scope holds.

use chrono::{Duration, Utc};
use gateway::auth::Role;
use gateway::graphql::scalars::{parse_id_of, NodeKind};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

const RECORD: &str = "mutation($i: InspectionInput!) { recordInspection(input: $i) { id town point recordedBy unit problems { seq category severity task { id department stage deadline } } } }";
const INDEX: &str = "query($f: String!, $t: String!, $p: String) { inspectionIndex(from: $f, to: $t, regionPrefix: $p) { regionCode town month rank index change places problems discoveryRate rectificationRate overdue suppressed } }";

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

fn month_of(at: chrono::DateTime<Utc>) -> String {
    at.with_timezone(&hub::inspections::china()).format("%Y-%m").to_string()
}

fn inspection(town: &str, point: &str, at: chrono::DateTime<Utc>, problems: Value) -> Value {
    json!({
        "regionCode": "330110", "town": town, "point": point, "pointType": "市场",
        "inspectedAt": at.to_rfc3339(), "problems": problems
    })
}

fn row<'a>(rows: &'a Value, town: &str, month: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["town"] == town && r["month"] == month)
        .unwrap_or_else(|| panic!("no row for {town} {month} in {rows}"))
}

fn close(a: f64, b: &Value) -> bool {
    (a - b.as_f64().unwrap_or(f64::NAN)).abs() < 1e-9
}

async fn an_inspection_opens_tasks_the_town_answers_and_the_ranking_shows(app: TestApp) {
    let inspector = app.unit_token(Role::Inspector, "余杭区平安督查组", &["330110"]);
    let at = Utc::now() - Duration::hours(1);
    let problems = json!([
        {"category": "消防", "description": "灭火器过期", "severity": 3},
        {"category": "治安", "description": "监控损坏", "severity": 2}
    ]);
    let recorded = app
        .data(
            &inspector,
            RECORD,
            json!({"i": inspection("崇贤街道", "崇贤农贸市场", at, problems)}),
        )
        .await["recordInspection"]
        .clone();
    assert_eq!(recorded["unit"], "余杭区平安督查组");
    let tasks: Vec<Value> = recorded["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["task"].clone())
        .collect();
    assert_eq!(tasks.len(), 2);
    let due = (at.with_timezone(&hub::inspections::china()).date_naive() + Duration::days(15)).to_string();
    for t in &tasks {
        assert_eq!(t["department"], "崇贤街道");
        assert_eq!(t["stage"], "NOTIFIED");
        assert_eq!(t["deadline"], due.as_str());
    }
    // A clean inspection in another town, and the same town's second place.
    app.data(
        &inspector,
        RECORD,
        json!({"i": inspection("仁和街道", "仁和小学", at, json!([]))}),
    )
    .await;
    app.data(
        &inspector,
        RECORD,
        json!({"i": inspection("崇贤街道", "崇贤小学", at, json!([]))}),
    )
    .await;

    // The town answers both; the supervisor closes the first (in time) and the second too, a
    // day after a deadline moved into the past (closed late).
    let town = app.agency_token("崇贤街道");
    let admin = app.token(Role::Admin, &[]);
    for t in &tasks {
        let step = |name: &str| format!("mutation($id: ID!) {{ {name}(id: $id, note: \"ok\") {{ stage }} }}");
        app.data(&town, &step("answerSupervisionTask"), json!({"id": t["id"]}))
            .await;
        app.data(&admin, &step("revisitSupervisionTask"), json!({"id": t["id"]}))
            .await;
        app.data(&admin, &step("closeSupervisionTask"), json!({"id": t["id"]}))
            .await;
    }
    let late = parse_id_of(NodeKind::Task, tasks[1]["id"].as_str().unwrap()).unwrap();
    let yesterday = hub::inspections::day_of(Utc::now()) - Duration::days(1);
    entities::supervision_task::Entity::update_many()
        .col_expr(entities::supervision_task::Column::Deadline, Expr::value(yesterday))
        .filter(entities::supervision_task::Column::Id.eq(late))
        .exec(&app.db)
        .await
        .unwrap();

    // The inspector follows the progress of what it found.
    let seen = app
        .data(&inspector, "{ supervisionTasks(first: 10) { totalCount } }", json!({}))
        .await;
    assert_eq!(seen["supervisionTasks"]["totalCount"], 2);

    let month = month_of(at);
    let rows = app
        .data(&admin, INDEX, json!({"f": month, "t": month, "p": "330110"}))
        .await["inspectionIndex"]
        .clone();
    let chongxian = row(&rows, "崇贤街道", &month);
    assert_eq!(
        (chongxian["places"].as_i64(), chongxian["problems"].as_i64()),
        (Some(2), Some(2))
    );
    assert!(close(1.0, &chongxian["discoveryRate"]));
    assert!(close(0.5, &chongxian["rectificationRate"]), "{chongxian}");
    assert_eq!(chongxian["overdue"], 0);
    assert!(close(2.0 + 0.5 * 20.0, &chongxian["index"]));
    assert_eq!(chongxian["rank"], 2);
    let renhe = row(&rows, "仁和街道", &month);
    assert_eq!((renhe["rank"].as_i64(), renhe["problems"].as_i64()), (Some(1), Some(0)));
    assert!(close(1.0, &renhe["rectificationRate"]), "nothing due: 1");
}

async fn offline_files_load_with_exact_counts_and_last_years_ranking(app: TestApp) {
    let head = "id,regionCode,town,point,pointType,inspectedAt,category,description,severity\n";
    let first = format!(
        "{head}\
         F-1,330110,崇贤街道,农贸市场,市场,2025-02-10 09:00,消防,通道堵塞,2\n\
         F-2,330110,崇贤街道,农贸市场,市场,2025-03-03 10:00,消防,灭火器过期,3\n\
         F-2,330110,崇贤街道,农贸市场,市场,2025-03-03 10:00,治安,监控损坏,2\n\
         F-3,330110,东城街道,幼儿园,学校,2025-03-04 09:00,食品,留样缺失,2\n\
         F-4,330110,仁和街道,仁和小学,学校,2025-03-05 09:00,,,\n\
         F-5,330110,运河街道,运河工地,工地,2025-03-06 09:00,,,\n\
         ,330110,运河街道,x,工地,2025-03-06 09:00,a,b,1\n\
         F-6,330110,运河街道,y,工地,2025-03-06 09:00,,没有类别,1\n\
         F-7,330110,运河街道,z,工地,2099-03-06 09:00,a,b,1\n"
    );
    let report = app.ingest("inspections", "pad_2025.csv", first.clone()).await;
    assert_eq!(
        (
            report["read"].as_u64(),
            report["inserted"].as_u64(),
            report["quarantined"].as_u64()
        ),
        (Some(9), Some(6), Some(3)),
        "{report}"
    );
    let again = app.ingest("inspections", "pad_2025.csv", first).await;
    assert_eq!(
        (again["unchanged"].as_u64(), again["inserted"].as_u64()),
        (Some(6), Some(0)),
        "{again}"
    );
    // The same id with other content, and a town that lies in another region.
    let second = format!(
        "{head}\
         F-3,330110,东城街道,幼儿园,学校,2025-03-04 09:00,食品,改过的内容,2\n\
         F-9,330106,崇贤街道,某处,市场,2025-03-04 09:00,,,\n"
    );
    let report = app.ingest("inspections", "pad_2025_fix.csv", second).await;
    let reasons: Vec<&str> = report["quarantine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["conflicting_content", "invalid_value"], "{report}");
    let admin = app.token(Role::Admin, &[]);
    let raw = app
        .data(
            &admin,
            "{ quarantine(first: 20) { totalCount nodes { feed source rawText } } }",
            json!({}),
        )
        .await;
    assert_eq!(raw["quarantine"]["totalCount"], 5);
    assert!(raw["quarantine"]["nodes"][0]["source"].is_null());
    assert_eq!(raw["quarantine"]["nodes"][0]["feed"], "inspections");

    // March 2025, long past every deadline and nothing closed: rank by problems·1 + overdue·5 + 20.
    let rows = app.data(&admin, INDEX, json!({"f": "2025-03", "t": "2025-03"})).await["inspectionIndex"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 4, "{rows}");
    let chongxian = row(&rows, "崇贤街道", "2025-03");
    assert!(close(2.0 + 10.0 + 20.0, &chongxian["index"]));
    assert!(close(32.0 - 26.0, &chongxian["change"]), "February: 1 + 5 + 20");
    assert_eq!(chongxian["overdue"], 2);
    assert!(close(0.0, &chongxian["rectificationRate"]));
    let ranks: Vec<(String, i64)> = ["仁和街道", "运河街道", "东城街道", "崇贤街道"]
        .iter()
        .map(|t| (t.to_string(), row(&rows, t, "2025-03")["rank"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        ranks.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
        [1, 1, 3, 4],
        "a tie shares a rank: {ranks:?}"
    );
    assert!(row(&rows, "仁和街道", "2025-03")["change"].is_null());
    // The problems feed the governance index as a signal (weight 1); their overdue tasks do not.
    let g = app
        .data(
            &admin,
            "{ governanceIndex(from: \"2025-03\", to: \"2025-03\", level: TOWN) { town month index overdue inspectionProblems } }",
            json!({}),
        )
        .await;
    let chongxian = g["governanceIndex"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["town"] == "崇贤街道")
        .cloned()
        .unwrap_or_else(|| panic!("{g}"));
    assert_eq!(
        chongxian,
        json!({"town": "崇贤街道", "month": "2025-03", "index": 2.0, "overdue": 0, "inspectionProblems": 2})
    );
    // Inspection tasks (all overdue here) stay out of the governance index's overdue tasks.
    let viewer = hub::Viewer {
        sub: "t".into(),
        role: Role::Admin,
        regions: vec![],
        unit: None,
        own_id: None,
    };
    let store = hub::store::ScopedStore::new(app.db.clone(), hub::policy::Scope::for_viewer(&viewer));
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let overdue = store
        .aggregates()
        .unwrap()
        .overdue_tasks(day("2025-01-01"), day("2025-12-31"))
        .await
        .unwrap();
    assert!(overdue.is_empty(), "{overdue:?}");
}

async fn bad_input_and_scope_are_refused(app: TestApp) {
    let inspector = app.unit_token(Role::Inspector, "余杭区平安督查组", &["330110"]);
    let at = Utc::now() - Duration::hours(2);
    let one = json!([{"category": "消防", "description": "x", "severity": 1}]);
    let outside = json!({"i": {"regionCode": "330106", "town": "西溪街道", "point": "p", "pointType": "市场", "inspectedAt": at.to_rfc3339(), "problems": one}});
    let (_, body) = app.graphql(&inspector, RECORD, outside).await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    let plc = app.token(Role::Plc, &["330110"]);
    let (_, body) = app
        .graphql(&plc, RECORD, json!({"i": inspection("崇贤街道", "p", at, one.clone())}))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    for (problems, when, field) in [
        (
            json!([{"category": " ", "description": "x", "severity": 1}]),
            at,
            "problems[0].category",
        ),
        (
            json!([{"category": "a", "description": "", "severity": 1}]),
            at,
            "problems[0].description",
        ),
        (
            json!([{"category": "a", "description": "b", "severity": 0}]),
            at,
            "problems[0].severity",
        ),
        (one.clone(), Utc::now() + Duration::days(1), "inspectedAt"),
    ] {
        let (_, body) = app
            .graphql(
                &inspector,
                RECORD,
                json!({"i": inspection("崇贤街道", "p", when, problems)}),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(field), "{body}");
    }
    // Immutable: the same id again is the same inspection; other content is refused.
    let mut given = inspection("崇贤街道", "p", at, one.clone());
    given["id"] = json!("M-1");
    let a = app.data(&inspector, RECORD, json!({"i": given.clone()})).await;
    let b = app.data(&inspector, RECORD, json!({"i": given.clone()})).await;
    assert_eq!(a, b);
    given["point"] = json!("q");
    let (_, body) = app.graphql(&inspector, RECORD, json!({"i": given})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let admin = app.token(Role::Admin, &[]);
    let tasks = app
        .data(&admin, "{ supervisionTasks(first: 10) { totalCount } }", json!({}))
        .await;
    assert_eq!(tasks["supervisionTasks"]["totalCount"], 1, "one task, not three");

    // A correction is a new inspection that names the one it corrects: both stay, and only
    // the correction counts.
    let mut fix = inspection("崇贤街道", "p", at, json!([]));
    fix["id"] = json!("M-2");
    fix["corrects"] = json!("M-1");
    let fixed = app
        .data(
            &inspector,
            "mutation($i: InspectionInput!) { recordInspection(input: $i) { id corrects } }",
            json!({"i": fix}),
        )
        .await;
    assert_eq!(fixed["recordInspection"], json!({"id": "M-2", "corrects": "M-1"}));
    let old = app
        .data(
            &inspector,
            "{ inspection(id: \"M-1\") { id correctedBy problems { seq } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        old["inspection"],
        json!({"id": "M-1", "correctedBy": ["M-2"], "problems": [{"seq": 1}]})
    );
    let month = month_of(at);
    let index = app.data(&admin, INDEX, json!({"f": month, "t": month})).await;
    assert_eq!(
        row(&index["inspectionIndex"], "崇贤街道", &month)["problems"],
        0,
        "{index}"
    );
    let mut wrong = inspection("崇贤街道", "p", at, json!([]));
    wrong["corrects"] = json!("NO-SUCH");
    let (_, body) = app.graphql(&inspector, RECORD, json!({"i": wrong})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");

    // Who reads the index: scoped by region, an agency its own town, analyst suppressed.
    for n in 0..5 {
        app.data(
            &inspector,
            RECORD,
            json!({"i": inspection("仁和街道", &format!("p{n}"), at, json!([]))}),
        )
        .await;
    }
    let month = month_of(at);
    let vars = json!({"f": month, "t": month});
    let rows = |v: &Value| v["inspectionIndex"].as_array().unwrap().clone();
    let elsewhere = app.unit_token(Role::Inspector, "西湖区督查组", &["330106"]);
    assert!(rows(&app.data(&elsewhere, INDEX, vars.clone()).await).is_empty());
    let town = rows(&app.data(&app.agency_token("仁和街道"), INDEX, vars.clone()).await);
    assert_eq!(town.len(), 1);
    assert_eq!(town[0]["town"], "仁和街道");
    let analyst = rows(
        &app.data(&app.token(Role::Analyst, &["3301"]), INDEX, vars.clone())
            .await,
    );
    let small = analyst.iter().find(|r| r["town"] == "崇贤街道").unwrap();
    assert_eq!(
        (small["suppressed"].as_bool(), small["index"].is_null()),
        (Some(true), true)
    );
    let big = analyst.iter().find(|r| r["town"] == "仁和街道").unwrap();
    assert_eq!((big["places"].as_i64(), big["rank"].as_i64()), (Some(5), Some(1)));
    let auditor = app.token(Role::Auditor, &["33"]);
    let (_, body) = app.graphql(&auditor, INDEX, vars).await;
    assert_eq!(code(&body), "FORBIDDEN");
}

async fn a_recorded_inspection_reaches_subscribers_in_scope(app: TestApp) {
    let query = "subscription($p: String) { inspectionRecorded(regionPrefix: $p) { town problems { category } } }";
    let ranking =
        "subscription($m: String!) { inspectionRanking(month: $m, regionPrefix: \"330110\") { town rank problems } }";
    let at = Utc::now() - Duration::hours(1);
    let inspector = app.unit_token(Role::Inspector, "余杭区平安督查组", &["330110"]);
    let mut own = app.ws(&inspector).await;
    own.subscribe("i", query, json!({})).await;
    let mut elsewhere = app
        .ws(&app.unit_token(Role::Inspector, "西湖区督查组", &["330106"]))
        .await;
    elsewhere.subscribe("i", query, json!({})).await;
    let mut town = app.ws(&app.agency_token("崇贤街道")).await;
    town.subscribe("t", "subscription { taskChanged { department stage } }", json!({}))
        .await;
    let mut board = app.ws(&app.token(Role::Plc, &["3301"])).await;
    board.subscribe("r", ranking, json!({"m": month_of(at)})).await;
    app.wait_subscriptions(4).await;
    let one = json!([{"category": "消防", "description": "灭火器过期", "severity": 3}]);
    app.data(&inspector, RECORD, json!({"i": inspection("崇贤街道", "p", at, one)}))
        .await;
    let soon = std::time::Duration::from_secs(5);
    let message = own.next_within(soon).await.expect("the inspection");
    assert_eq!(
        message["payload"]["data"]["inspectionRecorded"],
        json!({"town": "崇贤街道", "problems": [{"category": "消防"}]})
    );
    let task = town.next_within(soon).await.expect("the task");
    assert_eq!(
        task["payload"]["data"]["taskChanged"],
        json!({"department": "崇贤街道", "stage": "NOTIFIED"})
    );
    let first = board.next_within(soon).await.expect("the ranking");
    assert_eq!(
        first["payload"]["data"]["inspectionRanking"],
        json!([{"town": "崇贤街道", "rank": 1, "problems": 1}])
    );
    // A clean town overtakes it.
    app.data(
        &inspector,
        RECORD,
        json!({"i": inspection("仁和街道", "q", at, json!([]))}),
    )
    .await;
    let second = board.next_within(soon).await.expect("the new ranking");
    let mut rows: Vec<(String, i64)> = second["payload"]["data"]["inspectionRanking"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["town"].as_str().unwrap().to_string(), r["rank"].as_i64().unwrap()))
        .collect();
    rows.sort();
    assert_eq!(rows, [("仁和街道".to_string(), 1), ("崇贤街道".to_string(), 2)]);
    assert!(elsewhere
        .next_within(std::time::Duration::from_millis(500))
        .await
        .is_none());
}

on_both_databases!(
    a_recorded_inspection_reaches_subscribers_in_scope,
    an_inspection_opens_tasks_the_town_answers_and_the_ranking_shows,
    offline_files_load_with_exact_counts_and_last_years_ranking,
    bad_input_and_scope_are_refused,
);
