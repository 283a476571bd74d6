//! `model_runs`: each run of a supervision model.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "model_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub model: String,
    pub as_of: Date,
    /// A lifecycle run (today's date): opens tasks and resolves findings. An evaluation
    /// (explicit `asOf`) does neither.
    pub automatic: bool,
    /// The inputs' state the run saw (see `hub::models::stamp`).
    pub input_stamp: String,
    /// The parameters it ran with, as JSON.
    pub parameters: String,
    pub started_at: DateTimeUtc,
    pub finished_at: DateTimeUtc,
    pub finding_count: i64,
    pub code_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
