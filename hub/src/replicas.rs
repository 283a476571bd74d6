//! Reads scaled out on PostgreSQL's own streaming replicas, without giving up the contract
//! that a request reflects every change committed before it began.
//!
//! A read first learns the primary's WAL flush position as of a moment after it began (one
//! query shared by every read waiting at that moment, so the primary answers at most one such
//! query per round trip, whatever the load). A replica serves the read only if it has replayed
//! up to that position; the replicas' replay positions are probed every few milliseconds. A read
//! whose replicas are all behind waits for them up to `max_lag`, then reads from the primary.
//! A replica that fails a probe or a connection is skipped until a probe answers again: no
//! request fails because a replica is down or behind. Writes never come here: they, the audit
//! log, tasks and ingestion use the primary's pool.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, DbErr, Statement};

use crate::db::{redact_url, Db, DbOptions};
use crate::read_after::ReadAfter;

/// How often each replica's replay position is read.
const PROBE_EVERY: Duration = Duration::from_millis(10);
/// A probe that takes longer than this counts as a replica down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where reads go: the primary, or a replica that has caught up with it.
#[derive(Clone)]
pub struct ReadRouter(Arc<Inner>);

/// A pool chosen for a read.
pub struct Choice {
    pub db: Db,
    /// Which replica, if not the primary.
    replica: Option<usize>,
}

impl Choice {
    pub fn is_replica(&self) -> bool {
        self.replica.is_some()
    }
}

struct Inner {
    primary: Db,
    replicas: Vec<Replica>,
    /// The primary's flush position (or why it could not be read), shared by the reads that
    /// began before it was asked for.
    position: ReadAfter<u64>,
    /// Where the primary's position is asked.
    position_connection: crate::db::OwnConnection,
    /// Bumped after every probe round, for reads waiting on a replica.
    probed: tokio::sync::watch::Sender<u64>,
    max_lag: Duration,
    turn: AtomicUsize,
    primary_reads: AtomicU64,
    replica_reads: AtomicU64,
}

struct Replica {
    /// The URL without its password, for logs and `/readyz`.
    name: String,
    db: Db,
    /// The WAL position replayed as of the last probe.
    replayed: AtomicU64,
    up: AtomicBool,
    /// Why the last probe or connection failed, while it is down.
    trouble: std::sync::Mutex<Option<String>>,
}

/// A replica as `/readyz` and the metrics show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaState {
    pub name: String,
    pub up: bool,
    /// The WAL position replayed as of the last probe (bytes since the start of the WAL).
    pub replayed: u64,
    /// Why it is down.
    pub trouble: Option<String>,
}

impl ReadRouter {
    /// Reads on `primary` only.
    pub fn primary_only(primary: Db) -> ReadRouter {
        Self::new(primary, Vec::new(), Duration::ZERO)
    }

