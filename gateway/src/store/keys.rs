//! Scoped reads of `case_keys` for the chain walk: one batched query per step.

use std::collections::BTreeMap;

use entities::{case, case_key, LinkKind};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, DbBackend, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationDef};

use super::ScopedStore;
use crate::error::ApiResult;

/// A key: its kind and normalized value.
pub type Key = (LinkKind, String);

/// `(case_keys.kind, case_keys.value)` among `keys`, bound as one JSON parameter: one
/// statement text whatever the number of keys, so the database prepares and plans it once
/// per connection instead of once per request.
fn keys_condition(backend: DbBackend, keys: &[Key]) -> Condition {
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let json = serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into());
    let sql = match backend {
        DbBackend::Postgres => {
            r#"("case_keys"."kind", "case_keys"."value") IN (SELECT x->>0, x->>1 FROM json_array_elements($1::json) AS x)"#
        }
        _ => {
            r#"("case_keys"."kind", "case_keys"."value") IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))"#
        }
    };
    Condition::all().add(Expr::cust_with_values(sql, [json]))
}

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
        let ids = super::ids_in(self.db.get_database_backend(), r#""case_keys"."case_id""#, case_ids);
        self.scoped_keys(Condition::all().add(ids)).await
    }

    /// How many visible cases carry each key.
    pub async fn visible_key_counts(&self, keys: &[Key]) -> ApiResult<BTreeMap<Key, u64>> {
        let mut out = BTreeMap::new();
        if keys.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(String, String, i64)> = case_key::Entity::find()
            .select_only()
            .column(case_key::Column::Kind)
            .column(case_key::Column::Value)
            .column_as(Expr::col((case_key::Entity, case_key::Column::CaseId)).count(), "n")
            .join(JoinType::InnerJoin, to_case())
            .filter(keys_condition(self.db.get_database_backend(), keys))
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
        Ok(out)
    }

    /// The visible cases carrying any of the keys, with the key they carry.
    pub async fn visible_cases_with_keys(&self, keys: &[Key]) -> ApiResult<Vec<(i64, Key)>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.scoped_keys(keys_condition(self.db.get_database_backend(), keys))
            .await
    }
}
