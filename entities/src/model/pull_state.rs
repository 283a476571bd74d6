//! `pull_state`: the watermark of the next incremental pull, per source.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pull_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: crate::Source,
    /// The largest `updatedAt` stored, RFC 3339, as the source wrote it.
    pub watermark: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
