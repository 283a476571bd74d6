//! The scoped data-access layer: every read of cases and parties goes through a
//! `ScopedStore`, which applies the viewer's `Scope` inside each SQL query.

mod admin;
mod audit;
mod cases;
mod chain;
mod filter;
mod findings;
mod governance;
mod inspections;
mod keys;
mod memory;
mod page;
mod parties;
mod stats;
mod tasks;

pub use crate::linkage::{Key, Neighbours};
pub use audit::AuditQuery;
pub use cases::{CasePosition, CaseSort, NO_OPENING_DATE};
pub use filter::CaseQuery;
pub use findings::{rule_labels, CodeQuery, FindingCount, FindingQuery, OwnCode};
pub use governance::Signals;
pub use page::{Direction, Page, SortedPage, Total, Window};
pub(crate) use parties::described_by;
pub use stats::{Bucket, Dimension};
pub(crate) use tasks::{insert_task, insert_tasks, record_event as record_task_event, TaskToOpen};
pub use tasks::{NewTask, TaskQuery};

use crate::audit::Trail;
use crate::link_index::LinkIndex;
use crate::policy::Scope;
use crate::replicas::ReadRouter;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, ExecResult, QueryResult, Statement, TransactionTrait,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where a store reads: the pool; or, for one query request, one snapshot — a read-only
/// transaction every SQL read of the request goes through, so that a response is consistent
/// with itself even while files load (a case listed is still there for its chain) — opened by
/// its first statement (a request answered from memory opens none); or, for a subscription that
/// reads again on every change, one snapshot per reading (`Following`).
#[derive(Clone)]
pub enum Reader {
    Pool(DatabaseConnection),
    Lazy(Arc<LazySnapshot>),
    Following(Arc<Following>),
}

/// A subscription's reads: each reading (what one change delivers, or the starting state) reads
/// one snapshot, opened by its first statement — so on a database holding every change committed
/// before it, a caught-up replica or the primary — and bounded like a request's: its statements
/// stop at the request budget counted from that statement. A reading ends when its response is
/// computed and before the subscription waits for the next change (`Reader::end_reading`).
pub struct Following {
    router: ReadRouter,
    budget: std::time::Duration,
    reading: std::sync::Mutex<Option<Arc<LazySnapshot>>>,
}

impl Following {
    /// The current reading's snapshot, begun now if none is.
    fn reading(&self) -> Arc<LazySnapshot> {
        let mut slot = self.reading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        slot.get_or_insert_with(|| {
            Arc::new(LazySnapshot::new(
                self.router.clone(),
                Memory::No,
                std::time::Instant::now() + self.budget,
            ))
        })
        .clone()
    }

    /// Ends the current reading, if any, in the background (a statement of a reading dropped at
    /// its budget may still be running until its `statement_timeout`).
    fn end_reading(&self) {
        let ended = self
            .reading
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(lazy) = ended {
            tokio::spawn(Reader::Lazy(lazy).finish());
        }
    }
}

/// A query request's snapshot, opened on a caught-up replica or the primary by the first
/// statement that reads, and what the request took from memory instead (the case cache).
///
/// A response is consistent with itself: once the snapshot is opening, nothing more is taken
/// from memory (the snapshot answers); a request that took something from memory and then
/// opened its snapshot — memory and snapshot may differ by a change committed in between — is
/// `mixed`, and its caller computes it again without memory.
pub struct LazySnapshot {
    router: ReadRouter,
    /// How memory may answer this request.
    memory: Memory,
    /// With `Memory::Assumed`: the last journal row the linkage index had applied when memory
    /// first answered (the caller releases the response only once the journal's head, read
    /// after the request began, is no later).
    assumed: std::sync::OnceLock<i64>,
    /// When the request's budget ends: no statement of the snapshot runs longer than the budget
    /// left when it opens (and a grace).
    budget_ends: std::time::Instant,
    opened: tokio::sync::OnceCell<DatabaseTransaction>,
    opening: AtomicBool,
    remembered: AtomicBool,
    /// Whether the linkage index and its cache were brought current for this request (asked
    /// once, by its first read that memory may answer).
    current: tokio::sync::OnceCell<bool>,
}

