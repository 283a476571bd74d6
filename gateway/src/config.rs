//! Layered configuration: typed defaults → optional TOML file → `QIANCHUAN_` environment,
//! merged by config-rs. Unknown keys and variables fail at start-up rather than being ignored.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A secret that never prints itself.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://…` (embedded) or `postgres://…`.
    pub database_url: String,
    /// Size of the PostgreSQL connection pool; 0: three per core, at least four.
    pub database_max_connections: u32,
    /// PostgreSQL streaming replicas of `database_url` that queries, chains, aggregates and
    /// subscriptions read from when they have replayed every change committed before the read.
    #[serde(deserialize_with = "comma_list")]
    pub database_replica_urls: Option<Vec<String>>,
    /// How long a read waits for a replica to replay the primary's position before it reads
    /// from the primary instead, in milliseconds.
    pub replica_max_lag_ms: u64,
    /// Shared cache, rate limits, revocation and fan-out; in-process when unset.
    #[serde(deserialize_with = "empty_is_unset")]
    pub redis_url: Option<String>,
    /// HS256 secret.
    #[serde(deserialize_with = "empty_is_unset")]
    pub jwt_secret: Option<Secret>,
    /// PEM file with an RS256/ES256 public key.
    #[serde(deserialize_with = "empty_is_unset")]
    pub jwt_public_key: Option<PathBuf>,
    /// JWKS file; keys chosen by `kid`.
    #[serde(deserialize_with = "empty_is_unset")]
    pub jwks: Option<PathBuf>,
    #[serde(deserialize_with = "empty_is_unset")]
    pub jwt_issuer: Option<String>,
    #[serde(deserialize_with = "empty_is_unset")]
    pub jwt_audience: Option<String>,
    /// Accepted algorithms (HS256, RS256, ES256); default: those the configured keys verify.
    #[serde(deserialize_with = "comma_list")]
    pub jwt_algorithms: Option<Vec<String>>,
    /// Requests per minute per token subject, shared across gateways through Redis.
    pub rate_limit_per_minute: u64,
    /// Who may use introspection and field suggestions: `admin`, `all` or `none`.
    pub introspection: String,
    /// Governance index weights: `problems=1,overdue=5,repeat_complaints=3,court_disputes=2,unclosed=1,dissatisfied=3`.
    pub governance_weights: String,
    /// Lower bounds of BLUE, ORANGE and RED: `10,25,50`.
    pub governance_thresholds: String,
    /// Consecutive ORANGE months that raise a warning.
    pub governance_escalate_after: u32,
    /// Address `serve` listens on.
    pub bind: String,
    /// Largest page any connection returns.
    pub max_page_size: u64,
    /// Largest request body, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Largest body of `POST /ingest/{source}`, in bytes.
    pub max_ingest_bytes: usize,
    /// A key shared by more cases than this is a hub: listed, not walked.
    pub hub_threshold: u64,
    /// Days a town has to answer a task opened by a governance warning; 0: warnings open no tasks.
    pub warning_task_days: u32,
    /// Days a town has to fix a problem a 平安督 inspection found (the task's deadline).
    pub inspection_task_days: u32,
    /// Weights of the 平安督查指数: `problems,overdue,unrectified`.
    pub inspection_weights: String,
    /// The Redis pub/sub channel gateways of one deployment share for live events.
    pub events_channel: String,
    /// Walk chains on an in-memory linkage index (built at start, kept current from the
    /// linkage journal); `false`: every chain is walked in SQL.
    #[serde(deserialize_with = "on_or_off")]
    pub link_index: bool,
    /// Memory for the case cache the linkage index keeps (case rows, and the parties of cases
    /// with their mentions), in MiB; `0` keeps nothing. Needs the linkage index.
    pub case_cache_mb: usize,
    /// `tracing` filter, e.g. `info` or `gateway=debug`.
    pub log: String,
    /// Each GraphQL request's time budget, in milliseconds: past it the work is cancelled and
    /// the request answered `LIMIT_EXCEEDED`.
    pub request_timeout_ms: u64,
    /// GraphQL requests executing at once; more wait (within their budget) for a turn.
    pub max_concurrent_requests: usize,
    /// How long a request waits for a database connection before failing, in milliseconds.
    pub database_acquire_timeout_ms: u64,
    /// How long a client may take to send a request's headers, and then its body, in milliseconds.
    pub read_timeout_ms: u64,
    /// Bearer token that opens `/metrics` and the details of `/readyz` to callers off loopback.
    #[serde(deserialize_with = "empty_is_unset")]
    pub metrics_token: Option<Secret>,
    /// A TOML file of supervision-model declarations replacing the shipped ones.
    #[serde(deserialize_with = "empty_is_unset")]
    pub models: Option<std::path::PathBuf>,
    /// Days a department has to answer a task a model's finding opened.
    pub model_task_days: u32,
    /// Seconds between a gateway's checks for changed model inputs (0: never; `qianchuan
    /// ingest` still runs the models after its loads).
    pub model_refresh_seconds: u64,
    /// The date automatic model runs use instead of today in Asia/Shanghai (`YYYY-MM-DD`).
    #[serde(deserialize_with = "empty_is_unset")]
    pub model_date: Option<chrono::NaiveDate>,
    /// Code look-ups per employer and calendar day.
    pub employer_daily_lookups: u32,
    /// `text` (colour only on a terminal) or `json` (one object per line).
    pub log_format: String,
    /// Browser origins (`https://screen.example.gov.cn`) allowed to call `/graphql` and
    /// `/ingest` (CORS); none by default, `*` for any.
    #[serde(deserialize_with = "comma_list")]
    pub cors_origins: Option<Vec<String>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://qianchuan.db?mode=rwc".into(),
            database_max_connections: 0,
            database_replica_urls: None,
            replica_max_lag_ms: 50,
            redis_url: None,
            jwt_secret: None,
            jwt_public_key: None,
            jwks: None,
            jwt_issuer: None,
            jwt_audience: None,
            jwt_algorithms: None,
            rate_limit_per_minute: 600,
            introspection: "admin".into(),
            governance_weights:
                "problems=1,overdue=5,repeat_complaints=3,court_disputes=2,unclosed=1,dissatisfied=3,inspection_problems=1"
                    .into(),
            governance_thresholds: "10,25,50".into(),
            governance_escalate_after: 3,
            bind: "127.0.0.1:8080".into(),
            max_page_size: 100,
            max_body_bytes: 1 << 20,
            max_ingest_bytes: 256 << 20,
            hub_threshold: 50,
            warning_task_days: 15,
            inspection_task_days: 15,
            inspection_weights: "1,5,20".into(),
            events_channel: "qianchuan:events".into(),
            link_index: true,
            case_cache_mb: 64,
            log: "info".into(),
            request_timeout_ms: 5_000,
            max_concurrent_requests: 32,
            database_acquire_timeout_ms: 2_000,
            read_timeout_ms: 10_000,
            metrics_token: None,
            models: None,
            model_task_days: 30,
            model_refresh_seconds: 30,
            model_date: None,
            employer_daily_lookups: 100,
            log_format: "text".into(),
            cors_origins: None,
        }
    }
}

