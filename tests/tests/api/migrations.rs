//! Migrations that move rows keep them.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;
use tests::{on_both_databases, TestApp};

/// `audit_subjects` as it was before it was keyed by entry — a surrogate `id`, and one subject
/// written twice for an entry — migrated again: every subject is kept, once.
async fn audit_subjects_keep_every_subject_when_keyed_by_entry(app: TestApp) {
    let db = &app.db;
    let backend = db.get_database_backend();
    let serial = match backend {
        DbBackend::Postgres => "bigserial PRIMARY KEY",
        _ => "integer NOT NULL PRIMARY KEY AUTOINCREMENT",
    };
    // One script, so every statement runs on the same connection.
    let script = [
        "DROP TABLE audit_subjects".to_string(),
        format!(
            "CREATE TABLE audit_subjects (id {serial}, audit_id bigint NOT NULL, kind varchar NOT NULL, \
             subject_id bigint NOT NULL)"
        ),
        "CREATE INDEX ix_audit_subjects_subject ON audit_subjects (kind, subject_id)".to_string(),
        "INSERT INTO audit_subjects (audit_id, kind, subject_id) \
         VALUES (1, 'CASE', 7), (1, 'PARTY', 9), (2, 'CASE', 7), (2, 'CASE', 7), (3, 'PARTY', 9)"
            .to_string(),
        "DELETE FROM seaql_migrations WHERE version = 'm20261205_000016_audit_subjects_by_entry'".to_string(),
    ]
    .join(";\n");
    db.execute_unprepared(&script).await.unwrap();
    migrations::Migrator::up(db, None).await.unwrap();
    let rows: Vec<(i64, String, i64)> = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT audit_id, kind, subject_id FROM audit_subjects ORDER BY audit_id, kind, subject_id",
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
                r.try_get_by_index(2).unwrap(),
            )
        })
        .collect();
    let expected = [(1, "CASE", 7), (1, "PARTY", 9), (2, "CASE", 7), (3, "PARTY", 9)];
    assert_eq!(
        rows,
        expected.map(|(a, k, s)| (a, k.to_string(), s)).to_vec(),
        "every subject once"
    );
    // Keyed by entry: an entry cites a subject once.
    assert!(db
        .execute_unprepared("INSERT INTO audit_subjects (audit_id, kind, subject_id) VALUES (1, 'CASE', 7)")
        .await
        .is_err());
    // Read by subject as before.
    let cited = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT audit_id FROM audit_subjects WHERE kind = 'PARTY' AND subject_id = 9 ORDER BY audit_id",
        ))
        .await
        .unwrap()
        .len();
    assert_eq!(cited, 2);
}

on_both_databases!(audit_subjects_keep_every_subject_when_keyed_by_entry);
