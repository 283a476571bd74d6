//! Scoped reads of parties: a party is visible only through a visible case.

use super::Records;
use crate::error::Result;
use entities::{case, case_party, party};
use sea_orm::sea_query::{Query, SimpleExpr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::{HashMap, HashSet};

/// `party` as the visible `own` mentions (in case order) describe it: the name of the first,
/// the ID number and credit code some mention gives, the phones they give. A mention from
/// before these were kept (no name) gives the name as recorded. No visible mention: the party
/// keeps no identity (the caller hands it out to nobody).
pub(crate) fn described_by<'a>(
    mut party: party::Model,
    own: impl IntoIterator<Item = &'a case_party::Model>,
) -> party::Model {
    let own: Vec<&case_party::Model> = own.into_iter().collect();
    let Some(first) = own.first() else {
        party.identity.clear();
        return party;
    };
    party.name = first.name.clone().unwrap_or_else(|| first.name_as_recorded.clone());
    party.id_number = own.iter().find_map(|m| m.id_number.clone());
    party.credit_code = own.iter().find_map(|m| m.credit_code.clone());
    let mut phones: Vec<String> = Vec::new();
    for phone in own.iter().flat_map(|m| m.phone_list()) {
        if !phones.contains(&phone) {
            phones.push(phone);
        }
    }
    party.phones = serde_json::json!(phones);
    party
}

impl Records<'_> {
    fn visible_case_ids(&self) -> sea_orm::sea_query::SelectStatement {
        Query::select()
            .column(case::Column::Id)
            .from(case::Entity)
            .cond_where(self.0.scope.case_condition())
            .to_owned()
    }

    /// The party, if it takes part in at least one case the viewer can see, as those cases
    /// describe it.
    pub async fn party_by_id(&self, id: i64) -> Result<Option<party::Model>> {
        let found = self.visible_parties(&[id]).await?.remove(&id);
        self.0.trail.parties(found.iter().map(|p| p.id));
        Ok(found)
    }

    /// The parties among `ids` that take part in a visible case, each with its name, ID number,
    /// credit code and phones taken from the visible records only (two queries): what a hidden
    /// record alone says of a party never reaches the viewer.
    async fn visible_parties(&self, ids: &[i64]) -> Result<HashMap<i64, party::Model>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mentions = self
            .visible_mentions(case_party::Column::PartyId.is_in(ids.iter().copied()))
            .await?;
        self.described(&mentions).await
    }

    /// Every visible mention of the parties `which` selects, in case order (one query).
    async fn visible_mentions(&self, which: SimpleExpr) -> Result<Vec<case_party::Model>> {
        Ok(case_party::Entity::find()
            .filter(which)
            .filter(case_party::Column::CaseId.in_subquery(self.visible_case_ids()))
            .order_by_asc(case_party::Column::CaseId)
            .order_by_asc(case_party::Column::Position)
            .order_by_asc(case_party::Column::Id)
            .all(&self.0.db)
            .await?)
    }

    /// The parties `mentions` name, as those (visible) mentions describe them (one query).
    async fn described(&self, mentions: &[case_party::Model]) -> Result<HashMap<i64, party::Model>> {
        let mut seen: Vec<i64> = mentions.iter().map(|m| m.party_id).collect();
        seen.sort_unstable();
        seen.dedup();
        if seen.is_empty() {
            return Ok(HashMap::new());
        }
        let mut parties: HashMap<i64, party::Model> = party::Entity::find()
            .filter(party::Column::Id.is_in(seen))
            .all(&self.0.db)
            .await?
            .into_iter()
            .map(|p| {
                let id = p.id;
                (id, described_by(p, mentions.iter().filter(|m| m.party_id == id)))
            })
            .collect();
        parties.retain(|_, p| !p.identity.is_empty());
        Ok(parties)
    }

    /// The participations of the visible cases among `case_ids` with their parties (two
    /// queries): every visible mention of every party taking part in one of those cases — the
    /// participations asked for are among them, visible by the same condition — and the parties.
    pub async fn parties_of_cases(
        &self,
        case_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<(case_party::Model, party::Model)>>> {
        if case_ids.is_empty() {
            return Ok(HashMap::new());
        }
        if let Some(cache) = self.memory().await {
            return self.participations_in(cache, case_ids).await;
        }
        let taking_part = Query::select()
            .column(case_party::Column::PartyId)
            .from(case_party::Entity)
            .and_where(case_party::Column::CaseId.is_in(case_ids.iter().copied()))
            .to_owned();
        let mentions = self
            .visible_mentions(case_party::Column::PartyId.in_subquery(taking_part))
            .await?;
        // Only the parties of the visible asked cases are described and handed out (a party of
        // a hidden asked case is read for nothing, and never noted in the audit trail).
        let asked: HashSet<i64> = case_ids.iter().copied().collect();
        let handed: HashSet<i64> = mentions
            .iter()
            .filter(|m| asked.contains(&m.case_id))
            .map(|m| m.party_id)
            .collect();
        let mentions: Vec<case_party::Model> = mentions.into_iter().filter(|m| handed.contains(&m.party_id)).collect();
        let parties = self.described(&mentions).await?;
        self.0.trail.parties(parties.keys().copied());
        let mut out: HashMap<i64, Vec<_>> = HashMap::new();
        for link in mentions.into_iter().filter(|m| asked.contains(&m.case_id)) {
            if let Some(p) = parties.get(&link.party_id) {
                out.entry(link.case_id).or_default().push((link, p.clone()));
            }
        }
        Ok(out)
    }
}
