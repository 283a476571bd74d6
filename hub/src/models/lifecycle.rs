//! The closed loop of findings (MODELS.md): NEW → TASKED → RESOLVED / EXEMPT, driven by the
//! automatic runs and by the supervision tasks a finding opens.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use entities::{finding, finding_event, model_run, supervision_task, FindingStatus, LoopStage, TaskAction};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Set, Statement};
use serde_json::json;

use super::declarations::{Declaration, Rule};
use super::engine::{delimited, registry_disposals, Outcome};
use crate::error::{Error, Result};
use crate::store::{insert_tasks, NewTask, TaskToOpen};
use crate::viewer::{Role, Viewer};

/// Who the automatic steps are taken by.
fn runner(model: &Declaration) -> Viewer {
    Viewer {
        sub: format!("model:{}", model.id),
        role: Role::Admin,
        regions: Vec::new(),
        unit: None,
        own_id: None,
    }
}

/// The party each outcome's subject is: found by its identity, created when no case has named
/// it yet (so a later case naming it resolves to the same party).
async fn parties<C: ConnectionTrait>(db: &C, outcomes: &[Outcome]) -> Result<HashMap<String, i64>> {
    let backend = db.get_database_backend();
    let now = Utc::now().to_rfc3339();
    let mut out = HashMap::new();
    for chunk in outcomes.chunks(2_000) {
        let rows: Vec<serde_json::Value> = chunk
            .iter()
            .map(|o| {
                let (prefix, id_number, credit_code) = match o.kind {
                    entities::PartyKind::Person => ("PERSON_ID", Some(&o.identifier), None),
                    entities::PartyKind::Organization => ("ORG_USCC", None, Some(&o.identifier)),
                };
                json!([
                    o.kind.as_str(),
                    o.name,
                    id_number,
                    credit_code,
                    format!("{prefix}:{}", o.identifier)
                ])
            })
            .collect();
        let sql = match backend {
            DbBackend::Postgres => {
                "INSERT INTO parties (kind, name, id_number, credit_code, phones, identity, updated_at) \
                 SELECT x->>0, x->>1, x->>2, x->>3, '[]'::json, x->>4, $2::timestamptz FROM json_array_elements($1::json) AS x \
                 ON CONFLICT (identity) DO NOTHING"
            }
            _ => {
                "INSERT INTO parties (kind, name, id_number, credit_code, phones, identity, updated_at) \
                 SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), \
                 json_extract(value, '$[3]'), '[]', json_extract(value, '$[4]'), ? FROM json_each(?) WHERE true \
                 ON CONFLICT (identity) DO NOTHING"
            }
        };
        let identities: Vec<String> = rows.iter().filter_map(|r| r[4].as_str().map(str::to_string)).collect();
        let values: Vec<sea_orm::Value> = match backend {
            DbBackend::Postgres => vec![json!(rows).to_string().into(), now.clone().into()],
            _ => vec![now.clone().into(), json!(rows).to_string().into()],
        };
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        let found = entities::party::Entity::find()
            .filter(entities::party::Column::Identity.is_in(identities))
            .all(db)
            .await?;
        for p in found {
            let key = p
                .identity
                .split_once(':')
                .map(|(_, k)| k.to_string())
                .unwrap_or_default();
            out.insert(key, p.id);
        }
    }
    Ok(out)
}

/// A new finding's row (`FINDING_COLUMNS`), status NEW.
fn new_row(o: &Outcome, party_id: i64, run: &model_run::Model, automatic: bool, now: &str) -> serde_json::Value {
    json!([
        run.model,
        run.id,
        automatic,
        run.as_of.to_string(),
        o.subject_key,
        o.kind.as_str(),
        party_id,
        o.trade.map(|t| t.as_str()),
        o.level.as_str(),
        json!(o.rules).to_string(),
        json!(o.evidence).to_string(),
        o.evidence_stamp(),
        FindingStatus::New.as_str(),
        o.region_code,
        delimited(&o.regions),
        delimited(&o.departments),
        now,
        now
    ])
}

