//! Supervision tasks (督办) in the schema: the loop 督办 → 整改 → 回访 → 销号.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use entities::TaskAction;
use entities::{supervision_task, LoopStage as Stage};

use super::connection::Connection;
use super::scalars::DateTime;
use super::scalars::{global_id, parse_id_of, Date, NodeKind};
use super::types::{Case, LoopStage};
use super::{limits, readable_store, store, viewer};
use hub::events::{Event, EventBus};
use hub::store::{NewTask, TaskQuery};

/// A supervision task of the hub itself, on a case or a town.
pub struct SupervisionTask(pub supervision_task::Model);

/// One step taken on a task.
#[derive(SimpleObject)]
pub struct TaskEvent {
    pub at: DateTime,
    pub actor: String,
    pub role: String,
    /// OPEN, ANSWER, REVISIT, CLOSE or RETURN.
    pub action: String,
    pub from_stage: Option<LoopStage>,
    pub to_stage: LoopStage,
    pub note: Option<String>,
}

#[Object]
impl SupervisionTask {
    async fn id(&self) -> ID {
        global_id(NodeKind::Task, self.0.id)
    }
    /// The case supervised (`null` for a task on a town, or when your role may not read cases).
    async fn case(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Case>> {
        match self.0.case_id {
            Some(id) => Ok(readable_store(ctx)?
                .case_by_id(id)
                .await
                .map_err(crate::error::ApiError::from)?
                .map(Case)),
            None => Ok(None),
        }
    }
    async fn region_code(&self) -> Option<&str> {
        self.0.region_code.as_deref()
    }
    async fn town(&self) -> Option<&str> {
        self.0.town.as_deref()
    }
    /// The department that must answer.
    async fn department(&self) -> &str {
        &self.0.department
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn deadline(&self) -> Date {
        Date(self.0.deadline)
    }
    /// NOTIFIED (督办), RECTIFYING (整改), REVISITED (回访) or CLOSED (销号).
    async fn stage(&self) -> Option<LoopStage> {
        Some(self.0.stage.into())
    }
    /// Past the deadline and not closed.
    async fn overdue(&self) -> bool {
        self.0.deadline < chrono::Utc::now().date_naive() && self.0.stage != Stage::Closed
    }
    async fn opened_by(&self) -> &str {
        &self.0.opened_by
    }
    async fn opened_at(&self) -> DateTime {
        DateTime(self.0.opened_at)
    }
    /// Every step, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TaskEvent>> {
        Ok(store(ctx)?
            .task_history(self.0.id)
            .await
            .map_err(crate::error::ApiError::from)?
            .into_iter()
            .map(|e| TaskEvent {
                at: DateTime(e.at),
                actor: e.actor,
                role: e.role,
                action: e.action.as_str().to_string(),
                from_stage: e.from_stage.map(LoopStage::from),
                to_stage: e.to_stage.into(),
                note: e.note,
            })
            .collect())
    }
}

/// Supervision tasks (Relay connection).
pub type SupervisionTaskConnection = Connection<SupervisionTask>;

/// Which tasks to list. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct TaskFilter {
    pub stages: Option<Vec<LoopStage>>,
    /// Past the deadline and not closed (or, with false, the others).
    pub overdue: Option<bool>,
    pub department: Option<String>,
    pub region_prefix: Option<String>,
    pub case_id: Option<ID>,
}

/// A task to open: on a case you may see (`caseId`), or on a town (`regionCode` and `town`).
#[derive(InputObject)]
pub struct OpenTaskInput {
    pub case_id: Option<ID>,
    pub region_code: Option<String>,
    pub town: Option<String>,
    /// The department that must answer; an `agency` token with this `unit` answers it.
    pub department: String,
    pub title: String,
    pub deadline: Date,
    pub note: Option<String>,
}

pub async fn list(
    ctx: &Context<'_>,
    filter: Option<TaskFilter>,
    first: i32,
    after: Option<String>,
) -> async_graphql::Result<SupervisionTaskConnection> {
    let (first, after_id) = limits(ctx)?.page(first, after.as_deref())?;
    let f = filter.unwrap_or_default();
    let q = TaskQuery {
        stages: f.stages.map(|v| v.into_iter().map(Into::into).collect()),
        overdue: f.overdue,
        department: f.department,
        region_prefix: f.region_prefix,
        case_id: f
            .case_id
            .as_ref()
            .map(|id| parse_id_of(NodeKind::Case, id))
            .transpose()?,
        finding_id: None,
    };
    let page = store(ctx)?
        .tasks(&q, first, after_id)
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(SupervisionTaskConnection::of_page(
        page,
        after_id.is_some(),
        |t| t.id,
        SupervisionTask,
    ))
}

pub async fn open(ctx: &Context<'_>, input: OpenTaskInput) -> async_graphql::Result<SupervisionTask> {
    let task = NewTask {
        case_id: input
            .case_id
            .as_ref()
            .map(|id| parse_id_of(NodeKind::Case, id))
            .transpose()?,
        region_code: input.region_code,
        town: input.town,
        department: input.department,
        title: input.title,
        deadline: input.deadline.0,
        note: input.note,
    };
    let task = store(ctx)?
        .open_task(viewer(ctx)?, task)
        .await
        .map_err(crate::error::ApiError::from)?;
    announce(ctx, task.id).await;
    Ok(SupervisionTask(task))
}

/// Tells subscribers (on every instance) that the task moved.
pub(crate) async fn announce(ctx: &Context<'_>, task_id: i64) {
    if let Ok(bus) = ctx.data::<EventBus>() {
        bus.publish(Event::TaskChanged { task_id }).await;
    }
}

pub async fn step(
    ctx: &Context<'_>,
    id: ID,
    action: TaskAction,
    note: Option<String>,
    disposal: Option<String>,
) -> async_graphql::Result<SupervisionTask> {
    let id = parse_id_of(NodeKind::Task, &id)?;
    let task = store(ctx)?
        .task_step(
            viewer(ctx)?,
            id,
            action,
            note,
            disposal,
            &super::models::models(ctx)?.declarations,
        )
        .await
        .map_err(crate::error::ApiError::from)?;
    announce(ctx, task.id).await;
    Ok(SupervisionTask(task))
}
