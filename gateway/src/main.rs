//! `qianchuan`: one binary for the shell, docker, CI and tests.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use gateway::auth::Role;
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
    /// Run the supervision models now (every declared one, or `--model`) and print each run as
    /// a JSON line. Without `--as-of` it is the automatic run (as of today, or
    /// QIANCHUAN_MODEL_DATE), which drives the findings' lifecycle; with it, an evaluation.
    RunModels {
        #[arg(long)]
        model: Option<String>,
        /// YYYY-MM-DD
        #[arg(long)]
        as_of: Option<String>,
    },
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
        /// Do not run the supervision models after the load (a bulk load of several feeds
        /// runs them once at the end with `run-models`, or leaves them to the gateways).
        #[arg(long)]
        no_models: bool,
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
        /// The unit an `agency` token answers supervision tasks for (an `inspector`'s team).
        #[arg(long)]
        unit: Option<String>,
        /// A `citizen` token's own ID number.
        #[arg(long)]
        idn: Option<String>,
        /// An `employer` token's credit code.
        #[arg(long)]
        uscc: Option<String>,
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

/// Logs to standard error: text (with colour only on a terminal) or one JSON object per line.
fn init_tracing(config: &Config) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let filter = config.log_filter()?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().with_current_span(false).with_span_list(false).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
    Ok(())
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
            init_tracing(&config)?;
            connect_and_migrate(&config).await?;
            eprintln!("migrations applied");
        }
        Command::RunModels { model, as_of } => {
            init_tracing(&config)?;
            let models = config.supervision_models()?;
            let as_of = as_of
                .map(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").with_context(|| format!("--as-of {d:?}")))
                .transpose()?;
            if as_of.is_some_and(|d| d > hub::inspections::day_of(chrono::Utc::now())) {
                bail!("--as-of lies in the future");
            }
            let chosen: Vec<&hub::models::Declaration> = models
                .declarations
                .iter()
                .filter(|d| model.as_deref().is_none_or(|m| m == d.id))
                .collect();
            if chosen.is_empty() {
                bail!("no supervision model {:?} is declared", model.unwrap_or_default());
            }
            let db = connect_and_migrate(&config).await?;
            let runs = hub::models::engine::run_all(&db, &chosen, as_of, models.today(), models.task_days).await;
            for (declaration, ran) in chosen.iter().zip(runs) {
                let ran = ran.map_err(|e| anyhow::anyhow!("running {}: {e:?}", declaration.id))?;
                let seconds = (ran.run.finished_at - ran.run.started_at).num_milliseconds() as f64 / 1000.0;
                println!(
                    "{}",
                    serde_json::json!({
                        "model": ran.run.model, "asOf": ran.run.as_of.to_string(), "automatic": ran.run.automatic,
                        "findings": ran.run.finding_count, "codes": ran.run.code_count, "raised": ran.raised.len(),
                        "seconds": seconds,
                    })
                );
            }
        }
        Command::Pull {
            source,
            base,
            token,
            limit,
        } => {
            init_tracing(&config)?;
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
        Command::Ingest {
            source,
            paths,
            json,
            no_models,
        } => {
            init_tracing(&config)?;
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
            // The supervision models follow what was loaded (gateways would, within their
            // refresh period; this makes it so when none is running).
            let models = config.supervision_models()?;
            let runs = if no_models {
                Vec::new()
            } else {
                hub::models::engine::refresh(&db, &models.declarations, models.today(), models.task_days)
                    .await
                    .map_err(|e| anyhow::anyhow!("running the supervision models: {e:?}"))?
            };
            for ran in runs {
                if !json {
                    println!(
                        "model {}: {} findings as of {} ({} raised)",
                        ran.run.model,
                        ran.run.finding_count,
                        ran.run.as_of,
                        ran.raised.len()
                    );
                }
                if !ran.raised.is_empty() {
                    let event = hub::events::Event::FindingsRaised {
                        model: ran.run.model.clone(),
                        finding_ids: ran.raised,
                    };
                    hub::events::announce(config.redis_url.as_deref(), &config.events_channel, event).await;
                }
            }
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
            idn,
            uscc,
        } => {
            let role = Role::parse(&role).with_context(|| format!("unknown role {role:?}"))?;
            let regions: Vec<String> = regions.into_iter().filter(|r| !r.is_empty()).collect();
            if role == Role::Citizen && idn.is_none() {
                bail!("--idn is required for role citizen");
            }
            if role == Role::Employer && uscc.is_none() {
                bail!("--uscc is required for role employer");
            }
            if !matches!(role, Role::Admin | Role::Citizen | Role::Employer) && regions.is_empty() {
                bail!("--regions is required for role {role}");
            }
            let secret = config
                .jwt_secret
                .as_ref()
                .context("QIANCHUAN_JWT_SECRET is not set: `token` signs with the configured HS256 secret")?;
            let token = gateway::auth::mint_hs256_with(
                secret.expose(),
                &sub,
                role,
                &regions,
                gateway::auth::IdentityClaims {
                    unit: unit.as_deref(),
                    idn: idn.as_deref(),
                    uscc: uscc.as_deref(),
                },
                parse_ttl(&ttl)?,
                (config.jwt_issuer.as_deref(), config.jwt_audience.as_deref()),
            )?;
            println!("{token}");
        }
        Command::Serve { demo, bind } => {
            init_tracing(&config)?;
            if let Some(bind) = bind {
                config.bind = bind;
            }
            if demo && config.jwt_secret.is_none() {
                config.jwt_secret = Some(Secret::new(demo_secret(&config)?));
            }
            if demo && config.model_date.is_none() {
                // The demo world's reference data are of 2023: its models run as of the date
                // its truth file is written for.
                config.model_date =
                    chrono::NaiveDate::parse_from_str(adapters::demo::reference::AS_OF, "%Y-%m-%d").ok();
            }
            config.validate_for_serve()?;
            let db = connect_and_migrate(&config).await?;
            if demo {
                seed_demo_once(&db).await?;
                let models = config.supervision_models()?;
                for ran in hub::models::engine::refresh(&db, &models.declarations, models.today(), models.task_days)
                    .await
                    .map_err(|e| anyhow::anyhow!("running the supervision models: {e:?}"))?
                {
                    eprintln!(
                        "model {}: {} findings as of {}",
                        ran.run.model, ran.run.finding_count, ran.run.as_of
                    );
                }
            }
            let addr: SocketAddr = config
                .bind
                .parse()
                .with_context(|| format!("bind address {:?}", config.bind))?;
            let demo_tokens = if demo {
                Some(demo_tokens(&config, &db).await?)
            } else {
                None
            };
            let mut shared = gateway::state::Shared::new(config, db).await?;
            if addr.ip().is_loopback() && demo {
                // Only a page on this machine is offered the demo's tokens (API.md).
                shared.demo_tokens = demo_tokens.as_ref().map(|tokens| {
                    std::sync::Arc::new(tokens.iter().map(|(r, t)| (r.to_string(), t.clone())).collect())
                });
                shared.demo_chain = hub::demo::five_system_case(&shared.db).await?;
            }
            let state = AppState::from(shared);
            if demo && state.config.warning_task_days > 0 {
                // The demo world was loaded before any gateway followed it: its warnings
                // (the troubled town's RED months) are raised now, once.
                let opened = hub::warnings::sweep_all(
                    &state.db,
                    &state.governance,
                    &state.events,
                    state.config.warning_task_days,
                )
                .await
                .map_err(|e| anyhow::anyhow!("raising the demo's governance warnings: {e:?}"))?;
                if opened > 0 {
                    eprintln!("governance warnings opened {opened} supervision tasks");
                }
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            let local = listener.local_addr()?;
            if let Some(tokens) = demo_tokens {
                println!("Qianchuan demo at http://{local}/ (the command screen; GraphiQL at http://{local}/graphql)");
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
        let _ = std::fs::remove_dir_all(&dir);
        let read: u64 = reports.iter().map(|r| r.read).sum();
        let quarantined: u64 = reports.iter().map(|r| r.quarantined).sum();
        eprintln!(
            "demo world ready: {read} records read, {quarantined} quarantined, in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    // On every start, a chain that spans all five systems, from the database itself.
    if let Some(key) = hub::demo::five_system_case(db).await? {
        eprintln!(
            "a chain across all five systems: {{ caseBySourceKey(source: ENFORCEMENT, sourceKey: \"{key}\") {{ chain {{ nodes {{ depth score case {{ source sourceKey title }} }} links {{ from to kind key }} }} }} }}"
        );
    }
    Ok(())
}

/// The demo's signing secret: `QIANCHUAN_JWT_SECRET` when set, else the one kept beside the
/// database (created on the first start), so the printed tokens survive a restart.
fn demo_secret(config: &Config) -> anyhow::Result<String> {
    let path = match config.database_url.strip_prefix("sqlite://") {
        Some(rest) => {
            let file = rest.split('?').next().unwrap_or("qianchuan.db");
            std::path::PathBuf::from(format!("{file}.demo-secret"))
        }
        None => std::path::PathBuf::from("qianchuan-demo-secret"),
    };
    if let Ok(secret) = std::fs::read_to_string(&path) {
        let secret = secret.trim().to_string();
        if secret.len() >= 32 {
            return Ok(secret);
        }
    }
    let secret = random_secret();
    std::fs::write(&path, &secret).with_context(|| format!("keeping the demo secret in {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    eprintln!("demo tokens are signed with the secret kept in {}", path.display());
    Ok(secret)
}

/// A token per role: every region; the `agency` as the market regulator of 余杭区 (the
/// receiver of its shell-company findings), the `citizen` as a practitioner with a
/// conviction, the `employer` as a registered company of the demo world.
async fn demo_tokens(config: &Config, db: &hub::Db) -> anyhow::Result<Vec<(Role, String)>> {
    let secret = config.jwt_secret.as_ref().context("no secret")?;
    let (person, company) = hub::demo::sample_identities(db).await?;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let claims = gateway::auth::IdentityClaims {
            unit: match role {
                Role::Agency => Some("余杭区市场监督管理局"),
                Role::Inspector => Some("平安督查组"),
                _ => None,
            },
            idn: person.as_deref().filter(|_| *role == Role::Citizen),
            uscc: company.as_deref().filter(|_| *role == Role::Employer),
        };
        if (*role == Role::Citizen && claims.idn.is_none()) || (*role == Role::Employer && claims.uscc.is_none()) {
            continue;
        }
        let token = gateway::auth::mint_hs256_with(
            secret.expose(),
            &format!("demo-{role}"),
            *role,
            &["33".to_string()],
            claims,
            8 * 3600,
            (config.jwt_issuer.as_deref(), config.jwt_audience.as_deref()),
        )?;
        tokens.push((*role, token));
    }
    Ok(tokens)
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
