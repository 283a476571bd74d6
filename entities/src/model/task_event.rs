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
    /// OPEN, ANSWER, REVISIT, CLOSE, RETURN.
    pub action: String,
    pub from_stage: Option<String>,
    pub to_stage: String,
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
