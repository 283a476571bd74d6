//! Warnings that open supervision tasks by themselves.
//!
//! Each gateway follows the event bus; when cases or tasks change, it recomputes the
//! governance index (the hub's own, unscoped view) for the towns and months touched, and
//! each warning step (REMIND, SUPERVISE, INTERVIEW) reached there for the first time opens one
//! supervision task on the town, assigned to the town (镇街) itself. `governance_warnings`
//! holds each step once, so several gateways noticing the same warning open one task.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate, Utc};
use entities::{case, governance_warning, supervision_task};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set};
use tokio::sync::broadcast::error::RecvError;

use crate::error::Result;
use crate::events::{Event, EventBus};
use crate::governance::Governance;
use crate::governance::{compute, Level, Window};
use crate::policy::Scope;
use crate::store::{CaseQuery, NewTask, ScopedStore};
use crate::viewer::{Role, Viewer};
use entities::{WarningAction, WarningColor};

/// The subject recorded as the opener of tasks raised by warnings.
pub const OPENER: &str = "qianchuan:governance-index";

/// A warning step claimed this long ago whose task was never opened is claimed again.
const STALE_CLAIM_MINUTES: i64 = 5;

fn system() -> Viewer {
    Viewer {
        sub: OPENER.into(),
        role: Role::Admin,
        regions: Vec::new(),
        unit: None,
        own_id: None,
    }
}

/// Follows the bus until it closes; `deadline_days` is how long the town has to answer.
pub async fn follow(db: DatabaseConnection, governance: Governance, bus: EventBus, deadline_days: u32) {
    let mut rx = bus.subscribe();
    loop {
        let mut batch = match rx.recv().await {
            Ok(event) => vec![event],
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the warning monitor fell behind; some changes were not checked");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        while let Ok(event) = rx.try_recv() {
            batch.push(event);
        }
        match sweep(&db, &governance, &bus, deadline_days, &batch).await {
            Ok(0) => {}
            Ok(opened) => tracing::info!(opened, "governance warnings opened supervision tasks"),
            Err(e) => tracing::error!(error = ?e, "checking governance warnings failed"),
        }
    }
}

fn month_of(d: NaiveDate) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1)
}

