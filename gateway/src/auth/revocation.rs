//! Revoked token ids (`jti`): in Redis when configured (shared by every gateway), in
//! process otherwise, and in process as well so a Redis outage forgets nothing recent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::cache::RedisHandle;

#[derive(Clone, Default)]
pub struct Revocations {
    redis: RedisHandle,
    local: Arc<Mutex<HashMap<String, u64>>>,
}

fn redis_key(jti: &str) -> String {
    format!("qianchuan:revoked:{jti}")
}

fn now() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

impl Revocations {
    pub fn new(redis: RedisHandle) -> Revocations {
        Revocations {
            redis,
            local: Arc::default(),
        }
    }

    /// Revokes `jti` until `until` (a Unix time; past it the token has expired anyway).
    pub async fn revoke(&self, jti: &str, until: u64) {
        if let Ok(mut local) = self.local.lock() {
            local.retain(|_, t| *t > now());
            local.insert(jti.to_string(), until);
        }
        if let Some(mut conn) = self.redis.connection().await {
            let ttl = until.saturating_sub(now()).max(1);
            let result: redis::RedisResult<()> = redis::cmd("SET")
                .arg(redis_key(jti))
                .arg(1)
                .arg("EX")
                .arg(ttl)
                .query_async(&mut conn)
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not record a revocation in Redis; kept in process");
            }
        }
    }

    pub async fn is_revoked(&self, jti: &str) -> bool {
        if self
            .local
            .lock()
            .map(|l| l.get(jti).map(|t| *t > now()).unwrap_or(false))
            .unwrap_or(false)
        {
            return true;
        }
        if let Some(mut conn) = self.redis.connection().await {
            let exists: redis::RedisResult<bool> =
                redis::cmd("EXISTS").arg(redis_key(jti)).query_async(&mut conn).await;
            return exists.unwrap_or(false);
        }
        false
    }
}
