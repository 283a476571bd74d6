//! `task_events`: every step of a supervision task, with actor, time and note.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    pub at: DateTimeUtc,
    pub actor: String,
    pub role: String,
    pub action: crate::TaskAction,
    pub from_stage: Option<crate::LoopStage>,
    pub to_stage: crate::LoopStage,
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
