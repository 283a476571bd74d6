//! Relay connections, written once: every list of the schema pages through `Connection<N>`,
//! whose concrete names (`CaseConnection`, `CaseEdge`, …) the schema keeps.

use async_graphql::{ComplexObject, OutputType, SimpleObject};

use super::admin::QuarantinedRecord;
use super::audit_log::AuditEntry;
use super::models::{Finding, PractitionerCode};
use super::scalars::encode_cursor;
use super::tasks::SupervisionTask;
use super::types::Case;

/// Relay page information.
#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// One item of a page, with the cursor that resumes after it.
#[derive(SimpleObject)]
#[graphql(concrete(name = "CaseEdge", params(Case)))]
#[graphql(concrete(name = "SupervisionTaskEdge", params(SupervisionTask)))]
#[graphql(concrete(name = "AuditEntryEdge", params(AuditEntry)))]
#[graphql(concrete(name = "QuarantineEdge", params(QuarantinedRecord)))]
#[graphql(concrete(name = "FindingEdge", params(Finding)))]
#[graphql(concrete(name = "PractitionerCodeEdge", params(PractitionerCode)))]
pub struct Edge<N: OutputType> {
    pub cursor: String,
    pub node: N,
}

/// A page of items (Relay connection).
#[derive(SimpleObject)]
#[graphql(complex)]
#[graphql(concrete(name = "CaseConnection", params(Case)))]
#[graphql(concrete(name = "SupervisionTaskConnection", params(SupervisionTask)))]
#[graphql(concrete(name = "AuditEntryConnection", params(AuditEntry)))]
#[graphql(concrete(name = "QuarantineConnection", params(QuarantinedRecord)))]
#[graphql(concrete(name = "FindingConnection", params(Finding)))]
#[graphql(concrete(name = "PractitionerCodeConnection", params(PractitionerCode)))]
pub struct Connection<N: OutputType>
where
    Edge<N>: OutputType,
{
    pub edges: Vec<Edge<N>>,
    pub page_info: PageInfo,
    /// Counted only if `totalCount` is asked for.
    #[graphql(skip)]
    pub total: hub::store::Total,
}

#[ComplexObject]
impl<N: OutputType> Connection<N>
where
    Edge<N>: OutputType,
{
    /// All matching items the viewer may see, across pages.
    async fn total_count(&self) -> async_graphql::Result<i64> {
        let n = self.total.count().await.map_err(crate::error::ApiError::from)?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// The items of this page, without cursors.
    async fn nodes(&self) -> Vec<&N> {
        self.edges.iter().map(|e| &e.node).collect()
    }
}

impl<N: OutputType> Connection<N>
where
    Edge<N>: OutputType,
{
    /// The connection of one keyset page: `id` gives each row's cursor, `node` its object;
    /// `had_previous` says whether the page was asked for after a cursor.
    pub fn of_page<M>(
        page: hub::store::Page<M>,
        had_previous: bool,
        id: impl Fn(&M) -> i64,
        node: impl Fn(M) -> N,
    ) -> Self {
        let edges: Vec<Edge<N>> = page
            .items
            .into_iter()
            .map(|m| Edge {
                cursor: encode_cursor(id(&m)),
                node: node(m),
            })
            .collect();
        Connection {
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: had_previous,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total: page.total,
        }
    }
}
