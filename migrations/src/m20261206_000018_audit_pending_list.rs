//! On PostgreSQL, the GIN index over `audit_log.subject_keys` keeps up to 64 MB of new entries
//! in its pending list (PostgreSQL's default is 4 MB) before merging them into the index.
//! Every audited request waits for its entry's group to commit, and a group that fills the
//! pending list merges it before committing: with 4 MB that happened every ~9,000 chain
//! entries, each merge stalling the one audit writer, and merging many small lists costs more
//! than merging few large ones (README, "The audit index's pending list"). Autovacuum and
//! larger merges do the work in bulk. The price: a search by subject (`auditLog` with `caseId`
//! or `partyId`) also reads the entries not yet merged, up to 64 MB (about 140,000 entries of a
//! depth-3 chain) — tens of milliseconds at most, on a log auditors read and requests write.
//! SQLite has no GIN: nothing to do there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            "ALTER INDEX ix_audit_log_subject_keys SET (gin_pending_list_limit = 65536)",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            "ALTER INDEX ix_audit_log_subject_keys RESET (gin_pending_list_limit)",
        )
        .await
    }
}

async fn on_postgres(manager: &SchemaManager<'_>, statement: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager.get_connection().execute_unprepared(statement).await?;
    }
    Ok(())
}
