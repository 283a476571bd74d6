#[test]
fn schema_graphql_equals_qianchuan_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == gateway::schema_sdl(),
        "schema.graphql is stale: run `cargo run -q -p gateway -- schema > schema.graphql`"
    );
}
