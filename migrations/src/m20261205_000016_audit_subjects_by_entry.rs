//! `audit_subjects` keyed by entry: the primary key `(audit_id, kind, subject_id)` replaces the
//! surrogate `id`, so an entry's subjects are found from the entry — an auditor's page checks
//! the newest entries one by one, and an entry citing nothing is one index probe — at no extra
//! write cost (still two b-trees per row: the key, and the index by subject).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn statements(backend: DbBackend) -> Vec<String> {
    // On SQLite the table is its key's b-tree.
    let without_rowid = match backend {
        DbBackend::Sqlite => " WITHOUT ROWID",
        _ => "",
    };
    let mut script = Vec::new();
    if backend == DbBackend::Postgres {
        // No gateway writes a subject into the old table between the copy and the drop.
        script.push("LOCK TABLE audit_subjects IN SHARE ROW EXCLUSIVE MODE".to_string());
    }
    script.extend([
        format!(
            "CREATE TABLE audit_subjects_by_entry (audit_id bigint NOT NULL, kind varchar NOT NULL, \
             subject_id bigint NOT NULL, PRIMARY KEY (audit_id, kind, subject_id)){without_rowid}"
        ),
        // `WHERE true` keeps SQLite from reading `ON CONFLICT` as a join's `ON`.
        "INSERT INTO audit_subjects_by_entry (audit_id, kind, subject_id) \
         SELECT audit_id, kind, subject_id FROM audit_subjects WHERE true ON CONFLICT DO NOTHING"
            .into(),
        "DROP TABLE audit_subjects".into(),
        "ALTER TABLE audit_subjects_by_entry RENAME TO audit_subjects".into(),
        "CREATE INDEX ix_audit_subjects_subject ON audit_subjects (kind, subject_id)".into(),
    ]);
    if backend == DbBackend::Postgres {
        script.push("ALTER INDEX audit_subjects_by_entry_pkey RENAME TO audit_subjects_pkey".to_string());
    }
    script
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One script, so every statement runs on the same connection (and, on PostgreSQL, in
        // one transaction).
        let script = statements(manager.get_database_backend()).join(";\n");
        manager.get_connection().execute_unprepared(&script).await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
