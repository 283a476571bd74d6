//! `findings`: what a supervision model found: one row per subject of a lifecycle, or per subject of an evaluation run.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "findings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub model: String,
    /// The latest run that found it.
    pub run_id: i64,
    pub automatic: bool,
    pub as_of: Date,
    /// A credit code (shell_company), or `ID number|TRADE` (trade_access).
    pub subject_key: String,
    pub subject_kind: crate::PartyKind,
    pub party_id: i64,
    pub trade: Option<crate::Trade>,
    pub level: crate::FindingLevel,
    /// The rules that fired, a JSON array of names.
    pub rules: String,
    /// A JSON array of evidence items (`hub::models::Evidence`).
    pub evidence: String,
    /// The evidence rows' ids and versions, hashed: what an exemption was given on.
    pub evidence_stamp: String,
    pub status: crate::FindingStatus,
    pub region_code: Option<String>,
    /// Every region of the subject, `,`-delimited on both sides (`,330110,330782,`).
    pub regions: String,
    /// The receiving departments, `,`-delimited on both sides.
    pub departments: String,
    pub disposal: Option<String>,
    pub exempt_reason: Option<String>,
    /// The evidence stamp an exemption (or 核实正常经营) was given on.
    pub exempt_stamp: Option<String>,
    pub raised_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
