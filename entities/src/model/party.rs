//! `parties`: one row per real person or organization, merged on exact keys.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "parties")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: crate::PartyKind,
    pub name: String,
    /// Normalized valid resident ID number.
    pub id_number: Option<crate::ids::IdNumber>,
    /// Normalized valid USCC.
    pub credit_code: Option<crate::ids::CreditCode>,
    /// Normalized full phone numbers, as a JSON array of strings.
    pub phones: Json,
    /// The exact key the party was resolved on (`PERSON_ID:…`, `ORG_USCC:…`, `BADGE:…`),
    /// or a per-mention key for a party known by name only.
    #[sea_orm(unique)]
    pub identity: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn phone_list(&self) -> Vec<String> {
        match &self.phones {
            serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }
}
