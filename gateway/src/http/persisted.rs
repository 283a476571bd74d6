//! Automatic persisted queries, the protocol Apollo Client's persisted-query link and urql's
//! `persistedExchange` speak: a request may carry `extensions.persistedQuery =
//! {version: 1, sha256Hash}` instead of its `query`. A hash the hub knows runs its query; an
//! unknown one is answered `PERSISTED_QUERY_NOT_FOUND`, and the client sends the query with
//! its hash, which is checked (a hash that is not the query's SHA-256 is refused) and
//! remembered — in Redis when configured (shared by every gateway, a day), and in process
//! (bounded in entries and bytes, least recently used first out).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use hub::cache::RedisHandle;
use lru::LruCache;
use serde_json::{Map, Value};

/// Queries kept in process, at most.
const LOCAL_ENTRIES: usize = 10_000;
/// Bytes of query text kept in process, at most.
const LOCAL_BYTES: usize = 16 << 20;
/// How long Redis keeps a query after it was last stored.
const REDIS_SECONDS: u64 = 24 * 3600;
/// Longer queries run but are not remembered: a client's persisted queries are its own
/// documents, and a token holder must not be able to fill Redis with megabytes per request.
const MAX_REMEMBERED_BYTES: usize = 64 << 10;

/// What a request's query is, once its persisted-query extension is read.
#[derive(Debug, PartialEq)]
pub enum Lookup {
    Query(String),
    /// A hash alone that the hub does not know: the client sends the query next.
    NotFound,
    /// The request cannot run (`BAD_USER_INPUT`), with the reason.
    Refused(&'static str),
}

#[derive(Clone)]
pub struct PersistedQueries {
    redis: RedisHandle,
    local: Arc<Mutex<Local>>,
}

struct Local {
    queries: LruCache<String, Arc<str>>,
    bytes: usize,
}

impl PersistedQueries {
    pub fn new(redis: RedisHandle) -> PersistedQueries {
        let entries = NonZeroUsize::new(LOCAL_ENTRIES).unwrap_or(NonZeroUsize::MIN);
        PersistedQueries {
            redis,
            local: Arc::new(Mutex::new(Local {
                queries: LruCache::new(entries),
                bytes: 0,
            })),
        }
    }

    /// The query a request runs: its own text (checked against its hash when it has one, and
    /// then remembered), or the text remembered for its hash.
    pub async fn resolve(&self, query: Option<String>, extensions: Option<&Map<String, Value>>) -> Lookup {
        let hash = match requested_hash(extensions) {
            Ok(hash) => hash,
            Err(reason) => return Lookup::Refused(reason),
        };
        match (query, hash) {
            (Some(query), None) => Lookup::Query(query),
            (None, None) => Lookup::Refused("`query` is required"),
            (Some(query), Some(hash)) => {
                if hub::audit::query_hash(&query) != hash {
                    return Lookup::Refused("provided sha does not match query");
                }
                self.remember(&hash, &query).await;
                Lookup::Query(query)
            }
            (None, Some(hash)) => match self.recall(&hash).await {
                Some(query) => Lookup::Query(query),
                None => Lookup::NotFound,
            },
        }
    }

    async fn remember(&self, hash: &str, query: &str) {
        if query.len() > MAX_REMEMBERED_BYTES {
            return;
        }
        self.keep_locally(hash, query);
        let key = redis_key(hash);
        let text = query.to_string();
        self.redis
            .call(|mut conn| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&text)
                    .arg("EX")
                    .arg(REDIS_SECONDS)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
    }

    async fn recall(&self, hash: &str) -> Option<String> {
        if let Some(query) = self.local.lock().ok().and_then(|mut l| l.queries.get(hash).cloned()) {
            return Some(query.to_string());
        }
        let key = redis_key(hash);
        let found = self
            .redis
            .call(|mut conn| async move {
                redis::cmd("GET")
                    .arg(&key)
                    .query_async::<Option<String>>(&mut conn)
                    .await
            })
            .await
            .flatten()?;
        // Whatever is in Redis is checked as a client's text would be.
        if hub::audit::query_hash(&found) != hash {
            return None;
        }
        self.keep_locally(hash, &found);
        Some(found)
    }

