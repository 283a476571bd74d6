//! Layered configuration: typed defaults → optional TOML file → `QIANCHUAN_` environment.
//! Unknown keys and variables fail at start-up rather than being ignored.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A secret that never prints itself.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://…` (embedded) or `postgres://…`.
    pub database_url: String,
    /// Size of the PostgreSQL connection pool; 0: three per core, at least four.
    pub database_max_connections: u32,
    /// Shared cache, rate limits, revocation and fan-out; in-process when unset.
    pub redis_url: Option<String>,
    /// HS256 secret.
    pub jwt_secret: Option<Secret>,
    /// PEM file with an RS256/ES256 public key.
    pub jwt_public_key: Option<PathBuf>,
    /// JWKS file; keys chosen by `kid`.
    pub jwks: Option<PathBuf>,
    pub jwt_issuer: Option<String>,
    pub jwt_audience: Option<String>,
    /// Accepted algorithms (HS256, RS256, ES256); default: those the configured keys verify.
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
    pub link_index: bool,
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
    pub metrics_token: Option<Secret>,
    /// A TOML file of supervision-model declarations replacing the shipped ones.
    pub models: Option<std::path::PathBuf>,
    /// Days a department has to answer a task a model's finding opened.
    pub model_task_days: u32,
    /// Seconds between a gateway's checks for changed model inputs (0: never; `qianchuan
    /// ingest` still runs the models after its loads).
    pub model_refresh_seconds: u64,
    /// The date automatic model runs use instead of today in Asia/Shanghai (`YYYY-MM-DD`).
    pub model_date: Option<chrono::NaiveDate>,
    /// Code look-ups per employer and calendar day.
    pub employer_daily_lookups: u32,
    /// `text` (colour only on a terminal) or `json` (one object per line).
    pub log_format: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://qianchuan.db?mode=rwc".into(),
            database_max_connections: 0,
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
        }
    }
}

/// Variables that belong to the test harness and CI, not to the gateway.
const HARNESS_VARIABLES: &[&str] = &[
    "QIANCHUAN_TEST_DATABASE_URL",
    "QIANCHUAN_TEST_REDIS_URL",
    "QIANCHUAN_REQUIRE_SERVICES",
    "QIANCHUAN_CONFIG",
    // Read by `qianchuan pull` itself (a secret of the command, not of the gateway).
    "QIANCHUAN_PULL_TOKEN",
];

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
    #[error("{0}")]
    Invalid(String),
}

const ENV_KEYS: &[&str] = &[
    "DATABASE_URL",
    "DATABASE_MAX_CONNECTIONS",
    "REDIS_URL",
    "JWT_SECRET",
    "JWT_PUBLIC_KEY",
    "JWKS",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_ALGORITHMS",
    "RATE_LIMIT_PER_MINUTE",
    "INTROSPECTION",
    "GOVERNANCE_WEIGHTS",
    "GOVERNANCE_THRESHOLDS",
    "GOVERNANCE_ESCALATE_AFTER",
    "BIND",
    "MAX_PAGE_SIZE",
    "MAX_BODY_BYTES",
    "MAX_INGEST_BYTES",
    "HUB_THRESHOLD",
    "EVENTS_CHANNEL",
    "WARNING_TASK_DAYS",
    "LINK_INDEX",
    "LOG",
    "REQUEST_TIMEOUT_MS",
    "MAX_CONCURRENT_REQUESTS",
    "DATABASE_ACQUIRE_TIMEOUT_MS",
    "READ_TIMEOUT_MS",
    "METRICS_TOKEN",
    "INSPECTION_TASK_DAYS",
    "INSPECTION_WEIGHTS",
    "MODELS",
    "MODEL_TASK_DAYS",
    "MODEL_REFRESH_SECONDS",
    "MODEL_DATE",
    "EMPLOYER_DAILY_LOOKUPS",
    "LOG_FORMAT",
];

