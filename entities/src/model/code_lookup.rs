//! `code_lookups`: every employer look-up of a practitioner code (audit and daily limit).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "code_lookups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The employer's credit code (`uscc` claim).
    pub employer: String,
    pub sub: String,
    pub id_number: String,
    pub trade: crate::Trade,
    /// The calendar day in Asia/Shanghai, `YYYY-MM-DD`.
    pub day: String,
    pub at: DateTimeUtc,
    pub color: Option<crate::CodeColor>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
