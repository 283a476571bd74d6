//! The scoped data-access layer: every read of cases and parties goes through a
//! `ScopedStore`, which applies the viewer's `Scope` inside each SQL query.

mod admin;
mod audit;
mod cases;
mod chain;
mod filter;
mod governance;
mod keys;
mod parties;
mod stats;
mod tasks;

pub use audit::AuditQuery;
pub use cases::Page;
pub use filter::CaseQuery;
pub use governance::Signals;
pub(crate) use keys::keys_condition;
pub use keys::{Key, Neighbours};
pub use stats::{Bucket, Dimension};
pub use tasks::{supervises, NewTask, TaskQuery};

use crate::audit::Trail;
use crate::link_index::LinkIndex;
use crate::policy::Scope;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// `column IN (ids)`, the ids bound as one parameter: one statement text whatever the number
/// of ids, so the database prepares and plans it once per connection. PostgreSQL gets an
/// array (`= ANY`, an index scan over the sorted ids), SQLite a JSON array.
pub(crate) fn ids_in(backend: sea_orm::DbBackend, column: &str, ids: &[i64]) -> sea_orm::sea_query::SimpleExpr {
    match backend {
        sea_orm::DbBackend::Postgres => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            sea_orm::sea_query::Expr::cust_with_values(
                format!("{column} = ANY($1::bigint[])"),
                [format!("{{{}}}", list.join(","))],
            )
        }
        _ => {
            let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
            sea_orm::sea_query::Expr::cust_with_values(format!("{column} IN (SELECT value FROM json_each(?))"), [json])
        }
    }
}

/// A database handle that can only see what one viewer may see.
#[derive(Clone)]
pub struct ScopedStore {
    db: DatabaseConnection,
    scope: Arc<Scope>,
    /// Every case and party handed out, for the audit log.
    trail: Trail,
    /// The in-memory linkage index chains are walked on, when the gateway keeps one.
    links: Option<Arc<LinkIndex>>,
}

impl ScopedStore {
    pub fn new(db: DatabaseConnection, scope: Scope) -> Self {
        ScopedStore {
            db,
            scope: Arc::new(scope),
            trail: Trail::default(),
            links: None,
        }
    }

    /// Walks chains on `links` (checked against the database before anything leaves).
    pub fn with_links(mut self, links: Option<Arc<LinkIndex>>) -> Self {
        self.links = links;
        self
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn trail(&self) -> &Trail {
        &self.trail
    }
}