const FINDING_COLUMNS: [(&str, &str); 18] = [
    ("model", "text"),
    ("run_id", "bigint"),
    ("automatic", "boolean"),
    ("as_of", "date"),
    ("subject_key", "text"),
    ("subject_kind", "text"),
    ("party_id", "bigint"),
    ("trade", "text"),
    ("level", "text"),
    ("rules", "text"),
    ("evidence", "text"),
    ("evidence_stamp", "text"),
    ("status", "text"),
    ("region_code", "text"),
    ("regions", "text"),
    ("departments", "text"),
    ("raised_at", "timestamptz"),
    ("updated_at", "timestamptz"),
];

async fn event<C: ConnectionTrait>(
    db: &C,
    finding_id: i64,
    actor: &str,
    from: Option<FindingStatus>,
    to: FindingStatus,
    note: Option<String>,
) -> Result<()> {
    finding_event::ActiveModel {
        finding_id: Set(finding_id),
        at: Set(Utc::now()),
        actor: Set(actor.to_string()),
        from_status: Set(from),
        to_status: Set(to),
        note: Set(note),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The departments that receive `f`'s tasks: `department` when given, else the finding's own.
fn receiving(f: &finding::Model, department: Option<&str>) -> Vec<String> {
    match department {
        Some(d) => vec![d.to_string()],
        None => f
            .departments
            .split(',')
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect(),
    }
}

/// Opens one task per receiving department of `f` (on its region) and marks it TASKED.
pub async fn open_tasks<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    model: &Declaration,
    f: &finding::Model,
    department: Option<String>,
    deadline: chrono::NaiveDate,
    subject_name: &str,
) -> Result<finding::Model> {
    if receiving(f, department.as_deref()).is_empty() {
        return Err(Error::bad_input(
            "the finding names no receiving department (its region is unknown): give `department`",
        ));
    }
    open_tasks_of(
        db,
        viewer,
        model,
        &[(f.clone(), subject_name.to_string())],
        department.as_deref(),
        deadline,
    )
    .await?;
    finding::Entity::find_by_id(f.id)
        .one(db)
        .await?
        .ok_or(Error::NotFound("finding"))
}

/// Opens the tasks of many findings in bulk — one per receiving department of each (on its
/// region), `department` overriding — and marks them TASKED (the caller's row of a finding is
/// left as it was). A finding with no receiving department is left NEW.
async fn open_tasks_of<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    model: &Declaration,
    findings: &[(finding::Model, String)],
    department: Option<&str>,
    deadline: chrono::NaiveDate,
) -> Result<()> {
    let mut tasks = Vec::new();
    let mut tasked = Vec::new();
    for (f, subject_name) in findings {
        let departments = receiving(f, department);
        if departments.is_empty() {
            continue;
        }
        tasked.push(f);
        let regions: Vec<&str> = f.regions.split(',').filter(|r| !r.is_empty()).collect();
        for department in departments {
            // The region whose department it is (trade_access: one task per regulator).
            let region = regions
                .iter()
                .find(|r| model.department(Some(r), f.trade).as_deref() == Some(department.as_str()))
                .map(|r| r.to_string())
                .or_else(|| f.region_code.clone());
            let title = match f.trade {
                Some(trade) => format!("{}: {subject_name} ({}, {})", model.name, trade.chinese(), f.level),
                None => format!("{}: {subject_name} ({})", model.name, f.level),
            };
            tasks.push(TaskToOpen {
                region,
                town: None,
                finding_id: Some(f.id),
                task: NewTask {
                    case_id: None,
                    region_code: None,
                    town: None,
                    department,
                    title,
                    deadline,
                    note: None,
                },
            });
        }
    }
    insert_tasks(db, viewer, tasks, |task| {
        Some(format!(
            "finding {} of model {}",
            task.finding_id.unwrap_or_default(),
            model.id
        ))
    })
    .await?;
    let now = Utc::now();
    for chunk in tasked.chunks(CHUNK) {
        finding::Entity::update_many()
            .col_expr(finding::Column::Status, Expr::value(FindingStatus::Tasked))
            .col_expr(finding::Column::UpdatedAt, Expr::value(now))
            .filter(finding::Column::Id.is_in(chunk.iter().map(|f| f.id)))
            .exec(db)
            .await?;
        let events: Vec<serde_json::Value> = chunk
            .iter()
            .map(|f| {
                json!([
                    f.id,
                    now.to_rfc3339(),
                    viewer.sub,
                    f.status.as_str(),
                    FindingStatus::Tasked.as_str(),
                    null
                ])
            })
            .collect();
        entities::sql::insert_json(db, "finding_events", &EVENT_COLUMNS, &events).await?;
    }
    Ok(())
}

