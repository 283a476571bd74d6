//! `caseStats`: counts for reporting tools, in the viewer's scope.

use async_graphql::{Context, Enum, SimpleObject};

use super::aggregates;
use super::filter::CaseFilter;
use super::types::{LoopStage, Source};
use hub::store::Dimension;

pub use hub::suppression::SMALL_CELL;

/// A dimension to group cases by.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "hub::store::Dimension")]
pub enum CaseDimension {
    Source,
    /// The 6-digit region code.
    Region,
    /// `YYYY-MM` of `openedOn`.
    Month,
    /// The source's own category label.
    Category,
    Stage,
}

/// One group of cases. Only the grouped dimensions are set.
#[derive(SimpleObject)]
pub struct CaseBucket {
    pub source: Option<Source>,
    pub region: Option<String>,
    pub month: Option<String>,
    pub category: Option<String>,
    pub stage: Option<LoopStage>,
    /// `null` when suppressed.
    pub count: Option<i32>,
    /// True when your role sees aggregates only and the bucket holds fewer than 5 records, or
    /// is hidden so that no such bucket can be worked out from the others and the totals
    /// (complementary suppression).
    pub suppressed: bool,
}

pub async fn case_stats(
    ctx: &Context<'_>,
    filter: Option<CaseFilter>,
    group_by: Vec<CaseDimension>,
) -> async_graphql::Result<Vec<CaseBucket>> {
    let store = aggregates(ctx)?;
    let suppress = store.scope().suppresses_small_cells();
    let mut dimensions: Vec<Dimension> = Vec::new();
    for d in group_by {
        if !dimensions.contains(&d.into()) {
            dimensions.push(d.into());
        }
    }
    let query = filter.unwrap_or_default().to_query(store.scope())?;
    let buckets = store
        .case_stats(&query, &dimensions)
        .await
        .map_err(crate::error::ApiError::from)?;
    let hidden = if suppress {
        let cells: Vec<(Vec<Option<String>>, u64)> = buckets
            .iter()
            .map(|b| {
                (
                    dimensions.iter().map(|d| b.value(*d).map(str::to_string)).collect(),
                    b.count,
                )
            })
            .collect();
        hub::suppression::suppressed(&cells, SMALL_CELL)
    } else {
        vec![false; buckets.len()]
    };
    Ok(buckets
        .into_iter()
        .zip(hidden)
        .map(|(b, suppressed)| CaseBucket {
            source: b.source.as_deref().and_then(entities::Source::parse).map(Source::from),
            region: b.region,
            month: b.month,
            category: b.category,
            stage: b
                .stage
                .as_deref()
                .and_then(entities::LoopStage::parse)
                .map(LoopStage::from),
            count: (!suppressed).then(|| i32::try_from(b.count).unwrap_or(i32::MAX)),
            suppressed,
        })
        .collect())
}
