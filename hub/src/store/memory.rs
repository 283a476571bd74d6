//! Cases and parties answered from the case cache (`crate::case_cache`) once the linkage index
//! has applied the journal as of a moment after the request began; what is missing is read
//! (from a database holding every change committed before the read: a caught-up replica or the
//! primary) and kept. What the viewer may see is decided here, on the way out, by the scope's
//! in-memory rule.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use entities::{case, case_party, party, Source};
use sea_orm::sea_query::{Expr, JoinType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};

use super::{Memory, Reader, Records};
use crate::case_cache::{participations_seen, CaseCache, Mention, PartyMentions, Placement};
use crate::error::Result;
use crate::policy::CaseVisibility;

/// The parties of some cases as read for the cache: each case's party ids in position order,
/// and each of those parties with every mention of it.
type Participations = (HashMap<i64, Vec<i64>>, HashMap<i64, Arc<PartyMentions>>);

/// The prefix of the party's columns in the rows `read_participations` reads.
const PARTY_PREFIX: &str = "party__";

impl Records<'_> {
    /// The case cache, current for this request (checked once per request), when the gateway
    /// keeps a linkage index that can answer now; `None`: read in SQL.
    pub(super) async fn memory(&self) -> Option<&CaseCache> {
        let index = self.0.links.as_ref().filter(|i| i.usable())?;
        let now = std::time::Instant::now();
        let current = match &self.0.db {
            // One request: brought current once, by its first read; never once its snapshot
            // is opening (the snapshot answers, so that the response is consistent with itself).
            Reader::Lazy(lazy) => {
                if lazy.opening() {
                    return None;
                }
                let current = match lazy.memory {
                    Memory::Assumed => {
                        lazy.assumed.get_or_init(|| index.applied());
                        Ok(true)
                    }
                    Memory::Current | Memory::No => {
                        lazy.current.get_or_try_init(|| index.current_after(now)).await.copied()
                    }
                };
                match current {
                    Ok(true) if !lazy.may_remember() => return None,
                    current => current,
                }
            }
            // A subscription (it reads again on every change) or a tool: at every read.
            Reader::Pool(_) | Reader::Following(_) => index.current_after(now).await,
        };
        match current {
            Ok(current) => current.then(|| index.cache()),
            Err(e) => {
                tracing::warn!(error = %e, "bringing the linkage index current; reading in SQL");
                None
            }
        }
    }

    /// The visible cases among `ids`, from the cache; the missing ones are read and kept. The
    /// rows are the cache's own, shared (copying a case's texts for every node of a chain cost
    /// a tenth of the gateway's CPU). Not audited: the caller decides what it hands out.
    pub(super) async fn cases_in(&self, cache: &CaseCache, ids: &[i64]) -> Result<HashMap<i64, Arc<case::Model>>> {
        let epoch = cache.epoch();
        let (mut found, missing) = cache.cases(ids);
        if !missing.is_empty() {
            let db = self.0.db.fill_source().await;
            let backend = db.get_database_backend();
            let read: Vec<Arc<case::Model>> = case::Entity::find()
                .filter(crate::sql::ids_in(backend, r#""cases"."id""#, &missing))
                .all(&db)
                .await?
                .into_iter()
                .map(Arc::new)
                .collect();
            cache.insert_cases(epoch, read.iter().cloned());
            found.extend(read);
        }
        Ok(found
            .into_iter()
            .filter(|c| self.0.scope.admits(CaseVisibility::of(c)))
            .map(|c| (c.id, c))
            .collect())
    }

    /// The participations of the visible cases among `case_ids` with their parties, each party
    /// described by the mentions the viewer may see; from the cache, the missing ones read and
    /// kept.
    pub(super) async fn participations_in(
        &self,
        cache: &CaseCache,
        case_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<(case_party::Model, party::Model)>>> {
        let epoch = cache.epoch();
        let (mut found, missing) = cache.participations(case_ids);
        if !missing.is_empty() {
            let (cases, parties) = self.read_participations(&missing).await?;
            cache.insert_participations(epoch, &cases, &parties);
            for (case_id, party_ids) in cases {
                let entries = party_ids.iter().filter_map(|p| parties.get(p).cloned()).collect();
                found.insert(case_id, entries);
            }
        }
        Ok(self.participations_seen(found))
    }

    /// `parties_of_cases` answered by the case cache alone, when memory may answer this request
    /// and keeps the parties of every one of `case_ids`; `None` (nothing read): ask
    /// `parties_of_cases`, which reads what is missing, batched over a response.
    pub async fn remembered_parties_of_cases(
        &self,
        case_ids: &[i64],
    ) -> Option<HashMap<i64, Vec<(case_party::Model, party::Model)>>> {
        let found = self.memory().await?.all_participations(case_ids)?;
        Some(self.participations_seen(found))
    }

    /// What the viewer may see of the kept participations `found`, noted in the audit trail.
    fn participations_seen(
        &self,
        found: HashMap<i64, Vec<Arc<PartyMentions>>>,
    ) -> HashMap<i64, Vec<(case_party::Model, party::Model)>> {
        let mut out = HashMap::new();
        let mut handed = BTreeSet::new();
        for (case_id, entries) in found {
            let seen = participations_seen(&self.0.scope, case_id, &entries);
            if !seen.is_empty() {
                handed.extend(seen.iter().map(|(_, p)| p.id));
                out.insert(case_id, seen);
            }
        }
        self.0.trail.parties(handed);
        out
    }

    /// The parties of `case_ids` with every mention of them and where each mention's case
    /// stands, in one statement (unscoped: the scope is applied on the way out). Each row is a
    /// mention with its party's columns (prefixed `party__`), read once per party.
    async fn read_participations(&self, case_ids: &[i64]) -> Result<Participations> {
        let db = &self.0.db.fill_source().await;
        let backend = db.get_database_backend();
        let taking_part = sea_orm::sea_query::Query::select()
            .column(case_party::Column::PartyId)
            .from(case_party::Entity)
            .and_where(crate::sql::ids_in(backend, r#""case_parties"."case_id""#, case_ids))
            .to_owned();
        let of_case = case_party::Entity::belongs_to(case::Entity)
            .from(case_party::Column::CaseId)
            .to(case::Column::Id)
            .into();
        let of_party = case_party::Entity::belongs_to(party::Entity)
            .from(case_party::Column::PartyId)
            .to(party::Column::Id)
            .into();
        let mut select = case_party::Entity::find()
            .join(JoinType::InnerJoin, of_case)
            .join(JoinType::InnerJoin, of_party)
            .column_as(Expr::col((case::Entity, case::Column::Source)), "case_source")
            .column_as(Expr::col((case::Entity, case::Column::Transferred)), "case_transferred")
            .column_as(Expr::col((case::Entity, case::Column::Deleted)), "case_deleted")
            .column_as(Expr::col((case::Entity, case::Column::RegionCode)), "case_region_code");
        for column in party::Column::iter() {
            select = select.column_as(
                Expr::col((party::Entity, column)),
                format!("{PARTY_PREFIX}{}", column.as_str()),
            );
        }
        let statement = select
            .filter(case_party::Column::PartyId.in_subquery(taking_part))
            .order_by_asc(case_party::Column::CaseId)
            .order_by_asc(case_party::Column::Position)
            .order_by_asc(case_party::Column::Id)
            .build(backend);
        let mut mentions: HashMap<i64, (party::Model, Vec<Mention>)> = HashMap::new();
        let mut cases: HashMap<i64, Vec<i64>> = case_ids.iter().map(|id| (*id, Vec::new())).collect();
        for row in db.query_all_raw(statement).await? {
            let link = case_party::Model::from_query_result(&row, "")?;
            let placement = Placement {
                source: row.try_get::<Source>("", "case_source")?,
                transferred: row.try_get("", "case_transferred")?,
                deleted: row.try_get("", "case_deleted")?,
                region_code: row.try_get::<Option<String>>("", "case_region_code")?.map(Into::into),
            };
            if let Some(parties) = cases.get_mut(&link.case_id) {
                if !parties.contains(&link.party_id) {
                    parties.push(link.party_id);
                }
            }
            let mention = Mention { link, case: placement };
            match mentions.entry(mention.link.party_id) {
                std::collections::hash_map::Entry::Occupied(mut seen) => seen.get_mut().1.push(mention),
                std::collections::hash_map::Entry::Vacant(first) => {
                    let party = party::Model::from_query_result(&row, PARTY_PREFIX)?;
                    first.insert((party, vec![mention]));
                }
            }
        }
        let parties = mentions
            .into_iter()
            .map(|(id, (party, mentions))| (id, Arc::new(PartyMentions { party, mentions })))
            .collect();
        Ok((cases, parties))
    }
}
