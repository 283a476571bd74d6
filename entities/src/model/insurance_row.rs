//! `insurance_rows`: the latest 社保缴费 row of each employer and month.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "insurance_rows")]
pub struct Model {
    /// The feed's key fields joined with `|`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_key: String,
    pub credit_code: String,
    /// `YYYY-MM`.
    pub month: String,
    pub employer_name: Option<String>,
    pub insured: i64,
    pub paid_cents: i64,
    /// Sorts like the feed's version.
    pub version: String,
    pub content_hash: String,
    pub file: String,
    pub position: String,
    pub raw: String,
    /// Data-quality issues of the row (a JSON array of `{field, raw_value, issue}`).
    pub issues: String,
    pub loaded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
