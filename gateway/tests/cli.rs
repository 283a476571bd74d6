//! The `qianchuan` binary as a user runs it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_qianchuan");

fn clean_command(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("QIANCHUAN_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("qianchuan-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(url: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(out) = Command::new("curl").args(["-fsS", url]).output() {
            if out.status.success() {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn curl_graphql(port: u16, token: &str, query: &str) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sS", "-X", "POST", &format!("http://127.0.0.1:{port}/graphql")])
        .args([
            "-H",
            "content-type: application/json",
            "-H",
            &format!("authorization: Bearer {token}"),
        ])
        .args(["-d", &serde_json::json!({ "query": query }).to_string()])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

#[test]
fn serve_refuses_to_start_without_a_key_outside_demo() {
    let dir = temp_dir("nokey");
    let out = clean_command(&dir)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("QIANCHUAN_JWT_SECRET"), "{stderr}");
}

#[test]
fn unknown_variables_fail_at_start_up() {
    let dir = temp_dir("unknown");
    let out = clean_command(&dir)
        .env("QIANCHUAN_DATABSE_URL", "x")
        .arg("schema")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("QIANCHUAN_DATABSE_URL"));
}

#[test]
fn serve_runs_on_embedded_sqlite_and_accepts_a_minted_token() {
    let dir = temp_dir("serve");
    let port = free_port();
    let _server = Server(
        clean_command(&dir)
            .env("QIANCHUAN_JWT_SECRET", "cli-secret-of-at-least-thirty-two-bytes")
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for(&format!("http://127.0.0.1:{port}/healthz")),
        "server did not come up"
    );
    assert!(
        dir.join("qianchuan.db").exists(),
        "the default database is an SQLite file"
    );
    let out = clean_command(&dir)
        .env("QIANCHUAN_JWT_SECRET", "cli-secret-of-at-least-thirty-two-bytes")
        .args([
            "token",
            "--role",
            "plc",
            "--regions",
            "3301,330782",
            "--sub",
            "alice",
            "--ttl",
            "10m",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let body = curl_graphql(port, &token, "{ me { sub role regions } }");
    assert_eq!(
        body["data"]["me"],
        serde_json::json!({"sub": "alice", "role": "plc", "regions": ["3301", "330782"]})
    );
}

#[test]
fn serve_demo_prints_a_token_per_role_that_reaches_the_demo_world() {
    let dir = temp_dir("demo");
    let port = free_port();
    let mut child = clean_command(&dir)
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    assert!(wait_for(&format!("http://127.0.0.1:{port}/healthz")));
    use std::io::BufRead;
    let mut tokens = std::collections::HashMap::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() == 2 && parts[1].matches('.').count() == 2 {
            tokens.insert(parts[0].to_string(), parts[1].to_string());
        }
        if tokens.len() == 12 {
            break;
        }
    }
    assert_eq!(tokens.len(), 12, "{tokens:?}");
    let body = curl_graphql(port, &tokens["plc"], "{ cases { totalCount } }");
    assert!(body["data"]["cases"]["totalCount"].as_i64().unwrap() > 0, "{body}");
    // The models ran as of the demo's date: the agency receives shell-company findings, the
    // citizen has codes.
    let body = curl_graphql(
        port,
        &tokens["agency"],
        "{ findings(model: \"shell_company\") { totalCount nodes { departments } } }",
    );
    assert!(body["data"]["findings"]["totalCount"].as_i64().unwrap() > 0, "{body}");
    let body = curl_graphql(port, &tokens["citizen"], "{ myPractitionerCode { trade color } }");
    assert!(
        !body["data"]["myPractitionerCode"].as_array().unwrap().is_empty(),
        "{body}"
    );
    // The troubled town (仓前街道) is RED three months in a row: the warnings step up to 约谈
    // and each step opened a supervision task on the town.
    let body = curl_graphql(
        port,
        &tokens["plc"],
        "{ governanceIndex(filter: { regionPrefix: \"330110\" }, from: \"2023-01\", to: \"2023-03\", level: TOWN) { town month color warning } }",
    );
    let steps: Vec<(String, String)> = body["data"]["governanceIndex"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["town"] == "仓前街道")
        .map(|s| {
            (
                s["color"].as_str().unwrap_or("").to_string(),
                s["warning"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected =
        [("RED", "REMIND"), ("RED", "SUPERVISE"), ("RED", "INTERVIEW")].map(|(c, w)| (c.to_string(), w.to_string()));
    assert_eq!(steps, expected, "{body}");
    let body = curl_graphql(
        port,
        &tokens["plc"],
        "{ supervisionTasks(filter: { regionPrefix: \"330110\", department: \"仓前街道\" }, first: 100) { nodes { openedBy title } } }",
    );
    let warned = body["data"]["supervisionTasks"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["openedBy"] == "qianchuan:governance-index")
        .count();
    assert_eq!(warned, 3, "{body}");
    // A restart keeps the secret (beside the database): the printed tokens still work, and the
    // five-system chain is printed again.
    drop(_server);
    let port = free_port();
    let child = clean_command(&dir)
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    assert!(wait_for(&format!("http://127.0.0.1:{port}/healthz")));
    let body = curl_graphql(port, &tokens["plc"], "{ cases { totalCount } }");
    assert!(body["data"]["cases"]["totalCount"].as_i64().unwrap() > 0, "{body}");
    let _ = server.0.kill();
    let mut stderr = String::new();
    use std::io::Read;
    server.0.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("a chain across all five systems"), "{stderr}");
}

#[test]
fn tokens_of_citizens_and_employers_need_their_identity() {
    let dir = temp_dir("identity");
    for role in ["citizen", "employer"] {
        let out = clean_command(&dir)
            .env("QIANCHUAN_JWT_SECRET", "cli-secret-of-at-least-thirty-two-bytes")
            .args(["token", "--role", role])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--idn") || stderr.contains("--uscc"), "{stderr}");
    }
    let out = clean_command(&dir)
        .args(["run-models", "--as-of", "2999-01-01"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("future"));
}

#[test]
fn schema_command_prints_the_sdl() {
    let dir = temp_dir("schema");
    let out = clean_command(&dir).arg("schema").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("caseBySourceKey"));
}

/// `qianchuan ingest` of a 10,000-record world into the SQLite file a running gateway is
/// serving reads from: every load completes and no read fails meanwhile.
#[test]
fn ingest_beside_a_serving_gateway_on_sqlite_fails_no_read() {
    let dir = temp_dir("beside");
    let secret = "cli-secret-of-at-least-thirty-two-bytes";
    let out = clean_command(&dir)
        .args(["demo", "--out", "world", "--scale", "10000", "--seed", "7"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let port = free_port();
    let _server = Server(
        clean_command(&dir)
            .env("QIANCHUAN_JWT_SECRET", secret)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for(&format!("http://127.0.0.1:{port}/healthz")));
    let token = clean_command(&dir)
        .env("QIANCHUAN_JWT_SECRET", secret)
        .args(["token", "--role", "plc", "--regions", "33"])
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut reads, mut failed) = (0, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let body = curl_graphql(
                    port,
                    &token,
                    "{ cases(first: 5) { totalCount edges { node { id summary } } } }",
                );
                reads += 1;
                if body.get("errors").is_some() || body["data"]["cases"].is_null() {
                    failed.push(body);
                }
            }
            (reads, failed)
        })
    };
    for source in ["enforcement", "discipline", "congress", "procuratorate", "social"] {
        let out = clean_command(&dir)
            .args(["ingest", source, &format!("world/{source}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ingest {source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (reads, failed) = reader.join().unwrap();
    assert!(reads > 0);
    assert!(
        failed.is_empty(),
        "{} of {reads} reads failed: {:?}",
        failed.len(),
        failed.first()
    );
}

#[test]
fn a_bad_log_filter_or_format_is_refused_at_start() {
    let dir = temp_dir("logfilter");
    let out = clean_command(&dir)
        .env("QIANCHUAN_LOG", "info,x=nonsense")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("QIANCHUAN_LOG"));
    let out = clean_command(&dir)
        .env("QIANCHUAN_LOG_FORMAT", "xml")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("QIANCHUAN_LOG_FORMAT"));
}

#[test]
fn json_logs_have_one_access_line_per_request_and_migrations_stay_quiet() {
    let dir = temp_dir("jsonlog");
    let secret = "cli-secret-of-at-least-thirty-two-bytes";
    assert!(clean_command(&dir).arg("migrate").output().unwrap().status.success());
    let port = free_port();
    let log = dir.join("serve.log");
    let mut server = Server(
        clean_command(&dir)
            .env("QIANCHUAN_JWT_SECRET", secret)
            .env("QIANCHUAN_LOG_FORMAT", "json")
            .env("QIANCHUAN_MODEL_REFRESH_SECONDS", "0")
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for(&format!("http://127.0.0.1:{port}/healthz")));
    let token = String::from_utf8(
        clean_command(&dir)
            .env("QIANCHUAN_JWT_SECRET", secret)
            .args(["token", "--role", "admin", "--sub", "alice"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let body = Command::new("curl")
        .args(["-sS", "-X", "POST", &format!("http://127.0.0.1:{port}/graphql")])
        .args(["-H", "content-type: application/json"])
        .args(["-H", &format!("authorization: Bearer {}", token.trim())])
        .args([
            "-d",
            r#"{"query":"query Me { me { sub } }","operationName":"Me","variables":{"x":"secret-variable"}}"#,
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&body.stdout).contains("alice"));
    let _ = server.0.kill();
    let _ = server.0.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let access: Vec<&serde_json::Value> = lines.iter().filter(|l| l["target"] == "qianchuan::access").collect();
    let graphql = access
        .iter()
        .find(|l| l["fields"]["route"] == "/graphql")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(graphql["fields"]["method"], "POST");
    assert_eq!(graphql["fields"]["status"], 200);
    assert_eq!(graphql["fields"]["sub"], "alice");
    assert_eq!(graphql["fields"]["operation"], "Me");
    assert!(graphql["fields"]["duration_ms"].is_number());
    assert!(
        !text.contains(token.trim()) && !text.contains("secret-variable"),
        "no token or variables in logs"
    );
    // The database was migrated before: nothing about migrations.
    assert!(!text.contains("igration"), "{text}");
}

#[test]
fn an_unreachable_database_fails_fast_naming_where() {
    let dir = temp_dir("unreachable");
    let port = free_port();
    let started = Instant::now();
    let out = clean_command(&dir)
        .env(
            "QIANCHUAN_DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:{port}/x"),
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("127.0.0.1:{port}")));
}

#[test]
fn ingest_checks_every_path_before_loading_anything() {
    let dir = temp_dir("paths");
    let good = dir.join("zfjd_1.ndjson");
    std::fs::write(&good, "{\"JDBH\":\"ZFJD-1\",\"BBH\":1}\n").unwrap();
    let out = clean_command(&dir)
        .args(["ingest", "enforcement"])
        .arg(&good)
        .arg(dir.join("missing.ndjson"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.ndjson"));
    // Nothing was stored: the same file loads as new afterwards.
    let out = clean_command(&dir)
        .args(["ingest", "enforcement", "--json"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(report["inserted"], 1, "{report}");
    // An empty file says so.
    let empty = dir.join("zfjd_2.ndjson");
    std::fs::write(&empty, "").unwrap();
    let out = clean_command(&dir)
        .args(["ingest", "enforcement"])
        .arg(&empty)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("holds no records"));
}

/// The README's GraphQL, as written, against `serve --demo`: every ```graphql block (with
/// `$id` given a case of the demo), every `-d '{…}'` body of a curl command to `/graphql` with
/// the token its command line mints, and the graphql-ws example's subscription (over
/// WebSocket). Each must answer data without errors.
#[test]
fn the_readmes_graphql_examples_run_against_the_demo() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let dir = temp_dir("readme");
    let secret = "readme-secret-of-at-least-thirty-two-bytes";
    let port = free_port();
    let _server = Server(
        clean_command(&dir)
            .env("QIANCHUAN_JWT_SECRET", secret)
            .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for(&format!("http://127.0.0.1:{port}/healthz")));
    let mint = |args: &[&str]| -> String {
        let out = clean_command(&dir)
            .env("QIANCHUAN_JWT_SECRET", secret)
            .arg("token")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "token {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let admin = mint(&["--role", "admin"]);
    let case_id = curl_graphql(port, &admin, "{ cases(first: 1) { nodes { id } } }")["data"]["cases"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let post = |token: &str, body: &serde_json::Value| -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sS", "-X", "POST", &format!("http://127.0.0.1:{port}/graphql")])
            .args(["-H", "content-type: application/json"])
            .args(["-H", &format!("authorization: Bearer {token}")])
            .args(["-d", &body.to_string()])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    };
    let ran_well = |what: &str, answer: &serde_json::Value| {
        assert!(
            answer.get("errors").is_none() && answer["data"].is_object(),
            "README example failed: {what}\n{answer}"
        );
    };

    let blocks = |lang: &str| -> Vec<String> {
        let fence = format!("```{lang}\n");
        readme
            .split(&fence)
            .skip(1)
            .filter_map(|rest| rest.split("```").next().map(str::to_string))
            .collect()
    };
    let graphql = blocks("graphql");
    assert!(graphql.len() >= 7, "{} graphql blocks", graphql.len());
    for block in &graphql {
        let variables = if block.contains("$id") {
            serde_json::json!({ "id": case_id })
        } else {
            serde_json::json!({})
        };
        ran_well(
            block,
            &post(&admin, &serde_json::json!({ "query": block, "variables": variables })),
        );
    }

    // curl … -H "authorization: Bearer $VAR" … -d '{…}' in the sh blocks, VAR minted as the
    // block says (VAR=$(cargo run -q -p gateway -- token ARGS), or `qianchuan token` in Docker).
    let mut curls = 0;
    for block in blocks("sh") {
        let minted: std::collections::HashMap<String, Vec<String>> = block
            .lines()
            .filter_map(|line| {
                let (var, rest) = line.split_once("=$(")?;
                let args = rest.split(" token ").nth(1)?.trim_end_matches(')');
                Some((
                    var.trim().to_string(),
                    args.split_whitespace().map(str::to_string).collect(),
                ))
            })
            .collect();
        for command in block.split("curl ").skip(1) {
            let Some(body) = command.split("-d '").nth(1).and_then(|b| b.split('\'').next()) else {
                continue;
            };
            if !command.contains("/graphql") {
                continue;
            }
            let token = if let Some(var) = command.split("Bearer $").nth(1).and_then(|r| r.split('"').next()) {
                if var.starts_with('(') {
                    let args = var.split(" token ").nth(1).unwrap().trim_end_matches(')');
                    mint(&args.split_whitespace().collect::<Vec<_>>())
                } else {
                    let args = minted
                        .get(var)
                        .unwrap_or_else(|| panic!("README: ${var} is not minted in its block"));
                    mint(&args.iter().map(String::as_str).collect::<Vec<_>>())
                }
            } else {
                panic!("README: a curl to /graphql without a token: {command}");
            };
            let body: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("README: {e}: {body}"));
            ran_well(&body.to_string(), &post(&token, &body));
            curls += 1;
        }
    }
    assert!(curls >= 2, "{curls} curl examples");

    // The graphql-ws example: its subscription, with its variables, is accepted over WebSocket.
    let js = blocks("js").concat();
    let query = js.split("query: `").nth(1).and_then(|r| r.split('`').next()).unwrap();
    let variables = js
        .split("variables: ")
        .nth(1)
        .and_then(|r| r.split(" },").next())
        .unwrap();
    let id = variables.split('"').nth(1).unwrap();
    let answer = post(
        &admin,
        &serde_json::json!({ "query": format!("{{ node(id: \"{id}\") {{ id }} }}") }),
    );
    assert!(
        answer["data"]["node"]["id"] == id,
        "the graphql-ws example's id is not a demo case: {answer}"
    );
    let subscribed = subscribe_over_ws(port, &admin, query, serde_json::json!({ "id": id }));
    assert!(subscribed.is_ok(), "{subscribed:?}");
}

/// Subscribes over graphql-transport-ws; `Err` with the server's message when it refuses.
fn subscribe_over_ws(port: u16, token: &str, query: &str, variables: serde_json::Value) -> Result<(), String> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = format!("ws://127.0.0.1:{port}/graphql/ws")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| e.to_string())?;
        let send = |v: serde_json::Value| Message::Text(v.to_string().into());
        ws.send(send(
            serde_json::json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
        ))
        .await
        .map_err(|e| e.to_string())?;
        let ack = ws.next().await.ok_or("closed")?.map_err(|e| e.to_string())?;
        if !ack.to_string().contains("connection_ack") {
            return Err(ack.to_string());
        }
        ws.send(send(
            serde_json::json!({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}),
        ))
        .await
        .map_err(|e| e.to_string())?;
        // A refused subscription is answered at once; an accepted one waits for events.
        match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            Err(_) => Ok(()),
            Ok(message) => Err(format!("{message:?}")),
        }
    })
}
