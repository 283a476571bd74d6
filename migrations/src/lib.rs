//! Qianchuan's schema migrations: one file per change, the same on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_unified_model;
mod m20261128_000002_case_free_text;
mod m20261128_000003_pull_state;
mod m20261128_000004_audit_subjects;
mod m20261128_000005_supervision_tasks;
mod m20261129_000006_case_satisfaction;
mod m20261129_000007_governance_warnings;
mod m20261129_000008_org_name_scan;
mod m20261129_000009_linkage_journal;
mod m20261129_000010_audit_subjects_unchecked;
mod m20261201_000011_case_masked_text;
mod m20261201_000012_mention_attributes;
mod m20261201_000013_revoked_tokens;
mod m20261202_000014_inspections;
mod m20261202_000015_supervision_models;
mod m20261205_000016_audit_subjects_by_entry;
mod m20261206_000017_audit_subject_keys;
mod m20261206_000018_audit_pending_list;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_unified_model::Migration),
            Box::new(m20261128_000002_case_free_text::Migration),
            Box::new(m20261128_000003_pull_state::Migration),
            Box::new(m20261128_000004_audit_subjects::Migration),
            Box::new(m20261128_000005_supervision_tasks::Migration),
            Box::new(m20261129_000006_case_satisfaction::Migration),
            Box::new(m20261129_000007_governance_warnings::Migration),
            Box::new(m20261129_000008_org_name_scan::Migration),
            Box::new(m20261129_000009_linkage_journal::Migration),
            Box::new(m20261129_000010_audit_subjects_unchecked::Migration),
            Box::new(m20261201_000011_case_masked_text::Migration),
            Box::new(m20261201_000012_mention_attributes::Migration),
            Box::new(m20261201_000013_revoked_tokens::Migration),
            Box::new(m20261202_000014_inspections::Migration),
            Box::new(m20261202_000015_supervision_models::Migration),
            Box::new(m20261205_000016_audit_subjects_by_entry::Migration),
            Box::new(m20261206_000017_audit_subject_keys::Migration),
            Box::new(m20261206_000018_audit_pending_list::Migration),
        ]
    }
}
