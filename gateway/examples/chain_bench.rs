//! Load benchmark of `caseChain` (depth 3) at N concurrent clients over HTTP, beside a
//! recursive-CTE walk of the same graph from the same roots at the same concurrency.
//! Run by `bench/chain.sh`; by hand:
//!   cargo run --release -p gateway --example chain_bench -- \
//!     --gateway http://127.0.0.1:8099 --token T --database postgres://… [--clients 16] [--requests 4000]
//!     [--cte-requests 800] [--roots 2000] [--walk-alone yes|no]
//! With `--walk-alone yes` (the default) it also builds the linkage index in this process and
//! times the walk alone (no HTTP, no GraphQL, no audit) beside the CTE, one walk at a time.

mod bench_common;

use std::sync::Arc;
use std::time::Instant;

use bench_common::{percentile, run};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

struct Args {
    gateway: String,
    token: String,
    database: String,
    clients: usize,
    requests: usize,
    cte_requests: usize,
    roots: usize,
    walk_alone: bool,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        gateway: String::new(),
        token: String::new(),
        database: String::new(),
        clients: 16,
        requests: 4000,
        cte_requests: 800,
        roots: 2000,
        walk_alone: true,
    };
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i + 1 < raw.len() {
        let v = raw[i + 1].clone();
        let n = || v.parse::<usize>().map_err(|e| format!("{}: {e}", raw[i]));
        match raw[i].as_str() {
            "--gateway" => a.gateway = v.clone(),
            "--token" => a.token = v.clone(),
            "--database" => a.database = v.clone(),
            "--clients" => a.clients = n()?,
            "--requests" => a.requests = n()?,
            "--cte-requests" => a.cte_requests = n()?,
            "--roots" => a.roots = n()?,
            "--walk-alone" => a.walk_alone = v != "no",
            other => return Err(format!("unknown argument {other}")),
        }
        i += 2;
    }
    if a.gateway.is_empty() || a.token.is_empty() || a.database.is_empty() {
        return Err("--gateway, --token and --database are required".into());
    }
    Ok(a)
}

const CTE: &str = "WITH RECURSIVE walk(case_id, depth, score) AS ( \
    SELECT $1::bigint, 0, 1.0::float8 \
    UNION \
    SELECT k2.case_id, w.depth + 1, w.score * k1.score \
    FROM walk w \
    JOIN case_keys k1 ON k1.case_id = w.case_id \
    JOIN case_keys k2 ON k2.kind = k1.kind AND k2.value = k1.value AND k2.case_id <> w.case_id \
    JOIN cases c ON c.id = k2.case_id AND c.deleted = false \
    WHERE w.depth < 3 AND w.score * k1.score >= 0.5 ) \
  SELECT case_id, max(score) AS score, min(depth) AS depth FROM walk GROUP BY case_id LIMIT 200";

