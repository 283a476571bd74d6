//! `inspection_problems`: the problems an inspection found, each with the supervision task
//! it opened on its town.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inspection_problems")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub inspection_id: String,
    /// The problem's place in its inspection, from 1.
    pub seq: i32,
    pub category: String,
    pub description: String,
    pub severity: i32,
    pub task_id: Option<i64>,
    /// The CSV row it was read from, for a loaded inspection.
    pub position: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
