//! `CaseFilter`: which cases a list, a count or an aggregate is over.

use async_graphql::{InputObject, ID};
use hub::policy::{FilterField, Scope};
use hub::store::CaseQuery;

use super::scalars::{parse_id_of, Date, NodeKind};
use super::types::{LoopStage, Source};

/// Which cases to list. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct CaseFilter {
    /// Only these sources.
    pub sources: Option<Vec<Source>>,
    /// Region codes starting with this prefix (`3301`: all of Hangzhou).
    pub region_prefix: Option<String>,
    /// Cases carrying or citing this case number, in any spelling.
    pub case_number: Option<String>,
    /// Cases this party takes part in.
    pub party_id: Option<ID>,
    /// Any ID number, USCC, phone or case number, in any spelling.
    pub identifier: Option<String>,
    /// Words in the title or summary.
    pub text: Option<String>,
    /// Cases a party of exactly this name takes part in (a person's or a company's name, as
    /// the hub knows it or as a record wrote it).
    pub party_name: Option<String>,
    /// Opened on or after.
    pub opened_from: Option<Date>,
    /// Opened on or before.
    pub opened_to: Option<Date>,
    /// Only these loop stages.
    pub stages: Option<Vec<LoopStage>>,
}

impl CaseFilter {
    /// The filter as a store query, for a viewer with `scope`: filters that would confirm a
    /// value the role may not read are `FORBIDDEN` (the policy decides which), strings with
    /// NUL characters are `BAD_USER_INPUT`, lists are deduplicated.
    pub fn to_query(&self, scope: &Scope) -> Result<CaseQuery, crate::error::ApiError> {
        let used = [
            (FilterField::Identifier, self.identifier.is_some()),
            (FilterField::PartyId, self.party_id.is_some()),
            (FilterField::CaseNumber, self.case_number.is_some()),
            (FilterField::Text, self.text.is_some()),
            (FilterField::PartyName, self.party_name.is_some()),
        ];
        for (field, present) in used {
            if present && !scope.may_filter_by(field) {
                return Err(crate::error::ApiError::Forbidden);
            }
        }
        for value in [
            &self.region_prefix,
            &self.case_number,
            &self.identifier,
            &self.text,
            &self.party_name,
        ]
        .into_iter()
        .flatten()
        {
            if value.contains('\0') {
                return Err(crate::error::ApiError::bad_input(
                    "filter strings must not contain NUL characters",
                ));
            }
        }
        let mut sources: Option<Vec<entities::Source>> =
            self.sources.as_ref().map(|v| v.iter().map(|s| (*s).into()).collect());
        if let Some(list) = sources.as_mut() {
            list.sort_by_key(|s| s.as_str());
            list.dedup();
        }
        let mut stages: Option<Vec<entities::LoopStage>> =
            self.stages.as_ref().map(|v| v.iter().map(|s| (*s).into()).collect());
        if let Some(list) = stages.as_mut() {
            list.sort_by_key(|s| s.as_str());
            list.dedup();
        }
        Ok(CaseQuery {
            sources,
            region_prefix: self.region_prefix.clone(),
            case_number: self.case_number.clone(),
            party_id: self
                .party_id
                .as_ref()
                .map(|id| parse_id_of(NodeKind::Party, id))
                .transpose()?,
            identifier: self.identifier.clone(),
            party_name: self.party_name.clone(),
            text: self.text.clone(),
            text_masked: scope.masked,
            opened_from: self.opened_from.map(|d| d.0),
            opened_to: self.opened_to.map(|d| d.0),
            stages,
        })
    }
}
