//! Qianchuan's domain, between the entities and the gateway: who may see what (`viewer`,
//! `policy`), the scoped store every read goes through (`store`), the chain walk and its index
//! (`linkage`, `link_index`), governance and its warnings, the audit log, live events, and the
//! writers (`ingest`, `org_names`, `pull`, `demo`). It speaks no GraphQL and no HTTP.

pub mod audit;
pub mod cache;
pub mod case_cache;
pub mod db;
pub mod demo;
pub mod error;
pub mod events;
pub mod governance;
pub mod ingest;
pub mod ingest_error;
pub mod inspections;
pub mod link_index;
pub mod linkage;
pub mod masking;
pub mod models;
pub mod org_names;
pub mod policy;
pub mod pull;
pub mod read_after;
pub mod reference;
pub mod replicas;
pub mod revocation;
pub mod sql;
pub mod store;
pub mod suppression;
pub mod viewer;
pub mod warnings;
pub mod writer;

pub use db::Db;
pub use error::{Error, Result};
pub use viewer::{Role, Viewer};
