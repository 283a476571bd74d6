//! The scoped data-access layer: every read of cases and parties goes through a
//! `ScopedStore`, which applies the viewer's `Scope` inside each SQL query.

mod admin;
mod audit;
mod cases;
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
pub use keys::Key;
pub use stats::{Bucket, Dimension};
pub use tasks::{supervises, NewTask, TaskQuery};

use crate::audit::Trail;
use crate::policy::Scope;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// A database handle that can only see what one viewer may see.
#[derive(Clone)]
pub struct ScopedStore {
    db: DatabaseConnection,
    scope: Arc<Scope>,
    /// Every case and party handed out, for the audit log.
    trail: Trail,
}

impl ScopedStore {
    pub fn new(db: DatabaseConnection, scope: Scope) -> Self {
        ScopedStore {
            db,
            scope: Arc::new(scope),
            trail: Trail::default(),
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn trail(&self) -> &Trail {
        &self.trail
    }
}
