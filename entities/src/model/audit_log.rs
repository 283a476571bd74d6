//! `audit_log`: append-only record of who looked at which cases and parties.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub sub: String,
    pub role: String,
    pub operation: Option<String>,
    /// SHA-256 of the query text, hex.
    pub query_hash: String,
    /// The variables with identifiers masked.
    pub variables: Json,
    pub case_ids: Json,
    pub party_ids: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
