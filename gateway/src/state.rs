//! Application state shared by every request, and how it is built.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use sea_orm_migration::MigratorTrait;

use crate::auth::{Revocations, Verifier};
use crate::cache::RedisHandle;
use crate::config::Config;
use crate::graphql::{build_schema, Limits, QianchuanSchema};
use crate::http::metrics::Metrics;
use crate::http::rate_limit::RateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub verifier: Arc<Option<Verifier>>,
    pub revocations: Revocations,
    pub rate_limiter: RateLimiter,
    /// With introspection and field suggestions.
    pub schema: QianchuanSchema,
    /// Without them, for roles the `introspection` setting excludes.
    pub restricted_schema: QianchuanSchema,
    pub metrics: Arc<Metrics>,
    pub redis: RedisHandle,
    pub governance: crate::governance::Governance,
    pub events: crate::events::EventBus,
    pub audit: crate::audit::AuditWriter,
    /// The in-memory linkage index chains are walked on (`None`: `QIANCHUAN_LINK_INDEX=off`).
    pub links: Option<Arc<crate::link_index::LinkIndex>>,
    /// Turns to execute a GraphQL request (`max_concurrent_requests`).
    pub executing: Arc<tokio::sync::Semaphore>,
    /// Subscription states computed once per change for every subscriber sharing them.
    pub shared_states: crate::graphql::subscription::SharedStates,
}

/// How long a statement waits for SQLite's write lock held by another connection or process
/// (`qianchuan ingest` beside `serve`) before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Connects to the database (creating an SQLite file if needed) and applies migrations.
/// SQLite runs in WAL mode (readers never wait for the writer) with a long busy timeout
/// (writers, in any process, wait their turn); PostgreSQL's pool fails a request that waits
/// longer than `database_acquire_timeout_ms` for a connection instead of hanging.
pub async fn connect_and_migrate(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let url = config.database_url.as_str();
    let mut options = ConnectOptions::new(url.to_string());
    options
        .sqlx_logging(false)
        .acquire_timeout(Duration::from_millis(config.database_acquire_timeout_ms.max(1)));
    if url.starts_with("sqlite:") {
        // One writer at a time on SQLite; readers share the file.
        options.max_connections(8).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    } else {
        options
            .max_connections(postgres_pool_size(config.database_max_connections))
            .min_connections(2)
            .connect_timeout(Duration::from_secs(3));
    }
    let db = Database::connect(options)
        .await
        .with_context(|| format!("connecting to the database at {}", redact_url(url)))?;
    migrations::Migrator::up(&db, None)
        .await
        .context("applying migrations")?;
    Ok(db)
}

impl AppState {
    pub async fn new(config: Config, db: DatabaseConnection) -> anyhow::Result<AppState> {
        let verifier = Verifier::from_config(&config).map_err(|e| anyhow::anyhow!("JWT keys: {e}"))?;
        let limits = Limits {
            max_page_size: config.max_page_size,
            hub_threshold: config.hub_threshold,
        };
        let schema = build_schema(limits, true);
        let restricted_schema = build_schema(limits, false);
        let redis = RedisHandle::start(config.redis_url.clone());
        let governance = crate::governance::Governance::parse(
            &config.governance_weights,
            &config.governance_thresholds,
            config.governance_escalate_after,
        )
        .map_err(|e| anyhow::anyhow!("governance: {e}"))?;
        let events = crate::events::EventBus::start(redis.clone(), &config.events_channel);
        if config.warning_task_days > 0 {
            tokio::spawn(crate::warnings::follow(
                db.clone(),
                governance.clone(),
                events.clone(),
                config.warning_task_days,
            ));
        }
        let links = config
            .link_index
            .then(|| crate::link_index::LinkIndex::start(db.clone()));
        Ok(AppState {
            links,
            shared_states: Default::default(),
            executing: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_requests.max(1))),
            audit: crate::audit::AuditWriter::start(db.clone()),
            events,
            governance,
            revocations: Revocations::new(db.clone(), redis.clone()),
            db,
            verifier: Arc::new(verifier),
            rate_limiter: RateLimiter::new(redis.clone(), config.rate_limit_per_minute),
            restricted_schema,
            config: Arc::new(config),
            schema,
            metrics: Arc::new(Metrics::default()),
            redis,
        })
    }
}

/// Three connections per core (at least four) unless configured. More is slower, not faster:
/// with 16 clients on 2 cores, 32 connections meant 32 PostgreSQL processes taking turns on
/// the cores, and chains answered at about 1,500 per second; with 6, about 2,000.
fn postgres_pool_size(configured: u32) -> u32 {
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