#[tokio::main]
async fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // JIT off for the CTE: its cost estimate can cross PostgreSQL's JIT threshold, and then
    // most of its time is compiling, not walking — an unfair baseline.
    let separator = if a.database.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}options=-c%20jit%3Doff", a.database);
    let mut options = ConnectOptions::new(url);
    options.max_connections(a.clients as u32 + 2).sqlx_logging(false);
    let db: DatabaseConnection = match Database::connect(options).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("database: {e}");
            std::process::exit(1);
        }
    };
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT id FROM cases WHERE deleted = false ORDER BY md5(id::text) LIMIT {}",
                a.roots
            ),
        ))
        .await
        .unwrap_or_default();
    let roots: Arc<Vec<i64>> = Arc::new(rows.iter().filter_map(|r| r.try_get_by_index::<i64>(0).ok()).collect());
    if roots.is_empty() {
        eprintln!("no cases in the database: run bench/ingest.sh first");
        std::process::exit(1);
    }
    let cases: i64 = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT count(*) FROM cases".to_string(),
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    println!("{cases} cases; {} roots; {} clients", roots.len(), a.clients);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients)
        .build()
        .unwrap_or_default();
    let url = Arc::new(format!("{}/graphql", a.gateway.trim_end_matches('/')));
    let token = Arc::new(a.token.clone());
    let query = "query($id: ID!) { caseChain(caseId: $id, maxDepth: 3) { nodes { depth score case { id source } } links { kind key } hubs { kind caseCount } truncated } }";
    let http = {
        let roots = roots.clone();
        move |i: usize| {
            let (client, url, token, roots) = (client.clone(), url.clone(), token.clone(), roots.clone());
            async move {
                let id = format!("Case:{}", roots[i % roots.len()]);
                let body = serde_json::json!({"query": query, "variables": {"id": id}});
                match client
                    .post(url.as_str())
                    .bearer_auth(token.as_str())
                    .json(&body)
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        }
    };
    let _warm = run(a.clients, 200, http.clone()).await;
    let (times, secs) = run(a.clients, a.requests, http).await;
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!(
        "caseChain depth 3 over HTTP:  {} ok of {}  p50 {p50:.2} ms  p99 {p99:.2} ms  {:.0} requests/s",
        times.len(),
        a.requests,
        times.len() as f64 / secs
    );

    let cte = {
        let (db, roots) = (db.clone(), roots.clone());
        move |i: usize| {
            let (db, roots) = (db.clone(), roots.clone());
            async move {
                let sql = CTE.replace("$1", &roots[i % roots.len()].to_string());
                db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
                    .await
                    .is_ok()
            }
        }
    };
    let (ctimes, csecs) = run(a.clients, a.cte_requests, cte).await;
    let (c50, c99) = (percentile(&ctimes, 0.5), percentile(&ctimes, 0.99));
    println!(
        "recursive CTE walk in SQL:    {} ok of {}  p50 {c50:.2} ms  p99 {c99:.2} ms  {:.0} walks/s",
        ctimes.len(),
        a.cte_requests,
        ctimes.len() as f64 / csecs
    );
    println!(
        "targets: p50 <= 10 ms {}, p99 <= 50 ms {}, >= 10x the CTE (p50 ratio {:.1}x) {}",
        if p50 <= 10.0 { "met" } else { "MISSED" },
        if p99 <= 50.0 { "met" } else { "MISSED" },
        c50 / p50,
        if c50 >= 10.0 * p50 { "met" } else { "MISSED" }
    );
    if a.walk_alone {
        walk_alone(&db, &roots).await;
    }
}

/// The walk itself on an index built here, and the CTE, one at a time from the same roots.
async fn walk_alone(db: &DatabaseConnection, roots: &[i64]) {
    use gateway::auth::{Role, Viewer};
    use hub::link_index::LinkIndex;
    use hub::linkage::{walk, WalkParams};
    use hub::policy::Scope;

    let started = Instant::now();
    let index = match LinkIndex::built(db.clone()).await {
        Ok(index) => index,
        Err(e) => {
            eprintln!("building the linkage index: {e}");
            return;
        }
    };
    let f = index.figures();
    println!(
        "linkage index built in this process in {:.1} s: {} cases, {} shared keys, about {} MB",
        started.elapsed().as_secs_f64(),
        f.cases,
        f.keys,
        f.bytes >> 20
    );
    let viewer = Viewer {
        sub: "bench".into(),
        role: Role::Discipline,
        regions: vec!["33".into()],
        unit: None,
        own_id: None,
    };
    let scope = Scope::for_viewer(&viewer);
    let Ok(params) = WalkParams::new(3, 0.5, 200, 50) else {
        return;
    };
    let mut times = Vec::new();
    let mut nodes = 0;
    for root in roots.iter().take(1000) {
        let t = Instant::now();
        if let Ok(chain) = walk(&index.view(&scope), *root, params).await {
            times.push(t.elapsed());
            nodes += chain.nodes.len();
        }
    }
    times.sort();
    let mut cte = Vec::new();
    for root in roots.iter().take(200) {
        let sql = CTE.replace("$1", &root.to_string());
        let t = Instant::now();
        if db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .is_ok()
        {
            cte.push(t.elapsed());
        }
    }
    cte.sort();
    let (w50, w99, c50) = (percentile(&times, 0.5), percentile(&times, 0.99), percentile(&cte, 0.5));
    println!(
        "the walk alone, one at a time: {} walks ({:.0} cases each)  p50 {:.3} ms  p99 {:.3} ms; \
         the CTE one at a time: p50 {c50:.2} ms — {:.0}x",
        times.len(),
        nodes as f64 / times.len().max(1) as f64,
        w50,
        w99,
        c50 / w50
    );
}
