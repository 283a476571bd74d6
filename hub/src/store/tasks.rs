//! Supervision tasks (督办): who may open, answer and close them, and who may see them.

use chrono::{NaiveDate, Utc};
use entities::TaskAction;
use entities::{case, supervision_task, task_event, LoopStage};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, Set};

use super::page::keyset_page;
use super::{Page, ScopedStore};
use crate::error::{Error, Result};
use crate::viewer::Viewer;
use sea_orm::Order;

/// A task to open: on a visible case, or on a town inside the viewer's regions.
pub struct NewTask {
    pub case_id: Option<i64>,
    pub region_code: Option<String>,
    pub town: Option<String>,
    pub department: String,
    pub title: String,
    pub deadline: NaiveDate,
    pub note: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct TaskQuery {
    pub stages: Option<Vec<LoopStage>>,
    pub overdue: Option<bool>,
    pub department: Option<String>,
    pub region_prefix: Option<String>,
    pub case_id: Option<i64>,
    /// The tasks a model's finding opened.
    pub finding_id: Option<i64>,
}

impl ScopedStore {
    /// The tasks this viewer may see: supervisors, those in their regions (a task on a case
    /// only with the case); an `agency`, those assigned to its unit.
    fn visible_tasks(&self) -> Result<Condition> {
        let scope = &self.scope;
        if !scope.reads_tasks() {
            return Err(Error::Forbidden);
        }
        let mut c = Condition::all();
        if let Some(prefixes) = scope.region_prefixes() {
            // A task is in the viewer's regions when its region starts with one of them.
            let mut regions = Condition::any();
            for p in prefixes {
                regions = regions.add(supervision_task::Column::RegionCode.starts_with(p.as_str()));
            }
            c = c.add(regions);
        }
        if let Some(unit) = scope.agency_unit() {
            // Its business: its department, in its regions (API.md).
            return Ok(c.add(supervision_task::Column::Department.eq(unit)));
        }
        if scope.inspects() {
            // The progress of what inspections found, in its regions.
            return Ok(c.add(supervision_task::Column::Id.in_subquery(crate::inspections::task_ids())));
        }
        let visible_cases = Query::select()
            .column(case::Column::Id)
            .from(case::Entity)
            .cond_where(self.scope.case_condition())
            .to_owned();
        Ok(c.add(
            Condition::any()
                .add(supervision_task::Column::CaseId.is_null())
                .add(supervision_task::Column::CaseId.in_subquery(visible_cases)),
        ))
    }

    /// `FORBIDDEN` unless this viewer may see some tasks.
    pub fn may_read_tasks(&self) -> Result<()> {
        self.visible_tasks().map(|_| ())
    }

    pub async fn tasks(&self, q: &TaskQuery, first: u64, after: Option<i64>) -> Result<Page<supervision_task::Model>> {
        let mut c = self.visible_tasks()?;
        if let Some(stages) = &q.stages {
            c = c.add(supervision_task::Column::Stage.is_in(stages.iter().copied()));
        }
        if let Some(overdue) = q.overdue {
            let today = Utc::now().date_naive();
            let late = Condition::all()
                .add(supervision_task::Column::Deadline.lt(today))
                .add(supervision_task::Column::Stage.ne(LoopStage::Closed));
            c = c.add(if overdue { late } else { late.not() });
        }
        if let Some(d) = &q.department {
            c = c.add(supervision_task::Column::Department.eq(d.as_str()));
        }
        if let Some(p) = &q.region_prefix {
            c = c.add(supervision_task::Column::RegionCode.starts_with(p.as_str()));
        }
        if let Some(id) = q.case_id {
            c = c.add(supervision_task::Column::CaseId.eq(id));
        }
        if let Some(id) = q.finding_id {
            c = c.add(supervision_task::Column::FindingId.eq(id));
        }
        keyset_page::<supervision_task::Entity, _>(&self.db, c, supervision_task::Column::Id, Order::Asc, first, after)
            .await
    }

    pub async fn task(&self, id: i64) -> Result<Option<supervision_task::Model>> {
        Ok(supervision_task::Entity::find_by_id(id)
            .filter(self.visible_tasks()?)
            .one(&self.db)
            .await?)
    }

