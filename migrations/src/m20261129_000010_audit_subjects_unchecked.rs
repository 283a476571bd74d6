//! `audit_subjects` without its foreign key to `audit_log`: subjects are written only with
//! their entry, in the entry's own transaction, and entries are never deleted, so the check
//! guarded nothing — and it was half the cost of writing a chain request's audit entry (one
//! subject row per case handed out).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_REBUILD: &[&str] = &[
    "CREATE TABLE audit_subjects_unchecked (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, \
     audit_id bigint NOT NULL, kind varchar NOT NULL, subject_id bigint NOT NULL)",
    "INSERT INTO audit_subjects_unchecked (id, audit_id, kind, subject_id) \
     SELECT id, audit_id, kind, subject_id FROM audit_subjects",
    "DROP TABLE audit_subjects",
    "ALTER TABLE audit_subjects_unchecked RENAME TO audit_subjects",
    "CREATE INDEX ix_audit_subjects_subject ON audit_subjects (kind, subject_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "ALTER TABLE audit_subjects DROP CONSTRAINT IF EXISTS audit_subjects_audit_id_fkey",
                )
                .await?;
            }
            _ => {
                // One script, so every statement runs on the same connection.
                db.execute_unprepared(&SQLITE_REBUILD.join(";\n")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
