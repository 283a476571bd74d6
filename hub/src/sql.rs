//! The SQL dialect fragments the store and the linkage index share, one implementation each
//! for SQLite and PostgreSQL (tested on both: `tests/tests/api/sql_fragments.rs`).

use sea_orm::sea_query::Expr;
use sea_orm::{Condition, DbBackend};

use crate::linkage::Key;

/// `column IN (ids)`, the ids bound as one parameter: one statement text whatever the number
/// of ids, so the database prepares and plans it once per connection. PostgreSQL gets an
/// array (`= ANY`, an index scan over the sorted ids), SQLite a JSON array.
///
/// One id is `column = $1` on PostgreSQL: its generic plan is costed like the custom one, so
/// after five executions the prepared statement stops being planned again; an array's is
/// not (its length is unknown), and planning the participations read cost more than running it.
pub fn ids_in(backend: sea_orm::DbBackend, column: &str, ids: &[i64]) -> sea_orm::sea_query::SimpleExpr {
    match backend {
        sea_orm::DbBackend::Postgres if ids.len() == 1 => {
            sea_orm::sea_query::Expr::cust_with_values(format!("{column} = $1"), [ids[0]])
        }
        sea_orm::DbBackend::Postgres => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            sea_orm::sea_query::Expr::cust_with_values(
                format!("{column} = ANY($1::bigint[])"),
                [format!("{{{}}}", list.join(","))],
            )
        }
        _ => {
            let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
            sea_orm::sea_query::Expr::cust_with_values(format!("{column} IN (SELECT value FROM json_each(?))"), [json])
        }
    }
}

/// `(case_keys.kind, case_keys.value)` among `keys`, bound as one JSON parameter: one
/// statement text whatever the number of keys, so the database prepares and plans it once
/// per connection instead of once per request.
pub fn keys_condition(backend: DbBackend, keys: &[Key]) -> Condition {
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let json = serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into());
    let sql = match backend {
        DbBackend::Postgres => {
            r#"("case_keys"."kind", "case_keys"."value") IN (SELECT x->>0, x->>1 FROM json_array_elements($1::json) AS x)"#
        }
        _ => {
            r#"("case_keys"."kind", "case_keys"."value") IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))"#
        }
    };
    Condition::all().add(Expr::cust_with_values(sql, [json]))
}

/// The advisory-lock key (`entities::sql::lock_until_commit`) of a named thing: the first 8
/// bytes of the SHA-256 of `label` (`model:shell_company`, `employer:9133…`).
pub fn lock_key(label: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(label.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}