/// Variables that belong to the test harness and CI, not to the gateway.
const HARNESS_VARIABLES: &[&str] = &[
    "QIANCHUAN_TEST_DATABASE_URL",
    "QIANCHUAN_TEST_REDIS_URL",
    "QIANCHUAN_TEST_REPLICA_URL",
    "QIANCHUAN_REQUIRE_SERVICES",
    "QIANCHUAN_CONFIG",
    // Read by `qianchuan pull` itself (a secret of the command, not of the gateway).
    "QIANCHUAN_PULL_TOKEN",
];

/// The settings' keys (`database_url`, …), from the configuration's own fields.
fn known_keys() -> BTreeSet<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(fields)) => fields.into_iter().map(|(k, _)| k).collect(),
        _ => BTreeSet::new(),
    }
}

/// The keys as a list for a message, each as `prefix` + the key (upper case with a prefix).
fn known_list(prefix: &str) -> String {
    known_keys()
        .iter()
        .map(|k| {
            if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}{}", k.to_ascii_uppercase())
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("unknown environment variable {0} (known: {1})")]
    UnknownVariable(String, String),
    #[error("environment variable {name}: {message}")]
    BadValue { name: String, message: String },
    #[error("configuration: {0}")]
    Merge(String),
    #[error("{0}")]
    Invalid(String),
}

