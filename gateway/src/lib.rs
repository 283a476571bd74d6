//! Qianchuan's gateway: configuration, authentication, the scoped data-access
//! layer, the GraphQL schema and the HTTP router. `main.rs` only wires these.

pub mod auth;
pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ingest_cli;
pub mod rate_limit;
pub mod state;
pub mod telemetry;

pub use graphql::{build_schema, Limits, QianchuanSchema};
pub use http::{router, serve};
pub use state::{connect_and_migrate, AppState};

/// The SDL of the schema, exactly what `qianchuan schema` prints.
pub fn schema_sdl() -> String {
    build_schema(
        Limits {
            max_page_size: 100,
            hub_threshold: 50,
        },
        true,
    )
    .sdl()
}
