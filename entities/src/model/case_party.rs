//! `case_parties`: who takes part in a case, in the role the source recorded.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
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
    /// The party as this record names it (normalized).
    pub name: Option<String>,
    /// The ID number this record gives for the party.
    pub id_number: Option<crate::ids::IdNumber>,
    /// The credit code this record gives for the party.
    pub credit_code: Option<crate::ids::CreditCode>,
    /// The full phones this record gives for the party, a JSON array of strings.
    pub phones: Option<Json>,
}

impl Model {
    pub fn phone_list(&self) -> Vec<String> {
        match &self.phones {
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
            }
            _ => Vec::new(),
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
