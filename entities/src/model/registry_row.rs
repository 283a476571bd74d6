//! `registry_rows`: the latest 市场主体登记 row of each enterprise.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registry_rows")]
pub struct Model {
    /// The feed's key fields joined with `|`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_key: String,
    pub credit_code: String,
    pub name: String,
    /// The name by the organization-name rules.
    pub name_norm: String,
    pub enterprise_type: Option<String>,
    pub legal_rep: Option<String>,
    /// The legal representative's valid ID number.
    pub legal_rep_id: Option<String>,
    pub established_on: Option<Date>,
    /// 登记状态 as written: 存续 / 在业 / 吊销 / 注销 / 迁出.
    pub status: String,
    pub address: Option<String>,
    pub region_code: Option<String>,
    pub business_scope: Option<String>,
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
