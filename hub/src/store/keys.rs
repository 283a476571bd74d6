//! Scoped reads of `case_keys` for the chain walk: one batched query per step.

use entities::{case, case_key, LinkKind};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef};

use super::ScopedStore;
use crate::error::Result;
use crate::linkage::{Key, LinkGraph, Neighbours};

/// `case_keys` joined to the case it belongs to, so the scope is checked per matched
/// row (driven by the key index) rather than by a semi-join over every case.
fn to_case() -> RelationDef {
    case_key::Entity::belongs_to(case::Entity)
        .from(case_key::Column::CaseId)
        .to(case::Column::Id)
        .into()
}

impl ScopedStore {
    /// `(case, key)` rows of visible cases matching `condition` (one query).
    async fn scoped_keys(&self, condition: Condition) -> Result<Vec<(i64, Key)>> {
        let rows: Vec<(i64, LinkKind, String)> = case_key::Entity::find()
            .select_only()
            .column(case_key::Column::CaseId)
            .column(case_key::Column::Kind)
            .column(case_key::Column::Value)
            .join(JoinType::InnerJoin, to_case())
            .filter(condition)
            .filter(self.scope.case_condition())
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|(id, k, v)| (id, (k, v))).collect())
    }

    /// The keys of the given cases (which the caller already knows to be visible).
    pub async fn keys_of_cases(&self, case_ids: &[i64]) -> Result<Vec<(i64, Key)>> {
        let ids = crate::sql::ids_in(self.db.get_database_backend(), r#""case_keys"."case_id""#, case_ids);
        self.scoped_keys(Condition::all().add(ids)).await
    }

    /// For each key, the visible cases carrying it — or, when more than `hub_threshold`
    /// visible cases carry it (a hub), only how many. One query: the count comes from a
    /// window over the same rows, so a hub's cases are counted but never sent.
    pub async fn neighbours(&self, keys: &[Key], hub_threshold: u64) -> Result<Neighbours> {
        let mut out = Neighbours::default();
        if keys.is_empty() {
            return Ok(out);
        }
        let backend = self.db.get_database_backend();
        let (t, n, rn) = (Alias::new("t"), Alias::new("n"), Alias::new("rn"));
        let inner = Query::select()
            .column((case_key::Entity, case_key::Column::CaseId))
            .column((case_key::Entity, case_key::Column::Kind))
            .column((case_key::Entity, case_key::Column::Value))
            .expr_as(
                Expr::cust(r#"COUNT(*) OVER (PARTITION BY "case_keys"."kind", "case_keys"."value")"#),
                n.clone(),
            )
            .expr_as(
                Expr::cust(
                    r#"ROW_NUMBER() OVER (PARTITION BY "case_keys"."kind", "case_keys"."value" ORDER BY "case_keys"."case_id")"#,
                ),
                rn.clone(),
            )
            .from(case_key::Entity)
            .inner_join(
                case::Entity,
                Expr::col((case::Entity, case::Column::Id)).equals((case_key::Entity, case_key::Column::CaseId)),
            )
            .cond_where(crate::sql::keys_condition(backend, keys))
            .cond_where(self.scope.case_condition())
            .to_owned();
        let limit = i64::try_from(hub_threshold).unwrap_or(i64::MAX);
        let outer = Query::select()
            .column((t.clone(), Alias::new("case_id")))
            .column((t.clone(), Alias::new("kind")))
            .column((t.clone(), Alias::new("value")))
            .column((t.clone(), n.clone()))
            .from_subquery(inner, t.clone())
            .cond_where(
                Condition::any()
                    .add(Expr::col((t.clone(), n)).lte(limit))
                    .add(Expr::col((t, rn)).eq(1)),
            )
            .to_owned();
        for row in self.db.query_all_raw(backend.build(&outer)).await? {
            let case_id: i64 = row.try_get("", "case_id")?;
            let kind: LinkKind = row.try_get("", "kind")?;
            let value: String = row.try_get("", "value")?;
            let count: i64 = row.try_get("", "n")?;
            if count > limit {
                out.hubs.insert((kind, value), u64::try_from(count).unwrap_or(0));
            } else {
                out.cases.push((case_id, (kind, value)));
            }
        }
        Ok(out)
    }
}

/// The database is a `LinkGraph`: one batched query per step of the walk.
impl LinkGraph for ScopedStore {
    type Key = Key;

    fn kind(&self, key: &Key) -> LinkKind {
        key.0
    }

    fn describe(&self, key: &Key) -> Key {
        key.clone()
    }

    async fn keys_of_cases(&self, case_ids: &[i64]) -> Result<Vec<(i64, Key)>> {
        ScopedStore::keys_of_cases(self, case_ids).await
    }

    async fn neighbours(&self, keys: &[Key], hub_threshold: u64) -> Result<Neighbours> {
        ScopedStore::neighbours(self, keys, hub_threshold).await
    }
}
