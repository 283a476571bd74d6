//! Redis, when configured: connected in the background, never required to answer a query.

use redis::aio::ConnectionManager;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

#[derive(Clone, Default)]
pub struct RedisHandle {
    url: Option<String>,
    conn: Arc<RwLock<Option<ConnectionManager>>>,
}

impl RedisHandle {
    /// Starts connecting in the background; retries until Redis answers.
    pub fn start(url: Option<String>) -> RedisHandle {
        let handle = RedisHandle {
            url: url.clone(),
            conn: Arc::default(),
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
                loop {
                    match tokio::time::timeout(Duration::from_secs(3), ConnectionManager::new(client.clone())).await {
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

    pub async fn connection(&self) -> Option<ConnectionManager> {
        self.conn.read().await.clone()
    }

    /// `Some(true)` when Redis answers PING within a second, `None` when not configured.
    pub async fn ping(&self) -> Option<bool> {
        if !self.configured() {
            return None;
        }
        let Some(mut conn) = self.connection().await else {
            return Some(false);
        };
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut conn);
        Some(matches!(
            tokio::time::timeout(Duration::from_secs(1), ping).await,
            Ok(Ok(_))
        ))
    }
}
