//! `cases`: the current version of every source record, in the unified shape.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Which of the five systems holds the record.
    pub source: crate::Source,
    pub source_key: String,
    pub version: i32,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    /// The loop stage, where the source has a loop.
    pub stage: Option<crate::LoopStage>,
    pub region_code: Option<String>,
    pub town: Option<String>,
    pub agency: Option<String>,
    pub opened_on: Option<Date>,
    pub closed_on: Option<Date>,
    pub deadline_on: Option<Date>,
    /// Normalized case numbers the record carries or cites, as a JSON array of strings.
    pub case_numbers: Json,
    /// A DISCIPLINE clue transferred between discipline bodies and procuratorates.
    pub transferred: bool,
    pub deleted: bool,
    /// The `source_records` row this case shows.
    pub record_id: Option<i64>,
    pub updated_at: DateTimeUtc,
    /// The record's free text (descriptions, allegations, contents), scanned for identifiers
    /// and organization names.
    pub free_text: Option<String>,
    /// SATISFIED, FAIRLY_SATISFIED or DISSATISFIED, as the complainant or deputy recorded it.
    pub satisfaction: Option<crate::Satisfaction>,
    /// Title and summary with every identifier masked (`masked_text`): what masking roles search.
    pub masked_text: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The text a masking role's `text` filter searches: title and summary, identifiers masked.
pub fn masked_text(title: Option<&str>, summary: Option<&str>) -> Option<String> {
    let joined = match (title, summary) {
        (None, None) => return None,
        (Some(t), None) => t.to_string(),
        (None, Some(s)) => s.to_string(),
        (Some(t), Some(s)) => format!("{t}\n{s}"),
    };
    Some(crate::ids::mask_text(&joined).into_owned())
}

impl Model {
    pub fn case_number_list(&self) -> Vec<String> {
        match &self.case_numbers {
            serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }
}
