//! The read schema: lookups, filters, pagination, parties.

use gateway::auth::Role;
use serde_json::json;
use tests::{on_both_databases, TestApp};

/// `partyName` finds the cases a party of exactly that name takes part in, as the hub knows
/// the name or as a record wrote it; within the viewer's scope; refused to aggregate-only roles.
async fn cases_are_found_by_a_partys_name(app: TestApp) {
    let seeder = hub::demo::Seeder::new(&app.db);
    let mut case = hub::demo::NewCase::new(entities::Source::Social, "NAME-1", "t", Some("330110"));
    case.opened_on = "2023-01-01".parse().ok();
    let id = seeder.case(case).await.unwrap();
    let company = seeder
        .party(
            entities::PartyKind::Organization,
            "杭州名录测试有限公司",
            None,
            None,
            &[],
        )
        .await
        .unwrap();
    seeder
        .join(id, company, "被反映对象", "杭州名录测试有限公司", 0)
        .await
        .unwrap();
    let other = seeder
        .case(hub::demo::NewCase::new(
            entities::Source::Social,
            "NAME-2",
            "t",
            Some("330110"),
        ))
        .await
        .unwrap();
    let person = seeder
        .party(entities::PartyKind::Person, "王某", None, None, &[])
        .await
        .unwrap();
    seeder.join(other, person, "诉求人", "王 某", 0).await.unwrap();
    let query = "query($n: String) { cases(filter: { partyName: $n }) { totalCount nodes { sourceKey } } }";
    let plc = app.token(Role::Plc, &["33"]);
    let data = app.data(&plc, query, json!({"n": " 杭州名录测试有限公司 "})).await;
    assert_eq!(data["cases"]["nodes"], json!([{"sourceKey": "NAME-1"}]));
    let data = app.data(&plc, query, json!({"n": "杭州名录测试"})).await;
    assert_eq!(data["cases"]["totalCount"], 0, "exact names only");
    let elsewhere = app.token(Role::Plc, &["3307"]);
    let data = app.data(&elsewhere, query, json!({"n": "杭州名录测试有限公司"})).await;
    assert_eq!(data["cases"]["totalCount"], 0, "within the scope only");
    let analyst = app.token(Role::Analyst, &["33"]);
    let (_, body) = app
        .graphql(
            &analyst,
            "{ caseStats(filter: { partyName: \"王某\" }, groupBy: []) { count } }",
            json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
}

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

/// The parties of a page's cases are read in one batch however many cases it has, also when
/// each case first reads something else (`provenance`, one statement per case). Counted in
/// statements sent (`qianchuan_db_primary_statements_total`): what asking for the parties adds
/// to a page of 2 cases and to a page of 12 is the same (with a read per case instead of the
/// loader: 4 and 24). The case cache is off, so that every party is read from the database;
/// each count is the fewest of three tries, so that a background statement (the revocations
/// re-read every second) does not count.
async fn a_pages_parties_are_read_in_one_batch_after_another_read(app: TestApp) {
    let dir = tests::TempDir::new("qc-batch-world");
    hub::demo::load_generated_world(&app.db, &dir.0, 300, 5).await.unwrap();
    let token = app.token(Role::Admin, &[]);
    let statements = |query: &'static str, n: usize| {
        let (app, token) = (&app, &token);
        async move {
            let mut fewest = u64::MAX;
            for _ in 0..3 {
                let before = app.metric("qianchuan_db_primary_statements_total").await;
                let data = app.data(token, query, json!({"n": n})).await;
                let after = app.metric("qianchuan_db_primary_statements_total").await;
                let edges = data["cases"]["edges"].as_array().unwrap();
                assert_eq!(edges.len(), n);
                if query.contains("parties") {
                    let parties: usize = edges
                        .iter()
                        .map(|e| e["node"]["parties"].as_array().unwrap().len())
                        .sum();
                    assert!(parties >= n, "{parties} parties for {n} cases");
                }
                fewest = fewest.min(after - before);
            }
            fewest
        }
    };
    let without = "query($n: Int!) { cases(first: $n) { edges { node { provenance { file } } } } }";
    let with =
        "query($n: Int!) { cases(first: $n) { edges { node { provenance { file } parties { party { name } } } } } }";
    let mut added = Vec::new();
    for n in [2, 12] {
        added.push(statements(with, n).await.saturating_sub(statements(without, n).await));
    }
    assert!(added[0] > 0, "the parties are read from the database");
    assert_eq!(added[0], added[1], "statements the parties add to 2 cases and to 12");
}