/// Whether a request may take cases and parties from the case cache, and how it knows the
/// cache holds every change committed before the request began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// Never: the snapshot answers everything.
    No,
    /// Brought current first: the journal's head is asked after the request began and applied
    /// before memory answers (a round trip before the first answer).
    Current,
    /// As the index has applied the journal so far, recorded (`LazySnapshot::assumed`): the
    /// caller verifies it afterwards against the journal's head read with the audit entry (no
    /// round trip of its own), and computes the response again with `Current` when the head was
    /// later.
    Assumed,
}

impl LazySnapshot {
    fn new(router: ReadRouter, memory: Memory, budget_ends: std::time::Instant) -> LazySnapshot {
        LazySnapshot {
            router,
            memory,
            assumed: std::sync::OnceLock::new(),
            budget_ends,
            opened: tokio::sync::OnceCell::new(),
            opening: AtomicBool::new(memory == Memory::No),
            remembered: AtomicBool::new(false),
            current: tokio::sync::OnceCell::new(),
        }
    }

    async fn get(&self) -> Result<&DatabaseTransaction, sea_orm::DbErr> {
        self.opening.store(true, Ordering::SeqCst);
        self.opened
            .get_or_try_init(|| begin_routed(&self.router, self.budget_ends))
            .await
    }

    /// Whether the snapshot is opening (or memory may not answer this request at all).
    fn opening(&self) -> bool {
        self.opening.load(Ordering::SeqCst)
    }

    /// Whether this request may take an answer from memory now (not once its snapshot opens).
    fn may_remember(&self) -> bool {
        if self.opening.load(Ordering::SeqCst) {
            return false;
        }
        self.remembered.store(true, Ordering::SeqCst);
        true
    }

    /// Took answers from memory, then opened the snapshot: compute the response again with
    /// `Reader::lazy_snapshot(router, false)`.
    pub fn mixed(&self) -> bool {
        self.remembered.load(Ordering::SeqCst) && self.opening.load(Ordering::SeqCst)
    }
}

/// How long a snapshot's statement may run past its request's budget. The gateway answers at
/// the budget and drops the execution; PostgreSQL, which a dropped future does not stop, then
/// cancels the statement itself a moment later (the grace keeps the gateway's answer the
/// one the client gets).
const STATEMENT_GRACE: std::time::Duration = std::time::Duration::from_millis(100);

/// The `statement_timeout` of a snapshot opened now for a request whose budget ends at
/// `budget_ends`, in milliseconds (at least 1: 0 would mean none).
fn statement_timeout_ms(budget_ends: std::time::Instant) -> u128 {
    (budget_ends.saturating_duration_since(std::time::Instant::now()) + STATEMENT_GRACE)
        .as_millis()
        .max(1)
}

/// The statement that bounds each statement of a PostgreSQL transaction opened now by a
/// request's budget ending at `budget_ends`.
fn bound_by_budget(budget_ends: std::time::Instant) -> String {
    format!("SET LOCAL statement_timeout = {}", statement_timeout_ms(budget_ends))
}

/// A snapshot on `db`: repeatable read on PostgreSQL, whose statements stop at the request's
/// budget (`statement_timeout`, set with the isolation in the same round trip); on SQLite
/// (WAL) a read transaction, whose first read fixes what it sees.
async fn begin_snapshot(
    db: &DatabaseConnection,
    budget_ends: std::time::Instant,
) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let txn = db.begin().await.inspect_err(crate::db::note_failure)?;
            txn.execute_unprepared(&format!(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; {}",
                bound_by_budget(budget_ends)
            ))
            .await
            .inspect_err(crate::db::note_failure)?;
            Ok(txn)
        }
        _ => db.begin().await.inspect_err(crate::db::note_failure),
    }
}

/// A snapshot on a replica that holds every change committed before this call, or on the
/// primary; a replica that cannot open one is skipped and the primary opens it.
async fn begin_routed(
    router: &ReadRouter,
    budget_ends: std::time::Instant,
) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    let choice = router.choose().await;
    match begin_snapshot(&choice.db, budget_ends).await {
        Err(e) if choice.is_replica() => {
            router.failed(&choice, &e);
            begin_snapshot(router.primary(), budget_ends).await
        }
        opened => opened,
    }
}

impl Reader {
    /// A routed snapshot opened by the first statement that reads through it; as it opens
    /// after the request began, it holds every change committed before the request.
    /// `memory`: whether (and how) the request may take cases and parties from the case cache;
    /// `budget_ends`: when the request's budget ends (its statements stop then).
    pub fn lazy_snapshot(router: &ReadRouter, memory: Memory, budget_ends: std::time::Instant) -> Reader {
        Reader::Lazy(Arc::new(LazySnapshot::new(router.clone(), memory, budget_ends)))
    }

