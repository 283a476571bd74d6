//! Redis, when configured: an accelerator, never required to answer a query. Connected in the
//! background; every command has a short timeout, and a failure opens a circuit breaker so
//! that while Redis is down or hung each request pays nothing for it (the callers fall back
//! to the process or the database), until a probe finds it back.

use redis::aio::ConnectionManager;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// The longest a command may take before Redis counts as down.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is left alone after a failure before a command tries it again.
const BREAKER_OPEN_MS: i64 = 2_000;

#[derive(Clone, Default)]
pub struct RedisHandle {
    url: Option<String>,
    conn: Arc<RwLock<Option<ConnectionManager>>>,
    /// Milliseconds since the epoch until which Redis is not tried (0: closed).
    open_until: Arc<AtomicI64>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl RedisHandle {
    /// Starts connecting in the background; retries until Redis answers.
    pub fn start(url: Option<String>) -> RedisHandle {
        let handle = RedisHandle {
            url: url.clone(),
            conn: Arc::default(),
            open_until: Arc::default(),
        };
        if let Some(url) = url {
            let slot = handle.conn.clone();
            tokio::spawn(async move {
                let client = match redis::Client::open(url.as_str()) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::error!(error = %e, "QIANCHUAN_REDIS_URL is not a Redis URL; running without Redis");
                        return;
                    }
                };
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(COMMAND_TIMEOUT))
                    .set_number_of_retries(1);
                loop {
                    let connecting = ConnectionManager::new_with_config(client.clone(), config.clone());
                    match tokio::time::timeout(Duration::from_secs(3), connecting).await {
                        Ok(Ok(manager)) => {
                            *slot.write().await = Some(manager);
                            tracing::info!("connected to Redis");
                            return;
                        }
                        Ok(Err(e)) => tracing::warn!(error = %e, "Redis unreachable; retrying in 5 s"),
                        Err(_) => tracing::warn!("Redis connect timed out; retrying in 5 s"),
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            });
        }
        handle
    }

    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    pub fn configured(&self) -> bool {
        self.url.is_some()
    }

    /// Whether Redis is connected and the breaker closed (it may still fail the next command).
    pub async fn available(&self) -> bool {
        self.open_until.load(Ordering::Relaxed) <= now_ms() && self.conn.read().await.is_some()
    }

    /// Runs one command (or pipeline) within the command timeout. `None` when Redis is not
    /// configured, not connected, known to be down (breaker open), or fails now (which opens
    /// the breaker): the caller goes on without it.
    pub async fn call<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.open_until.load(Ordering::Relaxed) > now_ms() {
            return None;
        }
        let conn = self.conn.read().await.clone()?;
        match tokio::time::timeout(COMMAND_TIMEOUT, command(conn)).await {
            Ok(Ok(value)) => {
                self.open_until.store(0, Ordering::Relaxed);
                Some(value)
            }
            Ok(Err(e)) => {
                self.trip(&e.to_string());
                None
            }
            Err(_) => {
                self.trip("timed out");
                None
            }
        }
    }

    fn trip(&self, why: &str) {
        let was = self.open_until.swap(now_ms() + BREAKER_OPEN_MS, Ordering::Relaxed);
        if was <= now_ms() {
            tracing::warn!(error = why, "Redis is not answering; going on without it for a while");
        }
    }

    /// `Some(true)` when Redis answers PING in time, `None` when not configured.
    pub async fn ping(&self) -> Option<bool> {
        if !self.configured() {
            return None;
        }
        let answered = self
            .call(|mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await })
            .await;
        Some(answered.is_some())
    }
}
