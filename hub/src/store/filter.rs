//! `CaseFilter` as SQL conditions on `cases`.

use entities::ids::{exact_keys, CaseNumber};
use entities::{case, case_key, case_party, LoopStage, Source};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ColumnTrait, Condition};

use crate::error::{Error, Result};

/// A filter over cases, already validated.
#[derive(Debug, Default, Clone)]
pub struct CaseQuery {
    pub sources: Option<Vec<Source>>,
    pub region_prefix: Option<String>,
    pub case_number: Option<String>,
    pub party_id: Option<i64>,
    pub identifier: Option<String>,
    /// A party's exact name (as the hub knows it, or as a record wrote it).
    pub party_name: Option<String>,
    pub text: Option<String>,
    /// Match `text` against the masked text (`cases.masked_text`), for masking roles: a search
    /// can then never confirm a hidden digit.
    pub text_masked: bool,
    pub opened_from: Option<chrono::NaiveDate>,
    pub opened_to: Option<chrono::NaiveDate>,
    pub stages: Option<Vec<LoopStage>>,
}

impl CaseQuery {
    /// The filter's condition (the scope is added separately by the store).
    pub fn condition(&self) -> Result<Condition> {
        let mut c = Condition::all();
        if let Some(sources) = &self.sources {
            c = c.add(case::Column::Source.is_in(sources.iter().copied()));
        }
        if let Some(prefix) = &self.region_prefix {
            if !entities::ids::region::is_region_prefix(prefix) {
                return Err(Error::bad_input("regionPrefix must be 1 to 6 digits"));
            }
            c = c.add(case::Column::RegionCode.starts_with(prefix.as_str()));
        }
        if let Some(raw) = &self.case_number {
            let number = CaseNumber::parse(raw)
                .map_err(|e| Error::bad_input(format!("caseNumber {raw:?} is not a case number: {e}")))?;
            c = c.add(cases_with_keys(&[(
                entities::LinkKind::CaseNo,
                number.as_str().to_string(),
            )]));
        }
        if let Some(raw) = &self.identifier {
            let keys = exact_keys(raw);
            if keys.is_empty() {
                return Err(Error::bad_input(format!(
                    "identifier {raw:?} is not an ID number, credit code, phone or case number"
                )));
            }
            c = c.add(cases_with_keys(&keys));
        }
        if let Some(party) = self.party_id {
            c = c.add(
                case::Column::Id.in_subquery(
                    Query::select()
                        .column(case_party::Column::CaseId)
                        .from(case_party::Entity)
                        .and_where(case_party::Column::PartyId.eq(party))
                        .to_owned(),
                ),
            );
        }
        if let Some(name) = self.party_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            c = c.add(
                case::Column::Id.in_subquery(
                    Query::select()
                        .column(case_party::Column::CaseId)
                        .from(case_party::Entity)
                        .cond_where(
                            Condition::any().add(case_party::Column::NameAsRecorded.eq(name)).add(
                                case_party::Column::PartyId.in_subquery(
                                    Query::select()
                                        .column(entities::party::Column::Id)
                                        .from(entities::party::Entity)
                                        .and_where(entities::party::Column::Name.eq(name))
                                        .to_owned(),
                                ),
                            ),
                        )
                        .to_owned(),
                ),
            );
        }
        if let Some(text) = self.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let pattern = format!("%{}%", escape_like(text));
            c = c.add(if self.text_masked {
                Condition::all().add(Expr::col(case::Column::MaskedText).like(LikeExpr::new(pattern).escape('\\')))
            } else {
                Condition::any()
                    .add(Expr::col(case::Column::Title).like(LikeExpr::new(pattern.clone()).escape('\\')))
                    .add(Expr::col(case::Column::Summary).like(LikeExpr::new(pattern).escape('\\')))
            });
        }
        if let Some(from) = self.opened_from {
            c = c.add(case::Column::OpenedOn.gte(from));
        }
        if let Some(to) = self.opened_to {
            c = c.add(case::Column::OpenedOn.lte(to));
        }
        if let Some(stages) = &self.stages {
            c = c.add(case::Column::Stage.is_in(stages.iter().copied()));
        }
        Ok(c)
    }
}

fn cases_with_keys(keys: &[(entities::LinkKind, String)]) -> Condition {
    let mut any = Condition::any();
    for (kind, value) in keys {
        any = any.add(
            Condition::all()
                .add(case_key::Column::Kind.eq(*kind))
                .add(case_key::Column::Value.eq(value.as_str())),
        );
    }
    Condition::all().add(
        case::Column::Id.in_subquery(
            Query::select()
                .column(case_key::Column::CaseId)
                .from(case_key::Entity)
                .cond_where(any)
                .to_owned(),
        ),
    )
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
