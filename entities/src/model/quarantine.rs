//! `quarantine`: input records refused for structural errors, with their raw text.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "quarantine")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The feed the file belongs to (a source, or `INSPECTIONS`).
    pub source: crate::Feed,
    pub file: String,
    /// Where in the file: `line 5`, `row 2`, `item 6`.
    pub position: String,
    /// A stable code: `invalid_json`, `missing_key`, `wrong_field_count`, …
    pub reason: String,
    pub detail: Option<String>,
    pub raw_text: String,
    pub ingested_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
