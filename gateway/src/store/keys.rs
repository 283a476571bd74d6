//! Scoped reads of `case_keys` for the chain walk: one batched query per step.

use std::collections::BTreeMap;

use entities::{case, case_key, LinkKind};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef};

use super::ScopedStore;
use crate::error::ApiResult;

/// A key: its kind and normalized value.
pub type Key = (LinkKind, String);

/// Values per kind, to query `(kind, value)` pairs with one `IN` list per kind.
fn keys_condition(keys: &[Key]) -> Condition {
    let mut by_kind: BTreeMap<LinkKind, Vec<&str>> = BTreeMap::new();
    for (kind, value) in keys {
        by_kind.entry(*kind).or_default().push(value);
    }
    let mut any = Condition::any();
    for (kind, values) in by_kind {
        any = any.add(
            Condition::all()
                .add(case_key::Column::Kind.eq(kind.as_str()))
                .add(case_key::Column::Value.is_in(values)),
        );
    }
    any
}

const CHUNK: usize = 400;

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
    async fn scoped_keys(&self, condition: Condition) -> ApiResult<Vec<(i64, Key)>> {
        let rows: Vec<(i64, String, String)> = case_key::Entity::find()
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
        Ok(rows
            .into_iter()
            .filter_map(|(id, k, v)| LinkKind::parse(&k).map(|k| (id, (k, v))))
            .collect())
    }

    /// The keys of the given cases (which the caller already knows to be visible).
    pub async fn keys_of_cases(&self, case_ids: &[i64]) -> ApiResult<Vec<(i64, Key)>> {
        let mut out = Vec::new();
        for chunk in case_ids.chunks(CHUNK) {
            out.extend(
                self.scoped_keys(Condition::all().add(case_key::Column::CaseId.is_in(chunk.iter().copied())))
                    .await?,
            );
        }
        Ok(out)
    }

    /// How many visible cases carry each key.
    pub async fn visible_key_counts(&self, keys: &[Key]) -> ApiResult<BTreeMap<Key, u64>> {
        let mut out = BTreeMap::new();
        for chunk in keys.chunks(CHUNK) {
            let rows: Vec<(String, String, i64)> = case_key::Entity::find()
                .select_only()
                .column(case_key::Column::Kind)
                .column(case_key::Column::Value)
                .column_as(Expr::col((case_key::Entity, case_key::Column::CaseId)).count(), "n")
                .join(JoinType::InnerJoin, to_case())
                .filter(keys_condition(chunk))
                .filter(self.scope.case_condition())
                .group_by(case_key::Column::Kind)
                .group_by(case_key::Column::Value)
                .into_tuple()
                .all(&self.db)
                .await?;
            for (k, v, n) in rows {
                if let Some(kind) = LinkKind::parse(&k) {
                    out.insert((kind, v), u64::try_from(n).unwrap_or(0));
                }
            }
        }
        Ok(out)
    }

    /// The visible cases carrying any of the keys, with the key they carry.
    pub async fn visible_cases_with_keys(&self, keys: &[Key]) -> ApiResult<Vec<(i64, Key)>> {
        let mut out = Vec::new();
        for chunk in keys.chunks(CHUNK) {
            out.extend(self.scoped_keys(keys_condition(chunk)).await?);
        }
        Ok(out)
    }
}
