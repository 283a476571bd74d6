//! `linkage_journal`: cases whose keys or visibility changed, in commit order. Every writer of
//! `cases` or `case_keys` calls [`record`] in the transaction that made the change; gateways
//! read what came after the last row they applied to keep their linkage index current.

use sea_orm::entity::prelude::*;
use sea_orm::{DbBackend, Statement, TransactionSession, TransactionTrait};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "linkage_journal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub case_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The PostgreSQL advisory lock that orders journal writers (an arbitrary constant: "qc-link").
const WRITERS_LOCK: i64 = 0x0071_632d_6c69_6e6b;

const IDS_PER_STATEMENT: usize = 20_000;

/// Notes that the keys or the visibility of `case_ids` changed. Call it last in the writing
/// transaction: on PostgreSQL it takes a transaction-level lock that is held until commit, so
/// rows are numbered in the order their transactions commit and a reader that has applied
/// row N has seen every change committed before it (SQLite has one writer at a time anyway).
pub async fn record<C: ConnectionTrait + TransactionTrait>(db: &C, case_ids: &[i64]) -> Result<(), DbErr> {
    if case_ids.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock($1)",
            [WRITERS_LOCK.into()],
        ))
        .await?;
    }
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO linkage_journal (case_id) SELECT value::bigint FROM json_array_elements_text($1::json)"
        }
        _ => "INSERT INTO linkage_journal (case_id) SELECT value FROM json_each(?)",
    };
    for chunk in case_ids.chunks(IDS_PER_STATEMENT) {
        let json = serde_json::to_string(chunk).map_err(|e| DbErr::Custom(e.to_string()))?;
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, [json.into()]))
            .await?;
    }
    txn.commit().await
}

/// The number of the last journal row (0 when empty).
pub async fn last_seq<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COALESCE(MAX(seq), 0) AS seq FROM linkage_journal",
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<i64>("", "seq")?,
        None => 0,
    })
}
