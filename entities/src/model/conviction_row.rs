//! `conviction_rows`: the latest 生效刑事裁判 row of each case number and defendant.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conviction_rows")]
pub struct Model {
    /// The feed's key fields joined with `|`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_key: String,
    /// 案号, normalized.
    pub case_number: String,
    pub id_number: String,
    pub name: Option<String>,
    /// 罪名, a JSON array of strings, former names mapped to current ones.
    pub charges: String,
    pub penalty_kind: Option<String>,
    pub term_months: Option<i32>,
    pub judged_on: Option<Date>,
    pub effective_on: Date,
    pub released_on: Option<Date>,
    /// 从业禁止: the trade it covers (or 全部) and its years.
    pub ban_scope: Option<String>,
    pub ban_years: Option<i32>,
    pub court_region: Option<String>,
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
