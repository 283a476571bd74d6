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
        super::tasks::step(ctx, id, TaskAction::Answer, Some(note), None).await
    }

    /// The supervisor revisits (回访). RECTIFYING → REVISITED.
    async fn revisit_supervision_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> async_graphql::Result<SupervisionTask> {
        super::tasks::step(ctx, id, TaskAction::Revisit, note, None).await
    }

    /// The supervisor closes the task (销号). REVISITED → CLOSED. A task opened for a model's
    /// finding is closed with the department's `disposal` (处置结果): 已吊销, 已注销, 已责令整改 or
    /// 核实正常经营 (shell_company); 注销执业资格, 调离岗位 or 核实无误 (trade_access). When a
    /// finding's last open task closes, the finding is RESOLVED with that disposal.
    async fn close_supervision_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
        disposal: Option<String>,
    ) -> async_graphql::Result<SupervisionTask> {
        super::tasks::step(ctx, id, TaskAction::Close, note, disposal).await
    }

    /// Runs a supervision model now (supervisors: admin, plc, procurator, discipline,
    /// congress) and answers when it has finished. With `asOf` the run is an evaluation: it
    /// replaces the evaluation of that date, opens no task and resolves nothing. Without it,
    /// the run is the model's automatic run as of today, which drives the findings' lifecycle.
    /// `asOf` in the future is `BAD_USER_INPUT`. Exempt from the request deadline.
    async fn run_supervision_model(
        &self,
        ctx: &Context<'_>,
        id: ID,
        as_of: Option<super::scalars::Date>,
    ) -> async_graphql::Result<super::models::ModelRun> {
        super::models::run_supervision_model(ctx, id, as_of).await
    }

    /// Marks a finding a false alarm (supervisors; a reason is required): EXEMPT, and not
    /// raised again by the model until its evidence changes.
    async fn exempt_finding(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> async_graphql::Result<super::models::Finding> {
        super::models::exempt_finding(ctx, id, reason).await
    }

    /// Opens the supervision task(s) of a NEW finding (supervisors): one per receiving
    /// department, or one for `department`; due `deadline` (default: the configured
    /// `QIANCHUAN_MODEL_TASK_DAYS` from today). The finding becomes TASKED.
    async fn open_finding_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        department: Option<String>,
        deadline: Option<super::scalars::Date>,
    ) -> async_graphql::Result<super::models::Finding> {
        super::models::open_finding_task(ctx, id, department, deadline).await
    }

    /// The supervisor sends it back for another rectification. REVISITED → NOTIFIED.
    async fn return_supervision_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: String,
    ) -> async_graphql::Result<SupervisionTask> {
        super::tasks::step(ctx, id, TaskAction::Return, Some(note), None).await
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
