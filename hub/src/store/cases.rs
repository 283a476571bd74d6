//! Scoped reads of cases.

use super::page::{keyset_page, sorted_page, Direction, Page, SortedPage, Window};
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
use std::sync::Arc;

impl Records<'_> {
    fn visible(&self) -> Condition {
        self.0.scope.case_condition()
    }

    pub async fn case_by_id(&self, id: i64) -> Result<Option<Arc<case::Model>>> {
        let found = match self.memory().await {
            Some(cache) => self.cases_in(cache, &[id]).await?.remove(&id),
            None => case::Entity::find_by_id(id)
                .filter(self.visible())
                .one(&self.0.db)
                .await?
                .map(Arc::new),
        };
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
    pub async fn cases_by_ids(&self, ids: &[i64]) -> Result<HashMap<i64, Arc<case::Model>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        if let Some(cache) = self.memory().await {
            let cases = self.cases_in(cache, ids).await?;
            self.0.trail.cases(cases.keys().copied());
            return Ok(cases);
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
        Ok(rows.into_iter().map(|c| (c.id, Arc::new(c))).collect())
    }

    /// Visible cases among `ids` (not audited: the caller decides what it hands out), with the
    /// number of the linkage journal's last row as of the same statement (`None` when no case
    /// is returned).
    pub(super) async fn visible_cases_and_journal_head(
        &self,
        ids: &[i64],
    ) -> Result<(HashMap<i64, Arc<case::Model>>, Option<i64>)> {
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
            cases.insert(case.id, Arc::new(case));
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

    /// A page of visible cases matching `query`, sorted by `sort` (then id) in `direction`, in
    /// `window` (forward or backward from a position).
    pub async fn cases_sorted(
        &self,
        query: &CaseQuery,
        sort: CaseSort,
        direction: Direction,
        window: Window<CasePosition>,
    ) -> Result<SortedPage<case::Model>> {
        let condition = Condition::all().add(self.visible()).add(query.condition()?);
        let at = |p: CasePosition| (p.value(), p.id());
        let window = match window {
            Window::First { n, after } => Window::First {
                n,
                after: after.map(at),
            },
            Window::Last { n, before } => Window::Last {
                n,
                before: before.map(at),
            },
        };
        let page =
            sorted_page::<case::Entity, _>(&self.0.db, condition, sort.key(), case::Column::Id, direction, window)
                .await?;
        self.0.trail.cases(page.items.iter().map(|c| c.id));
        Ok(page)
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

/// What a list of cases is sorted by (then by id, which makes every position unique).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseSort {
    Id,
    OpenedOn,
    UpdatedAt,
}

/// Cases with no opening date sort as if opened on this day: last ascending, first descending.
/// (Not `NaiveDate::MAX`: SQLite compares dates as text, and that one is written `+262142-…`.)
pub const NO_OPENING_DATE: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(day) => day,
    None => chrono::NaiveDate::MIN,
};

/// A case's place in a sorted list: its sort value and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasePosition {
    Id(i64),
    OpenedOn(chrono::NaiveDate, i64),
    UpdatedAt(chrono::DateTime<chrono::Utc>, i64),
}

impl CaseSort {
    fn key(self) -> sea_orm::sea_query::SimpleExpr {
        use sea_orm::sea_query::Func;
        match self {
            CaseSort::Id => Expr::col((case::Entity, case::Column::Id)),
            CaseSort::OpenedOn => Func::coalesce([
                Expr::col((case::Entity, case::Column::OpenedOn)),
                Expr::val(NO_OPENING_DATE),
            ])
            .into(),
            CaseSort::UpdatedAt => Expr::col((case::Entity, case::Column::UpdatedAt)),
        }
    }

    /// Where `case` stands in a list sorted this way.
    pub fn position_of(self, case: &case::Model) -> CasePosition {
        match self {
            CaseSort::Id => CasePosition::Id(case.id),
            CaseSort::OpenedOn => CasePosition::OpenedOn(case.opened_on.unwrap_or(NO_OPENING_DATE), case.id),
            CaseSort::UpdatedAt => CasePosition::UpdatedAt(case.updated_at, case.id),
        }
    }
}

impl CasePosition {
    /// The sort this position belongs to.
    pub fn sort(&self) -> CaseSort {
        match self {
            CasePosition::Id(_) => CaseSort::Id,
            CasePosition::OpenedOn(..) => CaseSort::OpenedOn,
            CasePosition::UpdatedAt(..) => CaseSort::UpdatedAt,
        }
    }

    fn value(&self) -> sea_orm::Value {
        match self {
            CasePosition::Id(id) => (*id).into(),
            CasePosition::OpenedOn(day, _) => (*day).into(),
            CasePosition::UpdatedAt(at, _) => (*at).into(),
        }
    }

    pub fn id(&self) -> i64 {
        match self {
            CasePosition::Id(id) | CasePosition::OpenedOn(_, id) | CasePosition::UpdatedAt(_, id) => *id,
        }
    }
}
