//! Test support: `TestApp` runs the real router on port 0 against a fresh database.
//!
//! SQLite always; PostgreSQL when `QIANCHUAN_TEST_DATABASE_URL` is set (a fresh schema
//! per test); Redis when `QIANCHUAN_TEST_REDIS_URL` is set. With
//! `QIANCHUAN_REQUIRE_SERVICES=1` a missing or unreachable service fails the test.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use gateway::auth::Role;
use gateway::config::{Config, Secret};
use gateway::{connect_and_migrate, AppState};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{json, Value};

pub const SECRET: &str = "qianchuan-test-secret-of-32-bytes-or-more";
/// The ID number a `citizen` token of `TestApp::token` speaks for.
pub const CITIZEN_IDN: &str = "11010519491231002X";
/// The credit code an `employer` token of `TestApp::token` speaks for.
pub const EMPLOYER_USCC: &str = "91330110MA2H3K4L5F";
static COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn services_required() -> bool {
    std::env::var("QIANCHUAN_REQUIRE_SERVICES")
        .map(|v| v == "1")
        .unwrap_or(false)
}

fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Drops a per-test PostgreSQL schema when the test ends.
struct PgSchema {
    base_url: String,
    name: String,
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.base_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                if let Ok(db) = Database::connect(url).await {
                    let _ = db
                        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                        .await;
                    let _ = db.close().await;
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The database URL, for a second gateway on the same data (`twin`).
    pub database_url: String,
    /// The Redis channel of this app's live events (unique per app: the suite shares one Redis).
    pub events_channel: String,
    pub db: DatabaseConnection,
    pub backend: Backend,
    pub client: reqwest::Client,
    _pg: Option<PgSchema>,
    _dir: Option<TempDir>,
}

/// A temporary directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(unique_name(prefix));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestApp {
    /// The app on a fresh SQLite file.
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(|_| {}).await
    }

    pub async fn sqlite_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = TempDir::new("qianchuan-test");
        let url = format!("sqlite://{}?mode=rwc", dir.0.join("test.db").display());
        Self::start(url, Backend::Sqlite, None, Some(dir), adjust).await
    }

    /// The app on a fresh PostgreSQL schema, or `None` when PostgreSQL is not configured
    /// (a failure instead when services are required).
    pub async fn postgres() -> Option<TestApp> {
        Self::postgres_with(|_| {}).await
    }

    pub async fn postgres_with(adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let base = match std::env::var("QIANCHUAN_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    !services_required(),
                    "QIANCHUAN_REQUIRE_SERVICES=1 but QIANCHUAN_TEST_DATABASE_URL is not set"
                );
                return None;
            }
        };
        let name = unique_name("qc_t");
        let admin = Database::connect(base.clone())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at QIANCHUAN_TEST_DATABASE_URL is unreachable: {e}"));
        admin
            .execute_unprepared(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create test schema");
        let _ = admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        let guard = PgSchema { base_url: base, name };
        Some(Self::start(url, Backend::Postgres, Some(guard), None, adjust).await)
    }

    async fn start(
        url: String,
        backend: Backend,
        pg: Option<PgSchema>,
        dir: Option<TempDir>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = Config {
            database_url: url.clone(),
            jwt_secret: Some(Secret::new(SECRET)),
            redis_url: std::env::var("QIANCHUAN_TEST_REDIS_URL").ok().filter(|u| !u.is_empty()),
            hub_threshold: 5,
            // The suite shares one Redis: rate limits are tested on their own subjects.
            rate_limit_per_minute: 0,
            events_channel: unique_name("qianchuan:test-events"),
            // Tests run the supervision models themselves (one test turns the follower on).
            model_refresh_seconds: 0,
            ..Config::default()
        };
        adjust(&mut config);
        let events_channel = config.events_channel.clone();
        let db = connect_and_migrate(&config).await.expect("migrate test database");
        let state = AppState::new(config, db.clone()).await.expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(gateway::serve(listener, state, std::future::pending()));
        TestApp {
            addr,
            database_url: url,
            events_channel,
            db,
            backend,
            client: reqwest::Client::new(),
            _pg: pg,
            _dir: dir,
        }
    }

    /// Another app with a fresh database of the same kind (SQLite or PostgreSQL).
    pub async fn another(&self) -> TestApp {
        match self.backend {
            Backend::Sqlite => TestApp::sqlite().await,
            Backend::Postgres => TestApp::postgres()
                .await
                .expect("PostgreSQL, as for the app this one is like"),
        }
    }

    /// A second gateway on the same database and events channel (and Redis, when configured),
    /// as a deployment with two instances has.
    pub async fn twin(&self) -> TestApp {
        let channel = self.events_channel.clone();
        Self::start(self.database_url.clone(), self.backend, None, None, move |c| {
            c.events_channel = channel
        })
        .await
    }

    /// As `twin`, with its configuration adjusted (another Redis, shorter limits, …).
    pub async fn twin_with(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let channel = self.events_channel.clone();
        Self::start(self.database_url.clone(), self.backend, None, None, move |c| {
            c.events_channel = channel;
            adjust(c);
        })
        .await
    }

    /// Opens `/graphql/ws` and completes the `graphql-transport-ws` handshake with `token`.
    pub async fn ws(&self, token: &str) -> WsClient {
        let (client, ack) = self.ws_init(token).await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        self.wait_events_shared().await;
        client
    }

    /// Opens `/graphql/ws`, sends `connection_init` with `token`, returns the first answer
    /// (a message, or `{"close": code}`).
    pub async fn ws_init(&self, token: &str) -> (WsClient, Value) {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/graphql/ws", self.addr)
            .into_client_request()
            .expect("ws request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (stream, _) = tokio_tungstenite::connect_async(request).await.expect("ws connect");
        let mut client = WsClient { stream };
        client
            .send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}))
            .await;
        let first = client
            .next_within(std::time::Duration::from_secs(5))
            .await
            .expect("an answer to connection_init");
        (client, first)
    }

    /// Waits until the gateway's events are shared through Redis (when Redis is configured),
    /// so that an event published on another instance reaches this one.
    pub async fn wait_events_shared(&self) {
        for _ in 0..100 {
            let ready: Value = self
                .client
                .get(self.url("/readyz"))
                .send()
                .await
                .expect("readyz")
                .json()
                .await
                .expect("readyz json");
            if ready["events"] != "in process (redis not reachable yet)" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the gateway never subscribed to its Redis events channel");
    }

    /// GETs a JSON document (`/readyz`, …).
    pub async fn get_json(&self, path: &str) -> Value {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON body")
    }

    /// The text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// Waits until the gateway walks chains on its built linkage index.
    pub async fn wait_link_index_ready(&self) {
        for _ in 0..200 {
            if self.get_json("/readyz").await["linkIndex"]["state"] == "ready" {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the linkage index was never built");
    }

    /// Waits until this instance has `n` live subscriptions (a subscription is live once its
    /// starting state is computed, shortly after its `subscribe` message).
    pub async fn wait_subscriptions(&self, n: usize) {
        let want = format!("qianchuan_subscriptions {n}\n");
        for _ in 0..200 {
            if self.metrics_text().await.contains(&want) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the gateway never reached {n} live subscriptions");
    }

    /// POSTs one export file to `/ingest/{source}` as admin; returns the report.
    pub async fn ingest(&self, source: &str, file: &str, body: String) -> Value {
        let response = self
            .client
            .post(self.url(&format!("/ingest/{source}")))
            .bearer_auth(self.token(Role::Admin, &[]))
            .header("x-file-name", file)
            .body(body)
            .send()
            .await
            .expect("ingest request");
        assert_eq!(response.status().as_u16(), 200, "ingest of {file}");
        response.json().await.expect("ingest report")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A valid token for `role` over `regions`.
    /// A valid token; a `citizen` speaks for `CITIZEN_IDN`, an `employer` for `EMPLOYER_USCC`.
    pub fn token(&self, role: Role, regions: &[&str]) -> String {
        let regions: Vec<String> = regions.iter().map(|r| r.to_string()).collect();
        let claims = gateway::auth::IdentityClaims {
            idn: (role == Role::Citizen).then_some(CITIZEN_IDN),
            uscc: (role == Role::Employer).then_some(EMPLOYER_USCC),
            ..Default::default()
        };
        gateway::auth::mint_hs256_with(
            SECRET,
            &format!("test-{role}"),
            role,
            &regions,
            claims,
            600,
            (None, None),
        )
        .expect("mint")
    }

    /// A `citizen` token for `idn`, or an `employer` token for `uscc`.
    pub fn identity_token(&self, role: Role, sub: &str, idn: Option<&str>, uscc: Option<&str>) -> String {
        let claims = gateway::auth::IdentityClaims { idn, uscc, unit: None };
        gateway::auth::mint_hs256_with(SECRET, sub, role, &[], claims, 600, (None, None)).expect("mint")
    }

    /// A valid `agency` token for `unit`.
    pub fn agency_token(&self, unit: &str) -> String {
        gateway::auth::mint_hs256_for_unit(
            SECRET,
            &format!("agency-{unit}"),
            Role::Agency,
            &["33".into()],
            Some(unit),
            600,
            (None, None),
        )
        .expect("mint")
    }

    /// A valid token for `role` over `regions` with a `unit` claim (an `inspector`'s team).
    pub fn unit_token(&self, role: Role, unit: &str, regions: &[&str]) -> String {
        let regions: Vec<String> = regions.iter().map(|r| r.to_string()).collect();
        gateway::auth::mint_hs256_for_unit(
            SECRET,
            &format!("{role}-{unit}"),
            role,
            &regions,
            Some(unit),
            600,
            (None, None),
        )
        .expect("mint")
    }

    /// POSTs a query as `application/json` with the given bearer token.
    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json body"))
    }

    /// Terminates the PostgreSQL backends of this database named `application_name` (and, when
    /// given, whose last statement was `query`); answers how many there were.
    pub async fn terminate_backends(&self, application_name: &str, query: Option<&str>) -> i64 {
        use sea_orm::ConnectionTrait;
        let statement = sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1 \
             AND ($2::text IS NULL OR query = $2)",
            [application_name.into(), query.map(str::to_string).into()],
        );
        let row = self
            .db
            .query_one_raw(statement)
            .await
            .expect("terminate")
            .expect("a count");
        row.try_get::<i64>("", "n").expect("n")
    }

    /// The value of one series of `/metrics` (0 when absent): a name with its labels as
    /// written there, e.g. `qianchuan_db_reads_total{database="replica"}`.
    pub async fn metric(&self, series: &str) -> u64 {
        self.metrics_text()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Like `graphql`, asserting no errors, returning `data`.
    pub async fn data(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql(token, query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    pub async fn seed_demo(&self) {
        hub::demo::seed_demo(&self.db).await.expect("seed demo");
    }
}

/// The sample exports copied into `tests/fixtures/samples/`, one source's files in name order.
pub fn sample_files(source: entities::Source) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/samples/exports")
        .join(source.slug());
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    files
}

/// Loads the samples of the given sources, in that order; returns `source/file` and its counts.
pub async fn load_samples(app: &TestApp, order: &[entities::Source]) -> Vec<(String, hub::ingest::FileReport)> {
    let mut reports = Vec::new();
    for source in order {
        for path in sample_files(*source) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = std::fs::read(&path).expect("sample file");
            let report = hub::ingest::ingest_file(&app.db, *source, &name, &bytes)
                .await
                .expect("ingest");
            reports.push((format!("{}/{name}", source.slug()), report));
        }
    }
    reports
}

/// Runs a scenario on SQLite and, when configured, on PostgreSQL.
/// The rows of `sql` as (integer, text, integer) triples.
pub async fn int_text_int_rows(db: &DatabaseConnection, sql: &str) -> Vec<(i64, String, i64)> {
    db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
        .into_iter()
        .map(|r| {
            (
                r.try_get_by_index(0).expect("column 0"),
                r.try_get_by_index(1).expect("column 1"),
                r.try_get_by_index(2).expect("column 2"),
            )
        })
        .collect()
}

#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    super::$name($crate::TestApp::sqlite().await).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    if let Some(app) = $crate::TestApp::postgres().await {
                        super::$name(app).await
                    }
                }
            }
        )*
    };
}