    /// Connects (lazily: a replica down at start is only skipped) to each of `urls` with the
    /// pool settings of `options`, and probes them in the background. The replicas must be
    /// PostgreSQL streaming replicas of `primary`.
    pub async fn start(primary: Db, urls: &[String], options: &DbOptions, max_lag: Duration) -> anyhow::Result<Self> {
        if urls.is_empty() {
            return Ok(Self::primary_only(primary));
        }
        if primary.get_database_backend() != DbBackend::Postgres {
            anyhow::bail!("read replicas need PostgreSQL as the primary database");
        }
        let mut replicas = Vec::new();
        for url in urls {
            if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                anyhow::bail!("a read replica must be a postgres:// URL: {}", redact_url(url));
            }
            let mut connect = ConnectOptions::new(url.clone());
            connect
                .sqlx_logging(false)
                .connect_lazy(true)
                .max_connections(crate::db::postgres_pool_size(options.max_connections))
                .acquire_timeout(options.acquire_timeout.max(Duration::from_millis(1)))
                .connect_timeout(Duration::from_secs(3));
            let db = Database::connect(connect).await?;
            replicas.push(Replica {
                name: redact_url(url),
                db,
                replayed: AtomicU64::new(0),
                up: AtomicBool::new(false),
                trouble: std::sync::Mutex::new(Some("not probed yet".into())),
            });
        }
        let router = Self::new(primary, replicas, max_lag);
        tokio::spawn(router.clone().probe_forever());
        Ok(router)
    }

    fn new(primary: Db, replicas: Vec<Replica>, max_lag: Duration) -> ReadRouter {
        ReadRouter(Arc::new(Inner {
            position_connection: crate::db::OwnConnection::new(primary.clone(), "qianchuan primary position"),
            primary,
            replicas,
            position: ReadAfter::default(),
            probed: tokio::sync::watch::channel(0).0,
            max_lag,
            turn: AtomicUsize::new(0),
            primary_reads: AtomicU64::new(0),
            replica_reads: AtomicU64::new(0),
        }))
    }

    /// The primary's pool (writes, and reads that must see them).
    pub fn primary(&self) -> &Db {
        &self.0.primary
    }

    /// A pool that holds every change committed before this call: a replica that has replayed
    /// the primary's position, or the primary.
    pub async fn reader(&self) -> Db {
        self.choose().await.db
    }

    /// As `reader`, telling which replica was chosen, so that a caller that cannot use it
    /// reports it (`failed`).
    pub async fn choose(&self) -> Choice {
        match self.replica_caught_up().await {
            Some(index) => Choice {
                db: self.0.replicas[index].db.clone(),
                replica: Some(index),
            },
            None => Choice {
                db: self.0.primary.clone(),
                replica: None,
            },
        }
    }

    /// `choice` (a replica) failed with `error`: it is skipped until a probe answers, and the
    /// read is counted as the primary's, which the caller turns to.
    pub fn failed(&self, choice: &Choice, error: &DbErr) {
        if let Some(index) = choice.replica {
            self.0.replicas[index].mark_down(&error.to_string());
            self.0.replica_reads.fetch_sub(1, Ordering::Relaxed);
            self.0.primary_reads.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The index of a replica holding every change committed before this call, waiting up to
    /// `max_lag` for one; `None`: read from the primary. Counts the read either way.
    async fn replica_caught_up(&self) -> Option<usize> {
        let inner = &self.0;
        if inner.replicas.is_empty() {
            return None;
        }
        let began = Instant::now();
        let needed = match self.primary_position_after(began).await {
            Ok(position) => position,
            Err(e) => {
                tracing::debug!(error = %e, "reading the primary's WAL position");
                inner.primary_reads.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        let deadline = tokio::time::Instant::from_std(began + inner.max_lag);
        let mut probes = inner.probed.subscribe();
        loop {
            if let Some(index) = self.pick(needed) {
                inner.replica_reads.fetch_add(1, Ordering::Relaxed);
                return Some(index);
            }
            let any_up = inner.replicas.iter().any(|r| r.up.load(Ordering::Acquire));
            if !any_up || tokio::time::timeout_at(deadline, probes.changed()).await.is_err() {
                inner.primary_reads.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        }
    }

    /// The next replica, in turn, that is up and has replayed `needed`.
    fn pick(&self, needed: u64) -> Option<usize> {
        let replicas = &self.0.replicas;
        let start = self.0.turn.fetch_add(1, Ordering::Relaxed);
        (0..replicas.len()).map(|i| (start + i) % replicas.len()).find(|&i| {
            let r = &replicas[i];
            r.up.load(Ordering::Acquire) && r.replayed.load(Ordering::Acquire) >= needed
        })
    }

    /// The primary's WAL flush position, read after `began`: every transaction committed
    /// before `began` ends at or before it. Reads that began before a query was sent share
    /// its answer.
    /// A failure is shared the same way: reads queued behind a primary that does not answer
    /// fail together, not one timeout after another.
    async fn primary_position_after(&self, began: Instant) -> Result<u64, String> {
        self.0
            .position
            .after(began, || async {
                let position = self.0.position_connection.query_i64(PRIMARY_POSITION).await;
                match position.map(|p| p.map(|p| u64::try_from(p).unwrap_or(0))) {
                    Ok(Some(position)) => Ok(position),
                    Ok(None) => Err("the primary reports no WAL position".to_string()),
                    Err(e) => {
                        crate::db::note_failure(&e);
                        Err(e.to_string())
                    }
                }
            })
            .await
    }

    /// Reads every replica's replay position, for ever.
    async fn probe_forever(self) {
        let mut every = tokio::time::interval(PROBE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let rounds = self.0.replicas.iter().map(|replica| async move {
                let probe = wal_position(&replica.db, REPLAYED_POSITION);
                match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
                    Ok(Ok(Some(position))) => {
                        replica.replayed.store(position, Ordering::Release);
                        if !replica.up.swap(true, Ordering::AcqRel) {
                            replica.note_trouble(None);
                            tracing::info!(replica = %replica.name, "read replica up");
                        }
                    }
                    Ok(Ok(None)) => replica.mark_down("it is not a replica (no WAL replay position)"),
                    Ok(Err(e)) => replica.mark_down(&e.to_string()),
                    Err(_) => replica.mark_down("its probe timed out"),
                }
            });
            futures_util::future::join_all(rounds).await;
            self.0.probed.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The replicas, as last probed.
    pub fn replicas(&self) -> Vec<ReplicaState> {
        self.0
            .replicas
            .iter()
            .map(|r| ReplicaState {
                name: r.name.clone(),
                up: r.up.load(Ordering::Acquire),
                replayed: r.replayed.load(Ordering::Acquire),
                trouble: r.trouble.lock().map(|t| t.clone()).unwrap_or_default(),
            })
            .collect()
    }

    /// `(reads from the primary, reads from a replica)` routed since start.
    pub fn reads(&self) -> (u64, u64) {
        (
            self.0.primary_reads.load(Ordering::Relaxed),
            self.0.replica_reads.load(Ordering::Relaxed),
        )
    }
}

impl Replica {
    fn mark_down(&self, why: &str) {
        self.note_trouble(Some(why.to_string()));
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(replica = %self.name, reason = why, "read replica skipped until it answers again");
        }
    }
}

impl Replica {
    fn note_trouble(&self, trouble: Option<String>) {
        if let Ok(mut t) = self.trouble.lock() {
            *t = trouble;
        }
    }
}

/// `function` (a `pg_lsn`) as bytes since the start of the WAL; `None` when it is null.
/// WAL positions as bigints: the primary's flushed, a replica's replayed.
const PRIMARY_POSITION: &str = "SELECT (pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint AS position";
const REPLAYED_POSITION: &str = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS position";

async fn wal_position(db: &Db, sql: &str) -> Result<Option<u64>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    let position = match row {
        Some(row) => row.try_get::<Option<i64>>("", "position")?,
        None => None,
    };
    Ok(position.map(|p| u64::try_from(p).unwrap_or(0)))
}
