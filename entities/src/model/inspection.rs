//! `inspections`: 平安督 inspections, one row per inspection, immutable once recorded.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inspections")]
pub struct Model {
    /// The inspection's own id (given by an offline record, or generated).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub region_code: String,
    pub town: String,
    /// The 点位 inspected.
    pub point: String,
    pub point_type: String,
    pub inspected_at: DateTimeUtc,
    /// The token subject that recorded it (`ingest` for a file).
    pub recorded_by: String,
    /// The inspection team (`unit` claim) that recorded it.
    pub unit: Option<String>,
    pub recorded_at: DateTimeUtc,
    /// Where it came from: `recordInspection`, or the file it was loaded from.
    pub file: String,
    /// SHA-256 of the inspection's content, to tell a repeat from a conflict.
    pub content_hash: String,
    /// The inspection this one corrects (which stays, as history, but no longer counts).
    pub corrects: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
