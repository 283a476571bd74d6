//! `data_quality_issues`: value errors kept on a stored record (rule 3).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_quality_issues")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub source: crate::Source,
    pub source_key: String,
    pub case_id: Option<i64>,
    /// The field as the source names it (`ZJHM`, `身份证号`, …).
    pub field: String,
    pub raw_value: String,
    /// A stable code: `bad_checksum`, `masked`, `unknown_region`, `bad_date`, …
    pub issue: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
