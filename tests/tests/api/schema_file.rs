#[test]
fn schema_graphql_equals_qianchuan_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == gateway::schema_sdl(),
        "schema.graphql is stale: run `cargo run -q -p gateway -- schema > schema.graphql`"
    );
}

/// Codegen types the custom scalars by their specifications (`specifiedByURL`), not `unknown`.
#[tokio::test]
async fn custom_scalars_name_their_specification() {
    let app = tests::TestApp::sqlite().await;
    let admin = app.token(gateway::auth::Role::Admin, &[]);
    for scalar in ["Date", "DateTime", "JSON"] {
        let data = app
            .data(
                &admin,
                "query($n: String!) { __type(name: $n) { kind specifiedByURL } }",
                serde_json::json!({"n": scalar}),
            )
            .await;
        assert_eq!(data["__type"]["kind"], "SCALAR");
        assert!(
            data["__type"]["specifiedByURL"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://")),
            "{scalar}: {data}"
        );
    }
}