    pub async fn task_history(&self, task_id: i64) -> Result<Vec<task_event::Model>> {
        Ok(task_event::Entity::find()
            .filter(task_event::Column::TaskId.eq(task_id))
            .order_by_asc(task_event::Column::Id)
            .all(&self.db)
            .await?)
    }

    pub async fn open_task(&self, viewer: &Viewer, t: NewTask) -> Result<supervision_task::Model> {
        if !self.scope.supervises() {
            return Err(Error::Forbidden);
        }
        let (region, town) = match t.case_id {
            Some(id) => {
                let c = self.records()?.case_by_id(id).await?.ok_or(Error::NotFound("case"))?;
                // The task's place is the case's: a town given with it must be the case's.
                if let Some(town) = t.town.as_deref().map(str::trim) {
                    if c.town.as_deref() != Some(town) {
                        return Err(Error::bad_input(
                            "town must be the case's own town (or left out) for a task on a case",
                        ));
                    }
                }
                (c.region_code.clone(), c.town.clone())
            }
            None => {
                let region = t
                    .region_code
                    .clone()
                    .ok_or_else(|| Error::bad_input("a task names a case or a regionCode"))?;
                if entities::ids::RegionCode::parse(&region).is_err() {
                    return Err(Error::bad_input("regionCode must be 6 digits"));
                }
                if !self.scope.holds_region(&region) {
                    return Err(Error::Forbidden);
                }
                (Some(region), t.town.clone())
            }
        };
        if t.department.trim().is_empty() || t.title.trim().is_empty() {
            return Err(Error::bad_input("department and title must not be empty"));
        }
        let txn = self.begin_write().await?;
        let task = insert_task(&txn, viewer, region, town, t).await?;
        txn.commit().await?;
        Ok(task)
    }

    /// Takes one step of the loop; an illegal step is `BAD_USER_INPUT`.
    pub async fn task_step(
        &self,
        viewer: &Viewer,
        id: i64,
        action: TaskAction,
        note: Option<String>,
        disposal: Option<String>,
        models: &[crate::models::Declaration],
    ) -> Result<supervision_task::Model> {
        let task = self.task(id).await?.ok_or(Error::NotFound("supervision task"))?;
        let disposal = disposal.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
        // A finding's task is closed with the department's disposal (处置结果).
        let finding_model = match task.finding_id {
            Some(finding_id) => entities::finding::Entity::find_by_id(finding_id)
                .one(&self.pool)
                .await?
                .and_then(|f| models.iter().find(|m| m.id == f.model)),
            None => None,
        };
        match (action, finding_model, disposal.as_deref()) {
            (TaskAction::Close, Some(model), Some(d)) if model.rule.disposals().contains(&d) => {}
            (TaskAction::Close, Some(model), _) => {
                return Err(Error::bad_input(format!(
                    "closing a task of a {} finding takes `disposal`: one of {}",
                    model.id,
                    model.rule.disposals().join(", ")
                )))
            }
            (_, _, Some(_)) => {
                return Err(Error::bad_input(
                    "`disposal` is given only when closing a task opened for a model's finding",
                ))
            }
            _ => {}
        }
        let allowed = match action {
            TaskAction::Answer => self.scope.answers_for(&task.department),
            _ => self.scope.supervises(),
        };
        if !allowed {
            return Err(Error::Forbidden);
        }
        if action == TaskAction::Answer && note.as_deref().map(str::trim).unwrap_or("").is_empty() {
            return Err(Error::bad_input("an answer states the rectification in `note`"));
        }
        let from = Some(task.stage);
        let to = action.next(from).ok_or_else(|| {
            Error::bad_input(format!(
                "cannot {} a task that is {}",
                action.as_str().to_lowercase(),
                task.stage
            ))
        })?;
        let txn = self.begin_write().await?;
        // Compare-and-set on the stage: of concurrent steps from one stage, one succeeds.
        let moved = supervision_task::Entity::update_many()
            .col_expr(supervision_task::Column::Stage, Expr::value(to))
            .col_expr(supervision_task::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(supervision_task::Column::Id.eq(id))
            .filter(supervision_task::Column::Stage.eq(task.stage))
            .exec(&txn)
            .await?;
        if moved.rows_affected != 1 {
            return Err(Error::bad_input(format!(
                "the task is no longer {}: another step was taken meanwhile",
                task.stage
            )));
        }
        record_event(&txn, viewer, id, action, from, to, note).await?;
        if let (Some(model), Some(d), Some(finding_id)) = (finding_model, disposal.as_deref(), task.finding_id) {
            supervision_task::Entity::update_many()
                .col_expr(supervision_task::Column::Disposal, Expr::value(d))
                .filter(supervision_task::Column::Id.eq(id))
                .exec(&txn)
                .await?;
            crate::models::lifecycle::task_closed(&txn, viewer, model, finding_id, d).await?;
        }
        let task = supervision_task::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(Error::NotFound("supervision task"))?;
        txn.commit().await?;
        Ok(task)
    }
}

/// Opens a task (stage NOTIFIED, with its OPEN event) inside the caller's transaction; the
/// caller has decided that `viewer` may open it.
pub(crate) async fn insert_task<C: sea_orm::ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    region: Option<String>,
    town: Option<String>,
    t: NewTask,
) -> Result<supervision_task::Model> {
    let note = t.note.clone();
    let opened = insert_tasks(
        db,
        viewer,
        vec![TaskToOpen {
            region,
            town,
            finding_id: None,
            task: t,
        }],
        |_| note.clone(),
    )
    .await?;
    opened
        .into_iter()
        .next()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("an inserted task was not returned")))
}