/// What the lifecycle needs of a stored finding (not its evidence: a model may have many).
#[derive(Debug, Clone, sea_orm::FromQueryResult)]
struct Standing {
    id: i64,
    subject_key: String,
    status: FindingStatus,
    level: entities::FindingLevel,
    rules: String,
    evidence_stamp: String,
    exempt_stamp: Option<String>,
    disposal: Option<String>,
}

/// Subjects per bulk statement.
const CHUNK: usize = 1_000;

/// Where a run's outcomes go, a page at a time: an evaluation's rows, or the lifecycle.
pub enum Sink {
    /// Rows of an evaluation (an explicit `asOf`): they replace that date's evaluation.
    Evaluation { run: model_run::Model, count: i64 },
    /// The findings' lifecycle (the automatic run).
    Lifecycle(Box<Lifecycle>),
}

/// The automatic run's progress through the lifecycle.
pub struct Lifecycle {
    run: model_run::Model,
    deadline: chrono::NaiveDate,
    /// The stored findings not met yet by this run.
    existing: HashMap<String, Standing>,
    raised: Vec<i64>,
    count: i64,
}

impl Sink {
    /// An evaluation: the previous evaluation of the same `asOf` goes.
    pub async fn evaluation<C: ConnectionTrait>(db: &C, model: &Declaration, run: &model_run::Model) -> Result<Sink> {
        finding::Entity::delete_many()
            .filter(finding::Column::Model.eq(model.id.as_str()))
            .filter(finding::Column::Automatic.eq(false))
            .filter(finding::Column::AsOf.eq(run.as_of))
            .exec(db)
            .await?;
        Ok(Sink::Evaluation {
            run: run.clone(),
            count: 0,
        })
    }

    /// The lifecycle: what the stored findings are (not their evidence).
    pub async fn lifecycle<C: ConnectionTrait>(
        db: &C,
        model: &Declaration,
        run: &model_run::Model,
        task_days: u32,
    ) -> Result<Sink> {
        use sea_orm::QuerySelect;
        let existing: HashMap<String, Standing> = finding::Entity::find()
            .select_only()
            .columns([
                finding::Column::Id,
                finding::Column::SubjectKey,
                finding::Column::Status,
                finding::Column::Level,
                finding::Column::Rules,
                finding::Column::EvidenceStamp,
                finding::Column::ExemptStamp,
                finding::Column::Disposal,
            ])
            .filter(finding::Column::Model.eq(model.id.as_str()))
            .filter(finding::Column::Automatic.eq(true))
            .into_model::<Standing>()
            .all(db)
            .await?
            .into_iter()
            .map(|f| (f.subject_key.clone(), f))
            .collect();
        Ok(Sink::Lifecycle(Box::new(Lifecycle {
            run: run.clone(),
            deadline: run.as_of + Duration::days(i64::from(task_days)),
            existing,
            raised: Vec::new(),
            count: 0,
        })))
    }

