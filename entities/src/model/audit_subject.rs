//! `audit_subjects`: the cases and parties one audit entry returned, keyed by entry (and
//! indexed by subject).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_subjects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub audit_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub kind: crate::SubjectKind,
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
