//! `case_parties`: who takes part in a case, in the role the source recorded.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "case_parties")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub case_id: i64,
    pub party_id: i64,
    /// The role as recorded (`犯罪嫌疑人`, `SUSPECT`, `被反映人`, `handling official`, …).
    pub role: String,
    pub name_as_recorded: String,
    /// Order within the record.
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
