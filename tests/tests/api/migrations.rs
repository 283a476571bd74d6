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
        // On PostgreSQL the table went in 000017 (subjects are keys of the entry there).
        "DROP TABLE IF EXISTS audit_subjects".to_string(),
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
    let rows = tests::int_text_int_rows(
        db,
        "SELECT audit_id, kind, subject_id FROM audit_subjects ORDER BY audit_id, kind, subject_id",
    )
    .await;
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

/// PostgreSQL: entries written before their subjects became keys of the entry (000017) get
/// their keys from their own lists — a case as its id, a party as minus its id — and are found
/// by case and by party through the GIN index, a party never by a case of the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_get_their_subject_keys_from_their_lists_in_postgresql() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let db = &app.db;
    let script = [
        "DROP INDEX ix_audit_log_subject_keys",
        "ALTER TABLE audit_log DROP COLUMN subject_keys",
        "CREATE TABLE audit_subjects (audit_id bigint NOT NULL, kind varchar NOT NULL, subject_id bigint NOT NULL, \
         PRIMARY KEY (audit_id, kind, subject_id))",
        "INSERT INTO audit_log (id, at, sub, role, query_hash, variables, case_ids, party_ids) VALUES \
         (1, now(), 'a', 'plc', 'h', 'null', '[7, 8]', '[9]'), \
         (2, now(), 'b', 'plc', 'h', 'null', '[7]', '[]'), \
         (3, now(), 'c', 'plc', 'h', 'null', '[]', '[7]'), \
         (4, now(), 'd', 'citizen', 'h', 'null', '[]', '[]')",
        "DELETE FROM seaql_migrations WHERE version = 'm20261206_000017_audit_subject_keys'",
    ]
    .join(";\n");
    db.execute_unprepared(&script).await.unwrap();
    migrations::Migrator::up(db, None).await.unwrap();
    let found = |key: i64| async move {
        db.query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT id FROM audit_log WHERE subject_keys @> ARRAY[{key}::bigint] ORDER BY id"),
        ))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get_by_index::<i64>(0).unwrap())
        .collect::<Vec<i64>>()
    };
    assert_eq!(found(7).await, vec![1, 2], "case 7");
    assert_eq!(found(-7).await, vec![3], "party 7");
    assert_eq!(found(-9).await, vec![1], "party 9");
    assert_eq!(found(8).await, vec![1], "case 8");
    let table = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_tables WHERE tablename = 'audit_subjects' AND schemaname = current_schema()",
        ))
        .await
        .unwrap();
    assert!(table.is_empty(), "audit_subjects is gone on PostgreSQL");
}

/// PostgreSQL: the audit's GIN index keeps up to 64 MB of new entries before merging them
/// (000018), so that an audited request seldom waits for a merge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_index_keeps_a_large_pending_list_in_postgresql() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let options = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT array_to_string(reloptions, ',') FROM pg_class \
             WHERE relname = 'ix_audit_log_subject_keys' AND relnamespace = current_schema()::regnamespace",
        ))
        .await
        .unwrap()
        .map(|r| r.try_get_by_index::<String>(0).unwrap());
    assert_eq!(options.as_deref(), Some("gin_pending_list_limit=65536"));
}

on_both_databases!(audit_subjects_keep_every_subject_when_keyed_by_entry);
