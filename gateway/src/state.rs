//! Application state shared by every request, and how it is built.

use std::sync::Arc;
use std::time::Duration;

use hub::db::{Db, DbOptions};

use crate::auth::{Revocations, Verifier};
use crate::config::Config;
use crate::graphql::{build_schema, build_schema_validated_before, Limits, QianchuanSchema};
use crate::rate_limit::RateLimiter;
use crate::telemetry::Metrics;
use hub::cache::RedisHandle;

/// What every request shares, behind one `Arc`: handlers and middleware take a copy of the
/// state per request, which is then one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl From<Shared> for AppState {
    fn from(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

pub struct Shared {
    /// The primary database: writes, the audit log, tasks, ingestion, and reads that must see
    /// this request's own writes (mutations).
    pub db: Db,
    /// Where queries, chains, aggregates and subscriptions read: a caught-up replica or `db`.
    pub reads: hub::replicas::ReadRouter,
    pub config: Arc<Config>,
    pub verifier: Arc<Option<Verifier>>,
    pub revocations: Revocations,
    pub rate_limiter: RateLimiter,
    /// With introspection and field suggestions.
    pub schema: QianchuanSchema,
    /// Without them, for roles the `introspection` setting excludes.
    pub restricted_schema: QianchuanSchema,
    /// `schema` and `restricted_schema` for documents that passed their validation before.
    pub schema_validated_before: QianchuanSchema,
    pub restricted_schema_validated_before: QianchuanSchema,
    pub metrics: Arc<Metrics>,
    pub redis: RedisHandle,
    pub governance: hub::governance::Governance,
    /// 平安督 task days and index weights.
    pub inspections: hub::inspections::Settings,
    /// The supervision models and their settings.
    pub models: Arc<hub::models::Models>,
    pub events: hub::events::EventBus,
    pub audit: hub::audit::AuditWriter,
    /// The in-memory linkage index chains are walked on (`None`: `QIANCHUAN_LINK_INDEX=off`).
    pub links: Option<Arc<hub::link_index::LinkIndex>>,
    /// Turns to execute a GraphQL request (`max_concurrent_requests`).
    pub executing: Arc<tokio::sync::Semaphore>,
    /// Subscription states computed once per change for every subscriber sharing them.
    pub shared_states: crate::graphql::subscription::SharedStates,
    /// `serve --demo` bound to a loopback address: its role tokens, offered on the sign-in page.
    pub demo_tokens: Option<Arc<Vec<(String, String)>>>,
    /// `serve --demo`: the ENFORCEMENT key of a case whose chain spans all five systems.
    pub demo_chain: Option<String>,
    /// Automatic persisted queries, by their SHA-256.
    pub persisted: crate::http::persisted::PersistedQueries,
    /// Parsed documents by their text.
    pub documents: crate::http::documents::Documents,
    /// Statements sent through `db`'s pool (`qianchuan_db_primary_statements_total`).
    pub statements: hub::db::StatementCount,
}

/// Connects to the configured database and applies migrations (`hub::db`).
pub async fn connect_and_migrate(config: &Config) -> anyhow::Result<Db> {
    hub::db::connect_and_migrate(&db_options(config)).await
}

fn db_options(config: &Config) -> DbOptions {
    DbOptions {
        url: config.database_url.clone(),
        max_connections: config.database_max_connections,
        acquire_timeout: Duration::from_millis(config.database_acquire_timeout_ms),
    }
}

impl AppState {
    pub async fn new(config: Config, db: Db) -> anyhow::Result<AppState> {
        Ok(Shared::new(config, db).await?.into())
    }
}

impl Shared {
    /// The state before it is shared, for a caller that completes it (`serve --demo`).
    pub async fn new(config: Config, mut db: Db) -> anyhow::Result<Shared> {
        let statements = hub::db::StatementCount::default();
        statements.count_on(&mut db);
        let verifier = Verifier::from_config(&config).map_err(|e| anyhow::anyhow!("JWT keys: {e}"))?;
        let limits = Limits {
            max_page_size: config.max_page_size,
            hub_threshold: config.hub_threshold,
        };
        let schema = build_schema(limits, true);
        let restricted_schema = build_schema(limits, false);
        let schema_validated_before = build_schema_validated_before(limits, true);
        let restricted_schema_validated_before = build_schema_validated_before(limits, false);
        let redis = RedisHandle::start(config.redis_url.clone());
        let governance = hub::governance::Governance::parse(
            &config.governance_weights,
            &config.governance_thresholds,
            config.governance_escalate_after,
        )
        .map_err(|e| anyhow::anyhow!("governance: {e}"))?;
        let inspections = hub::inspections::Settings {
            task_days: config.inspection_task_days,
            weights: hub::inspections::index::Weights::parse(&config.inspection_weights)
                .map_err(|e| anyhow::anyhow!("QIANCHUAN_INSPECTION_WEIGHTS: {e}"))?,
        };
        let models = Arc::new(config.supervision_models().map_err(|e| anyhow::anyhow!("{e}"))?);
        let events = hub::events::EventBus::start(redis.clone(), &config.events_channel);
        if config.model_refresh_seconds > 0 {
            tokio::spawn(hub::models::engine::follow(
                db.clone(),
                models.clone(),
                events.clone(),
                Duration::from_secs(config.model_refresh_seconds),
            ));
        }
        if config.warning_task_days > 0 {
            tokio::spawn(hub::warnings::follow(
                db.clone(),
                governance.clone(),
                events.clone(),
                config.warning_task_days,
            ));
        }
        let reads = hub::replicas::ReadRouter::start(
            db.clone(),
            config.database_replica_urls.as_deref().unwrap_or_default(),
            &db_options(&config),
            Duration::from_millis(config.replica_max_lag_ms),
        )
        .await?;
        let links = config
            .link_index
            .then(|| hub::link_index::LinkIndex::start(db.clone(), config.case_cache_mb << 20));
        Ok(Shared {
            links,
            reads,
            shared_states: Default::default(),
            demo_tokens: None,
            demo_chain: None,
            persisted: crate::http::persisted::PersistedQueries::new(redis.clone()),
            documents: Default::default(),
            statements,
            inspections,
            models,
            executing: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_requests.max(1))),
            audit: hub::audit::AuditWriter::start(db.clone()),
            events,
            governance,
            revocations: Revocations::new(db.clone(), redis.clone()),
            db,
            verifier: Arc::new(verifier),
            rate_limiter: RateLimiter::new(redis.clone(), config.rate_limit_per_minute),
            restricted_schema,
            schema_validated_before,
            restricted_schema_validated_before,
            config: Arc::new(config),
            schema,
            metrics: Arc::new(Metrics::default()),
            redis,
        })
    }
}
