//! The mutation root.

use async_graphql::{Context, Object};

use super::viewer;
use crate::auth::{Revocations, Role};
use crate::error::ApiError;

pub struct Mutation;

#[Object]
impl Mutation {
    /// Revokes a token by its `jti` claim, on every gateway sharing the Redis (admin only).
    /// Requests with it get `UNAUTHENTICATED` for `ttlSeconds` (default 7 days; past the
    /// token's own expiry it is refused anyway).
    async fn revoke_token(
        &self,
        ctx: &Context<'_>,
        jti: String,
        #[graphql(default = 604800)] ttl_seconds: Option<i32>,
    ) -> async_graphql::Result<bool> {
        if viewer(ctx)?.role != Role::Admin {
            return Err(ApiError::Forbidden.into());
        }
        if jti.trim().is_empty() {
            return Err(ApiError::bad_input("jti must not be empty").into());
        }
        let ttl = u64::try_from(ttl_seconds.unwrap_or(604_800))
            .map_err(|_| ApiError::bad_input("ttlSeconds must be positive"))?;
        let until = chrono::Utc::now().timestamp().max(0) as u64 + ttl;
        ctx.data::<Revocations>()?.revoke(jti.trim(), until).await;
        Ok(true)
    }
}
