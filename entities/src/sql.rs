//! Two statements the writers share: a bulk insert with one JSON parameter, and a
//! transaction-level advisory lock.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// Rows per JSON statement.
const ROWS_PER_JSON: usize = 5_000;

/// Inserts `rows` (JSON arrays in `columns` order; each column with its PostgreSQL type) into
/// `table`, one statement and one JSON parameter per 5,000 rows: one statement text whatever the
/// number of rows (planned once per connection), and much less to build, send and parse than a
/// multi-row `VALUES` list. SQLite reads the same JSON with `json_each`.
pub async fn insert_json<C: ConnectionTrait>(
    db: &C,
    table: &str,
    columns: &[(&str, &str)],
    rows: &[serde_json::Value],
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let names: Vec<String> = columns.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let (picks, source): (Vec<String>, &str) = match backend {
        DbBackend::Postgres => (
            columns
                .iter()
                .enumerate()
                .map(|(i, (_, ty))| format!("(r->>{i})::{ty}"))
                .collect(),
            "json_array_elements($1::json) AS r",
        ),
        _ => (
            (0..columns.len())
                .map(|i| format!("json_extract(value, '$[{i}]')"))
                .collect(),
            "json_each(?)",
        ),
    };
    let sql = format!(
        "INSERT INTO \"{table}\" ({}) SELECT {} FROM {source}",
        names.join(", "),
        picks.join(", ")
    );
    for batch in rows.chunks(ROWS_PER_JSON) {
        let json = serde_json::Value::Array(batch.to_vec()).to_string();
        db.execute_raw(Statement::from_sql_and_values(backend, sql.as_str(), [json.into()]))
            .await?;
    }
    Ok(())
}

/// Takes PostgreSQL advisory lock `key` until the current transaction ends (nothing on
/// SQLite, which has one writer at a time anyway).
pub async fn lock_until_commit<C: ConnectionTrait>(txn: &C, key: i64) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}