impl Config {
    /// Builds the configuration from defaults, an optional TOML file and the given environment.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        let vars: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("QIANCHUAN_") && !HARNESS_VARIABLES.contains(&k.as_str()))
            .collect();
        for (name, value) in vars {
            let key = &name["QIANCHUAN_".len()..];
            config.set(key, &name, value)?;
        }
        Ok(config)
    }

    fn set(&mut self, key: &str, name: &str, value: String) -> Result<(), ConfigError> {
        let number = |v: &str| {
            v.parse::<u64>().map_err(|e| ConfigError::BadValue {
                name: name.to_string(),
                message: e.to_string(),
            })
        };
        let optional = |v: String| (!v.is_empty()).then_some(v);
        match key {
            "DATABASE_URL" => self.database_url = value,
            "DATABASE_MAX_CONNECTIONS" => {
                self.database_max_connections = u32::try_from(number(&value)?).map_err(|e| ConfigError::BadValue {
                    name: name.to_string(),
                    message: e.to_string(),
                })?
            }
            "REDIS_URL" => self.redis_url = optional(value),
            "JWT_SECRET" => self.jwt_secret = optional(value).map(Secret),
            "JWT_PUBLIC_KEY" => self.jwt_public_key = optional(value).map(PathBuf::from),
            "JWKS" => self.jwks = optional(value).map(PathBuf::from),
            "JWT_ISSUER" => self.jwt_issuer = optional(value),
            "JWT_AUDIENCE" => self.jwt_audience = optional(value),
            "JWT_ALGORITHMS" => {
                self.jwt_algorithms = optional(value).map(|v| v.split(',').map(|a| a.trim().to_string()).collect())
            }
            "RATE_LIMIT_PER_MINUTE" => self.rate_limit_per_minute = number(&value)?,
            "INTROSPECTION" => self.introspection = value,
            "GOVERNANCE_WEIGHTS" => self.governance_weights = value,
            "GOVERNANCE_THRESHOLDS" => self.governance_thresholds = value,
            "GOVERNANCE_ESCALATE_AFTER" => self.governance_escalate_after = number(&value)? as u32,
            "BIND" => self.bind = value,
            "MAX_PAGE_SIZE" => self.max_page_size = number(&value)?,
            "MAX_BODY_BYTES" => self.max_body_bytes = number(&value)? as usize,
            "MAX_INGEST_BYTES" => self.max_ingest_bytes = number(&value)? as usize,
            "HUB_THRESHOLD" => self.hub_threshold = number(&value)?,
            "EVENTS_CHANNEL" => self.events_channel = value,
            "WARNING_TASK_DAYS" => self.warning_task_days = number(&value)? as u32,
            "INSPECTION_TASK_DAYS" => self.inspection_task_days = number(&value)? as u32,
            "INSPECTION_WEIGHTS" => self.inspection_weights = value,
            "LINK_INDEX" => {
                self.link_index = match value.to_ascii_lowercase().as_str() {
                    "on" | "true" | "1" => true,
                    "off" | "false" | "0" => false,
                    _ => {
                        return Err(ConfigError::BadValue {
                            name: name.to_string(),
                            message: "expected on or off".into(),
                        })
                    }
                }
            }
            "LOG" => self.log = value,
            "REQUEST_TIMEOUT_MS" => self.request_timeout_ms = number(&value)?,
            "MAX_CONCURRENT_REQUESTS" => self.max_concurrent_requests = number(&value)? as usize,
            "DATABASE_ACQUIRE_TIMEOUT_MS" => self.database_acquire_timeout_ms = number(&value)?,
            "READ_TIMEOUT_MS" => self.read_timeout_ms = number(&value)?,
            "METRICS_TOKEN" => self.metrics_token = optional(value).map(Secret),
            "MODELS" => self.models = optional(value).map(std::path::PathBuf::from),
            "MODEL_TASK_DAYS" => self.model_task_days = number(&value)? as u32,
            "MODEL_REFRESH_SECONDS" => self.model_refresh_seconds = number(&value)?,
            "MODEL_DATE" => {
                self.model_date =
                    match optional(value) {
                        None => None,
                        Some(v) => Some(chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| {
                            ConfigError::BadValue {
                                name: name.to_string(),
                                message: "expected a date YYYY-MM-DD".into(),
                            }
                        })?),
                    }
            }
            "EMPLOYER_DAILY_LOOKUPS" => self.employer_daily_lookups = number(&value)? as u32,
            "LOG_FORMAT" => self.log_format = value,
            _ => {
                let known = ENV_KEYS
                    .iter()
                    .map(|k| format!("QIANCHUAN_{k}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ConfigError::UnknownVariable(name.to_string(), known));
            }
        }
        Ok(())
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
        assert!(Config::load(Some(&path), env(&[])).is_err());
        assert!(format!("{:?}", Secret::new("x")).contains("***"));
    }
}