/// A task to open where it lies, and the finding it is opened for.
pub(crate) struct TaskToOpen {
    pub region: Option<String>,
    pub town: Option<String>,
    pub finding_id: Option<i64>,
    pub task: NewTask,
}

const TASK_COLUMNS: [(&str, &str); 12] = [
    ("case_id", "bigint"),
    ("region_code", "text"),
    ("town", "text"),
    ("department", "text"),
    ("title", "text"),
    ("deadline", "date"),
    ("stage", "text"),
    ("opened_by", "text"),
    ("opened_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("finding_id", "bigint"),
    ("disposal", "text"),
];

const EVENT_COLUMNS: [(&str, &str); 8] = [
    ("task_id", "bigint"),
    ("at", "timestamptz"),
    ("actor", "text"),
    ("role", "text"),
    ("action", "text"),
    ("from_stage", "text"),
    ("to_stage", "text"),
    ("note", "text"),
];

/// Opens tasks (stage NOTIFIED, each with its OPEN event noted by `note`) in bulk inside the
/// caller's transaction; the caller has decided that `viewer` may open them.
pub(crate) async fn insert_tasks<C: sea_orm::ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    tasks: Vec<TaskToOpen>,
    note: impl Fn(&supervision_task::Model) -> Option<String>,
) -> Result<Vec<supervision_task::Model>> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now().to_rfc3339();
    let rows: Vec<serde_json::Value> = tasks
        .iter()
        .map(|t| {
            serde_json::json!([
                t.task.case_id,
                t.region,
                t.town,
                t.task.department.trim(),
                t.task.title.trim(),
                t.task.deadline.to_string(),
                LoopStage::Notified.as_str(),
                viewer.sub,
                now,
                now,
                t.finding_id,
                null
            ])
        })
        .collect();
    let opened: Vec<supervision_task::Model> =
        entities::sql::insert_json_returning(db, "supervision_tasks", &TASK_COLUMNS, &rows, "*")
            .await?
            .iter()
            .map(|row| supervision_task::Model::from_query_result(row, ""))
            .collect::<std::result::Result<_, _>>()?;
    let events: Vec<serde_json::Value> = opened
        .iter()
        .map(|task| {
            serde_json::json!([
                task.id,
                now,
                viewer.sub,
                viewer.role.as_str(),
                TaskAction::Open.as_str(),
                null,
                LoopStage::Notified.as_str(),
                note(task)
            ])
        })
        .collect();
    entities::sql::insert_json(db, "task_events", &EVENT_COLUMNS, &events).await?;
    Ok(opened)
}

pub(crate) async fn record_event<C: sea_orm::ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    task_id: i64,
    action: TaskAction,
    from: Option<LoopStage>,
    to: LoopStage,
    note: Option<String>,
) -> Result<()> {
    task_event::ActiveModel {
        task_id: Set(task_id),
        at: Set(Utc::now()),
        actor: Set(viewer.sub.clone()),
        role: Set(viewer.role.as_str().into()),
        action: Set(action),
        from_stage: Set(from),
        to_stage: Set(to),
        note: Set(note),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}
