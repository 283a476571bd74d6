//! The read schema: lookups, filters, pagination, parties.

use gateway::auth::Role;
use serde_json::json;
use tests::{on_both_databases, TestApp};

async fn filters_select_what_they_say(app: TestApp) {
    app.seed_demo().await;
    let token = app.token(Role::Discipline, &["33"]);
    let count = |filter: serde_json::Value| {
        let app = &app;
        let token = token.clone();
        async move {
            let data = app
                .data(
                    &token,
                    "query($f: CaseFilter) { cases(filter: $f) { totalCount } }",
                    json!({ "f": filter }),
                )
                .await;
            data["cases"]["totalCount"].as_i64().unwrap()
        }
    };
    assert_eq!(count(json!({})).await, 6);
    assert_eq!(count(json!({"sources": ["SOCIAL"]})).await, 2);
    assert_eq!(count(json!({"regionPrefix": "330784"})).await, 1);
    assert_eq!(count(json!({"caseNumber": "（２０２２）浙0110 民初1234号"})).await, 2);
    assert_eq!(count(json!({"caseNumber": "a3301105400002022090001"})).await, 3);
    assert_eq!(count(json!({"identifier": "+86 138-0571-1234"})).await, 2);
    assert_eq!(count(json!({"identifier": "11010519491231002x"})).await, 2);
    assert_eq!(count(json!({"identifier": "91350100m000100y43"})).await, 2);
    assert_eq!(count(json!({"text": "诈骗"})).await, 2);
    assert_eq!(count(json!({"text": "100%"})).await, 0);
    assert_eq!(
        count(json!({"openedFrom": "2022-09-27", "openedTo": "2022-09-30"})).await,
        2
    );
    assert_eq!(count(json!({"stages": ["NOTIFIED"]})).await, 1);
    assert_eq!(
        count(json!({"sources": ["ENFORCEMENT"], "stages": ["CLOSED"]})).await,
        0
    );
}

async fn bad_filter_values_are_bad_user_input(app: TestApp) {
    let token = app.token(Role::Admin, &[]);
    for filter in [
        json!({"identifier": "张三"}),
        json!({"caseNumber": "xyz"}),
        json!({"regionPrefix": "33%"}),
        json!({"openedFrom": "2022/9/1"}),
    ] {
        let (status, body) = app
            .graphql(
                &token,
                "query($f: CaseFilter) { cases(filter: $f) { totalCount } }",
                json!({ "f": filter }),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{filter}: {body}"
        );
    }
    let (_, body) = app.graphql(&token, "{ case(id: \"Robot:1\") { id } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let (_, body) = app
        .graphql(&token, "{ cases(first: 1000) { totalCount } }", json!({}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED");
}

async fn pages_follow_cursors_without_gaps_or_repeats(app: TestApp) {
    app.seed_demo().await;
    let token = app.token(Role::Admin, &[]);
    let query = "query($after: String) { cases(first: 4, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }";
    let first = app.data(&token, query, json!({"after": null})).await;
    assert_eq!(first["cases"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["cases"]["pageInfo"]["endCursor"].clone();
    let second = app.data(&token, query, json!({"after": cursor})).await;
    assert_eq!(second["cases"]["pageInfo"]["hasNextPage"], false);
    let ids: Vec<_> = [&first, &second]
        .iter()
        .flat_map(|d| d["cases"]["edges"].as_array().unwrap().clone())
        .map(|e| e["node"]["id"].clone())
        .collect();
    assert_eq!(ids.len(), 6);
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(unique.len(), 6);
}

async fn a_case_shows_its_parties_and_they_show_their_cases(app: TestApp) {
    app.seed_demo().await;
    let token = app.token(Role::Plc, &["330110"]);
    let data = app
        .data(
            &token,
            r#"{ caseBySourceKey(source: ENFORCEMENT, sourceKey: "ZFJD-330110-2022-000123") {
                id source version title stage regionCode town agency openedOn caseNumbers
                parties { role nameAsRecorded party { id kind name idNumber creditCode phones
                    cases { totalCount edges { node { source sourceKey } } } } } } }"#,
            json!({}),
        )
        .await;
    let case = &data["caseBySourceKey"];
    assert_eq!(case["stage"], "NOTIFIED");
    assert_eq!(case["openedOn"], "2022-09-01");
    assert_eq!(
        case["caseNumbers"],
        json!(["A3301105400002022090001", "(2022)浙0110民初1234号"])
    );
    let parties = case["parties"].as_array().unwrap();
    assert_eq!(parties.len(), 3);
    assert_eq!(parties[0]["party"]["kind"], "ORGANIZATION");
    assert_eq!(parties[1]["role"], "犯罪嫌疑人");
    assert_eq!(parties[1]["party"]["idNumber"], "11010519491231002X");
    assert_eq!(parties[1]["party"]["cases"]["totalCount"], 2);

    let id = case["id"].clone();
    let node = app
        .data(
            &token,
            "query($id: ID!) { node(id: $id) { id ... on Case { sourceKey } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(node["node"]["sourceKey"], "ZFJD-330110-2022-000123");
}

async fn a_page_of_cases_with_parties_is_batched(app: TestApp) {
    app.seed_demo().await;
    let token = app.token(Role::Admin, &[]);
    let data = app
        .data(
            &token,
            "{ cases(first: 100) { edges { node { parties { party { name } } } } } }",
            json!({}),
        )
        .await;
    let total: usize = data["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["parties"].as_array().unwrap().len())
        .sum();
    assert_eq!(total, 7);
}

async fn me_reports_the_token(app: TestApp) {
    let token = app.token(Role::Congress, &["3301", "330782"]);
    let data = app.data(&token, "{ me { sub role regions } }", json!({})).await;
    assert_eq!(
        data["me"],
        json!({"sub": "test-congress", "role": "congress", "regions": ["3301", "330782"]})
    );
}

on_both_databases!(
    filters_select_what_they_say,
    bad_filter_values_are_bad_user_input,
    pages_follow_cursors_without_gaps_or_repeats,
    a_case_shows_its_parties_and_they_show_their_cases,
    a_page_of_cases_with_parties_is_batched,
    me_reports_the_token,
);
