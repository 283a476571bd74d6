//! Live events for subscriptions: what changed, published once and delivered to every
//! gateway instance — through Redis pub/sub when `QIANCHUAN_REDIS_URL` is set, in process
//! otherwise. An event names what changed, never its content: each subscriber reads the
//! content back through its own scoped store, so scoping stays in the data layer.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::ingest::CaseChange;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::cache::RedisHandle;

/// Events a slow subscriber may fall behind by before it skips ahead.
const BUFFER: usize = 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    /// The cases one ingested file inserted, changed or deleted.
    CasesChanged { changes: Vec<CaseChange> },
    /// A supervision task was opened or took a step.
    TaskChanged { task_id: i64 },
    /// A 平安督 inspection was recorded.
    InspectionRecorded { inspection_id: String },
    /// A supervision model's automatic run raised findings (new, or raised again).
    FindingsRaised { model: String, finding_ids: Vec<i64> },
}

/// Publishes events and hands out receivers for them.
#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Arc<Event>>,
    redis: RedisHandle,
    /// The Redis channel the instances of one deployment share.
    channel: Arc<str>,
    /// True while this instance is subscribed to the Redis channel.
    listening: Arc<AtomicBool>,
    /// Subscriptions following the bus with their starting state computed.
    live: Arc<AtomicUsize>,
    /// How many events this instance has delivered: what subscribers sharing one computation
    /// per change compare (`graphql::subscription::SharedStates`).
    generation: Arc<AtomicU64>,
}

/// Delivers `event` to this instance's subscribers, counting it first.
fn deliver(local: &broadcast::Sender<Arc<Event>>, generation: &AtomicU64, event: Event) {
    generation.fetch_add(1, Ordering::AcqRel);
    // No receivers is not an error: nobody is subscribed.
    let _ = local.send(Arc::new(event));
}

/// Counts one live subscription while it exists.
pub struct LiveGuard(Arc<AtomicUsize>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl EventBus {
    /// An in-process bus, which also listens on Redis when `redis` is configured.
    pub fn start(redis: RedisHandle, channel: &str) -> EventBus {
        let (local, _) = broadcast::channel(BUFFER);
        let bus = EventBus {
            local,
            redis,
            channel: channel.into(),
            listening: Arc::default(),
            live: Arc::default(),
            generation: Arc::default(),
        };
        if let Some(url) = bus.redis.url().map(str::to_string) {
            tokio::spawn(listen(
                url,
                bus.channel.clone(),
                bus.local.clone(),
                bus.listening.clone(),
                bus.generation.clone(),
            ));
        }
        bus
    }

    /// The number of events delivered so far: a subscriber's state computed at this
    /// generation is current for every subscriber that has seen the same events.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.local.subscribe()
    }

    /// Marks a subscription live (its starting state computed) until the guard drops.
    pub fn live(&self) -> LiveGuard {
        self.live.fetch_add(1, Ordering::Relaxed);
        LiveGuard(self.live.clone())
    }

    /// How many subscriptions are live on this instance.
    pub fn live_subscriptions(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// `None` without Redis; otherwise whether this instance both hears the shared channel
    /// and can publish to it.
    pub async fn fanout(&self) -> Option<bool> {
        if !self.redis.configured() {
            return None;
        }
        Some(self.listening.load(Ordering::Relaxed) && self.redis.available().await)
    }

    /// Sends the event to every instance: through Redis when it is reachable (an instance
    /// listening on the channel hears its own events there too), and in process when Redis
    /// is absent, fails, or this instance is not listening yet.
    pub async fn publish(&self, event: Event) {
        let listening = self.listening.load(Ordering::Relaxed);
        if let Ok(text) = serde_json::to_string(&event) {
            let channel = self.channel.clone();
            let sent = self
                .redis
                .call(|mut conn| async move {
                    redis::cmd("PUBLISH")
                        .arg(&*channel)
                        .arg(text)
                        .query_async::<i64>(&mut conn)
                        .await
                })
                .await;
            if sent.is_some() && listening {
                return;
            }
        }
        deliver(&self.local, &self.generation, event);
    }
}

/// For commands outside the gateway (`ingest`, `pull`): tells running gateways which cases
/// changed, when Redis is configured. A failure is only logged: the data is stored either way.
pub async fn announce_changes(redis_url: Option<&str>, channel: &str, changes: Vec<CaseChange>) {
    if changes.is_empty() {
        return;
    }
    announce(redis_url, channel, Event::CasesChanged { changes }).await
}

/// Tells running gateways (through Redis, when configured) of `event`, from a process that
/// has no bus of its own (`qianchuan ingest`).
pub async fn announce(redis_url: Option<&str>, channel: &str, event: Event) {
    let Some(url) = redis_url else { return };
    let publish = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let text = serde_json::to_string(&event)
            .map_err(|e| redis::RedisError::from((redis::ErrorKind::Client, "encoding event", e.to_string())))?;
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(text)
            .query_async::<i64>(&mut conn)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(5), publish).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "could not tell running gateways about the changes"),
        Err(_) => tracing::warn!("Redis did not answer; running gateways were not told about the changes"),
    }
}

/// Listens on the Redis channel, forwarding every event to the local bus; reconnects forever.
async fn listen(
    url: String,
    channel: Arc<str>,
    local: broadcast::Sender<Arc<Event>>,
    listening: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
) {
    let client = match redis::Client::open(url.as_str()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "QIANCHUAN_REDIS_URL is not a Redis URL; events stay in this instance");
            return;
        }
    };
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&*channel).await {
                Ok(()) => {
                    listening.store(true, Ordering::Relaxed);
                    tracing::info!("listening for events on Redis");
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(text) = message.get_payload::<String>() else {
                            continue;
                        };
                        match serde_json::from_str::<Event>(&text) {
                            Ok(event) => deliver(&local, &generation, event),
                            Err(e) => tracing::warn!(error = %e, "ignoring an event that does not decode"),
                        }
                    }
                    listening.store(false, Ordering::Relaxed);
                    tracing::warn!("Redis event channel closed; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "subscribing to Redis events failed"),
            },
            Err(e) => tracing::warn!(error = %e, "Redis unreachable for events; retrying in 2 s"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::ChangeKind;

    #[test]
    fn events_round_trip_through_json() {
        let event = Event::CasesChanged {
            changes: vec![CaseChange {
                case_id: 7,
                kind: ChangeKind::Updated,
                stage_before: Some(entities::LoopStage::Discovered),
                stage_after: Some(entities::LoopStage::Notified),
            }],
        };
        let text = serde_json::to_string(&event).unwrap();
        assert!(text.contains("\"type\":\"CASES_CHANGED\""), "{text}");
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
    }

    #[tokio::test]
    async fn without_redis_events_are_delivered_in_process() {
        let bus = EventBus::start(RedisHandle::default(), "qianchuan:events");
        let mut rx = bus.subscribe();
        bus.publish(Event::TaskChanged { task_id: 3 }).await;
        assert_eq!(*rx.recv().await.unwrap(), Event::TaskChanged { task_id: 3 });
        assert_eq!(bus.fanout().await, None);
    }
}
