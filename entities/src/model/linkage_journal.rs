//! `linkage_journal`: cases that changed (their row, keys or parties), in commit order. Every
//! writer of `cases`, `case_keys`, `case_parties` or `parties` calls [`record`] with the cases
//! concerned (for a party: the cases that mention it) in the transaction that made the change;
//! gateways read what came after the last row they applied to keep their linkage index and
//! case cache current.

use sea_orm::entity::prelude::*;
use sea_orm::{QuerySelect, Statement, TransactionSession, TransactionTrait};

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

/// Notes that `case_ids` changed (their rows, keys or parties). Call it last in the writing
/// transaction: on PostgreSQL it takes a transaction-level lock that is held until commit, so
/// rows are numbered in the order their transactions commit and a reader that has applied
/// row N has seen every change committed before it (SQLite has one writer at a time anyway).
pub async fn record<C: ConnectionTrait + TransactionTrait>(db: &C, case_ids: &[i64]) -> Result<(), DbErr> {
    if case_ids.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    crate::sql::lock_until_commit(&txn, WRITERS_LOCK).await?;
    let rows: Vec<serde_json::Value> = case_ids.iter().map(|id| serde_json::json!([id])).collect();
    crate::sql::insert_json(&txn, "linkage_journal", &[("case_id", "bigint")], &rows).await?;
    txn.commit().await
}

/// The number of the last journal row (0 when empty), as one bigint column.
pub const LAST_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) AS seq FROM linkage_journal";

/// The number of the last journal row (0 when empty).
pub async fn last_seq<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let row = db.query_one_raw(Statement::from_string(backend, LAST_SEQ)).await?;
    Ok(match row {
        Some(r) => r.try_get::<i64>("", "seq")?,
        None => 0,
    })
}

/// Rows a load keeps when it prunes the journal: gateways are normally a few rows behind; one
/// further behind than this rebuilds its index.
pub const KEEP_ROWS: i64 = 1_000_000;

/// The `case_id` of the row that marks where older rows were pruned.
pub const PRUNED_MARK: i64 = -1;

/// Keeps the newest `keep` rows: the newest older row becomes a mark ("rows up to here were
/// pruned") and the rows before it are deleted. A gateway that had not applied the rows up to
/// the mark meets it and rebuilds its index. Returns how many rows were deleted.
pub async fn prune<C: ConnectionTrait + TransactionTrait>(db: &C, keep: i64) -> Result<u64, DbErr> {
    let last = last_seq(db).await?;
    let through = last - keep.max(0);
    if through <= 0 {
        return Ok(0);
    }
    let txn = db.begin().await?;
    crate::sql::lock_until_commit(&txn, WRITERS_LOCK).await?;
    let mark: Option<i64> = Entity::find()
        .select_only()
        .column_as(Column::Seq.max(), "seq")
        .filter(Column::Seq.lte(through))
        .into_tuple::<Option<i64>>()
        .one(&txn)
        .await?
        .flatten();
    let Some(mark) = mark else {
        txn.commit().await?;
        return Ok(0);
    };
    Entity::update_many()
        .col_expr(Column::CaseId, sea_orm::sea_query::Expr::value(PRUNED_MARK))
        .filter(Column::Seq.eq(mark))
        .exec(&txn)
        .await?;
    let deleted = Entity::delete_many().filter(Column::Seq.lt(mark)).exec(&txn).await?;
    txn.commit().await?;
    Ok(deleted.rows_affected)
}
