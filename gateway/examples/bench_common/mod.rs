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

/// How long a load runs: a number of requests, or for a time (as `wrk -d` runs).
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    Requests(usize),
    Seconds(f64),
}

/// Runs `work(first..)` on `clients` concurrent tasks until `limit`; returns the sorted times
/// of the requests that succeeded, how many were asked, and the seconds the whole run took.
pub async fn run<F, Fut>(clients: usize, first: usize, limit: Limit, work: F) -> (Vec<Duration>, usize, f64)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(first));
    let asked = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (work, next, asked) = (work.clone(), next.clone(), asked.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                if matches!(limit, Limit::Seconds(secs) if started.elapsed().as_secs_f64() >= secs) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if matches!(limit, Limit::Requests(total) if i >= first + total) {
                    break;
                }
                asked.fetch_add(1, Ordering::Relaxed);
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
    (all, asked.load(Ordering::Relaxed), elapsed)
}

/// One load's figures: requests/s (of the requests that succeeded), p50 and p99 (ms).
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    pub rate: f64,
    pub p50: f64,
    pub p99: f64,
}

/// A server measured in two parts, the same for every server: its first round, which asks
/// each of `distinct` cases (or roots) once — for a server that keeps what it reads, its
/// figure with nothing kept — then its steady state, for `steady`, going on round the same
/// list (`wrk -d 20s` on a fixed list measures the steady state). Prints both; returns
/// (first round, steady state).
pub async fn measure<F, Fut>(name: &str, clients: usize, distinct: usize, steady: Limit, work: F) -> (Figures, Figures)
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let part = |label: &str, (times, asked, secs): (Vec<Duration>, usize, f64)| {
        let f = Figures {
            rate: times.len() as f64 / secs,
            p50: percentile(&times, 0.5),
            p99: percentile(&times, 0.99),
        };
        println!(
            "{name:<28} {label:<12} {} ok of {asked} in {secs:.1} s  p50 {:.2} ms  p99 {:.2} ms  {:.0} requests/s",
            times.len(),
            f.p50,
            f.p99,
            f.rate
        );
        f
    };
    let first = part(
        "first round",
        run(clients, 0, Limit::Requests(distinct), work.clone()).await,
    );
    let steady = part("steady", run(clients, distinct, steady, work).await);
    (first, steady)
}

/// A GraphQL answer as the load client reads it: `data` as far as `D` describes it (the rest is
/// parsed but not kept, as a load generator needs), and whether `errors` came back.
#[derive(serde::Deserialize)]
struct Answer<D> {
    data: Option<D>,
    errors: Option<serde::de::IgnoredAny>,
}

/// Posts `query` with `{"id": id}` to a GraphQL server (with `token` as bearer, if any); the
/// answer's `data`, read as `D`, when it came back without `errors`. Every byte of the answer is
/// parsed as JSON; only what `D` names is kept.
pub async fn ask_graphql<D: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    id: serde_json::Value,
) -> Option<D> {
    let body = serde_json::json!({"query": query, "variables": {"id": id}});
    let mut post = client.post(url).json(&body);
    if let Some(token) = token {
        post = post.bearer_auth(token);
    }
    let answer = post.send().await.ok()?.json::<Answer<D>>().await.ok()?;
    if answer.errors.is_some() {
        return None;
    }
    answer.data
}