/// The months (first days) the changes touch: cases by their opening, tasks by their deadline.
async fn touched_months(db: &DatabaseConnection, events: &[Arc<Event>]) -> Result<BTreeSet<NaiveDate>> {
    let mut cases = Vec::new();
    let mut tasks = Vec::new();
    for event in events {
        match event.as_ref() {
            Event::CasesChanged { changes } => cases.extend(changes.iter().map(|c| c.case_id)),
            Event::TaskChanged { task_id } => tasks.push(*task_id),
            Event::InspectionRecorded { .. } | Event::FindingsRaised { .. } => {}
        }
    }
    let mut months = BTreeSet::new();
    for ids in cases.chunks(500) {
        let dates: Vec<Option<NaiveDate>> = case::Entity::find()
            .select_only()
            .column(case::Column::OpenedOn)
            .filter(case::Column::Id.is_in(ids.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        months.extend(dates.into_iter().flatten().filter_map(month_of));
    }
    for ids in tasks.chunks(500) {
        let tasks = supervision_task::Entity::find()
            .filter(supervision_task::Column::Id.is_in(ids.iter().copied()))
            .filter(supervision_task::Column::OpenedBy.ne(OPENER))
            .all(db)
            .await?;
        months.extend(tasks.into_iter().filter_map(|t| month_of(t.deadline)));
    }
    Ok(months)
}

fn action_label(a: WarningAction) -> &'static str {
    match a {
        WarningAction::Remind => "提醒",
        WarningAction::Supervise => "督办",
        WarningAction::Interview => "约谈",
    }
}

/// Checks the touched months; returns how many tasks it opened.
pub async fn sweep(
    db: &DatabaseConnection,
    governance: &Governance,
    bus: &EventBus,
    deadline_days: u32,
    events: &[Arc<Event>],
) -> Result<usize> {
    let months = touched_months(db, events).await?;
    sweep_months(db, governance, bus, deadline_days, &months).await
}

/// Checks every month in which a case was opened (a database loaded before any gateway
/// followed it, such as the demo's); returns how many tasks it opened.
pub async fn sweep_all(
    db: &DatabaseConnection,
    governance: &Governance,
    bus: &EventBus,
    deadline_days: u32,
) -> Result<usize> {
    let days: Vec<Option<NaiveDate>> = case::Entity::find()
        .select_only()
        .column(case::Column::OpenedOn)
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let months = days.into_iter().flatten().filter_map(month_of).collect();
    sweep_months(db, governance, bus, deadline_days, &months).await
}

/// Raises the warnings of `months` (first days) and opens their tasks; returns how many.
async fn sweep_months(
    db: &DatabaseConnection,
    governance: &Governance,
    bus: &EventBus,
    deadline_days: u32,
    months: &BTreeSet<NaiveDate>,
) -> Result<usize> {
    if months.is_empty() {
        return Ok(0);
    }
    let viewer = system();
    let store = ScopedStore::new(db.clone(), Scope::for_viewer(&viewer));
    // One window per year touched, reaching back far enough for escalation streaks.
    let mut years: BTreeMap<i32, (NaiveDate, NaiveDate)> = BTreeMap::new();
    for m in months {
        let span = years.entry(m.year()).or_insert((*m, *m));
        span.0 = span.0.min(*m);
        span.1 = span.1.max(*m);
    }
    let lookback = Months::new(governance.escalate_after + 2);
    let mut opened = 0;
    let mut seen = HashSet::new();
    for (from, to) in years.into_values() {
        let start = from.checked_sub_months(lookback).unwrap_or(from);
        let scores = compute(
            &store,
            governance,
            CaseQuery::default(),
            Window::between(start, to),
            Level::Town,
        )
        .await?;
        for s in scores {
            let (Some(region), Some(town), Some(action)) = (s.region.clone(), s.town.clone(), s.warning) else {
                continue;
            };
            let Some(month) = NaiveDate::parse_from_str(&format!("{}-01", s.month), "%Y-%m-%d").ok() else {
                continue;
            };
            if !months.contains(&month) || !seen.insert((region.clone(), town.clone(), s.month.clone())) {
                continue;
            }
            let action_zh = action_label(action);
            let row = governance_warning::ActiveModel {
                region_code: Set(region.clone()),
                town: Set(town.clone()),
                month: Set(s.month.clone()),
                action: Set(action),
                color: Set(s.color.unwrap_or(WarningColor::Red)),
                index: Set(s.index.unwrap_or_default()),
                task_id: Set(None),
                raised_at: Set(Utc::now()),
                ..Default::default()
            };
            let inserted = governance_warning::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        governance_warning::Column::RegionCode,
                        governance_warning::Column::Town,
                        governance_warning::Column::Month,
                        governance_warning::Column::Action,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
            let this_step = Condition::all()
                .add(governance_warning::Column::RegionCode.eq(region.clone()))
                .add(governance_warning::Column::Town.eq(town.clone()))
                .add(governance_warning::Column::Month.eq(s.month.clone()))
                .add(governance_warning::Column::Action.eq(action));
            if inserted == 0 {
                // Raised before, by this gateway or another — unless its task was never opened
                // (that gateway failed or stopped in between): such a claim is taken over.
                let stale = Utc::now() - chrono::Duration::minutes(STALE_CLAIM_MINUTES);
                let taken = governance_warning::Entity::update_many()
                    .col_expr(
                        governance_warning::Column::RaisedAt,
                        sea_orm::sea_query::Expr::value(Utc::now()),
                    )
                    .filter(this_step.clone())
                    .filter(governance_warning::Column::TaskId.is_null())
                    .filter(governance_warning::Column::RaisedAt.lt(stale))
                    .exec(db)
                    .await?;
                if taken.rows_affected == 0 {
                    continue;
                }
            }
            let deadline = Utc::now().date_naive() + chrono::Duration::days(i64::from(deadline_days));
            let opening = store
                .open_task(
                    &viewer,
                    NewTask {
                        case_id: None,
                        region_code: Some(region.clone()),
                        town: Some(town.clone()),
                        department: town.clone(),
                        title: format!(
                            "治理指数预警 {town} {}：{}，{action_zh}",
                            s.month,
                            s.color.unwrap_or(WarningColor::Red)
                        ),
                        deadline,
                        note: Some(format!(
                            "Raised by the governance index (一镇一指数): {} in {} reached {action}; governanceIndex shows the figures.",
                            town, s.month
                        )),
                    },
                )
                .await;
            let task = match opening {
                Ok(task) => task,
                Err(e) => {
                    // Give the step back, so the next pass opens its task.
                    if let Err(undo) = governance_warning::Entity::delete_many()
                        .filter(this_step)
                        .filter(governance_warning::Column::TaskId.is_null())
                        .exec(db)
                        .await
                    {
                        tracing::warn!(error = %undo, "a warning step stays claimed without its task");
                    }
                    return Err(e);
                }
            };
            governance_warning::Entity::update_many()
                .col_expr(
                    governance_warning::Column::TaskId,
                    sea_orm::sea_query::Expr::value(task.id),
                )
                .filter(this_step)
                .exec(db)
                .await?;
            bus.publish(Event::TaskChanged { task_id: task.id }).await;
            opened += 1;
        }
    }
    Ok(opened)
}
