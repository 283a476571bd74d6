//! `supervision_tasks`: the hub's own supervision tasks (督办), on a case or a town.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "supervision_tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The case supervised, or none for a task on a town.
    pub case_id: Option<i64>,
    pub region_code: Option<String>,
    pub town: Option<String>,
    /// The department that must answer (an `agency` token's `unit`).
    pub department: String,
    pub title: String,
    pub deadline: Date,
    /// NOTIFIED, RECTIFYING, REVISITED or CLOSED (a task is never DISCOVERED).
    pub stage: crate::LoopStage,
    pub opened_by: String,
    pub opened_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The supervision model's finding the task was opened for.
    pub finding_id: Option<i64>,
    /// 处置结果 given when a finding's task was closed.
    pub disposal: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
