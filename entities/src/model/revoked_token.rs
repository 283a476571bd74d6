//! `revoked_tokens`: token ids (`jti`) revoked before their expiry — the source of truth that
//! every gateway consults (through Redis or its own memory when it can, the table otherwise),
//! so a revocation outlives restarts of gateways and of Redis.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    /// Unix time after which the revocation no longer matters (the token has expired).
    pub until: i64,
    pub revoked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
