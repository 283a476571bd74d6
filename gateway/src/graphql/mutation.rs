//! The mutation root.

use async_graphql::{Context, Object, ID};

use super::tasks::{OpenTaskInput, SupervisionTask};
use crate::auth::Revocations;
use crate::error::ApiError;
use entities::TaskAction;

pub struct Mutation;

#[Object]
impl Mutation {
    /// Records a 平安督 inspection (`inspector` in its regions, or admin); each problem opens a
    /// supervision task on the town's own unit, due `QIANCHUAN_INSPECTION_TASK_DAYS` after the
    /// inspection. Immutable: the same `id` with other content is `BAD_USER_INPUT`.
    async fn record_inspection(
        &self,
        ctx: &Context<'_>,
        input: super::inspections::InspectionInput,
    ) -> async_graphql::Result<super::inspections::Inspection> {
        super::inspections::record(ctx, input).await
    }

    /// Opens a supervision task (督办通报) on a case you may see or on a town in your regions.
    /// Roles with a supervisory duty: admin, plc, procurator, discipline, congress.
    async fn open_supervision_task(
        &self,
        ctx: &Context<'_>,
        input: OpenTaskInput,
    ) -> async_graphql::Result<SupervisionTask> {
        super::tasks::open(ctx, input).await
    }

    /// The department answers with its rectification (整改反馈): an `agency` token whose `unit`
    /// is the task's department (or admin). NOTIFIED → RECTIFYING.
    async fn answer_supervision_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: String,
    ) -> async_graphql::Result<SupervisionTask> {
        super::tasks::step(ctx, id, TaskAction::Answer, Some(note)).await
    }

    /// The supervisor revisits (回访). RECTIFYING → REVISITED.
    async fn revisit_supervision_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> async_graphql::Result<SupervisionTask> {
        super::tasks::step(ctx, id, TaskAction::Revisit, note).await
    }

    /// The supervisor closes the task (销号). REVISITED → CLOSED.
    async fn close_supervision_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> async_graphql::Result<SupervisionTask> {
        super::tasks::step(ctx, id, TaskAction::Close, note).await
    }

    /// The supervisor sends it back for another rectification. REVISITED → NOTIFIED.
    async fn return_supervision_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: String,
    ) -> async_graphql::Result<SupervisionTask> {
        super::tasks::step(ctx, id, TaskAction::Return, Some(note)).await
    }

    /// Revokes a token by its `jti` claim, on every gateway sharing the database (admin only).
    /// Requests with it get `UNAUTHENTICATED` for `ttlSeconds` (default 7 days; past the
    /// token's own expiry it is refused anyway).
    async fn revoke_token(
        &self,
        ctx: &Context<'_>,
        jti: String,
        #[graphql(default = 604800)] ttl_seconds: Option<i32>,
    ) -> async_graphql::Result<bool> {
        if !super::store(ctx)?.scope().administers() {
            return Err(ApiError::Forbidden.into());
        }
        if jti.trim().is_empty() || jti.len() > crate::auth::MAX_CLAIM_BYTES {
            return Err(ApiError::bad_input("jti must be 1 to 256 bytes").into());
        }
        let ttl = u64::try_from(ttl_seconds.unwrap_or(604_800))
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| ApiError::bad_input("ttlSeconds must be at least 1"))?;
        let until = chrono::Utc::now().timestamp().max(0) as u64 + ttl;
        ctx.data::<Revocations>()?
            .revoke(jti.trim(), until)
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
        Ok(true)
    }
}