    /// One page of outcomes.
    pub async fn page<C: ConnectionTrait>(
        &mut self,
        db: &C,
        model: &Declaration,
        outcomes: Vec<Outcome>,
    ) -> Result<()> {
        match self {
            Sink::Evaluation { run, count } => {
                let party_ids = parties(db, &outcomes).await?;
                *count += outcomes.len() as i64;
                let now = Utc::now().to_rfc3339();
                let rows: Vec<serde_json::Value> = outcomes
                    .iter()
                    .map(|o| new_row(o, party_ids.get(&o.identifier).copied().unwrap_or(0), run, false, &now))
                    .collect();
                entities::sql::insert_json(db, "findings", &FINDING_COLUMNS, &rows).await?;
                Ok(())
            }
            Sink::Lifecycle(life) => life.page(db, model, outcomes).await,
        }
    }

    /// Ends the run: the lifecycle resolves the open findings it did not meet. Returns how
    /// many subjects the run found and the findings it raised.
    pub async fn finish<C: ConnectionTrait>(self, db: &C, model: &Declaration) -> Result<(i64, Vec<i64>)> {
        match self {
            Sink::Evaluation { count, .. } => Ok((count, Vec::new())),
            Sink::Lifecycle(life) => life.finish(db, model).await,
        }
    }
}

impl Lifecycle {
    /// New findings are written in bulk, unchanged ones touched in bulk; only those whose
    /// content or status changes are written one by one.
    async fn page<C: ConnectionTrait>(&mut self, db: &C, model: &Declaration, outcomes: Vec<Outcome>) -> Result<()> {
        let run = &self.run;
        let viewer = runner(model);
        let party_ids = parties(db, &outcomes).await?;
        self.count += outcomes.len() as i64;
        let clearing = model.rule.clearing_disposal();
        let mut fresh: Vec<&Outcome> = Vec::new();
        let mut untouched: Vec<String> = Vec::new();
        // Findings to consider for an automatic task: (id, subject's name).
        let mut open_now: Vec<(i64, String)> = Vec::new();
        for o in &outcomes {
            let stamp = o.evidence_stamp();
            let rules = json!(o.rules).to_string();
            let Some(f) = self.existing.remove(&o.subject_key) else {
                fresh.push(o);
                continue;
            };
            let cleared = match f.status {
                FindingStatus::Exempt => f.exempt_stamp.as_deref() == Some(stamp.as_str()),
                FindingStatus::Resolved => {
                    f.disposal.as_deref() == Some(clearing) && f.exempt_stamp.as_deref() == Some(stamp.as_str())
                }
                _ => true,
            };
            if cleared && f.evidence_stamp == stamp && f.level == o.level && f.rules == rules {
                untouched.push(o.subject_key.clone());
                if f.status == FindingStatus::New {
                    open_now.push((f.id, o.name.clone()));
                }
                continue;
            }
            let Some(current) = finding::Entity::find_by_id(f.id).one(db).await? else {
                continue;
            };
            let mut row: finding::ActiveModel = current.into();
            row.run_id = Set(run.id);
            row.as_of = Set(run.as_of);
            row.level = Set(o.level);
            row.rules = Set(rules);
            row.evidence = Set(json!(o.evidence).to_string());
            row.evidence_stamp = Set(stamp);
            row.region_code = Set(o.region_code.clone());
            row.regions = Set(delimited(&o.regions));
            row.departments = Set(delimited(&o.departments));
            if !cleared {
                row.status = Set(FindingStatus::New);
                row.disposal = Set(None);
                row.exempt_reason = Set(None);
                row.exempt_stamp = Set(None);
                row.raised_at = Set(Utc::now());
            }
            row.updated_at = Set(Utc::now());
            let row = row.update(db).await?;
            if !cleared {
                event(
                    db,
                    row.id,
                    &viewer.sub,
                    Some(f.status),
                    FindingStatus::New,
                    Some("raised again: its conditions hold and its evidence changed".into()),
                )
                .await?;
                self.raised.push(row.id);
            }
            if row.status == FindingStatus::New {
                open_now.push((row.id, o.name.clone()));
            }
        }
        // New subjects: one statement per chunk, then their ids and NEW events in bulk.
        for chunk in fresh.chunks(CHUNK) {
            let now = Utc::now().to_rfc3339();
            let rows: Vec<serde_json::Value> = chunk
                .iter()
                .map(|o| new_row(o, party_ids.get(&o.identifier).copied().unwrap_or(0), run, true, &now))
                .collect();
            let ids: Vec<(i64, String)> =
                entities::sql::insert_json_returning(db, "findings", &FINDING_COLUMNS, &rows, "id, subject_key")
                    .await?
                    .iter()
                    .map(|row| Ok((row.try_get::<i64>("", "id")?, row.try_get::<String>("", "subject_key")?)))
                    .collect::<Result<_>>()?;
            let events: Vec<serde_json::Value> = ids
                .iter()
                .map(|(id, _)| {
                    json!([
                        id,
                        now,
                        viewer.sub,
                        null,
                        FindingStatus::New.as_str(),
                        format!("run {}", run.id)
                    ])
                })
                .collect();
            entities::sql::insert_json(db, "finding_events", &EVENT_COLUMNS, &events).await?;
            let names: HashMap<&str, &str> = chunk
                .iter()
                .map(|o| (o.subject_key.as_str(), o.name.as_str()))
                .collect();
            for (id, key) in ids {
                self.raised.push(id);
                open_now.push((id, names.get(key.as_str()).unwrap_or(&"").to_string()));
            }
        }
        // Unchanged findings: now found by this run too.
        for chunk in untouched.chunks(CHUNK) {
            finding::Entity::update_many()
                .col_expr(finding::Column::RunId, Expr::value(run.id))
                .col_expr(finding::Column::AsOf, Expr::value(run.as_of))
                .filter(finding::Column::Model.eq(model.id.as_str()))
                .filter(finding::Column::Automatic.eq(true))
                .filter(finding::Column::SubjectKey.is_in(chunk.iter().cloned()))
                .exec(db)
                .await?;
        }
        // Levels that open their tasks by themselves.
        if !model.auto_task.is_empty() {
            for chunk in open_now.chunks(CHUNK) {
                let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
                let rows = finding::Entity::find()
                    .filter(finding::Column::Id.is_in(ids))
                    .filter(finding::Column::Status.eq(FindingStatus::New))
                    .filter(finding::Column::Level.is_in(model.auto_task.iter().copied()))
                    .all(db)
                    .await?;
                let names: HashMap<i64, &str> = chunk.iter().map(|(id, name)| (*id, name.as_str())).collect();
                let rows: Vec<(finding::Model, String)> = rows
                    .into_iter()
                    .map(|f| {
                        let name = names.get(&f.id).copied().unwrap_or_default().to_string();
                        (f, name)
                    })
                    .collect();
                open_tasks_of(db, &viewer, model, &rows, None, self.deadline).await?;
            }
        }
        Ok(())
    }

