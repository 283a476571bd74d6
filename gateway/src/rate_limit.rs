//! Per-subject rate limiting in one-minute windows: counted in Redis when configured
//! (so every gateway instance shares the count), in process otherwise or while Redis is down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hub::cache::RedisHandle;

#[derive(Clone)]
pub struct RateLimiter {
    redis: RedisHandle,
    per_minute: u64,
    local: Arc<Mutex<HashMap<(String, i64), u64>>>,
}

impl RateLimiter {
    pub fn new(redis: RedisHandle, per_minute: u64) -> RateLimiter {
        RateLimiter {
            redis,
            per_minute,
            local: Arc::default(),
        }
    }

    /// Counts one request of `subject`; false when it is over the limit.
    pub async fn allow(&self, subject: &str) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let window = chrono::Utc::now().timestamp() / 60;
        let key = format!("qianchuan:rate:{subject}:{window}");
        let counted = self
            .redis
            .call(|mut conn| async move {
                redis::pipe()
                    .atomic()
                    .incr(&key, 1u64)
                    .expire(&key, 120)
                    .query_async::<(u64, ())>(&mut conn)
                    .await
            })
            .await;
        if let Some((n, ())) = counted {
            return n <= self.per_minute;
        }
        let Ok(mut local) = self.local.lock() else { return true };
        local.retain(|(_, w), _| *w >= window);
        let n = local.entry((subject.to_string(), window)).or_insert(0);
        *n += 1;
        *n <= self.per_minute
    }
}
