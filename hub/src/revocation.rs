//! Revoked token ids (`jti`). The database is the source of truth (`revoked_tokens`); Redis,
//! when configured and answering, is the fast shared copy, and each process remembers the
//! revocations it has seen. A gateway that cannot trust Redis's copy — Redis down, or
//! restarted and so emptied — asks the database, so a revocation holds on every gateway
//! through outages and restarts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use entities::revoked_token;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::cache::RedisHandle;

/// Present in Redis while Redis holds every revocation of the database.
const LOADED_KEY: &str = "qianchuan:revoked:loaded";

#[derive(Clone)]
pub struct Revocations {
    db: DatabaseConnection,
    redis: RedisHandle,
    /// Revocations this process has seen, until their expiry.
    local: Arc<Mutex<HashMap<String, u64>>>,
    /// A copy of the table into Redis is under way.
    loading: Arc<AtomicBool>,
    /// Without Redis: `local` holds the whole table, as of at most a second ago.
    synced: Arc<AtomicBool>,
}

/// How often a gateway without Redis re-reads the table.
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

fn redis_key(jti: &str) -> String {
    format!("qianchuan:revoked:{jti}")
}

fn now() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

#[derive(Debug, thiserror::Error)]
#[error("the revocation could not be stored: {0}")]
pub struct RevokeError(#[from] sea_orm::DbErr);

impl Revocations {
    /// Without Redis, keeps a copy of the table in this process, re-read every second, so a
    /// request costs no database statement (a revocation made by another gateway then reaches
    /// this one within a second; with Redis, at once).
    pub fn new(db: DatabaseConnection, redis: RedisHandle) -> Revocations {
        let revocations = Revocations {
            db,
            redis,
            local: Arc::default(),
            loading: Arc::default(),
            synced: Arc::default(),
        };
        if !revocations.redis.configured() {
            let this = revocations.clone();
            tokio::spawn(async move {
                loop {
                    this.sync_local().await;
                    tokio::time::sleep(SYNC_EVERY).await;
                }
            });
        }
        revocations
    }

    /// Reads the unexpired revocations into this process's copy; until it succeeds (and while
    /// it fails), requests ask the database.
    async fn sync_local(&self) {
        let t = now();
        match revoked_token::Entity::find()
            .filter(revoked_token::Column::Until.gt(t as i64))
            .all(&self.db)
            .await
        {
            Ok(rows) => {
                if let Ok(mut local) = self.local.lock() {
                    local.retain(|_, u| *u > t);
                    for row in rows {
                        local.insert(row.jti, u64::try_from(row.until).unwrap_or(u64::MAX));
                    }
                }
                self.synced.store(true, Ordering::Release);
            }
            Err(e) => {
                self.synced.store(false, Ordering::Release);
                tracing::warn!(error = %e, "revocations could not be read; asking the database per request");
            }
        }
    }

    /// Revokes `jti` until `until` (a Unix time; past it the token has expired anyway): in the
    /// database first (an error means nothing was revoked), then in Redis and this process.
    pub async fn revoke(&self, jti: &str, until: u64) -> Result<(), RevokeError> {
        let until_i = i64::try_from(until).unwrap_or(i64::MAX);
        revoked_token::Entity::insert(revoked_token::ActiveModel {
            jti: Set(jti.to_string()),
            until: Set(until_i),
            revoked_at: Set(chrono::Utc::now()),
        })
        .on_conflict(
            OnConflict::column(revoked_token::Column::Jti)
                .update_columns([revoked_token::Column::Until, revoked_token::Column::RevokedAt])
                .to_owned(),
        )
        .exec(&self.db)
        .await?;
        self.remember(jti, until);
        let (key, ttl) = (redis_key(jti), until.saturating_sub(now()).max(1));
        self.redis
            .call(|mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
        Ok(())
    }

    fn remember(&self, jti: &str, until: u64) {
        if let Ok(mut local) = self.local.lock() {
            let t = now();
            local.retain(|_, u| *u > t);
            local.insert(jti.to_string(), until);
        }
    }

    /// Whether `jti` is revoked. When neither this process nor a complete Redis copy can
    /// tell, the database decides; if it cannot be read either, the token is refused.
    pub async fn is_revoked(&self, jti: &str) -> bool {
        let seen = self
            .local
            .lock()
            .map(|l| l.get(jti).is_some_and(|u| *u > now()))
            .unwrap_or(false);
        if seen {
            return true;
        }
        if !self.redis.configured() && self.synced.load(Ordering::Acquire) {
            return false;
        }
        let key = redis_key(jti);
        let in_redis = self
            .redis
            .call(|mut conn| async move {
                redis::pipe()
                    .exists(key)
                    .exists(LOADED_KEY)
                    .query_async::<(bool, bool)>(&mut conn)
                    .await
            })
            .await;
        match in_redis {
            Some((revoked, true)) => {
                if revoked {
                    self.remember(jti, now() + 60);
                }
                return revoked;
            }
            // Redis answers but does not hold the table (new, or restarted): fill it.
            Some((_, false)) => self.load_redis(),
            None => {}
        }
        match revoked_token::Entity::find_by_id(jti.to_string())
            .filter(revoked_token::Column::Until.gt(now() as i64))
            .one(&self.db)
            .await
        {
            Ok(Some(row)) => {
                self.remember(jti, u64::try_from(row.until).unwrap_or(u64::MAX));
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::error!(error = %e, "revocations cannot be read; refusing the token");
                true
            }
        }
    }

    /// Copies the unexpired revocations of the database into Redis, then marks Redis as
    /// holding them all (in the background, one copy at a time).
    fn load_redis(&self) {
        if self.loading.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let t = now();
            let rows = revoked_token::Entity::find()
                .filter(revoked_token::Column::Until.gt(t as i64))
                .all(&this.db)
                .await;
            match rows {
                Ok(rows) => {
                    let copied = this
                        .redis
                        .call(|mut conn| async move {
                            let mut pipe = redis::pipe();
                            for row in &rows {
                                let ttl = u64::try_from(row.until).unwrap_or(u64::MAX).saturating_sub(t).max(1);
                                pipe.cmd("SET")
                                    .arg(redis_key(&row.jti))
                                    .arg(1)
                                    .arg("EX")
                                    .arg(ttl)
                                    .ignore();
                            }
                            pipe.cmd("SET").arg(LOADED_KEY).arg(1).ignore();
                            pipe.query_async::<()>(&mut conn).await
                        })
                        .await;
                    if copied.is_some() {
                        tracing::info!("revocations copied into Redis");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "revocations could not be read to fill Redis"),
            }
            this.loading.store(false, Ordering::Release);
        });
    }
}