    fn keep_locally(&self, hash: &str, query: &str) {
        let Ok(mut local) = self.local.lock() else {
            return;
        };
        if query.len() > LOCAL_BYTES || local.queries.contains(hash) {
            return;
        }
        local.bytes += query.len();
        if let Some((_, old)) = local.queries.push(hash.to_string(), Arc::from(query)) {
            local.bytes -= old.len();
        }
        while local.bytes > LOCAL_BYTES {
            match local.queries.pop_lru() {
                Some((_, old)) => local.bytes -= old.len(),
                None => break,
            }
        }
    }
}

fn redis_key(hash: &str) -> String {
    format!("qianchuan:apq:{hash}")
}

/// The hash a request names in `extensions.persistedQuery`, lowercase; `None` without one.
fn requested_hash(extensions: Option<&Map<String, Value>>) -> Result<Option<String>, &'static str> {
    let Some(persisted) = extensions.and_then(|e| e.get("persistedQuery")) else {
        return Ok(None);
    };
    let Value::Object(persisted) = persisted else {
        return Err("`extensions.persistedQuery` must be a map");
    };
    if persisted.get("version") != Some(&Value::from(1)) {
        return Err("`extensions.persistedQuery.version` must be 1");
    }
    match persisted.get("sha256Hash") {
        Some(Value::String(hash)) if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(hash.to_ascii_lowercase()))
        }
        _ => Err("`extensions.persistedQuery.sha256Hash` must be 64 hexadecimal digits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn extensions(hash: &str) -> Map<String, Value> {
        json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_hash_is_found_after_its_query_was_sent_with_it() {
        let apq = PersistedQueries::new(RedisHandle::default());
        let query = "{ me { sub } }";
        let hash = hub::audit::query_hash(query);
        assert_eq!(apq.resolve(None, Some(&extensions(&hash))).await, Lookup::NotFound);
        assert_eq!(
            apq.resolve(Some(query.into()), Some(&extensions(&hash.to_uppercase())))
                .await,
            Lookup::Query(query.into())
        );
        assert_eq!(
            apq.resolve(None, Some(&extensions(&hash))).await,
            Lookup::Query(query.into())
        );
    }

    #[tokio::test]
    async fn a_hash_that_is_not_the_querys_is_refused_and_not_kept() {
        let apq = PersistedQueries::new(RedisHandle::default());
        let other = hub::audit::query_hash("{ other }");
        assert_eq!(
            apq.resolve(Some("{ me { sub } }".into()), Some(&extensions(&other)))
                .await,
            Lookup::Refused("provided sha does not match query")
        );
        assert_eq!(apq.resolve(None, Some(&extensions(&other))).await, Lookup::NotFound);
    }

    #[tokio::test]
    async fn malformed_extensions_are_refused() {
        let apq = PersistedQueries::new(RedisHandle::default());
        for bad in [
            json!({ "persistedQuery": "x" }),
            json!({ "persistedQuery": { "version": 2, "sha256Hash": hub::audit::query_hash("{a}") } }),
            json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
            json!({ "persistedQuery": { "version": 1 } }),
        ] {
            let map = bad.as_object().cloned().unwrap_or_default();
            assert!(
                matches!(apq.resolve(None, Some(&map)).await, Lookup::Refused(_)),
                "{bad}"
            );
        }
        assert_eq!(apq.resolve(None, None).await, Lookup::Refused("`query` is required"));
    }

    #[tokio::test]
    async fn a_long_query_runs_but_is_not_remembered() {
        let apq = PersistedQueries::new(RedisHandle::default());
        let query = format!("{{ me {{ sub }} }} #{}", "x".repeat(MAX_REMEMBERED_BYTES));
        let hash = hub::audit::query_hash(&query);
        assert_eq!(
            apq.resolve(Some(query.clone()), Some(&extensions(&hash))).await,
            Lookup::Query(query)
        );
        assert_eq!(apq.resolve(None, Some(&extensions(&hash))).await, Lookup::NotFound);
    }

    #[test]
    fn the_process_keeps_a_bounded_number_of_bytes() {
        let apq = PersistedQueries::new(RedisHandle::default());
        let big = "x".repeat(LOCAL_BYTES / 3 + 1);
        for n in 0..4 {
            let query = format!("{n}{big}");
            apq.keep_locally(&hub::audit::query_hash(&query), &query);
        }
        let local = apq.local.lock().unwrap();
        assert!(local.bytes <= LOCAL_BYTES, "{}", local.bytes);
        assert_eq!(local.queries.len(), 2);
    }
}