/// A `graphql-transport-ws` client for the tests.
pub struct WsClient {
    stream: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl WsClient {
    pub async fn send(&mut self, message: Value) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(
                message.to_string().into(),
            ))
            .await
            .expect("ws send");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}))
            .await;
    }

    /// The next protocol message within `wait` (`{"close": code, "reason": …}` for a close),
    /// or `None` when nothing came.
    pub async fn next_within(&mut self, wait: std::time::Duration) -> Option<Value> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, self.stream.next()).await.ok()??;
            match message {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(text.as_str()).expect("json message")),
                Ok(Message::Close(frame)) => {
                    return Some(json!({
                        "close": frame.as_ref().map(|f| u16::from(f.code)),
                        "reason": frame.as_ref().map(|f| f.reason.to_string()),
                    }))
                }
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }
}

/// Held by the tests that empty Redis's copy of the revocation table (the suite shares one
/// Redis) and by those whose database goes away: while Redis's copy is incomplete a gateway
/// asks the database, and with the database gone it refuses every token (401), which is not
/// what an outage test expects to see.
pub static REVOCATIONS_IN_REDIS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A TCP proxy on loopback in front of a service (PostgreSQL, Redis), which a test can cut:
/// while down, open connections are dropped and new ones closed at once — the service is
/// gone as far as the gateway can tell — and `up` brings it back on the same address.
pub struct Outage {
    pub addr: std::net::SocketAddr,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl Outage {
    /// Proxies `target` (`host:port`).
    pub async fn start(target: &str) -> Outage {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let target = target.to_string();
        let is_down = down.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if is_down.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cuts = cuts.clone();
                // Only cuts made from now on end this connection.
                cuts.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Outage { addr, down, cut }
    }

    /// Cuts the service off: open connections drop, new ones are closed.
    pub fn down(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn up(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}
