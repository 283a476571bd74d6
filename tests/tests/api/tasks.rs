//! Supervision tasks: the whole loop with a department answering, every illegal step,
//! who may do what, and who sees which task.

use gateway::auth::Role;
use serde_json::{json, Value};
use tests::{on_both_databases, TestApp};

const DEPT: &str = "杭州市公安局余杭区分局";
const TASK: &str = "id stage overdue department deadline history { action actor role fromStage toStage note }";

async fn case_id(app: &TestApp, source: &str, key: &str) -> String {
    let admin = app.token(Role::Admin, &[]);
    app.data(
        &admin,
        "query($s: Source!, $k: String!) { caseBySourceKey(source: $s, sourceKey: $k) { id } }",
        json!({"s": source, "k": key}),
    )
    .await["caseBySourceKey"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn step(app: &TestApp, token: &str, mutation: &str, id: &Value, note: Option<&str>) -> Value {
    let (_, body) = app
        .graphql(
            token,
            &format!("mutation($id: ID!, $n: String!) {{ {mutation}(id: $id, note: $n) {{ {TASK} }} }}"),
            json!({"id": id, "n": note.unwrap_or("ok")}),
        )
        .await;
    body
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

async fn a_supervisor_drives_a_task_through_the_whole_loop(app: TestApp) {
    app.seed_demo().await;
    let case = case_id(&app, "ENFORCEMENT", "ZFJD-330110-2022-000123").await;
    let plc = app.token(Role::Plc, &["330110"]);
    let agency = app.agency_token(DEPT);
    let data = app
        .data(
            &plc,
            &format!("mutation($c: ID!, $d: String!) {{ openSupervisionTask(input: {{caseId: $c, department: $d, title: \"督促立案\", deadline: \"2020-01-31\", note: \"应立未立\"}}) {{ {TASK} case {{ sourceKey }} }} }}"),
            json!({"c": case, "d": DEPT}),
        )
        .await;
    let task = &data["openSupervisionTask"];
    assert_eq!(
        (task["stage"].as_str(), task["overdue"].as_bool()),
        (Some("NOTIFIED"), Some(true))
    );
    assert_eq!(task["case"]["sourceKey"], "ZFJD-330110-2022-000123");
    let id = task["id"].clone();

    assert_eq!(
        code(&step(&app, &plc, "closeSupervisionTask", &id, None).await),
        "BAD_USER_INPUT",
        "cannot close before the loop"
    );
    assert_eq!(
        code(&step(&app, &plc, "answerSupervisionTask", &id, Some("x")).await),
        "FORBIDDEN",
        "only the department answers"
    );
    assert_eq!(
        code(
            &step(
                &app,
                &app.agency_token("别的单位"),
                "answerSupervisionTask",
                &id,
                Some("x")
            )
            .await
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        code(&step(&app, &agency, "revisitSupervisionTask", &id, None).await),
        "FORBIDDEN",
        "a department does not revisit"
    );
    assert_eq!(
        code(&step(&app, &agency, "answerSupervisionTask", &id, Some(" ")).await),
        "BAD_USER_INPUT",
        "an answer says what was done"
    );

    let stages = [
        (&agency, "answerSupervisionTask", "已立案侦查", "RECTIFYING"),
        (&plc, "revisitSupervisionTask", "回访：当事人不满意", "REVISITED"),
        (&plc, "returnSupervisionTask", "退回重新整改", "NOTIFIED"),
        (&agency, "answerSupervisionTask", "已移送起诉", "RECTIFYING"),
        (&plc, "revisitSupervisionTask", "回访满意", "REVISITED"),
        (&plc, "closeSupervisionTask", "销号", "CLOSED"),
    ];
    for (token, mutation, note, expected) in stages {
        let body = step(&app, token, mutation, &id, Some(note)).await;
        let stage = body["data"][mutation]["stage"].as_str().map(str::to_string);
        assert_eq!(stage.as_deref(), Some(expected), "{mutation}: {body}");
    }
    assert_eq!(
        code(&step(&app, &plc, "revisitSupervisionTask", &id, None).await),
        "BAD_USER_INPUT",
        "a closed task stays closed"
    );

    let data = app
        .data(
            &plc,
            &format!("{{ supervisionTasks {{ totalCount edges {{ node {{ {TASK} }} }} }} }}"),
            json!({}),
        )
        .await;
    let task = &data["supervisionTasks"]["edges"][0]["node"];
    assert_eq!(task["overdue"], false, "closed tasks are not overdue");
    let history: Vec<(String, String, String)> = task["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["role"].as_str().unwrap().into(),
                e["toStage"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(history.len(), 7);
    assert_eq!(history[0], ("OPEN".into(), "plc".into(), "NOTIFIED".into()));
    assert_eq!(history[1], ("ANSWER".into(), "agency".into(), "RECTIFYING".into()));
    assert_eq!(task["history"][1]["note"], "已立案侦查");
    assert_eq!(history[6], ("CLOSE".into(), "plc".into(), "CLOSED".into()));
}

async fn tasks_are_seen_only_within_scope(app: TestApp) {
    app.seed_demo().await;
    let discipline_case = case_id(&app, "DISCIPLINE", "余纪线〔2022〕456号").await;
    let discipline = app.token(Role::Discipline, &["3301"]);
    let open = |token: String, input: Value| {
        let app = &app;
        async move {
            app.graphql(
                &token,
                "mutation($i: OpenTaskInput!) { openSupervisionTask(input: $i) { id } }",
                json!({"i": input}),
            )
            .await
            .1
        }
    };
    let body = open(
        discipline.clone(),
        json!({"caseId": discipline_case, "department": DEPT, "title": "纪律", "deadline": "2099-01-01"}),
    )
    .await;
    assert!(body["data"]["openSupervisionTask"]["id"].is_string(), "{body}");
    let body = open(discipline.clone(), json!({"regionCode": "330110", "town": "仓前街道", "department": "仓前街道办事处", "title": "镇街指数预警", "deadline": "2020-01-01"})).await;
    assert!(body["data"]["openSupervisionTask"]["id"].is_string(), "{body}");

    let plc = app.token(Role::Plc, &["3301"]);
    let body = open(
        plc.clone(),
        json!({"caseId": discipline_case, "department": DEPT, "title": "x", "deadline": "2099-01-01"}),
    )
    .await;
    assert_eq!(
        code(&body),
        "NOT_FOUND",
        "plc cannot open a task on a case it cannot see"
    );
    let body = open(
        plc.clone(),
        json!({"regionCode": "330784", "department": "x", "title": "x", "deadline": "2099-01-01"}),
    )
    .await;
    assert_eq!(code(&body), "FORBIDDEN", "nor on a town outside its regions");
    let analyst = app.token(Role::Analyst, &["33"]);
    assert_eq!(
        code(
            &open(
                analyst,
                json!({"regionCode": "330110", "department": "x", "title": "x", "deadline": "2099-01-01"})
            )
            .await
        ),
        "FORBIDDEN"
    );

    let count = |token: String, filter: Value| {
        let app = &app;
        async move {
            app.data(
                &token,
                "query($f: TaskFilter) { supervisionTasks(filter: $f) { totalCount } }",
                json!({"f": filter}),
            )
            .await["supervisionTasks"]["totalCount"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(count(discipline.clone(), json!({})).await, 2);
    assert_eq!(count(discipline.clone(), json!({"overdue": true})).await, 1);
    assert_eq!(
        count(plc.clone(), json!({})).await,
        1,
        "the task on a discipline case stays hidden from plc"
    );
    assert_eq!(count(app.token(Role::Plc, &["3307"]), json!({})).await, 0);
    assert_eq!(
        count(app.agency_token(DEPT), json!({})).await,
        1,
        "an agency sees the tasks of its unit"
    );
    assert_eq!(count(app.agency_token("仓前街道办事处"), json!({})).await, 1);
}

on_both_databases!(
    a_supervisor_drives_a_task_through_the_whole_loop,
    tasks_are_seen_only_within_scope
);
