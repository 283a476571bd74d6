//! The reference feeds (`sources/reference.md`), the supervision models' runs, findings and
//! practitioner codes, employers' code look-ups, and the task a finding opens.
//!
//! Every reference table has the same provenance columns (`row_key`: the feed's key fields
//! joined; `version`: a text that sorts like the feed's version; the file, position and raw
//! text of the row) so one loader serves all five; earlier versions move to
//! `reference_versions`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PROVENANCE: &str = "version TEXT NOT NULL, content_hash TEXT NOT NULL, file TEXT NOT NULL, \
     position TEXT NOT NULL, raw TEXT NOT NULL, issues TEXT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL";

fn statements(backend: DbBackend) -> Vec<String> {
    let serial = match backend {
        DbBackend::Postgres => "BIGSERIAL PRIMARY KEY",
        _ => "INTEGER PRIMARY KEY AUTOINCREMENT",
    };
    vec![
        format!(
            "CREATE TABLE registry_rows (row_key TEXT PRIMARY KEY, credit_code TEXT NOT NULL, name TEXT NOT NULL, \
             name_norm TEXT NOT NULL, enterprise_type TEXT, legal_rep TEXT, legal_rep_id TEXT, established_on DATE, \
             status TEXT NOT NULL, address TEXT, region_code TEXT, business_scope TEXT, {PROVENANCE})"
        ),
        "CREATE INDEX registry_rows_name ON registry_rows (name_norm)".into(),
        format!(
            "CREATE TABLE insurance_rows (row_key TEXT PRIMARY KEY, credit_code TEXT NOT NULL, month TEXT NOT NULL, \
             employer_name TEXT, insured BIGINT NOT NULL, paid_cents BIGINT NOT NULL, {PROVENANCE})"
        ),
        "CREATE INDEX insurance_rows_code_month ON insurance_rows (credit_code, month)".into(),
        format!(
            "CREATE TABLE tax_rows (row_key TEXT PRIMARY KEY, credit_code TEXT NOT NULL, period TEXT NOT NULL, \
             taxpayer_name TEXT, due_cents BIGINT NOT NULL, paid_cents BIGINT NOT NULL, declared_on DATE NOT NULL, {PROVENANCE})"
        ),
        "CREATE INDEX tax_rows_code_period ON tax_rows (credit_code, period)".into(),
        format!(
            "CREATE TABLE practitioner_rows (row_key TEXT PRIMARY KEY, id_number TEXT NOT NULL, name TEXT NOT NULL, \
             trade TEXT NOT NULL, post TEXT, certificate TEXT, employer_credit_code TEXT NOT NULL, employer_name TEXT, \
             in_post BOOLEAN NOT NULL, region_code TEXT, {PROVENANCE})"
        ),
        "CREATE INDEX practitioner_rows_person ON practitioner_rows (id_number)".into(),
        format!(
            "CREATE TABLE conviction_rows (row_key TEXT PRIMARY KEY, case_number TEXT NOT NULL, id_number TEXT NOT NULL, \
             name TEXT, charges TEXT NOT NULL, penalty_kind TEXT, term_months INTEGER, judged_on DATE, \
             effective_on DATE NOT NULL, released_on DATE, ban_scope TEXT, ban_years INTEGER, court_region TEXT, {PROVENANCE})"
        ),
        "CREATE INDEX conviction_rows_person ON conviction_rows (id_number)".into(),
        "CREATE INDEX conviction_rows_case_number ON conviction_rows (case_number)".into(),
        format!(
            "CREATE TABLE reference_versions (id {serial}, feed TEXT NOT NULL, row_key TEXT NOT NULL, \
             version TEXT NOT NULL, content_hash TEXT NOT NULL, file TEXT NOT NULL, position TEXT NOT NULL, \
             raw TEXT NOT NULL, kept_at TIMESTAMPTZ NOT NULL)"
        ),
        "CREATE INDEX reference_versions_key ON reference_versions (feed, row_key)".into(),
        "CREATE TABLE data_stamps (name TEXT PRIMARY KEY, value BIGINT NOT NULL)".into(),
        format!(
            "CREATE TABLE model_runs (id {serial}, model TEXT NOT NULL, as_of DATE NOT NULL, automatic BOOLEAN NOT NULL, \
             input_stamp TEXT NOT NULL, parameters TEXT NOT NULL, started_at TIMESTAMPTZ NOT NULL, \
             finished_at TIMESTAMPTZ NOT NULL, finding_count BIGINT NOT NULL, code_count BIGINT NOT NULL)"
        ),
        "CREATE INDEX model_runs_model ON model_runs (model, automatic, as_of)".into(),
        format!(
            "CREATE TABLE findings (id {serial}, model TEXT NOT NULL, run_id BIGINT NOT NULL, automatic BOOLEAN NOT NULL, \
             as_of DATE NOT NULL, subject_key TEXT NOT NULL, subject_kind TEXT NOT NULL, party_id BIGINT NOT NULL, \
             trade TEXT, level TEXT NOT NULL, rules TEXT NOT NULL, evidence TEXT NOT NULL, evidence_stamp TEXT NOT NULL, \
             status TEXT NOT NULL, region_code TEXT, regions TEXT NOT NULL, departments TEXT NOT NULL, disposal TEXT, \
             exempt_reason TEXT, exempt_stamp TEXT, raised_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL)"
        ),
        "CREATE INDEX findings_run ON findings (run_id, id)".into(),
        "CREATE INDEX findings_subject ON findings (model, automatic, subject_key)".into(),
        format!(
            "CREATE TABLE finding_events (id {serial}, finding_id BIGINT NOT NULL, at TIMESTAMPTZ NOT NULL, \
             actor TEXT NOT NULL, from_status TEXT, to_status TEXT NOT NULL, note TEXT)"
        ),
        "CREATE INDEX finding_events_finding ON finding_events (finding_id, id)".into(),
        format!(
            "CREATE TABLE practitioner_codes (id {serial}, run_id BIGINT NOT NULL, id_number TEXT NOT NULL, \
             name TEXT NOT NULL, trade TEXT NOT NULL, color TEXT NOT NULL, rules TEXT NOT NULL, region_code TEXT, \
             regions TEXT NOT NULL, departments TEXT NOT NULL, employers TEXT NOT NULL, computed_at TIMESTAMPTZ NOT NULL)"
        ),
        "CREATE INDEX practitioner_codes_run ON practitioner_codes (run_id, id)".into(),
        "CREATE INDEX practitioner_codes_person ON practitioner_codes (run_id, id_number)".into(),
        format!(
            "CREATE TABLE code_lookups (id {serial}, employer TEXT NOT NULL, sub TEXT NOT NULL, id_number TEXT NOT NULL, \
             trade TEXT NOT NULL, day TEXT NOT NULL, at TIMESTAMPTZ NOT NULL, color TEXT)"
        ),
        "CREATE INDEX code_lookups_employer_day ON code_lookups (employer, day)".into(),
        "ALTER TABLE supervision_tasks ADD COLUMN finding_id BIGINT".into(),
        "ALTER TABLE supervision_tasks ADD COLUMN disposal TEXT".into(),
        "CREATE INDEX supervision_tasks_finding ON supervision_tasks (finding_id)".into(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in statements(db.get_database_backend()) {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for table in [
            "registry_rows",
            "insurance_rows",
            "tax_rows",
            "practitioner_rows",
            "conviction_rows",
            "reference_versions",
            "data_stamps",
            "model_runs",
            "findings",
            "finding_events",
            "practitioner_codes",
            "code_lookups",
        ] {
            db.execute_unprepared(&format!("DROP TABLE {table}")).await?;
        }
        db.execute_unprepared("DROP INDEX supervision_tasks_finding").await?;
        db.execute_unprepared("ALTER TABLE supervision_tasks DROP COLUMN disposal")
            .await?;
        db.execute_unprepared("ALTER TABLE supervision_tasks DROP COLUMN finding_id")
            .await?;
        Ok(())
    }
}
