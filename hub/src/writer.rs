//! The one writer: files, organization-name passes and pulls write one transaction at a time.

use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};

use crate::ingest_error::Result;

/// Files (and organization-name passes) are written one at a time — in this process by this
/// lock, across processes on PostgreSQL by an advisory lock held until commit: two files
/// carrying versions of the same record, or the same party, would otherwise both find it
/// missing and both insert it.
static WRITER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The advisory lock taken by every file's transaction on PostgreSQL ("qc-ingest").
const WRITERS_LOCK: i64 = 0x7163_2d69_6e67_6573;

/// Opens a writing transaction: waits for the writer in this process, then (PostgreSQL) for
/// writers in other processes. Hold the guard until the transaction ends.
pub async fn begin_writing(
    db: &DatabaseConnection,
) -> Result<(tokio::sync::MutexGuard<'static, ()>, DatabaseTransaction)> {
    let one_writer = WRITER.lock().await;
    let txn = db.begin().await?;
    entities::sql::lock_until_commit(&txn, WRITERS_LOCK).await?;
    Ok((one_writer, txn))
}
