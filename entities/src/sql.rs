//! Two statements the writers share: a bulk insert of many rows in one statement, and a
//! transaction-level advisory lock.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// Rows per statement.
const ROWS_PER_STATEMENT: usize = 5_000;

/// Inserts `rows` (JSON arrays in `columns` order; each column with its PostgreSQL type) into
/// `table`, 5,000 rows per statement with one statement text whatever the number of rows
/// (planned once per connection), and much less to build, send and parse than a multi-row
/// `VALUES` list. PostgreSQL gets one array parameter per column (`unnest`: 10 % faster than
/// reading the rows out of one JSON parameter, which the server re-parses for every field),
/// SQLite one JSON parameter (`json_each`).
pub async fn insert_json<C: ConnectionTrait>(
    db: &C,
    table: &str,
    columns: &[(&str, &str)],
    rows: &[serde_json::Value],
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let sql = insert_sql(backend, table, columns);
    for batch in rows.chunks(ROWS_PER_STATEMENT) {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql.as_str(),
            batch_values(backend, columns, batch),
        ))
        .await?;
    }
    Ok(())
}

/// `insert_json`, returning the `returning` columns of the rows inserted.
pub async fn insert_json_returning<C: ConnectionTrait>(
    db: &C,
    table: &str,
    columns: &[(&str, &str)],
    rows: &[serde_json::Value],
    returning: &str,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!("{} RETURNING {returning}", insert_sql(backend, table, columns));
    let mut out = Vec::with_capacity(rows.len());
    for batch in rows.chunks(ROWS_PER_STATEMENT) {
        out.extend(
            db.query_all_raw(Statement::from_sql_and_values(
                backend,
                sql.as_str(),
                batch_values(backend, columns, batch),
            ))
            .await?,
        );
    }
    Ok(out)
}

fn insert_sql(backend: DbBackend, table: &str, columns: &[(&str, &str)]) -> String {
    let names: Vec<String> = columns.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let (picks, source) = match backend {
        DbBackend::Postgres => {
            let arrays: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, (_, ty))| format!("${}::{ty}[]", i + 1))
                .collect();
            ("*".to_string(), format!("unnest({})", arrays.join(", ")))
        }
        _ => (
            (0..columns.len())
                .map(|i| format!("json_extract(value, '$[{i}]')"))
                .collect::<Vec<_>>()
                .join(", "),
            "json_each(?)".to_string(),
        ),
    };
    format!(
        "INSERT INTO \"{table}\" ({}) SELECT {picks} FROM {source}",
        names.join(", ")
    )
}

/// The parameters of a PostgreSQL `unnest($1::t1[], $2::t2[], …)` over `rows` (JSON arrays,
/// one element per column): one array per column.
pub fn postgres_column_arrays(columns: usize, rows: &[serde_json::Value]) -> Vec<String> {
    (0..columns)
        .map(|i| array_literal(rows.iter().map(|row| row.get(i))))
        .collect()
}

fn batch_values(backend: DbBackend, columns: &[(&str, &str)], batch: &[serde_json::Value]) -> Vec<sea_orm::Value> {
    match backend {
        DbBackend::Postgres => postgres_column_arrays(columns.len(), batch)
            .into_iter()
            .map(Into::into)
            .collect(),
        _ => vec![serde_json::Value::Array(batch.to_vec()).to_string().into()],
    }
}

/// A PostgreSQL array literal (`{"a","b\\"c",NULL}`) of JSON values: strings as they are,
/// other values as JSON text, missing and null ones as NULL. Every element is quoted, so
/// commas, braces, quotes, backslashes and spaces in values are kept as they are.
fn array_literal<'a>(values: impl Iterator<Item = Option<&'a serde_json::Value>>) -> String {
    let mut out = String::from("{");
    for (n, value) in values.enumerate() {
        if n > 0 {
            out.push(',');
        }
        let text = match value {
            None | Some(serde_json::Value::Null) => {
                out.push_str("NULL");
                continue;
            }
            Some(serde_json::Value::String(s)) => std::borrow::Cow::Borrowed(s.as_str()),
            Some(other) => std::borrow::Cow::Owned(other.to_string()),
        };
        out.push('"');
        // Runs without a quote or backslash are copied whole (both are ASCII, so never inside a
        // multi-byte character: every split below is at a character boundary).
        let mut rest: &str = &text;
        while let Some(i) = rest.bytes().position(|b| b == b'"' || b == b'\\') {
            out.push_str(&rest[..i]);
            out.push('\\');
            out.push_str(&rest[i..=i]);
            rest = &rest[i + 1..];
        }
        out.push_str(rest);
        out.push('"');
    }
    out.push('}');
    out
}

/// Takes PostgreSQL advisory lock `key` until the current transaction ends. On SQLite, which
/// has one writer at a time anyway, takes the database's write lock now, before the
/// transaction reads anything: a transaction that read first and then wrote could not wait
/// for another process's writer (SQLite answers "database is locked" at once, as waiting
/// could not give it a current snapshot), while this statement waits out the busy timeout.
pub async fn lock_until_commit<C: ConnectionTrait>(txn: &C, key: i64) -> Result<(), DbErr> {
    let statement = match txn.get_database_backend() {
        DbBackend::Postgres => {
            Statement::from_sql_and_values(DbBackend::Postgres, "SELECT pg_advisory_xact_lock($1)", [key.into()])
        }
        backend => Statement::from_string(backend, "DELETE FROM \"linkage_journal\" WHERE 1 = 0"),
    };
    txn.execute_raw(statement).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::array_literal;
    use serde_json::json;

    #[test]
    fn array_literals_quote_every_element() {
        let row = [
            json!(1),
            json!("a,b"),
            json!("say \"hi\" \\ {x}"),
            json!(null),
            json!(""),
            json!(2.5),
            json!("张三"),
            json!("\"\\末尾\\"),
        ];
        assert_eq!(
            array_literal(row.iter().map(Some).chain([None])),
            r#"{"1","a,b","say \"hi\" \\ {x}",NULL,"","2.5","张三","\"\\末尾\\",NULL}"#
        );
        assert_eq!(array_literal(std::iter::empty()), "{}");
    }
}
