//! `practitioner_codes`: the code of every in-post practitioner and trade, per run of trade_access.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "practitioner_codes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub run_id: i64,
    pub id_number: String,
    pub name: String,
    pub trade: crate::Trade,
    pub color: crate::CodeColor,
    /// The rules that fired, a JSON array of names.
    pub rules: String,
    pub region_code: Option<String>,
    /// `,`-delimited on both sides.
    pub regions: String,
    /// The trade's regulators of the workplaces' regions, `,`-delimited on both sides.
    pub departments: String,
    /// A JSON array of `{creditCode, name}`.
    pub employers: String,
    pub computed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
