//! `qianchuan`: one binary for the shell, docker, CI and tests.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use gateway::auth::{mint_hs256, Role};
use gateway::config::{Config, Secret};
use gateway::{connect_and_migrate, AppState};

/// mimalloc: a chain request makes many small, short-lived allocations next to a large,
/// long-lived linkage index; with the system allocator a third of the gateway's CPU went to
/// malloc and free, and memory freed after building the index was not given back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Qianchuan (牵串): one GraphQL schema over five supervision systems.
#[derive(Parser)]
#[command(name = "qianchuan", version)]
struct Cli {
    /// Optional TOML configuration file (between the defaults and QIANCHUAN_* variables).
    #[arg(long, global = true, env = "QIANCHUAN_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (migrates first).
    Serve {
        /// Seed a demo world, generate a secret if none is set, and print a token per role.
        #[arg(long)]
        demo: bool,
        /// Listen address (default 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply the database migrations.
    Migrate,
    /// Load export files of one feed; a folder means every file in it, in name order.
    Ingest {
        /// enforcement, discipline, congress, procuratorate, social; inspections (平安督 CSV);
        /// or a reference feed: registry, insurance, tax, practitioners, convictions.
        source: String,
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// One JSON object of counts per file, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Pull a source's API incrementally (today: procuratorate).
    Pull {
        /// The source to pull: procuratorate.
        source: String,
        /// The API's base URL (`{base}/api/v2/supervisions`).
        #[arg(long)]
        base: String,
        /// The bearer token the API expects.
        #[arg(long, env = "QIANCHUAN_PULL_TOKEN", hide_env_values = true)]
        token: String,
        /// Items per page.
        #[arg(long, default_value_t = 500)]
        limit: u32,
    },
    /// Write a synthetic world as export files of all five sources.
    Demo {
        /// Folder to write into (one sub-folder per source, plus truth.jsonl).
        #[arg(long)]
        out: PathBuf,
        /// About how many records.
        #[arg(long, default_value_t = 10_000)]
        scale: u64,
        /// The same seed writes the same world.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print the GraphQL SDL (schema.graphql is exactly this).
    Schema,
    /// Mint a token with the configured HS256 secret (development and tests).
    Token {
        /// admin, plc, procurator, discipline, congress, analyst, auditor, ingestor, agency.
        #[arg(long)]
        role: String,
        /// Region-code prefixes, comma-separated (e.g. 3301,330782).
        #[arg(long, value_delimiter = ',', default_value = "")]
        regions: Vec<String>,
        /// Subject (who the token is for).
        #[arg(long, default_value = "dev")]
        sub: String,
        /// Lifetime: 30s, 15m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// The unit an `agency` token answers supervision tasks for.
        #[arg(long)]
        unit: Option<String>,
    },
}

fn parse_ttl(s: &str) -> anyhow::Result<u64> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .with_context(|| format!("--ttl {s:?}: expected e.g. 30s, 15m, 1h, 7d"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("--ttl {s:?}: unit must be s, m, h or d"),
    };
    Ok(n * factor)
}

fn init_tracing(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref(), std::env::vars())?;
    match cli.command {
        Command::Schema => {
            print!("{}", gateway::schema_sdl());
        }
        Command::Migrate => {
            init_tracing(&config.log);
            connect_and_migrate(&config).await?;
            eprintln!("migrations applied");
        }
        Command::Pull {
            source,
            base,
            token,
            limit,
        } => {
            init_tracing(&config.log);
            if entities::Source::parse(&source) != Some(entities::Source::Procuratorate) {
                bail!("only `pull procuratorate` exists: the other sources deliver files (use `ingest`)");
            }
            let db = connect_and_migrate(&config).await?;
            let mut pull = hub::pull::PullConfig::new(&base, &token);
            pull.limit = limit;
            let report = hub::pull::pull_procuratorate(&db, &pull).await?;
            for page in &report.pages {
                println!("{}", gateway::ingest_cli::summary(page));
            }
            let changes = report.pages.iter().flat_map(|p| p.changes.iter().cloned()).collect();
            hub::events::announce_changes(config.redis_url.as_deref(), &config.events_channel, changes).await;
            println!(
                "pulled {} page(s); next pull asks updatedSince={}",
                report.pages.len(),
                report.watermark.as_deref().unwrap_or("(nothing yet)")
            );
        }
        Command::Demo { out, scale, seed } => {
            let started = std::time::Instant::now();
            let summary =
                adapters::demo::generate(&out, scale, seed).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {} records in {} files to {} in {:.1} s (enforcement {}, discipline {}, congress {}, procuratorate {}, social {}; true chains in truth.jsonl)",
                summary.records(),
                summary.files.len(),
                out.display(),
                started.elapsed().as_secs_f64(),
                summary.enforcement,
                summary.discipline,
                summary.congress,
                summary.procuratorate,
                summary.social
            );
        }
        Command::Ingest { source, paths, json } => {
            init_tracing(&config.log);
            let feed = entities::Feed::parse(&source).with_context(|| {
                format!(
                    "unknown feed {source:?}: enforcement, discipline, congress, procuratorate, social, inspections, registry, insurance, tax, practitioners or convictions"
                )
            })?;
            let db = connect_and_migrate(&config).await?;
            let rejected = match feed.source() {
                Some(source) => {
                    gateway::ingest_cli::run(
                        &db,
                        source,
                        &paths,
                        json,
                        config
                            .redis_url
                            .as_deref()
                            .map(|url| (url, config.events_channel.as_str())),
                    )
                    .await?
                }
                None => gateway::ingest_cli::run_facts(&db, feed, &paths, json, config.inspection_task_days).await?,
            };
            if rejected > 0 {
                bail!("{rejected} file(s) rejected whole");
            }
        }
        Command::Token {
            role,
            regions,
            sub,
            ttl,
            unit,
        } => {
            let role = Role::parse(&role).with_context(|| format!("unknown role {role:?}"))?;
            let regions: Vec<String> = regions.into_iter().filter(|r| !r.is_empty()).collect();
            if role != Role::Admin && regions.is_empty() {
                bail!("--regions is required for role {role}");
            }
            let secret = config
                .jwt_secret
                .as_ref()
                .context("QIANCHUAN_JWT_SECRET is not set: `token` signs with the configured HS256 secret")?;
            let token = gateway::auth::mint_hs256_for_unit(
                secret.expose(),
                &sub,
                role,
                &regions,
                unit.as_deref(),
                parse_ttl(&ttl)?,
                (config.jwt_issuer.as_deref(), config.jwt_audience.as_deref()),
            )?;
            println!("{token}");
        }
        Command::Serve { demo, bind } => {
            init_tracing(&config.log);
            if let Some(bind) = bind {
                config.bind = bind;
            }
            if demo && config.jwt_secret.is_none() {
                config.jwt_secret = Some(Secret::new(random_secret()));
            }
            config.validate_for_serve()?;
            let db = connect_and_migrate(&config).await?;
            if demo {
                seed_demo_once(&db).await?;
            }
            let addr: SocketAddr = config
                .bind
                .parse()
                .with_context(|| format!("bind address {:?}", config.bind))?;
            let demo_tokens = if demo { Some(demo_tokens(&config)?) } else { None };
            let state = AppState::new(config, db).await?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            let local = listener.local_addr()?;
            if let Some(tokens) = demo_tokens {
                println!("Qianchuan demo at http://{local}/graphql (open it in a browser for GraphiQL)");
                println!("Send one of these as the header  Authorization: Bearer <token>");
                for (role, token) in tokens {
                    println!("  {role:<11} {token}");
                }
            }
            tracing::info!(%local, "serving");
            gateway::serve(listener, state, shutdown_signal()).await;
        }
    }
    Ok(())
}

/// How big a world `serve --demo` generates.
const DEMO_SCALE: u64 = 2_000;

async fn seed_demo_once(db: &hub::Db) -> anyhow::Result<()> {
    if hub::demo::is_empty(db).await? {
        let dir = std::env::temp_dir().join(format!("qianchuan-demo-{}", std::process::id()));
        let started = std::time::Instant::now();
        eprintln!("generating and ingesting a demo world of about {DEMO_SCALE} records…");
        let reports = hub::demo::load_generated_world(db, &dir, DEMO_SCALE, 1).await?;
        let example = std::fs::read_to_string(dir.join("truth.jsonl"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .find(|v| v["records"].as_array().map(|r| r.len() == 5).unwrap_or(false))
            })
            .and_then(|v| v["records"][0][1].as_str().map(str::to_string));
        let _ = std::fs::remove_dir_all(&dir);
        let read: u64 = reports.iter().map(|r| r.read).sum();
        let quarantined: u64 = reports.iter().map(|r| r.quarantined).sum();
        eprintln!(
            "demo world ready: {read} records read, {quarantined} quarantined, in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        if let Some(key) = example {
            eprintln!(
                "a chain across all five systems: {{ caseBySourceKey(source: ENFORCEMENT, sourceKey: \"{key}\") {{ chain {{ nodes {{ depth score case {{ source sourceKey title }} }} links {{ kind key }} }} }} }}"
            );
        }
    }
    Ok(())
}

fn demo_tokens(config: &Config) -> anyhow::Result<Vec<(Role, String)>> {
    let secret = config.jwt_secret.as_ref().context("no secret")?;
    Role::ALL
        .iter()
        .map(|role| {
            let token = mint_hs256(
                secret.expose(),
                &format!("demo-{role}"),
                *role,
                &["33".to_string()],
                8 * 3600,
                (config.jwt_issuer.as_deref(), config.jwt_audience.as_deref()),
            )?;
            Ok((*role, token))
        })
        .collect()
}

fn random_secret() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
