//! The sea-orm entities of the unified model.

pub mod audit_log;
pub mod audit_subject;
pub mod case;
pub mod case_key;
pub mod case_party;
pub mod data_quality_issue;
pub mod governance_warning;
pub mod inspection;
pub mod inspection_problem;
pub mod linkage_journal;
pub mod org_name_scanned;
pub mod org_scan_queue;
pub mod party;
pub mod pull_state;
pub mod quarantine;
pub mod revoked_token;
pub mod source_record;
pub mod supervision_task;
pub mod task_event;
