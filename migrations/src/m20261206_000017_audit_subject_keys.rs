//! On PostgreSQL, an audit entry's subjects move into the entry: `audit_log.subject_keys`
//! (`bigint[]`: each cited case as its id, each cited party as minus its id) under a GIN index,
//! instead of one `audit_subjects` row per subject (a heap row and two b-tree entries each).
//! Measured on a group of 16 entries citing 22 cases each (`bench/audit_designs.sh`): 3.7 ms
//! with rows, 1.8 ms with the array. The array is filled from the entries' own lists
//! (`case_ids`, `party_ids`), which every entry has always held; `audit_subjects` is dropped.
//! SQLite keeps `audit_subjects` (it has neither arrays nor GIN).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The statements on PostgreSQL, run as one script (one transaction).
const POSTGRES: &[&str] = &[
    // No gateway writes an entry between the fill and the index.
    "LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE",
    "ALTER TABLE audit_log ADD COLUMN subject_keys bigint[] NOT NULL DEFAULT '{}'",
    "UPDATE audit_log SET subject_keys = \
     ARRAY(SELECT c::bigint FROM json_array_elements_text(case_ids) c) \
     || ARRAY(SELECT -p::bigint FROM json_array_elements_text(party_ids) p)",
    "CREATE INDEX ix_audit_log_subject_keys ON audit_log USING gin (subject_keys)",
    "DROP TABLE audit_subjects",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&POSTGRES.join(";\n"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
