//! Load benchmark of `caseChain` (depth 3) at N concurrent clients over HTTP, beside the peer a
//! PostGraphile user would build — a recursive-CTE SQL function over the same `case_keys`,
//! exposed by PostGraphile 4 as a query field — and the same CTE sent straight to PostgreSQL,
//! from the same roots at the same concurrency. A request counts only when it answers without
//! `errors`. Run by `bench/chain.sh`; by hand:
//!   cargo run --release -p gateway --example chain_bench -- \
//!     --gateway http://127.0.0.1:8099 --token T --database postgres://… [--clients 16]
//!     [--seconds 20 | --requests N] [--postgraphile http://127.0.0.1:5000/graphql] [--cte-requests 800]
//!     [--roots 2000] [--walk-alone yes|no]
//! Each server is asked for the chain of every root once (its first round: for the gateway,
//! nothing kept in its case cache yet), then round the same roots for 20 s (its steady state, as
//! `wrk -d 20s` measures it) or `--requests N`.
//! With `--walk-alone yes` (the default) it also builds the linkage index in this process and
//! times the walk alone (no HTTP, no GraphQL, no audit) beside the CTE, one walk at a time.

mod bench_common;

use std::sync::Arc;
use std::time::Instant;

use bench_common::{ask_graphql, measure, percentile, run, Figures, Limit};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};

struct Args {
    gateway: String,
    token: String,
    database: String,
    clients: usize,
    steady: Limit,
    cte_requests: usize,
    roots: usize,
    walk_alone: bool,
    postgraphile: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        gateway: String::new(),
        token: String::new(),
        database: String::new(),
        clients: 16,
        steady: Limit::Seconds(20.0),
        cte_requests: 800,
        roots: 2000,
        walk_alone: true,
        postgraphile: None,
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
            "--requests" => a.steady = Limit::Requests(n()?),
            "--seconds" => a.steady = Limit::Seconds(v.parse::<f64>().map_err(|e| format!("--seconds: {e}"))?),
            "--cte-requests" => a.cte_requests = n()?,
            "--roots" => a.roots = n()?,
            "--walk-alone" => a.walk_alone = v != "no",
            "--postgraphile" => a.postgraphile = Some(v.clone()),
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

const OURS: &str = "query($id: ID!) { caseChain(caseId: $id, maxDepth: 3) { nodes { depth score case { id source } } links { kind key } hubs { kind caseCount } truncated } }";
/// `bench.case_chain(root)`, the CTE as a SQL function (`bench/chain.sh` creates it).
const POSTGRAPHILE: &str = "query($id: BigInt!) { caseChain(root: $id) { nodes { caseId source depth score } } }";

/// A GraphQL server answering chains: its URL, document, and how it spells a case id.
#[derive(Clone)]
struct Server {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    query: &'static str,
    id: fn(i64) -> serde_json::Value,
}

/// A chain answer's `data` as the client checks it: the one field's nodes, counted.
#[derive(serde::Deserialize)]
struct ChainData {
    #[serde(rename = "caseChain")]
    case_chain: ChainNodes,
}

#[derive(serde::Deserialize)]
struct ChainNodes {
    nodes: Vec<serde::de::IgnoredAny>,
}

impl Server {
    /// Asks for the chain of `root`; true when it came back without errors.
    async fn ask(&self, root: i64) -> bool {
        ask_graphql(
            &self.client,
            &self.url,
            self.token.as_deref(),
            self.query,
            (self.id)(root),
        )
        .await
        .is_some_and(|data: ChainData| !data.case_chain.nodes.is_empty())
    }
}

/// `server` under load from `roots` in turn: (first round, steady state).
async fn measure_server(
    name: &str,
    clients: usize,
    steady: Limit,
    roots: &Arc<Vec<i64>>,
    server: Server,
) -> (Figures, Figures) {
    let roots = roots.clone();
    let distinct = roots.len();
    let work = move |i: usize| {
        let (server, root) = (server.clone(), roots[i % roots.len()]);
        async move { server.ask(root).await }
    };
    measure(name, clients, distinct, steady, work).await
}

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
    let ours = Server {
        client: client.clone(),
        url: format!("{}/graphql", a.gateway.trim_end_matches('/')),
        token: Some(a.token.clone()),
        query: OURS,
        id: |id| format!("Case:{id}").into(),
    };
    let (our_first, ours) = measure_server("caseChain depth 3 over HTTP", a.clients, a.steady, &roots, ours).await;
    let mut verdict = format!(
        "targets (steady state): p99 <= 50 ms {}",
        if ours.p99 <= 50.0 { "met" } else { "MISSED" }
    );
    if let Some(url) = &a.postgraphile {
        let theirs = Server {
            client,
            url: url.clone(),
            token: None,
            query: POSTGRAPHILE,
            id: |id| id.to_string().into(),
        };
        let (their_first, theirs) =
            measure_server("PostGraphile CTE function", a.clients, a.steady, &roots, theirs).await;
        verdict.push_str(&format!(
            ", >= 10x PostGraphile's CTE function ({:.1}x requests/s, p99 {:.1}x lower) {}; first round {:.1}x",
            ours.rate / theirs.rate,
            theirs.p99 / ours.p99,
            if ours.rate >= 10.0 * theirs.rate {
                "met"
            } else {
                "MISSED"
            },
            our_first.rate / their_first.rate,
        ));
    }
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
    let (ctimes, _, csecs) = run(a.clients, 0, Limit::Requests(a.cte_requests), cte).await;
    let (c50, c99) = (percentile(&ctimes, 0.5), percentile(&ctimes, 0.99));
    println!(
        "recursive CTE walk in SQL:    {} ok of {}  p50 {c50:.2} ms  p99 {c99:.2} ms  {:.0} walks/s",
        ctimes.len(),
        a.cte_requests,
        ctimes.len() as f64 / csecs
    );
    println!(
        "{verdict}; the CTE alone at the same concurrency: {:.1}x fewer walks/s than the gateway's chains",
        ours.rate / (ctimes.len() as f64 / csecs)
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
    let index = match LinkIndex::built(db.clone(), 64 << 20).await {
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
