//! 平安督: `recordInspection`, `inspection` and `inspectionIndex` (MODELS.md, API.md).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use hub::inspections::index::TownMonth;
use hub::inspections::{InspectionView, Settings};

use super::scalars::DateTime;
use super::tasks::SupervisionTask;
use super::{store, viewer};
use crate::error::ApiError;

/// An inspection to record: the place, the time and what was found.
#[derive(InputObject)]
pub struct InspectionInput {
    /// The inspection's own id, from an offline record (for idempotent loading); generated
    /// when left out. The same id again with the same content answers the stored inspection.
    pub id: Option<String>,
    /// The 6-digit region code; it must lie in your regions.
    pub region_code: String,
    /// The town or street (镇街) inspected.
    pub town: String,
    /// The 点位: the place inspected.
    pub point: String,
    /// The kind of place (市场, 学校, 工地 …).
    pub point_type: String,
    /// When it was inspected; not in the future.
    pub inspected_at: DateTime,
    /// The problems found (none: a clean inspection). Each opens a task on the town.
    #[graphql(default)]
    pub problems: Vec<ProblemInput>,
    /// The id of an inspection (in the same region) this one corrects: the corrected one stays
    /// as history and no longer counts in the index.
    pub corrects: Option<String>,
}

/// A problem an inspection found.
#[derive(InputObject)]
pub struct ProblemInput {
    pub category: String,
    pub description: String,
    /// 1 (minor) to 5 (grave).
    pub severity: i32,
}

impl From<InspectionInput> for hub::inspections::InspectionInput {
    fn from(i: InspectionInput) -> Self {
        hub::inspections::InspectionInput {
            id: i.id,
            region_code: i.region_code,
            town: i.town,
            point: i.point,
            point_type: i.point_type,
            inspected_at: i.inspected_at.0,
            corrects: i.corrects,
            problems: i
                .problems
                .into_iter()
                .map(|p| hub::inspections::ProblemInput {
                    category: p.category,
                    description: p.description,
                    severity: p.severity,
                })
                .collect(),
        }
    }
}

/// A recorded 平安督 inspection (immutable).
pub struct Inspection(pub InspectionView);

#[Object]
impl Inspection {
    async fn id(&self) -> &str {
        &self.0.inspection.id
    }
    async fn region_code(&self) -> &str {
        &self.0.inspection.region_code
    }
    async fn town(&self) -> &str {
        &self.0.inspection.town
    }
    async fn point(&self) -> &str {
        &self.0.inspection.point
    }
    async fn point_type(&self) -> &str {
        &self.0.inspection.point_type
    }
    async fn inspected_at(&self) -> DateTime {
        DateTime(self.0.inspection.inspected_at)
    }
    /// Who recorded it (the token's `sub`; `ingest` for a loaded file).
    async fn recorded_by(&self) -> &str {
        &self.0.inspection.recorded_by
    }
    /// The inspection team (`unit` claim) that recorded it.
    async fn unit(&self) -> Option<&str> {
        self.0.inspection.unit.as_deref()
    }
    async fn recorded_at(&self) -> DateTime {
        DateTime(self.0.inspection.recorded_at)
    }
    /// Where it came from: `recordInspection`, or the file it was loaded from.
    async fn file(&self) -> &str {
        &self.0.inspection.file
    }
    /// The inspection this one corrects.
    async fn corrects(&self) -> Option<&str> {
        self.0.inspection.corrects.as_deref()
    }
    /// The inspections that correct this one (it then no longer counts in the index).
    async fn corrected_by(&self) -> &[String] {
        &self.0.corrected_by
    }
    async fn problems(&self) -> Vec<InspectionProblem> {
        self.0.problems.iter().cloned().map(InspectionProblem).collect()
    }
}

/// A problem an inspection found, with the task it opened on the town.
pub struct InspectionProblem(entities::inspection_problem::Model);

