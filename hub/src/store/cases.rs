//! Scoped reads of cases.

use super::page::{keyset_page, Page};
use super::{CaseQuery, Records};
use crate::error::Result;
use entities::{case, case_party, Source};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::Order;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use std::collections::HashMap;

impl Records<'_> {
    fn visible(&self) -> Condition {
        self.0.scope.case_condition()
    }

    pub async fn case_by_id(&self, id: i64) -> Result<Option<case::Model>> {
        let found = case::Entity::find_by_id(id)
            .filter(self.visible())
            .one(&self.0.db)
            .await?;
        self.0.trail.cases(found.iter().map(|c| c.id));
        Ok(found)
    }

    pub async fn case_by_source_key(&self, source: Source, key: &str) -> Result<Option<case::Model>> {
        let found = case::Entity::find()
            .filter(case::Column::Source.eq(source))
            .filter(case::Column::SourceKey.eq(key))
            .filter(self.visible())
            .one(&self.0.db)
            .await?;
        self.0.trail.cases(found.iter().map(|c| c.id));
        Ok(found)
    }

    /// Visible cases among `ids`, by id (one query).
    pub async fn cases_by_ids(&self, ids: &[i64]) -> Result<HashMap<i64, case::Model>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = case::Entity::find()
            .filter(crate::sql::ids_in(
                self.0.db.get_database_backend(),
                r#""cases"."id""#,
                ids,
            ))
            .filter(self.visible())
            .all(&self.0.db)
            .await?;
        self.0.trail.cases(rows.iter().map(|c| c.id));
        Ok(rows.into_iter().map(|c| (c.id, c)).collect())
    }

    /// Visible cases among `ids` (not audited: the caller decides what it hands out), with the
    /// number of the linkage journal's last row as of the same statement (`None` when no case
    /// is returned).
    pub(super) async fn visible_cases_and_journal_head(
        &self,
        ids: &[i64],
    ) -> Result<(HashMap<i64, case::Model>, Option<i64>)> {
        let backend = self.0.db.get_database_backend();
        let statement = case::Entity::find()
            .column_as(
                Expr::cust("(SELECT COALESCE(MAX(seq), 0) FROM linkage_journal)"),
                "journal_head",
            )
            .filter(crate::sql::ids_in(backend, r#""cases"."id""#, ids))
            .filter(self.visible())
            .build(backend);
        let mut cases = HashMap::new();
        let mut head = None;
        for row in self.0.db.query_all_raw(statement).await? {
            head = Some(row.try_get::<i64>("", "journal_head")?);
            let case = case::Model::from_query_result(&row, "")?;
            cases.insert(case.id, case);
        }
        Ok((cases, head))
    }

    /// Visible cases among `ids` that match `query`, by id (one query).
    pub async fn matching_among(&self, query: &CaseQuery, ids: &[i64]) -> Result<Vec<case::Model>> {
        let rows = case::Entity::find()
            .filter(case::Column::Id.is_in(ids.iter().copied()))
            .filter(self.visible())
            .filter(query.condition()?)
            .order_by_asc(case::Column::Id)
            .all(&self.0.db)
            .await?;
        self.0.trail.cases(rows.iter().map(|c| c.id));
        Ok(rows)
    }

    /// A page of visible cases matching `query`, ordered by id, after the id `after`.
    pub async fn cases(&self, query: &CaseQuery, first: u64, after: Option<i64>) -> Result<Page<case::Model>> {
        let condition = Condition::all().add(self.visible()).add(query.condition()?);
        self.page(condition, first, after).await
    }

    /// A page of the visible cases a party takes part in.
    pub async fn cases_of_party(&self, party_id: i64, first: u64, after: Option<i64>) -> Result<Page<case::Model>> {
        let condition = Condition::all().add(self.visible()).add(
            case::Column::Id.in_subquery(
                Query::select()
                    .column(case_party::Column::CaseId)
                    .from(case_party::Entity)
                    .and_where(case_party::Column::PartyId.eq(party_id))
                    .to_owned(),
            ),
        );
        self.page(condition, first, after).await
    }

    async fn page(&self, condition: Condition, first: u64, after: Option<i64>) -> Result<Page<case::Model>> {
        let page =
            keyset_page::<case::Entity, _>(&self.0.db, condition, case::Column::Id, Order::Asc, first, after).await?;
        self.0.trail.cases(page.items.iter().map(|c| c.id));
        Ok(page)
    }
}
