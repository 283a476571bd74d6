//! Scoped reads of parties: a party is visible only through a visible case.

use super::ScopedStore;
use crate::error::ApiResult;
use entities::{case, case_party, party};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationDef};
use std::collections::HashMap;

impl ScopedStore {
    fn visible_case_ids(&self) -> sea_orm::sea_query::SelectStatement {
        Query::select()
            .column(case::Column::Id)
            .from(case::Entity)
            .cond_where(self.scope.case_condition())
            .to_owned()
    }

    /// The party, if it takes part in at least one case the viewer can see.
    pub async fn party_by_id(&self, id: i64) -> ApiResult<Option<party::Model>> {
        let linked = case_party::Entity::find()
            .filter(case_party::Column::PartyId.eq(id))
            .filter(case_party::Column::CaseId.in_subquery(self.visible_case_ids()))
            .one(&self.db)
            .await?;
        if linked.is_none() {
            return Ok(None);
        }
        let found = party::Entity::find_by_id(id).one(&self.db).await?;
        self.trail.parties(found.iter().map(|p| p.id));
        Ok(found)
    }

    /// The participations of the visible cases among `case_ids` with their parties (two queries).
    pub async fn parties_of_cases(
        &self,
        case_ids: &[i64],
    ) -> ApiResult<HashMap<i64, Vec<(case_party::Model, party::Model)>>> {
        let to_case: RelationDef = case_party::Entity::belongs_to(case::Entity)
            .from(case_party::Column::CaseId)
            .to(case::Column::Id)
            .into();
        let links = case_party::Entity::find()
            .join(JoinType::InnerJoin, to_case)
            .filter(case_party::Column::CaseId.is_in(case_ids.iter().copied()))
            .filter(self.scope.case_condition())
            .order_by_asc(case_party::Column::CaseId)
            .order_by_asc(case_party::Column::Position)
            .all(&self.db)
            .await?;
        let mut party_ids: Vec<i64> = links.iter().map(|l| l.party_id).collect();
        party_ids.sort_unstable();
        party_ids.dedup();
        let parties: HashMap<i64, party::Model> = party::Entity::find()
            .filter(party::Column::Id.is_in(party_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        self.trail.parties(parties.keys().copied());
        let mut out: HashMap<i64, Vec<_>> = HashMap::new();
        for link in links {
            if let Some(p) = parties.get(&link.party_id) {
                out.entry(link.case_id).or_default().push((link, p.clone()));
            }
        }
        Ok(out)
    }
}