#[Object]
impl InspectionProblem {
    /// Its place in the inspection, from 1.
    async fn seq(&self) -> i32 {
        self.0.seq
    }
    async fn category(&self) -> &str {
        &self.0.category
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn severity(&self) -> i32 {
        self.0.severity
    }
    /// The supervision task on the town's unit (`null` when your role may not read it).
    async fn task(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SupervisionTask>> {
        let Some(id) = self.0.task_id else { return Ok(None) };
        let store = store(ctx)?;
        if !store.scope().reads_tasks() {
            return Ok(None);
        }
        Ok(store.task(id).await.map_err(ApiError::from)?.map(SupervisionTask))
    }
}

/// One town in one month of the 平安督查指数 (higher = worse). Every figure is `null` when
/// suppressed (`analyst`: fewer than 5 places inspected that month).
#[derive(SimpleObject)]
pub struct InspectionScore {
    pub region_code: String,
    pub town: String,
    /// `YYYY-MM`.
    pub month: String,
    /// 1 = the lowest index among the month's towns in the answer; ties share a rank.
    pub rank: Option<i32>,
    pub index: Option<f64>,
    /// The index minus the same town's the month before (`null` when it had none).
    pub change: Option<f64>,
    /// 点位数: distinct places inspected.
    pub places: Option<i32>,
    /// 问题数: problems found.
    pub problems: Option<i32>,
    /// 发现率: problems ÷ places.
    pub discovery_rate: Option<f64>,
    /// 整改率: problems closed by their deadline ÷ problems closed or past their deadline
    /// (1 when none is due).
    pub rectification_rate: Option<f64>,
    /// 超期数: problems past their deadline and not closed.
    pub overdue: Option<i32>,
    /// The figures are withheld (small cell).
    pub suppressed: bool,
}

impl From<TownMonth> for InspectionScore {
    fn from(t: TownMonth) -> Self {
        let f = t.figures.as_ref();
        InspectionScore {
            region_code: t.region.clone(),
            town: t.town.clone(),
            month: t.month.clone(),
            rank: f.map(|f| i32::try_from(f.rank).unwrap_or(i32::MAX)),
            index: f.map(|f| f.index),
            change: f.and_then(|f| f.change),
            places: f.map(|f| i32::try_from(f.places).unwrap_or(i32::MAX)),
            problems: f.map(|f| i32::try_from(f.problems).unwrap_or(i32::MAX)),
            discovery_rate: f.map(|f| f.discovery_rate),
            rectification_rate: f.map(|f| f.rectification_rate),
            overdue: f.map(|f| i32::try_from(f.overdue).unwrap_or(i32::MAX)),
            suppressed: f.is_none(),
        }
    }
}

pub async fn record(ctx: &Context<'_>, input: InspectionInput) -> async_graphql::Result<Inspection> {
    let settings = settings(ctx);
    let (view, inserted) = store(ctx)?
        .record_inspection(viewer(ctx)?, input.into(), settings.task_days)
        .await
        .map_err(ApiError::from)?;
    if inserted {
        for task_id in view.problems.iter().filter_map(|p| p.task_id) {
            super::tasks::announce(ctx, task_id).await;
        }
        if let Ok(bus) = ctx.data::<hub::events::EventBus>() {
            bus.publish(hub::events::Event::InspectionRecorded {
                inspection_id: view.inspection.id.clone(),
            })
            .await;
        }
    }
    Ok(Inspection(view))
}

pub async fn inspection(ctx: &Context<'_>, id: String) -> async_graphql::Result<Option<Inspection>> {
    Ok(store(ctx)?
        .inspection(&id)
        .await
        .map_err(ApiError::from)?
        .map(Inspection))
}

pub async fn index(
    ctx: &Context<'_>,
    from: String,
    to: String,
    region_prefix: Option<String>,
) -> async_graphql::Result<Vec<InspectionScore>> {
    let weights = settings(ctx).weights;
    let today = hub::inspections::day_of(chrono::Utc::now());
    Ok(store(ctx)?
        .inspection_index(&from, &to, region_prefix.as_deref(), today, weights)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(InspectionScore::from)
        .collect())
}

/// The configured settings (the documented defaults where none are given, as in tests).
fn settings(ctx: &Context<'_>) -> Settings {
    ctx.data_opt::<Settings>().copied().unwrap_or_default()
}
