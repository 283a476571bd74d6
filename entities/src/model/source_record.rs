//! `source_records`: every version of every source record, verbatim (provenance).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "source_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub source: crate::Source,
    pub source_key: String,
    pub version: i32,
    /// SHA-256 of the raw payload, hex.
    pub content_hash: String,
    /// The file or page the record came from.
    pub file: String,
    /// Where in it: `line 12`, `row 4`, `item 6`.
    pub position: String,
    pub payload: String,
    pub ingested_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