mod a_pages_parties_are_read_in_one_batch {
    fn no_case_cache(c: &mut gateway::config::Config) {
        c.case_cache_mb = 0;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_sqlite() {
        super::a_pages_parties_are_read_in_one_batch_after_another_read(
            tests::TestApp::sqlite_with(no_case_cache).await,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_postgres() {
        if let Some(app) = tests::TestApp::postgres_with(no_case_cache).await {
            super::a_pages_parties_are_read_in_one_batch_after_another_read(app).await
        }
    }
}

async fn me_reports_the_token(app: TestApp) {
    let token = app.token(Role::Congress, &["3301", "330782"]);
    let data = app.data(&token, "{ me { sub role regions } }", json!({})).await;
    assert_eq!(
        data["me"],
        json!({"sub": "test-congress", "role": "congress", "regions": ["3301", "330782"]})
    );
}

/// `cases(orderBy:)` sorts by opening day (cases without one last ascending) or by update
/// time, ties by id; pages forward and backward (`last`/`before`) give exactly the sorted list,
/// without gaps or repeats, and a cursor stays a valid place when cases are added before it.
async fn cases_sort_and_page_both_ways_with_stable_cursors(app: TestApp) {
    use sea_orm::{ConnectionTrait, Statement};
    let seeder = hub::demo::Seeder::new(&app.db);
    let days = [
        Some("2023-03-01"),
        None,
        Some("2023-01-15"),
        Some("2023-03-01"),
        Some("2022-12-31"),
        None,
        Some("2023-02-01"),
    ];
    let mut ids = Vec::new();
    for (n, day) in days.iter().enumerate() {
        let mut case = hub::demo::NewCase::new(entities::Source::Social, &format!("ORD-{n}"), "t", Some("330110"));
        case.opened_on = day.map(|d| d.parse().unwrap());
        ids.push(seeder.case(case).await.unwrap());
    }
    // Update times out of id order, two of them equal.
    for (id, at) in ids.iter().zip(["05", "03", "07", "03", "01", "06", "02"]) {
        let at = format!("2026-01-01T00:00:{at}Z")
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap();
        app.db
            .execute_raw(Statement::from_sql_and_values(
                app.db.get_database_backend(),
                match app.db.get_database_backend() {
                    sea_orm::DbBackend::Postgres => "UPDATE cases SET updated_at = $1 WHERE id = $2",
                    _ => "UPDATE cases SET updated_at = ? WHERE id = ?",
                },
                [at.into(), (*id).into()],
            ))
            .await
            .unwrap();
    }
    let token = app.token(Role::Admin, &[]);
    let page = |order: serde_json::Value, args: serde_json::Value| {
        let (app, token) = (&app, token.clone());
        async move {
            let data = app
                .data(
                    &token,
                    "query($o: CaseOrder, $first: Int, $after: String, $last: Int, $before: String) {
                       cases(orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
                         totalCount
                         pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
                         edges { cursor node { sourceKey openedOn updatedAt } } } }",
                    json!({ "o": order, "first": args["first"], "after": args["after"], "last": args["last"], "before": args["before"] }),
                )
                .await;
            data["cases"].clone()
        }
    };
    let keys = |conn: &serde_json::Value| -> Vec<String> {
        conn["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["sourceKey"].as_str().unwrap().to_string())
            .collect()
    };
    let expect = |order: &[usize]| -> Vec<String> { order.iter().map(|n| format!("ORD-{n}")).collect() };
    let cases = [
        (json!({"field": "OPENED_ON"}), expect(&[4, 2, 6, 0, 3, 1, 5])),
        (
            json!({"field": "OPENED_ON", "direction": "DESC"}),
            expect(&[5, 1, 3, 0, 6, 2, 4]),
        ),
        (json!({"field": "UPDATED_AT"}), expect(&[4, 6, 1, 3, 0, 5, 2])),
        (
            json!({"field": "UPDATED_AT", "direction": "DESC"}),
            expect(&[2, 5, 0, 3, 1, 6, 4]),
        ),
        (serde_json::Value::Null, expect(&[0, 1, 2, 3, 4, 5, 6])),
    ];
    for (order, sorted) in &cases {
        let whole = page(order.clone(), json!({"first": 100})).await;
        assert_eq!(&keys(&whole), sorted, "{order}");
        // Forward two at a time.
        let (mut seen, mut after) = (Vec::new(), serde_json::Value::Null);
        loop {
            let p = page(order.clone(), json!({"first": 2, "after": after})).await;
            seen.extend(keys(&p));
            assert_eq!(p["pageInfo"]["hasPreviousPage"], !after.is_null(), "{order}");
            if p["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = p["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(&seen, sorted, "forward, {order}");
        // Backward two at a time, from the end.
        let (mut seen, mut before) = (Vec::new(), serde_json::Value::Null);
        loop {
            let p = page(order.clone(), json!({"last": 2, "before": before})).await;
            assert_eq!(p["totalCount"], 7);
            let mut got = keys(&p);
            got.extend(seen);
            seen = got;
            assert_eq!(p["pageInfo"]["hasNextPage"], !before.is_null(), "{order}");
            if p["pageInfo"]["hasPreviousPage"] == false {
                break;
            }
            before = p["pageInfo"]["startCursor"].clone();
        }
        assert_eq!(&seen, sorted, "backward, {order}");
    }

    // A cursor stays a place in the list: a case added before it does not shift the next page.
    let order = json!({"field": "OPENED_ON"});
    let first = page(order.clone(), json!({"first": 3})).await;
    let mut early = hub::demo::NewCase::new(entities::Source::Social, "ORD-early", "t", Some("330110"));
    early.opened_on = Some("2020-01-01".parse().unwrap());
    seeder.case(early).await.unwrap();
    let next = page(
        order.clone(),
        json!({"first": 100, "after": first["pageInfo"]["endCursor"]}),
    )
    .await;
    assert_eq!(keys(&next), expect(&[0, 3, 1, 5]));
    let back = page(
        order.clone(),
        json!({"last": 100, "before": next["pageInfo"]["startCursor"]}),
    )
    .await;
    assert_eq!(keys(&back), ["ORD-early", "ORD-4", "ORD-2", "ORD-6"]);

    // A cursor of another sort, and after with before, are refused.
    let by_update = page(json!({"field": "UPDATED_AT"}), json!({"first": 1})).await;
    for (order, args) in [
        (
            json!({"field": "OPENED_ON"}),
            json!({"after": by_update["pageInfo"]["endCursor"]}),
        ),
        (
            serde_json::Value::Null,
            json!({"before": by_update["pageInfo"]["endCursor"]}),
        ),
        (
            order.clone(),
            json!({"after": first["pageInfo"]["endCursor"], "before": first["pageInfo"]["endCursor"]}),
        ),
    ] {
        let (_, body) = app
            .graphql(
                &token,
                "query($o: CaseOrder, $after: String, $before: String) { cases(orderBy: $o, after: $after, before: $before) { totalCount } }",
                json!({ "o": order, "after": args["after"], "before": args["before"] }),
            )
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    }
}

on_both_databases!(
    cases_are_found_by_a_partys_name,
    cases_sort_and_page_both_ways_with_stable_cursors,
    filters_select_what_they_say,
    bad_filter_values_are_bad_user_input,
    pages_follow_cursors_without_gaps_or_repeats,
    a_case_shows_its_parties_and_they_show_their_cases,
    a_page_of_cases_with_parties_is_batched,
    me_reports_the_token,
);
