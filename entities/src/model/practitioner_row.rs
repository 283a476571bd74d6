//! `practitioner_rows`: the latest row of each practitioner, trade and employer.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "practitioner_rows")]
pub struct Model {
    /// The feed's key fields joined with `|`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_key: String,
    pub id_number: String,
    pub name: String,
    pub trade: crate::Trade,
    pub post: Option<String>,
    pub certificate: Option<String>,
    pub employer_credit_code: String,
    pub employer_name: Option<String>,
    /// 从业状态 在岗.
    pub in_post: bool,
    /// The workplace's region.
    pub region_code: Option<String>,
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
