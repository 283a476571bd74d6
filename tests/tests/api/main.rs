//! End-to-end tests: one binary, the real router, real databases, over HTTP.

mod case_cache;
mod chain;
mod governance;
mod http_contract;
mod ingest;
mod inspections;
mod link_index;
mod migrations;
mod models;
mod pull;
mod queries;
mod replicas;
mod roles;
mod schema_file;
mod scope;
mod security;
mod sql_fragments;
mod stats;
mod subscriptions;
mod tasks;
mod trust;