    /// The reads of a subscription: one snapshot per reading, each bounded by `budget`
    /// (`Following`).
    pub fn following(router: &ReadRouter, budget: std::time::Duration) -> Reader {
        Reader::Following(Arc::new(Following {
            router: router.clone(),
            budget,
            reading: std::sync::Mutex::new(None),
        }))
    }

    /// Ends a subscription's current reading (`Following`); nothing for other readers.
    pub fn end_reading(&self) {
        if let Reader::Following(following) = self {
            following.end_reading();
        }
    }

    /// How long one reading of a subscription may take (`None`: not a subscription's reader).
    pub fn reading_budget(&self) -> Option<std::time::Duration> {
        match self {
            Reader::Following(following) => Some(following.budget),
            Reader::Pool(_) | Reader::Lazy(_) => None,
        }
    }

    /// The journal row memory was assumed current to, when it answered with `Memory::Assumed`
    /// (`None`: memory did not answer, or was brought current first).
    pub fn assumed(&self) -> Option<i64> {
        match self {
            Reader::Lazy(lazy) => lazy.assumed.get().copied(),
            Reader::Pool(_) | Reader::Following(_) => None,
        }
    }

    /// Whether the response read through this took answers from memory and then opened its
    /// snapshot (`LazySnapshot::mixed`).
    pub fn mixed(&self) -> bool {
        matches!(self, Reader::Lazy(lazy) if lazy.mixed())
    }

    /// Where reads that fill the case cache go: a database holding every change committed
    /// before this call (not the request's snapshot, which may be older).
    async fn fill_source(&self) -> DatabaseConnection {
        match self {
            Reader::Pool(db) => db.clone(),
            Reader::Lazy(lazy) => lazy.router.reader().await,
            Reader::Following(following) => following.router.reader().await,
        }
    }

    /// Ends a snapshot that nothing else holds any more (its reads are over); a snapshot still
    /// shared ends when its last holder lets go.
    pub async fn finish(self) {
        let txn = match self {
            Reader::Lazy(lazy) => Arc::try_unwrap(lazy).ok().and_then(|l| l.opened.into_inner()),
            Reader::Pool(_) | Reader::Following(_) => None,
        };
        if let Some(txn) = txn {
            if let Err(e) = txn.commit().await {
                tracing::debug!(error = %e, "ending a read snapshot");
            }
        }
    }

    /// Ends the snapshot of an execution that `completed`, or, of one dropped at its deadline,
    /// in the background: a statement may still be running, which PostgreSQL stops at the
    /// snapshot's `statement_timeout`, and that wait is not the client's.
    pub async fn end(self, completed: bool) {
        if completed {
            self.finish().await;
        } else {
            tokio::spawn(self.finish());
        }
    }
}

