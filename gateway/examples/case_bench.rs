//! Load benchmark of `case(id)` with its parties at N concurrent clients over HTTP, beside
//! PostGraphile serving the same PostgreSQL tables in the same run (same cases, same fields,
//! same concurrency). Run by `bench/case.sh`; by hand:
//!   cargo run --release -p gateway --example case_bench -- \
//!     --gateway http://127.0.0.1:8099 --token T --database postgres://… \
//!     [--postgraphile http://127.0.0.1:5000/graphql] [--clients 16] [--cases 5000] [--seconds 20 | --requests N]
//! Each server is asked for every case once (its first round: for the gateway, nothing kept in
//! its case cache yet), then round the same cases for 20 s (its steady state, as `wrk -d 20s`
//! measures it) or `--requests N`. A request counts only when it answers with the case (not
//! null, no errors).

mod bench_common;

use std::collections::HashMap;
use std::sync::Arc;

use bench_common::{ask_graphql, measure, Figures, Limit};
use sea_orm::{ConnectionTrait, Database, Statement};

const OURS: &str = "query($id: ID!) { case(id: $id) { id source sourceKey title status \
    parties { role nameAsRecorded party { id kind name } } } }";
const POSTGRAPHILE: &str = "query($id: BigInt!) { caseById(id: $id) { id source sourceKey title status \
    casePartiesByCaseId { nodes { role nameAsRecorded partyByPartyId { id kind name } } } } }";

fn args() -> Result<HashMap<String, String>, String> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut a: HashMap<String, String> = [("clients", "16"), ("seconds", "20"), ("cases", "5000")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for pair in raw.chunks(2) {
        match pair {
            [k, v] if k.starts_with("--") => {
                a.insert(k.trim_start_matches("--").to_string(), v.clone());
            }
            _ => return Err(format!("expected --name value, got {pair:?}")),
        }
    }
    for required in ["gateway", "token", "database"] {
        if !a.contains_key(required) {
            return Err("--gateway, --token and --database are required".into());
        }
    }
    Ok(a)
}

fn number(a: &HashMap<String, String>, name: &str) -> usize {
    a.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// One server under load: `request(i)` asks for case `i` and says whether the case came back.
async fn measure_server(
    name: &str,
    clients: usize,
    cases: usize,
    steady: Limit,
    request: impl AsyncCase,
) -> (Figures, Figures) {
    let request = Arc::new(request);
    let work = move |i: usize| {
        let request = request.clone();
        async move { request.ask(i).await }
    };
    measure(name, clients, cases, steady, work).await
}

trait AsyncCase: Send + Sync + 'static {
    fn ask(&self, i: usize) -> impl std::future::Future<Output = bool> + Send;
}

/// A case as the client checks it: it came back with an id (the rest is parsed, not kept).
#[derive(serde::Deserialize)]
struct WithId {
    #[serde(rename = "id")]
    _id: String,
}

struct GraphqlCase {
    client: reqwest::Client,
    url: String,
    token: Option<String>,
    query: &'static str,
    /// The case's id as this server spells it.
    id: fn(i64) -> serde_json::Value,
    /// The field the case comes back in.
    field: &'static str,
    cases: Arc<Vec<i64>>,
}

impl AsyncCase for GraphqlCase {
    async fn ask(&self, i: usize) -> bool {
        let id = (self.id)(self.cases[i % self.cases.len()]);
        ask_graphql::<HashMap<String, Option<WithId>>>(&self.client, &self.url, self.token.as_deref(), self.query, id)
            .await
            .is_some_and(|data| data.get(self.field).is_some_and(Option::is_some))
    }
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
    let clients = number(&a, "clients").max(1);
    let steady = match a.get("requests") {
        Some(_) => Limit::Requests(number(&a, "requests").max(1)),
        None => Limit::Seconds(a.get("seconds").and_then(|v| v.parse().ok()).unwrap_or(20.0)),
    };
    let db = match Database::connect(a["database"].as_str()).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("database: {e}");
            std::process::exit(1);
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT id FROM cases WHERE deleted = false ORDER BY md5(id::text) LIMIT {}",
                number(&a, "cases").max(1)
            ),
        ))
        .await
        .unwrap_or_default();
    let cases: Arc<Vec<i64>> = Arc::new(rows.iter().filter_map(|r| r.try_get_by_index::<i64>(0).ok()).collect());
    if cases.is_empty() {
        eprintln!("no cases in the database: run bench/ingest.sh first");
        std::process::exit(1);
    }
    println!("{} cases asked in turn; {clients} clients", cases.len());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap_or_default();

    let (our_first, ours) = measure_server(
        "case(id) with parties",
        clients,
        cases.len(),
        steady,
        GraphqlCase {
            client: client.clone(),
            url: format!("{}/graphql", a["gateway"].trim_end_matches('/')),
            token: Some(a["token"].clone()),
            query: OURS,
            id: |id| format!("Case:{id}").into(),
            field: "case",
            cases: cases.clone(),
        },
    )
    .await;
    let mut verdict = String::from("targets:");
    if let Some(url) = a.get("postgraphile") {
        let (their_first, theirs) = measure_server(
            "PostGraphile caseById",
            clients,
            cases.len(),
            steady,
            GraphqlCase {
                client,
                url: url.clone(),
                token: None,
                query: POSTGRAPHILE,
                id: |id| id.to_string().into(),
                field: "caseById",
                cases,
            },
        )
        .await;
        verdict.push_str(&format!(
            " >= 3x PostGraphile's requests/s in the steady state ({:.1}x) {}, p99 no worse ({:.1} ms vs {:.1} ms) {}; \
             first round {:.1}x (p99 {:.1} ms vs {:.1} ms)",
            ours.rate / theirs.rate,
            if ours.rate >= 3.0 * theirs.rate { "met" } else { "MISSED" },
            ours.p99,
            theirs.p99,
            if ours.p99 <= theirs.p99 { "met" } else { "MISSED" },
            our_first.rate / their_first.rate,
            our_first.p99,
            their_first.p99,
        ));
    }
    println!("{verdict}");
}
