//! The database: connecting (and migrating), and the one handle type the gateway holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database};
use sea_orm_migration::MigratorTrait;

/// A pool of connections to the hub's database (SQLite or PostgreSQL).
pub type Db = sea_orm::DatabaseConnection;

/// How long a statement waits for SQLite's write lock held by another connection or process
/// (`qianchuan ingest` beside `serve`) before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// How to connect.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// The PostgreSQL pool's size; 0 chooses it from the number of cores.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: Duration,
}

/// A pooled PostgreSQL connection idle this long is pinged before it is handed out (one it
/// cannot reach is replaced); a busier one is not, which saves a round trip per statement
/// (sqlx's default pings on every acquire).
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Connects to the database (creating an SQLite file if needed) and applies migrations.
/// SQLite runs in WAL mode (readers never wait for the writer) with a long busy timeout
/// (writers, in any process, wait their turn); PostgreSQL's pool fails a request that waits
/// longer than `acquire_timeout` for a connection instead of hanging.
pub async fn connect_and_migrate(options: &DbOptions) -> anyhow::Result<Db> {
    let url = options.url.as_str();
    let mut connect = ConnectOptions::new(url.to_string());
    connect
        .sqlx_logging(false)
        .acquire_timeout(options.acquire_timeout.max(Duration::from_millis(1)));
    if url.starts_with("sqlite:") {
        // One writer at a time on SQLite; readers share the file.
        connect.max_connections(8).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    } else {
        connect
            .max_connections(postgres_pool_size(options.max_connections))
            .min_connections(2)
            .connect_timeout(Duration::from_secs(3))
            .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
    }
    let db = Database::connect(connect)
        .await
        .with_context(|| format!("connecting to the database at {}", redact_url(url)))?;
    // Quiet unless something is applied (sea-orm-migration's own lines are filtered out by
    // the default log filter).
    let pending: Vec<String> = migrations::Migrator::get_pending_migrations(&db)
        .await
        .context("reading the applied migrations")?
        .iter()
        .map(|m| m.name().to_string())
        .collect();
    migrations::Migrator::up(&db, None)
        .await
        .context("applying migrations")?;
    if !pending.is_empty() {
        tracing::info!(count = pending.len(), migrations = %pending.join(", "), "migrations applied");
    }
    Ok(db)
}

/// Statements sent through one pool since start (every statement sea-orm runs on it, in a
/// transaction or not), counted from `StatementCount::count_on`.
#[derive(Clone, Default)]
pub struct StatementCount(Arc<AtomicU64>);

