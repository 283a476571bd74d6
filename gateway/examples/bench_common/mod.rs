//! What the load benchmarks share: N clients working through a numbered list of requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `p` percentile of sorted durations, in milliseconds.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Runs `work(0..total)` on `clients` concurrent tasks; returns the sorted times of the
/// requests that succeeded and the seconds the whole run took.
pub async fn run<F, Fut>(clients: usize, total: usize, work: F) -> (Vec<Duration>, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (work, next) = (work.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t = Instant::now();
                if work(i).await {
                    times.push(t.elapsed());
                }
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    (all, elapsed)
}

/// Posts `query` with `{"id": id}` to a GraphQL server (with `token` as bearer, if any); the
/// answer's `data` when it came back without `errors`.
pub async fn ask_graphql(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    id: serde_json::Value,
) -> Option<serde_json::Value> {
    let body = serde_json::json!({"query": query, "variables": {"id": id}});
    let mut post = client.post(url).json(&body);
    if let Some(token) = token {
        post = post.bearer_auth(token);
    }
    let mut answer = post.send().await.ok()?.json::<serde_json::Value>().await.ok()?;
    if answer.get("errors").is_some() {
        return None;
    }
    answer.get_mut("data").map(serde_json::Value::take)
}
