//! `qianchuan`: one binary for the shell, docker, CI and tests.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use gateway::auth::{mint_hs256, Role};
use gateway::config::{Config, Secret};
use gateway::{connect_and_migrate, router, AppState};

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
    /// Load export files of one source; a folder means every file in it, in name order.
    Ingest {
        /// enforcement, discipline, congress, procuratorate or social.
        source: String,
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// One JSON object of counts per file, one per line.
        #[arg(long)]
        json: bool,
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
            connect_and_migrate(&config.database_url).await?;
            eprintln!("migrations applied");
        }
        Command::Ingest { source, paths, json } => {
            init_tracing(&config.log);
            let source = entities::Source::parse(&source).with_context(|| {
                format!("unknown source {source:?}: enforcement, discipline, congress, procuratorate or social")
            })?;
            let db = connect_and_migrate(&config.database_url).await?;
            let rejected = gateway::ingest_cli::run(&db, source, &paths, json).await?;
            if rejected > 0 {
                bail!("{rejected} file(s) rejected whole");
            }
        }
        Command::Token {
            role,
            regions,
            sub,
            ttl,
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
            let token = mint_hs256(
                secret.expose(),
                &sub,
                role,
                &regions,
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
            let db = connect_and_migrate(&config.database_url).await?;
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
            axum::serve(listener, router(state))
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
    }
    Ok(())
}

async fn seed_demo_once(db: &sea_orm::DatabaseConnection) -> anyhow::Result<()> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    if entities::case::Entity::find().count(db).await? == 0 {
        let n = gateway::demo::seed_demo(db).await?;
        tracing::info!(cases = n, "demo world seeded");
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