impl StatementCount {
    /// Counts, from now on, every statement `db` (and every clone of it made after) sends.
    pub fn count_on(&self, db: &mut Db) {
        let count = self.0.clone();
        db.set_metric_callback(move |_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Whether the database answers within `within`.
pub async fn answers(db: &Db, within: Duration) -> bool {
    matches!(tokio::time::timeout(within, db.ping()).await, Ok(Ok(())))
}

/// Three connections per core (at least four) unless configured. More is slower, not faster:
/// with 16 clients on 2 cores, 32 connections meant 32 PostgreSQL processes taking turns on
/// the cores, and chains answered at about 1,500 per second; with 6, about 2,000.
pub(crate) fn postgres_pool_size(configured: u32) -> u32 {
    if configured > 0 {
        return configured;
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    u32::try_from(cores * 3).unwrap_or(u32::MAX).max(4)
}

/// Hides the password of a connection URL for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// A pool's connections: in use, idle, and the most it opens.
#[derive(Debug, Clone, Copy)]
pub struct PoolFigures {
    pub in_use: i64,
    pub idle: i64,
    pub max: i64,
}

/// Database calls since start that found no free connection in time, and that found the
/// database unreachable or lost the connection (every pool of the process).
static ACQUIRE_TIMEOUTS: AtomicU64 = AtomicU64::new(0);
static CONNECTION_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Counts a call that could not get a working connection (for the metrics).
pub fn note_failure(e: &sea_orm::DbErr) {
    match e {
        sea_orm::DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout) => {
            ACQUIRE_TIMEOUTS.fetch_add(1, Ordering::Relaxed);
        }
        sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_) => {
            CONNECTION_FAILURES.fetch_add(1, Ordering::Relaxed);
        }
        // A pooled connection that died while idle fails at its first statement (it is pinged
        // before use only after a second idle): a lost connection as well.
        sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
            if matches!(
                **e,
                sea_orm::sqlx::Error::Io(_) | sea_orm::sqlx::Error::PoolClosed | sea_orm::sqlx::Error::WorkerCrashed
            ) =>
        {
            CONNECTION_FAILURES.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

/// `(acquire timeouts, connection failures)` since start.
pub fn connection_trouble() -> (u64, u64) {
    (
        ACQUIRE_TIMEOUTS.load(Ordering::Relaxed),
        CONNECTION_FAILURES.load(Ordering::Relaxed),
    )
}

/// The figures of `db`'s pool.
pub fn pool_figures(db: &Db) -> Option<PoolFigures> {
    match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            let (size, idle) = (i64::from(pool.size()), pool.num_idle() as i64);
            Some(PoolFigures {
                in_use: size - idle,
                idle,
                max: i64::from(pool.options().get_max_connections()),
            })
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            let (size, idle) = (i64::from(pool.size()), pool.num_idle() as i64);
            Some(PoolFigures {
                in_use: size - idle,
                idle,
                max: i64::from(pool.options().get_max_connections()),
            })
        }
        _ => None,
    }
}

/// How long opening an `OwnConnection` may take (as the pools' connect timeout).
const OWN_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3);

/// A connection of its own for one small statement run over and over, one at a time (the
/// linkage journal's last row, the primary's WAL position: about once per request under load;
/// the audit log's group commits).
/// Through the pool each asking would also cost an acquire and a release, and sqlx checks a
/// released connection with a round trip of its own. Opened on first use; a connection whose
/// question failed or was abandoned (its request cancelled) is dropped and the next question
/// opens another. On SQLite, where there is no network round trip to save, the pool answers.
pub struct OwnConnection {
    db: Db,
    /// Its `application_name` on PostgreSQL (what `pg_stat_activity` shows it as).
    name: &'static str,
    connection: tokio::sync::Mutex<Option<sea_orm::sqlx::PgConnection>>,
}

impl OwnConnection {
    pub fn new(db: Db, name: &'static str) -> OwnConnection {
        OwnConnection {
            db,
            name,
            connection: tokio::sync::Mutex::new(None),
        }
    }

    /// The first column of the first row `sql` returns (a bigint; `None` for NULL or no row).
    pub async fn query_i64(&self, sql: &'static str) -> Result<Option<i64>, sea_orm::DbErr> {
        self.query_i64_with(sql, Vec::new()).await
    }

    /// `query_i64` with text parameters (`$1`, `$2`, … on PostgreSQL, cast in `sql` to the types
    /// they carry; `?` on SQLite).
    pub async fn query_i64_with(&self, sql: &'static str, params: Vec<String>) -> Result<Option<i64>, sea_orm::DbErr> {
        use sea_orm::sqlx::Connection as _;
        use sea_orm::ConnectionTrait as _;
        let backend = self.db.get_database_backend();
        if backend != sea_orm::DbBackend::Postgres {
            let values: Vec<sea_orm::Value> = params.into_iter().map(Into::into).collect();
            let row = self
                .db
                .query_one_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values))
                .await?;
            return match row {
                Some(row) => row.try_get_by_index::<Option<i64>>(0),
                None => Ok(None),
            };
        }
        let failed = |e: sea_orm::sqlx::Error| sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
        let mut slot = self.connection.lock().await;
        // Out of the slot while in use: put back only once the question is answered.
        let mut connection = match slot.take() {
            Some(connection) => connection,
            None => {
                let options = (*self.db.get_postgres_connection_pool().connect_options())
                    .clone()
                    .application_name(self.name);
                let connecting = sea_orm::sqlx::PgConnection::connect_with(&options);
                let mut connection = tokio::time::timeout(OWN_CONNECTION_TIMEOUT, connecting)
                    .await
                    .map_err(|_| failed(sea_orm::sqlx::Error::PoolTimedOut))?
                    .map_err(failed)?;
                // The same few statements run over and over with parameters of the same shape:
                // a generic plan, never planned again per execution. Set after connecting, not
                // as a startup option, which some poolers refuse; a server without the setting
                // (before PostgreSQL 12) just plans as it would.
                if let Err(e) = sea_orm::sqlx::query("SET plan_cache_mode = force_generic_plan")
                    .execute(&mut connection)
                    .await
                {
                    tracing::debug!(error = %e, connection = self.name, "plan_cache_mode not set");
                }
                connection
            }
        };
        let mut query = sea_orm::sqlx::query_scalar(sql);
        for param in params {
            query = query.bind(param);
        }
        let value: Option<i64> = query.fetch_optional(&mut connection).await.map_err(failed)?.flatten();
        *slot = Some(connection);
        Ok(value)
    }
}
