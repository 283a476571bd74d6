//! Scoped aggregates over cases, computed in the database.

use entities::case;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{DbBackend, FromQueryResult, Order};

use super::{Aggregates, CaseQuery};
use crate::error::Result;

/// A dimension to group cases by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Source,
    Region,
    Month,
    Category,
    Stage,
}

impl Dimension {
    fn alias(self) -> &'static str {
        match self {
            Dimension::Source => "d_source",
            Dimension::Region => "d_region",
            Dimension::Month => "d_month",
            Dimension::Category => "d_category",
            Dimension::Stage => "d_stage",
        }
    }

    pub fn expr(self, backend: DbBackend) -> SimpleExpr {
        match self {
            Dimension::Source => Expr::col((case::Entity, case::Column::Source)),
            Dimension::Region => Expr::col((case::Entity, case::Column::RegionCode)),
            Dimension::Category => Expr::col((case::Entity, case::Column::Category)),
            Dimension::Stage => Expr::col((case::Entity, case::Column::Stage)),
            Dimension::Month => match backend {
                DbBackend::Postgres => Expr::cust("to_char(\"cases\".\"opened_on\", 'YYYY-MM')"),
                _ => Expr::cust("substr(\"cases\".\"opened_on\", 1, 7)"),
            },
        }
    }
}

/// One group: the values of the grouped dimensions and how many cases it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub source: Option<String>,
    pub region: Option<String>,
    pub month: Option<String>,
    pub category: Option<String>,
    pub stage: Option<String>,
    pub count: u64,
}

impl Bucket {
    /// The bucket's value on `d` (`None`: not grouped, or no value).
    pub fn value(&self, d: Dimension) -> Option<&str> {
        match d {
            Dimension::Source => self.source.as_deref(),
            Dimension::Region => self.region.as_deref(),
            Dimension::Month => self.month.as_deref(),
            Dimension::Category => self.category.as_deref(),
            Dimension::Stage => self.stage.as_deref(),
        }
    }
}

#[derive(FromQueryResult)]
struct Row {
    d_source: Option<String>,
    d_region: Option<String>,
    d_month: Option<String>,
    d_category: Option<String>,
    d_stage: Option<String>,
    n: i64,
}

impl Aggregates<'_> {
    /// Counts of the visible cases matching `query`, grouped by `dimensions`.
    pub async fn case_stats(&self, query: &CaseQuery, dimensions: &[Dimension]) -> Result<Vec<Bucket>> {
        self.0.trail.looked_up();
        let backend = sea_orm::ConnectionTrait::get_database_backend(&self.0.db);
        let mut select = Query::select();
        select.from(case::Entity);
        for d in [
            Dimension::Source,
            Dimension::Region,
            Dimension::Month,
            Dimension::Category,
            Dimension::Stage,
        ] {
            if dimensions.contains(&d) {
                select.expr_as(d.expr(backend), Alias::new(d.alias()));
                select.add_group_by([d.expr(backend)]);
            } else {
                select.expr_as(Expr::cust("NULL"), Alias::new(d.alias()));
            }
        }
        select.expr_as(Expr::col((case::Entity, case::Column::Id)).count(), Alias::new("n"));
        select.cond_where(self.0.scope.case_condition());
        select.cond_where(query.condition()?);
        for d in dimensions {
            select.order_by_expr(d.expr(backend), Order::Asc);
        }
        let statement = backend.build(&select);
        let rows = Row::find_by_statement(statement).all(&self.0.db).await?;
        Ok(rows
            .into_iter()
            .map(|r| Bucket {
                source: r.d_source,
                region: r.d_region,
                month: r.d_month,
                category: r.d_category,
                stage: r.d_stage,
                count: u64::try_from(r.n).unwrap_or(0),
            })
            .collect())
    }
}