    /// Open findings whose conditions no longer hold are resolved.
    async fn finish<C: ConnectionTrait>(self, db: &C, model: &Declaration) -> Result<(i64, Vec<i64>)> {
        let viewer = runner(model);
        let open: Vec<Standing> = self
            .existing
            .into_values()
            .filter(|f| matches!(f.status, FindingStatus::New | FindingStatus::Tasked))
            .collect();
        let gone = if model.rule == Rule::ShellCompany {
            let codes: Vec<String> = open.iter().map(|f| f.subject_key.clone()).collect();
            registry_disposals(db, &codes).await?
        } else {
            HashMap::new()
        };
        for standing in open {
            let Some(f) = finding::Entity::find_by_id(standing.id).one(db).await? else {
                continue;
            };
            let disposal = gone
                .get(&f.subject_key)
                .cloned()
                .unwrap_or_else(|| "条件消失".to_string());
            resolve(db, &viewer, &f, &disposal, None).await?;
        }
        Ok((self.count, self.raised))
    }
}

const EVENT_COLUMNS: [(&str, &str); 6] = [
    ("finding_id", "bigint"),
    ("at", "timestamptz"),
    ("actor", "text"),
    ("from_status", "text"),
    ("to_status", "text"),
    ("note", "text"),
];

/// Marks `f` RESOLVED with `disposal` and closes its open tasks with the same disposal.
async fn resolve<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    f: &finding::Model,
    disposal: &str,
    exempt_stamp: Option<String>,
) -> Result<()> {
    let tasks = supervision_task::Entity::find()
        .filter(supervision_task::Column::FindingId.eq(f.id))
        .filter(supervision_task::Column::Stage.ne(LoopStage::Closed))
        .all(db)
        .await?;
    for task in tasks {
        supervision_task::Entity::update_many()
            .col_expr(supervision_task::Column::Stage, Expr::value(LoopStage::Closed))
            .col_expr(supervision_task::Column::Disposal, Expr::value(disposal))
            .col_expr(supervision_task::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(supervision_task::Column::Id.eq(task.id))
            .exec(db)
            .await?;
        crate::store::record_task_event(
            db,
            viewer,
            task.id,
            TaskAction::Close,
            Some(task.stage),
            LoopStage::Closed,
            Some(format!("{disposal} (resolved automatically)")),
        )
        .await?;
    }
    let mut row: finding::ActiveModel = f.clone().into();
    row.status = Set(FindingStatus::Resolved);
    row.disposal = Set(Some(disposal.to_string()));
    row.exempt_stamp = Set(exempt_stamp);
    row.updated_at = Set(Utc::now());
    row.update(db).await?;
    event(
        db,
        f.id,
        &viewer.sub,
        Some(f.status),
        FindingStatus::Resolved,
        Some(disposal.to_string()),
    )
    .await?;
    Ok(())
}

/// A task of a finding was closed with `disposal`: when none of the finding's tasks is open
/// any more, the finding is RESOLVED with it (the clearing disposal — 核实正常经营 / 核实无误 —
/// keeps the subject from being raised again until its evidence changes).
pub async fn task_closed<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    model: &Declaration,
    finding_id: i64,
    disposal: &str,
) -> Result<()> {
    let Some(f) = finding::Entity::find_by_id(finding_id).one(db).await? else {
        return Ok(());
    };
    let still_open = supervision_task::Entity::find()
        .filter(supervision_task::Column::FindingId.eq(finding_id))
        .filter(supervision_task::Column::Stage.ne(LoopStage::Closed))
        .all(db)
        .await?;
    if !still_open.is_empty() || f.status == FindingStatus::Resolved {
        return Ok(());
    }
    let stamp = (disposal == model.rule.clearing_disposal()).then(|| f.evidence_stamp.clone());
    resolve(db, viewer, &f, disposal, stamp).await
}

/// A supervisor marks a finding a false alarm: EXEMPT, not raised again until its evidence
/// changes; its open tasks stay as they are.
pub async fn exempt<C: ConnectionTrait>(
    db: &C,
    viewer: &Viewer,
    f: &finding::Model,
    reason: &str,
) -> Result<finding::Model> {
    if !f.automatic {
        return Err(Error::bad_input(
            "an evaluation's finding (a run with asOf) has no lifecycle: exempt the automatic run's finding",
        ));
    }
    if reason.trim().is_empty() {
        return Err(Error::bad_input("an exemption states its reason"));
    }
    if f.status == FindingStatus::Exempt {
        return Err(Error::bad_input("the finding is already EXEMPT"));
    }
    let mut row: finding::ActiveModel = f.clone().into();
    row.status = Set(FindingStatus::Exempt);
    row.exempt_reason = Set(Some(reason.trim().to_string()));
    row.exempt_stamp = Set(Some(f.evidence_stamp.clone()));
    row.updated_at = Set(Utc::now());
    let updated = row.update(db).await?;
    event(
        db,
        f.id,
        &viewer.sub,
        Some(f.status),
        FindingStatus::Exempt,
        Some(reason.trim().to_string()),
    )
    .await?;
    Ok(updated)
}