#[sea_orm::entity::prelude::async_trait::async_trait]
impl ConnectionTrait for Reader {
    fn get_database_backend(&self) -> sea_orm::DbBackend {
        match self {
            Reader::Pool(db) => db.get_database_backend(),
            Reader::Lazy(lazy) => lazy.router.primary().get_database_backend(),
            Reader::Following(following) => following.router.primary().get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, sea_orm::DbErr> {
        match self {
            Reader::Pool(db) => db.execute_raw(stmt).await,
            Reader::Lazy(lazy) => lazy.get().await?.execute_raw(stmt).await,
            Reader::Following(following) => following.reading().get().await?.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, sea_orm::DbErr> {
        match self {
            Reader::Pool(db) => db.execute_unprepared(sql).await,
            Reader::Lazy(lazy) => lazy.get().await?.execute_unprepared(sql).await,
            Reader::Following(following) => following.reading().get().await?.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, sea_orm::DbErr> {
        match self {
            Reader::Pool(db) => db.query_one_raw(stmt).await,
            Reader::Lazy(lazy) => lazy.get().await?.query_one_raw(stmt).await,
            Reader::Following(following) => following.reading().get().await?.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, sea_orm::DbErr> {
        match self {
            Reader::Pool(db) => db.query_all_raw(stmt).await,
            Reader::Lazy(lazy) => lazy.get().await?.query_all_raw(stmt).await,
            Reader::Following(following) => following.reading().get().await?.query_all_raw(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        match self {
            Reader::Pool(db) => db.support_returning(),
            Reader::Lazy(lazy) => lazy.router.primary().support_returning(),
            Reader::Following(following) => following.router.primary().support_returning(),
        }
    }
}

/// The reads of cases and parties, for a viewer who may read records (`ScopedStore::records`).
#[derive(Clone, Copy)]
pub struct Records<'a>(&'a ScopedStore);

/// The aggregates, for a viewer who may compute them (`ScopedStore::aggregates`); small cells
/// are suppressed by the callers for roles that see aggregates only (`Scope::suppresses`).
#[derive(Clone, Copy)]
pub struct Aggregates<'a>(&'a ScopedStore);

impl Aggregates<'_> {
    pub fn scope(&self) -> &Scope {
        &self.0.scope
    }
}

impl Records<'_> {
    pub fn scope(&self) -> &Scope {
        &self.0.scope
    }
}

/// A database handle that can only see what one viewer may see.
#[derive(Clone)]
pub struct ScopedStore {
    /// Reads (a snapshot for a query request).
    db: Reader,
    /// Writes (supervision tasks), always on the pool.
    pool: DatabaseConnection,
    scope: Arc<Scope>,
    /// Every case and party handed out, for the audit log.
    trail: Trail,
    /// The in-memory linkage index chains are walked on, when the gateway keeps one.
    links: Option<Arc<LinkIndex>>,
    /// When the request's budget ends, if it has one: its write transactions' statements stop
    /// then (as its snapshot's do).
    budget_ends: Option<std::time::Instant>,
}

impl ScopedStore {
    pub fn new(db: DatabaseConnection, scope: Scope) -> Self {
        ScopedStore {
            db: Reader::Pool(db.clone()),
            pool: db,
            scope: Arc::new(scope),
            trail: Trail::default(),
            links: None,
            budget_ends: None,
        }
    }

    /// Bounds the statements of this store's write transactions by a request's budget.
    pub fn within_budget(mut self, budget_ends: std::time::Instant) -> Self {
        self.budget_ends = Some(budget_ends);
        self
    }

    /// Reads through `reader` (a request's snapshot) instead of the pool.
    pub fn reading(mut self, reader: Reader) -> Self {
        self.db = reader;
        self
    }

    /// The reader this store reads through.
    pub fn reader(&self) -> &Reader {
        &self.db
    }

    /// Walks chains on `links` (checked against the database before anything leaves).
    pub fn with_links(mut self, links: Option<Arc<LinkIndex>>) -> Self {
        self.links = links;
        self
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// What a viewer who may read individual cases and parties can do: every case and party
    /// read is a method of `Records`, so none can be reached without this check. `Forbidden`
    /// for roles that read aggregates only, or nothing.
    pub fn records(&self) -> Result<Records<'_>, crate::Error> {
        if self.scope.records {
            Ok(Records(self))
        } else {
            Err(crate::Error::Forbidden)
        }
    }

    /// What a viewer who may compute aggregates can do. `Forbidden` otherwise.
    pub fn aggregates(&self) -> Result<Aggregates<'_>, crate::Error> {
        if self.scope.aggregates {
            Ok(Aggregates(self))
        } else {
            Err(crate::Error::Forbidden)
        }
    }

    /// The pool writes go to (a model run, which takes its own transaction).
    pub fn pool(&self) -> &DatabaseConnection {
        &self.pool
    }

    /// A write transaction on the pool; on PostgreSQL, within a request's budget, each of its
    /// statements runs at most the budget left now (and the grace): a statement waiting for a
    /// lock does not outlive its request.
    async fn begin_write(&self) -> Result<DatabaseTransaction, sea_orm::DbErr> {
        let txn = self.pool.begin().await.inspect_err(crate::db::note_failure)?;
        if let (Some(ends), sea_orm::DbBackend::Postgres) = (self.budget_ends, self.pool.get_database_backend()) {
            txn.execute_unprepared(&bound_by_budget(ends))
                .await
                .inspect_err(crate::db::note_failure)?;
        }
        Ok(txn)
    }

    pub fn trail(&self) -> &Trail {
        &self.trail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_snapshot_statement_may_run_for_the_budget_left_and_a_grace() {
        let left = statement_timeout_ms(Instant::now() + Duration::from_secs(5));
        assert!((4_900..=5_100).contains(&left), "{left}");
        // A budget already spent still gives a positive timeout (0 would mean none at all).
        assert_eq!(statement_timeout_ms(Instant::now()), STATEMENT_GRACE.as_millis());
    }
}
