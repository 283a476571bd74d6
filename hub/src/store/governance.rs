//! The signals of the governance index, per region (or town) and month, counted in the
//! database under the viewer's scope.

use chrono::NaiveDate;
use entities::{case, supervision_task, LoopStage};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, FromQueryResult, Order, QueryFilter, QuerySelect};

use super::stats::Dimension;
use super::{Aggregates, CaseQuery};
use crate::error::Result;

/// Counts of one region or town in one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromQueryResult)]
pub struct Signals {
    pub region: Option<String>,
    pub town: Option<String>,
    pub month: Option<String>,
    /// Cases opened (problems found).
    pub problems: i64,
    /// Past their rectification deadline without being closed by it.
    pub overdue: i64,
    /// Public complaints whose phone recurs in another complaint of the same region.
    pub repeat_complaints: i64,
    /// Disputes that reached a court (the case carries a court case number).
    pub court_disputes: i64,
    /// Not closed.
    pub unclosed: i64,
    /// With a satisfaction recorded (满意度, or a deputy's assessment).
    pub rated: i64,
    /// Recorded as dissatisfied (不满意).
    pub dissatisfied: i64,
    /// Problems 平安督 inspections found (问题数), added by `governance::compute`.
    pub inspection_problems: i64,
}

const OVERDUE: &str = "SUM(CASE WHEN \"cases\".\"deadline_on\" IS NOT NULL AND (\"cases\".\"closed_on\" IS NULL OR \"cases\".\"closed_on\" > \"cases\".\"deadline_on\") THEN 1 ELSE 0 END)";
const COURT: &str = "SUM(CASE WHEN EXISTS (SELECT 1 FROM case_keys k WHERE k.case_id = \"cases\".\"id\" AND k.kind = 'CASE_NO' AND k.value LIKE '(%') THEN 1 ELSE 0 END)";
// The other complaint must share the region of the counted (visible) one, so it is in scope too.
const REPEAT: &str = "SUM(CASE WHEN \"cases\".\"source\" = 'SOCIAL' AND EXISTS (SELECT 1 FROM case_keys k1 \
    JOIN case_keys k2 ON k2.kind = k1.kind AND k2.value = k1.value AND k2.case_id <> k1.case_id \
    JOIN cases c2 ON c2.id = k2.case_id \
    WHERE k1.case_id = \"cases\".\"id\" AND k1.kind = 'PHONE' AND c2.source = 'SOCIAL' AND c2.deleted = false \
    AND c2.region_code = \"cases\".\"region_code\") THEN 1 ELSE 0 END)";
const UNCLOSED: &str = "SUM(CASE WHEN \"cases\".\"closed_on\" IS NULL THEN 1 ELSE 0 END)";
const RATED: &str = "SUM(CASE WHEN \"cases\".\"satisfaction\" IS NOT NULL THEN 1 ELSE 0 END)";
const DISSATISFIED: &str = "SUM(CASE WHEN \"cases\".\"satisfaction\" = 'DISSATISFIED' THEN 1 ELSE 0 END)";

impl Aggregates<'_> {
    /// Signals per region (and town, when `by_town`) and month, for the visible cases matching `query`.
    pub async fn governance_signals(&self, query: &CaseQuery, by_town: bool) -> Result<Vec<Signals>> {
        self.0.trail.looked_up();
        let backend = sea_orm::ConnectionTrait::get_database_backend(&self.0.db);
        let month = Dimension::Month.expr(backend);
        let mut select = Query::select();
        select
            .from(case::Entity)
            .expr_as(
                Expr::col((case::Entity, case::Column::RegionCode)),
                Alias::new("region"),
            )
            .expr_as(
                if by_town {
                    Expr::col((case::Entity, case::Column::Town))
                } else {
                    Expr::cust("NULL")
                },
                Alias::new("town"),
            )
            .expr_as(month.clone(), Alias::new("month"))
            .expr_as(
                Expr::col((case::Entity, case::Column::Id)).count(),
                Alias::new("problems"),
            )
            .expr_as(Expr::cust(OVERDUE), Alias::new("overdue"))
            .expr_as(Expr::cust(REPEAT), Alias::new("repeat_complaints"))
            .expr_as(Expr::cust(COURT), Alias::new("court_disputes"))
            .expr_as(Expr::cust(UNCLOSED), Alias::new("unclosed"))
            .expr_as(Expr::cust(RATED), Alias::new("rated"))
            .expr_as(Expr::cust(DISSATISFIED), Alias::new("dissatisfied"))
            .expr_as(Expr::cust("CAST(0 AS BIGINT)"), Alias::new("inspection_problems"))
            .cond_where(self.0.scope.case_condition())
            .cond_where(query.condition()?)
            .and_where(Expr::col((case::Entity, case::Column::OpenedOn)).is_not_null())
            .add_group_by([Expr::col((case::Entity, case::Column::RegionCode)), month.clone()])
            .order_by((case::Entity, case::Column::RegionCode), Order::Asc);
        if by_town {
            select.add_group_by([Expr::col((case::Entity, case::Column::Town))]);
            select.order_by((case::Entity, case::Column::Town), Order::Asc);
        }
        select.order_by_expr(month, Order::Asc);
        let rows = Signals::find_by_statement(backend.build(&select))
            .all(&self.0.db)
            .await?;
        Ok(rows)
    }
}

impl Aggregates<'_> {
    /// Supervision tasks past their deadline and not closed, whose deadline falls between
    /// `from` and `to`: (region, town, `YYYY-MM` of the deadline). Only tasks in the viewer's
    /// regions, and on a case only when the viewer can see the case.
    pub async fn overdue_tasks(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(Option<String>, Option<String>, String)>> {
        let today = chrono::Utc::now().date_naive();
        let mut c = Condition::all()
            .add(supervision_task::Column::Stage.ne(LoopStage::Closed))
            .add(supervision_task::Column::Deadline.lt(today))
            .add(supervision_task::Column::Deadline.gte(from))
            .add(supervision_task::Column::Deadline.lte(to))
            // 平安督 tasks count in the inspection index only (MODELS.md).
            .add(supervision_task::Column::Id.not_in_subquery(crate::inspections::task_ids()));
        if let Some(prefixes) = self.0.scope.region_prefixes() {
            let mut any = Condition::any().add(Expr::cust("1 = 0"));
            for p in prefixes {
                any = any.add(supervision_task::Column::RegionCode.starts_with(p.as_str()));
            }
            c = c.add(any);
        }
        let visible_cases = Query::select()
            .column(case::Column::Id)
            .from(case::Entity)
            .cond_where(self.0.scope.case_condition())
            .to_owned();
        c = c.add(
            Condition::any()
                .add(supervision_task::Column::CaseId.is_null())
                .add(supervision_task::Column::CaseId.in_subquery(visible_cases)),
        );
        let rows: Vec<(Option<String>, Option<String>, NaiveDate)> = supervision_task::Entity::find()
            .select_only()
            .column(supervision_task::Column::RegionCode)
            .column(supervision_task::Column::Town)
            .column(supervision_task::Column::Deadline)
            .filter(c)
            .into_tuple()
            .all(&self.0.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(r, t, d)| (r, t, d.format("%Y-%m").to_string()))
            .collect())
    }
}
