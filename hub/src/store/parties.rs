//! Scoped reads of parties: a party is visible only through a visible case.

use super::Records;
use crate::error::Result;
use entities::{case, case_party, party};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationDef};
use std::collections::HashMap;

/// `party` as the visible `mentions` (of any parties, in case order) describe it: the name of
/// its first visible mention, the ID number and credit code some visible mention gives, the
/// phones the visible mentions give. A mention from before these were kept (no name) gives
/// the name as recorded.
fn described_by(mut party: party::Model, mentions: &[case_party::Model]) -> party::Model {
    let own: Vec<&case_party::Model> = mentions.iter().filter(|m| m.party_id == party.id).collect();
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
        let mentions = case_party::Entity::find()
            .filter(case_party::Column::PartyId.is_in(ids.iter().copied()))
            .filter(case_party::Column::CaseId.in_subquery(self.visible_case_ids()))
            .order_by_asc(case_party::Column::CaseId)
            .order_by_asc(case_party::Column::Position)
            .all(&self.0.db)
            .await?;
        let mut seen: Vec<i64> = mentions.iter().map(|m| m.party_id).collect();
        seen.sort_unstable();
        seen.dedup();
        let mut parties: HashMap<i64, party::Model> = party::Entity::find()
            .filter(party::Column::Id.is_in(seen))
            .all(&self.0.db)
            .await?
            .into_iter()
            .map(|p| (p.id, described_by(p, &mentions)))
            .collect();
        parties.retain(|_, p| !p.identity.is_empty());
        Ok(parties)
    }

    /// The participations of the visible cases among `case_ids` with their parties (two queries).
    pub async fn parties_of_cases(
        &self,
        case_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<(case_party::Model, party::Model)>>> {
        let to_case: RelationDef = case_party::Entity::belongs_to(case::Entity)
            .from(case_party::Column::CaseId)
            .to(case::Column::Id)
            .into();
        let links = case_party::Entity::find()
            .join(JoinType::InnerJoin, to_case)
            .filter(case_party::Column::CaseId.is_in(case_ids.iter().copied()))
            .filter(self.0.scope.case_condition())
            .order_by_asc(case_party::Column::CaseId)
            .order_by_asc(case_party::Column::Position)
            .all(&self.0.db)
            .await?;
        let mut party_ids: Vec<i64> = links.iter().map(|l| l.party_id).collect();
        party_ids.sort_unstable();
        party_ids.dedup();
        let parties = self.visible_parties(&party_ids).await?;
        self.0.trail.parties(parties.keys().copied());
        let mut out: HashMap<i64, Vec<_>> = HashMap::new();
        for link in links {
            if let Some(p) = parties.get(&link.party_id) {
                out.entry(link.case_id).or_default().push((link, p.clone()));
            }
        }
        Ok(out)
    }
}
