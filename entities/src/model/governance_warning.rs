//! `governance_warnings`: each warning the governance index raised for a town and month, at
//! each step (REMIND, SUPERVISE, INTERVIEW), once — with the supervision task it opened.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "governance_warnings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub region_code: String,
    pub town: String,
    /// `YYYY-MM`.
    pub month: String,
    pub action: crate::WarningAction,
    pub color: crate::WarningColor,
    pub index: f64,
    /// The supervision task the warning opened.
    pub task_id: Option<i64>,
    pub raised_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