/// An empty value (`QIANCHUAN_REDIS_URL=`) leaves an optional setting unset.
fn empty_is_unset<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => v.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// A list: a TOML array, or comma-separated text (`RS256,ES256`).
fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        Items(Vec<String>),
        Text(String),
    }
    let items = match Option::<List>::deserialize(d)? {
        None => return Ok(None),
        Some(List::Items(items)) => items,
        Some(List::Text(text)) => text.split(',').map(str::to_string).collect(),
    };
    let items: Vec<String> = items
        .iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    Ok((!items.is_empty()).then_some(items))
}

/// `on`/`off` (also `true`/`false`, `1`/`0`).
fn on_or_off<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Switch {
        Bool(bool),
        Text(String),
    }
    match Switch::deserialize(d)? {
        Switch::Bool(b) => Ok(b),
        Switch::Text(t) => match t.to_ascii_lowercase().as_str() {
            "on" | "true" | "1" => Ok(true),
            "off" | "false" | "0" => Ok(false),
            _ => Err(serde::de::Error::custom(format!("expected on or off, found {t:?}"))),
        },
    }
}

impl Config {
    /// Builds the configuration from defaults, an optional TOML file and the given environment
    /// (its `QIANCHUAN_` variables; those of the test harness are left out).
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let defaults = config::Config::try_from(&Config::default()).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let mut layers = config::Config::builder().add_source(defaults);
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            // Read alone first, so that an unknown key or a bad value names the file.
            let parse = |e: &dyn std::fmt::Display| ConfigError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            };
            config::Config::builder()
                .add_source(config::File::from_str(&text, config::FileFormat::Toml))
                .build()
                .and_then(|c| c.try_deserialize::<Config>())
                .map_err(|e| parse(&e))?;
            layers = layers.add_source(config::File::from_str(&text, config::FileFormat::Toml));
        }
        let mut vars = HashMap::new();
        for (name, value) in env {
            if !name.starts_with("QIANCHUAN_") || HARNESS_VARIABLES.contains(&name.as_str()) {
                continue;
            }
            let key = name["QIANCHUAN_".len()..].to_ascii_lowercase();
            if !known_keys().contains(&key) {
                return Err(ConfigError::UnknownVariable(name, known_list("QIANCHUAN_")));
            }
            vars.insert(name, value);
        }
        // Values stay text (`try_parsing(false)`): a secret of digits keeps its leading zeros;
        // each setting's type reads its own text.
        layers = layers.add_source(
            config::Environment::with_prefix("QIANCHUAN")
                .prefix_separator("_")
                .try_parsing(false)
                .source(Some(vars)),
        );
        layers
            .build()
            .and_then(|c| c.try_deserialize::<Config>())
            .map_err(|e| ConfigError::Merge(e.to_string()))
    }

    /// The log filter, checked: a filter `tracing` cannot read is refused, not ignored.
    /// sea-orm-migration's own lines stay out unless the filter names it (the hub logs what it
    /// applies).
    pub fn log_filter(&self) -> Result<tracing_subscriber::EnvFilter, ConfigError> {
        let bad = |message: String| ConfigError::BadValue {
            name: "QIANCHUAN_LOG".into(),
            message,
        };
        let mut filter = tracing_subscriber::EnvFilter::builder()
            .with_regex(false)
            .parse(&self.log)
            .map_err(|e| bad(format!("{:?} is not a log filter: {e}", self.log)))?;
        if !self.log.contains("sea_orm_migration") {
            filter = filter.add_directive(
                "sea_orm_migration=warn"
                    .parse()
                    .map_err(|e| bad(format!("internal directive: {e}")))?,
            );
        }
        if !["text", "json"].contains(&self.log_format.as_str()) {
            return Err(ConfigError::BadValue {
                name: "QIANCHUAN_LOG_FORMAT".into(),
                message: format!("{:?}: expected text or json", self.log_format),
            });
        }
        Ok(filter)
    }

    /// The supervision models declared (shipped, or `QIANCHUAN_MODELS`), with their settings.
    pub fn supervision_models(&self) -> Result<hub::models::Models, ConfigError> {
        let mut models = hub::models::Models::load(self.models.as_deref())
            .map_err(|e| ConfigError::Invalid(format!("supervision models: {e}")))?;
        models.task_days = self.model_task_days;
        models.fixed_date = self.model_date;
        models.employer_daily_limit = self.employer_daily_lookups;
        Ok(models)
    }

    /// Checks what `serve` needs: a way to verify tokens, sane limits.
    pub fn validate_for_serve(&self) -> Result<(), ConfigError> {
        if self.jwt_secret.is_none() && self.jwt_public_key.is_none() && self.jwks.is_none() {
            return Err(ConfigError::Invalid(
                "no JWT key configured: set QIANCHUAN_JWT_SECRET (HS256), QIANCHUAN_JWT_PUBLIC_KEY or QIANCHUAN_JWKS, \
                 or run `qianchuan serve --demo`, which generates a secret"
                    .into(),
            ));
        }
        if !["admin", "all", "none"].contains(&self.introspection.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "introspection must be admin, all or none (got {:?})",
                self.introspection
            )));
        }
        hub::governance::Governance::parse(
            &self.governance_weights,
            &self.governance_thresholds,
            self.governance_escalate_after,
        )
        .map_err(|e| ConfigError::Invalid(format!("governance: {e}")))?;
        hub::inspections::index::Weights::parse(&self.inspection_weights)
            .map_err(|e| ConfigError::Invalid(format!("inspection weights: {e}")))?;
        if self.request_timeout_ms == 0 || self.max_concurrent_requests == 0 || self.read_timeout_ms == 0 {
            return Err(ConfigError::Invalid(
                "request_timeout_ms, max_concurrent_requests and read_timeout_ms must be at least 1".into(),
            ));
        }
        if self.max_page_size == 0 {
            return Err(ConfigError::Invalid("max_page_size must be at least 1".into()));
        }
        self.supervision_models()?;
        if let Some(urls) = self.database_replica_urls.as_deref().filter(|u| !u.is_empty()) {
            if !self.database_url.starts_with("postgres") {
                return Err(ConfigError::Invalid(
                    "QIANCHUAN_DATABASE_REPLICA_URLS needs a PostgreSQL QIANCHUAN_DATABASE_URL (replicas stream from it)"
                        .into(),
                ));
            }
            if let Some(url) = urls
                .iter()
                .find(|u| !u.starts_with("postgres://") && !u.starts_with("postgresql://"))
            {
                return Err(ConfigError::Invalid(format!(
                    "each read replica must be a postgres:// URL (got {})",
                    hub::db::redact_url(url)
                )));
            }
        }
        crate::http::cors_layer(self.cors_origins.as_deref()).map_err(ConfigError::Invalid)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_run_embedded() {
        let c = Config::load(None, env(&[("PATH", "/bin")])).unwrap();
        assert!(c.database_url.starts_with("sqlite://"));
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert!(c.validate_for_serve().is_err(), "no secret outside --demo");
    }

    #[test]
    fn environment_overrides_and_unknown_variables_fail() {
        let c = Config::load(
            None,
            env(&[
                ("QIANCHUAN_JWT_SECRET", "s3-a-secret-of-thirty-two-bytes!"),
                ("QIANCHUAN_MAX_PAGE_SIZE", "50"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.jwt_secret.as_ref().map(Secret::expose),
            Some("s3-a-secret-of-thirty-two-bytes!")
        );
        assert_eq!(c.max_page_size, 50);
        assert!(c.validate_for_serve().is_ok());
        let err = Config::load(None, env(&[("QIANCHUAN_DATABSE_URL", "x")])).unwrap_err();
        assert!(err.to_string().contains("QIANCHUAN_DATABSE_URL"));
        assert!(Config::load(None, env(&[("QIANCHUAN_MAX_PAGE_SIZE", "many")])).is_err());
        assert!(Config::load(None, env(&[("QIANCHUAN_TEST_DATABASE_URL", "x")])).is_ok());
        assert!(Config::load(None, env(&[("QIANCHUAN_TEST_REPLICA_URL", "x")])).is_ok());
        let cors = |origins: &str| {
            Config::load(
                None,
                env(&[
                    ("QIANCHUAN_JWT_SECRET", "s3-a-secret-of-thirty-two-bytes!"),
                    ("QIANCHUAN_CORS_ORIGINS", origins),
                ]),
            )
            .unwrap()
            .validate_for_serve()
        };
        assert!(cors("https://a.example, http://127.0.0.1:5173").is_ok());
        assert!(cors("https://a.example/screen").is_err(), "a path is not an origin");
    }

    #[test]
    fn read_replicas_need_postgresql_on_both_ends() {
        let replicas = |database: &str, replicas: &str| {
            let c = Config::load(
                None,
                env(&[
                    ("QIANCHUAN_JWT_SECRET", "s3-a-secret-of-thirty-two-bytes!"),
                    ("QIANCHUAN_DATABASE_URL", database),
                    ("QIANCHUAN_DATABASE_REPLICA_URLS", replicas),
                    ("QIANCHUAN_REPLICA_MAX_LAG_MS", "20"),
                ]),
            )
            .unwrap();
            assert_eq!(c.replica_max_lag_ms, 20);
            c.validate_for_serve()
        };
        let primary = "postgres://qc@db-1/qianchuan";
        assert!(replicas(primary, "postgres://qc@db-2/qianchuan, postgresql://qc@db-3/qianchuan").is_ok());
        assert!(replicas(primary, "").is_ok(), "none");
        assert!(replicas("sqlite://q.db", "postgres://qc@db-2/qianchuan").is_err());
        assert!(replicas(primary, "mysql://qc@db-2/qianchuan").is_err());
    }

    #[test]
    fn environment_values_are_read_as_their_settings_types() {
        let c = Config::load(
            None,
            env(&[
                ("QIANCHUAN_JWT_SECRET", "0012345678901234567890123456789012"),
                ("QIANCHUAN_REDIS_URL", ""),
                ("QIANCHUAN_JWT_ALGORITHMS", "RS256, ES256"),
                ("QIANCHUAN_LINK_INDEX", "off"),
                ("QIANCHUAN_CASE_CACHE_MB", "8"),
                ("QIANCHUAN_MODEL_DATE", "2024-01-15"),
                ("QIANCHUAN_GOVERNANCE_THRESHOLDS", "10,25,50"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.jwt_secret.as_ref().map(Secret::expose),
            Some("0012345678901234567890123456789012")
        );
        assert_eq!(c.redis_url, None, "an empty value leaves it unset");
        assert_eq!(c.jwt_algorithms, Some(vec!["RS256".to_string(), "ES256".to_string()]));
        assert!(!c.link_index);
        assert_eq!(c.case_cache_mb, 8);
        assert_eq!(c.model_date, chrono::NaiveDate::from_ymd_opt(2024, 1, 15));
        assert_eq!(c.governance_thresholds, "10,25,50");
        for (name, value) in [
            ("QIANCHUAN_LINK_INDEX", "maybe"),
            ("QIANCHUAN_MODEL_DATE", "15/01/2024"),
            ("QIANCHUAN_WARNING_TASK_DAYS", "-1"),
            ("QIANCHUAN_DATABASE_MAX_CONNECTIONS", "99999999999"),
        ] {
            let err = Config::load(None, env(&[(name, value)])).unwrap_err().to_string();
            let key = name.trim_start_matches("QIANCHUAN_").to_ascii_lowercase();
            assert!(err.contains(&key), "{name}={value}: {err}");
        }
    }

    #[test]
    fn a_toml_file_sits_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!("qc-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("q.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\nhub_threshold = 7\n").unwrap();
        let c = Config::load(Some(&path), env(&[("QIANCHUAN_BIND", "127.0.0.1:1")])).unwrap();
        assert_eq!(c.hub_threshold, 7);
        assert_eq!(c.bind, "127.0.0.1:1");
        std::fs::write(&path, "bnid = 1\n").unwrap();
        let err = Config::load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(err.contains("q.toml") && err.contains("bnid"), "{err}");
        std::fs::write(&path, "jwt_algorithms = [\"ES256\"]\nlink_index = false\n").unwrap();
        let c = Config::load(Some(&path), env(&[])).unwrap();
        assert_eq!(
            (c.jwt_algorithms, c.link_index),
            (Some(vec!["ES256".to_string()]), false)
        );
        assert!(format!("{:?}", Secret::new("x")).contains("***"));
    }
}
