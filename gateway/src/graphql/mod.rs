//! The GraphQL schema: `build_schema` is what production and tests both run.

pub mod admin;
pub mod audit_log;
pub mod budget;
pub mod case_order;
pub mod chain;
pub mod connection;
pub mod filter;
pub mod governance;
pub mod in_place;
pub mod inspections;
pub mod loaders;
pub mod models;
pub mod mutation;
pub mod query;
pub mod scalars;
pub mod stats;
pub mod subscription;
pub mod tasks;
pub mod trend;
pub mod types;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextValidation};
use async_graphql::{Context, Schema, ServerError, ValidationMode, ValidationResult};

use crate::auth::Viewer;
use crate::error::ApiError;
use hub::store::{Aggregates, Records, ScopedStore};
use scalars::decode_cursor;

pub type QianchuanSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_page_size: u64,
    /// A key shared by more visible cases than this is a hub.
    pub hub_threshold: u64,
}

impl Limits {
    /// Validates `first`/`after` of a connection.
    pub fn page(&self, first: i32, after: Option<&str>) -> Result<(u64, Option<i64>), ApiError> {
        if first < 0 {
            return Err(ApiError::bad_input("first must not be negative"));
        }
        let first = first as u64;
        if first > self.max_page_size {
            return Err(ApiError::LimitExceeded(format!(
                "first may be at most {} (asked {first})",
                self.max_page_size
            )));
        }
        Ok((first, after.map(decode_cursor).transpose()?))
    }
}

/// How deep a query may nest.
pub const MAX_DEPTH: usize = 16;
/// How complex a query may be (every field counts 1).
pub const MAX_COMPLEXITY: usize = 5_000;
/// How many directives a query may carry.
pub const MAX_DIRECTIVES: usize = 50;

/// The schema with its static data; per-request data (viewer, store, loaders) is added by
/// `with_viewer`. `open`: with introspection and field suggestions.
pub fn build_schema(limits: Limits, open: bool) -> QianchuanSchema {
    build_schema_validating(limits, open, ValidationMode::Strict)
}

/// `build_schema` for documents that passed validation against it before: of the rules only
/// those that depend on the request remain (the cost and depth limits, computed with its
/// variables), for requests whose variables plainly have their declared types
/// (`http::documents::variables_plainly_conform`).
pub fn build_schema_validated_before(limits: Limits, open: bool) -> QianchuanSchema {
    build_schema_validating(limits, open, ValidationMode::Fast)
}

fn build_schema_validating(limits: Limits, open: bool, mode: ValidationMode) -> QianchuanSchema {
    let builder = Schema::build(query::Query, mutation::Mutation, subscription::Subscription)
        .data(limits)
        .validation_mode(mode)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_directives(MAX_DIRECTIVES);
    // Only a document not validated before has its passing noted. With no extension at all,
    // async-graphql resolves every field directly; with one, each field goes through the
    // extension chain (a type and field look-up and a boxed future per field): 13–17 % of the
    // gateway's CPU per depth-3 chain, measured (README, Performance). An extension added here
    // must not hook `resolve`: objects resolved in place (`in_place`) do not call that hook.
    let builder = match mode {
        ValidationMode::Strict => builder.extension(NotesValidation),
        ValidationMode::Fast => builder,
    };
    if open {
        builder.finish()
    } else {
        builder.disable_introspection().disable_suggestions().finish()
    }
}

/// Set when a request's document passed validation (request data, read back by the caller).
#[derive(Clone, Default)]
pub struct PassedValidation(Arc<AtomicBool>);

impl PassedValidation {
    pub fn passed(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Sets the request's `PassedValidation`, if it has one, when its document passes validation.
struct NotesValidation;

impl ExtensionFactory for NotesValidation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NotesValidation)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for NotesValidation {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await;
        if result.is_ok() {
            if let Some(noted) = ctx.data_opt::<PassedValidation>() {
                noted.0.store(true, Ordering::Relaxed);
            }
        }
        result
    }
}

/// Adds what a request needs: the viewer, its scoped store and its loaders.
pub fn with_viewer(request: async_graphql::Request, viewer: Viewer, store: ScopedStore) -> async_graphql::Request {
    // No delay beyond the timer's next tick (async-graphql's default adds a millisecond): the
    // keys of one level of a response are all asked within one pass of its resolvers.
    let loader = DataLoader::new(loaders::PartiesByCase(store.clone()), tokio::spawn).delay(std::time::Duration::ZERO);
    request.data(viewer).data(store).data(loader)
}

pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Viewer> {
    ctx.data::<Viewer>().map_err(|_| ApiError::Unauthenticated.into())
}

pub(crate) fn store<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a ScopedStore> {
    ctx.data::<ScopedStore>().map_err(|_| ApiError::Unauthenticated.into())
}

/// The reads of cases and parties, if the role may read individual records; `FORBIDDEN`
/// otherwise (the store decides: `ScopedStore::records`).
pub(crate) fn readable_store<'a>(ctx: &Context<'a>) -> async_graphql::Result<Records<'a>> {
    Ok(store(ctx)?.records().map_err(ApiError::from)?)
}

/// The store itself, for a subscription that outlives the request, if the role may read
/// individual records; `FORBIDDEN` otherwise. The subscription reads through `records()`.
pub(crate) fn readable_store_owned(ctx: &Context<'_>) -> async_graphql::Result<ScopedStore> {
    let s = store(ctx)?;
    s.records().map_err(ApiError::from)?;
    Ok(s.clone())
}

/// The aggregates, if the role may compute them; `FORBIDDEN` otherwise.
pub(crate) fn aggregates<'a>(ctx: &Context<'a>) -> async_graphql::Result<Aggregates<'a>> {
    Ok(store(ctx)?.aggregates().map_err(ApiError::from)?)
}

pub(crate) fn limits<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Limits> {
    ctx.data::<Limits>()
}
