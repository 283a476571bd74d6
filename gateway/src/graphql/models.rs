//! Supervision models in the schema (MODELS.md): the declared models, their findings with
//! evidence and closed loop, practitioner codes, and the code look-ups of citizens and
//! employers.

use std::sync::Arc;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use entities::{finding, finding_event, practitioner_code, registry_row};
use hub::models::Models;
use hub::store::{CodeQuery, FindingQuery};

use super::connection::Connection;
use super::scalars::{global_id, parse_id_of, Date, DateTime, NodeKind};
use super::tasks::SupervisionTask;
use super::types::{Case, Party, PartyKind};
use super::{limits, readable_store, store, viewer};
use crate::error::ApiError;

/// The five regulated trades of 特定行业准入.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::Trade")]
pub enum Trade {
    /// 医疗卫生
    Medical,
    /// 食品药品
    FoodDrug,
    /// 道路运输
    RoadTransport,
    /// 教育培训
    Education,
    /// 养老服务
    ElderlyCare,
}

/// A practitioner's code in a trade: barred, to be reviewed, nothing found.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::CodeColor")]
pub enum CodeColor {
    /// 禁止从业.
    Red,
    /// 待复核.
    Yellow,
    /// 未发现问题.
    Blue,
}

/// How serious a finding is: HIGH / MEDIUM (shell_company), RED / YELLOW (trade_access).
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::FindingLevel")]
pub enum FindingLevel {
    High,
    Medium,
    Red,
    Yellow,
}

/// Where a finding stands in the closed loop.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::FindingStatus")]
pub enum FindingStatus {
    /// Raised, no task yet.
    New,
    /// A supervision task was opened for it.
    Tasked,
    /// Its task was closed with a disposal, or its conditions no longer hold.
    Resolved,
    /// A supervisor marked it a false alarm.
    Exempt,
}

pub(crate) fn models<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<Models>> {
    ctx.data::<Arc<Models>>()
}

fn model_of<'a>(ctx: &Context<'a>, id: &str) -> async_graphql::Result<&'a hub::models::Declaration> {
    models(ctx)?
        .get(id)
        .ok_or_else(|| ApiError::NotFound("supervision model").into())
}

/// `asOf` may not lie in the future (today in Asia/Shanghai).
fn checked_as_of(as_of: Option<Date>) -> async_graphql::Result<Option<chrono::NaiveDate>> {
    let today = hub::inspections::day_of(chrono::Utc::now());
    match as_of {
        Some(Date(d)) if d > today => {
            Err(ApiError::bad_input(format!("asOf {d} is in the future (today is {today})")).into())
        }
        other => Ok(other.map(|d| d.0)),
    }
}

/// A parameter of a model and its value.
#[derive(SimpleObject)]
pub struct ModelParameter {
    pub name: String,
    pub value: i64,
}

/// A supervision model as declared (`hub/models.toml` or `QIANCHUAN_MODELS`).
pub struct SupervisionModel(pub hub::models::Declaration);

#[Object]
impl SupervisionModel {
    /// Stable id: `shell_company`, `trade_access`.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// What it finds: ORGANIZATION or PERSON.
    async fn subject(&self) -> PartyKind {
        self.0.subject.into()
    }
    /// Its parameters, declared or default.
    async fn parameters(&self) -> Vec<ModelParameter> {
        self.0
            .parameters
            .iter()
            .map(|(name, value)| ModelParameter {
                name: name.clone(),
                value: *value,
            })
            .collect()
    }
    /// The receiving departments (preceded by the region's name on each finding).
    async fn departments(&self) -> Vec<String> {
        self.0.departments.values().cloned().collect()
    }
    /// Levels whose findings open tasks by themselves.
    async fn auto_task(&self) -> Vec<FindingLevel> {
        self.0.auto_task.iter().map(|l| (*l).into()).collect()
    }
    /// When the latest automatic run finished.
    async fn last_run_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime>> {
        let run = store(ctx)?.latest_run(&self.0.id).await.map_err(ApiError::from)?;
        Ok(run.map(|r| DateTime(r.finished_at)))
    }
    /// How many subjects the latest automatic run found.
    async fn finding_count(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        let run = store(ctx)?.latest_run(&self.0.id).await.map_err(ApiError::from)?;
        Ok(run.map(|r| r.finding_count))
    }
}

/// A run of a model.
pub struct ModelRun(pub entities::model_run::Model);

#[Object]
impl ModelRun {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn model(&self) -> &str {
        &self.0.model
    }
    async fn as_of(&self) -> Date {
        Date(self.0.as_of)
    }
    /// An automatic run drives the findings' lifecycle; a run with `asOf` is an evaluation.
    async fn automatic(&self) -> bool {
        self.0.automatic
    }
    async fn started_at(&self) -> DateTime {
        DateTime(self.0.started_at)
    }
    async fn finished_at(&self) -> DateTime {
        DateTime(self.0.finished_at)
    }
    /// Subjects found.
    async fn finding_count(&self) -> i64 {
        self.0.finding_count
    }
    /// Practitioner codes computed (trade_access).
    async fn code_count(&self) -> i64 {
        self.0.code_count
    }
}

/// One fact a finding rests on: a reference row (with its file and position) or a case.
pub struct Evidence(pub hub::models::engine::Evidence);

#[Object]
impl Evidence {
    /// REGISTRY, INSURANCE, TAX, PRACTITIONERS, CONVICTIONS or CASE.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    /// The reference row's key (its key fields joined with `|`), or the case's id.
    async fn id(&self) -> String {
        match self.0.kind.as_str() {
            "CASE" => self
                .0
                .id
                .parse()
                .map(|n| global_id(NodeKind::Case, n).0)
                .unwrap_or_else(|_| self.0.id.clone()),
            _ => self.0.id.clone(),
        }
    }
    /// The feed (reference rows) or the case's source.
    async fn source(&self) -> String {
        self.0.source.clone().unwrap_or_else(|| self.0.kind.clone())
    }
    async fn source_key(&self) -> Option<&str> {
        self.0.source_key.as_deref()
    }
    async fn version(&self) -> Option<&str> {
        self.0.version.as_deref()
    }
    async fn file(&self) -> Option<&str> {
        self.0.file.as_deref()
    }
    async fn position(&self) -> Option<&str> {
        self.0.position.as_deref()
    }
    /// The case (CASE evidence; only cases the viewer can read are listed at all).
    async fn case(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Case>> {
        if self.0.kind != "CASE" {
            return Ok(None);
        }
        let Ok(id) = self.0.id.parse::<i64>() else {
            return Ok(None);
        };
        Ok(readable_store(ctx)?
            .case_by_id(id)
            .await
            .map_err(ApiError::from)?
            .map(Case))
    }
}

/// A step of a finding's status.
#[derive(SimpleObject)]
pub struct FindingEvent {
    pub at: DateTime,
    pub actor: String,
    pub from_status: Option<FindingStatus>,
    pub to_status: FindingStatus,
    pub note: Option<String>,
}

impl From<finding_event::Model> for FindingEvent {
    fn from(e: finding_event::Model) -> Self {
        FindingEvent {
            at: DateTime(e.at),
            actor: e.actor,
            from_status: e.from_status.map(Into::into),
            to_status: e.to_status.into(),
            note: e.note,
        }
    }
}

/// What a supervision model found of one subject.
pub struct Finding(pub finding::Model);

#[Object]
impl Finding {
    /// `Finding:N`.
    async fn id(&self) -> ID {
        global_id(NodeKind::Finding, self.0.id)
    }
    /// The model's id.
    async fn model(&self) -> &str {
        &self.0.model
    }
    /// The company or person found (readable by whoever may read the finding).
    async fn subject(&self, ctx: &Context<'_>) -> async_graphql::Result<Party> {
        let party = store(ctx)?.finding_subject(&self.0).await.map_err(ApiError::from)?;
        Ok(Party(party))
    }
    /// The trade (trade_access).
    async fn trade(&self) -> Option<Trade> {
        self.0.trade.map(Into::into)
    }
    async fn level(&self) -> FindingLevel {
        self.0.level.into()
    }
    async fn status(&self) -> FindingStatus {
        self.0.status.into()
    }
    /// The rules that fired (`no_insurance`, `no_tax`, `in_cases`; `occupational_ban`, …).
    async fn rules(&self) -> Vec<String> {
        serde_json::from_str(&self.0.rules).unwrap_or_default()
    }
    /// The facts it rests on, as far as the viewer may see them (cases it cannot read and,
    /// for roles that do not read them, conviction rows are left out).
    async fn evidence(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Evidence>> {
        let items = store(ctx)?.finding_evidence(&self.0).await.map_err(ApiError::from)?;
        Ok(items.into_iter().map(Evidence).collect())
    }
    /// The `asOf` of the run that found it last.
    async fn as_of(&self) -> Date {
        Date(self.0.as_of)
    }
    /// The subject's region (a company's 所属区划; a practitioner's first workplace).
    async fn region_code(&self) -> Option<&str> {
        self.0.region_code.as_deref()
    }
    /// The receiving departments.
    async fn departments(&self) -> Vec<String> {
        split(&self.0.departments)
    }
    /// The disposal it was resolved with (已吊销, 已注销, 已责令整改, 核实正常经营, 条件消失, …).
    async fn disposal(&self) -> Option<&str> {
        self.0.disposal.as_deref()
    }
    async fn exempt_reason(&self) -> Option<&str> {
        self.0.exempt_reason.as_deref()
    }
    async fn raised_at(&self) -> DateTime {
        DateTime(self.0.raised_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    /// The first supervision task opened for it (`null` when none, or when your role does not
    /// read tasks).
    async fn task(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SupervisionTask>> {
        let tasks = store(ctx)?.finding_tasks(self.0.id).await.map_err(ApiError::from)?;
        Ok(tasks.into_iter().next().map(SupervisionTask))
    }
    /// Every task opened for it (trade_access: one per regulator concerned).
    async fn tasks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SupervisionTask>> {
        let tasks = store(ctx)?.finding_tasks(self.0.id).await.map_err(ApiError::from)?;
        Ok(tasks.into_iter().map(SupervisionTask).collect())
    }
    /// Its status history.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FindingEvent>> {
        let events = store(ctx)?.finding_history(self.0.id).await.map_err(ApiError::from)?;
        Ok(events.into_iter().map(Into::into).collect())
    }
}

fn split(delimited: &str) -> Vec<String> {
    delimited
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub type FindingConnection = Connection<Finding>;
pub type PractitionerCodeConnection = Connection<PractitionerCode>;

/// Which findings to list.
#[derive(InputObject, Default)]
pub struct FindingFilter {
    pub levels: Option<Vec<FindingLevel>>,
    pub statuses: Option<Vec<FindingStatus>>,
    /// Findings whose subject has a region starting with this prefix.
    pub region_prefix: Option<String>,
    pub trade: Option<Trade>,
}

impl From<FindingFilter> for FindingQuery {
    fn from(f: FindingFilter) -> Self {
        FindingQuery {
            levels: f.levels.map(|v| v.into_iter().map(Into::into).collect()),
            statuses: f.statuses.map(|v| v.into_iter().map(Into::into).collect()),
            region_prefix: f.region_prefix,
            trade: f.trade.map(Into::into),
        }
    }
}

/// An employer of a practitioner.
#[derive(SimpleObject)]
pub struct Employer {
    pub credit_code: String,
    pub name: Option<String>,
}

/// A practitioner's code in one trade, from a run of trade_access.
pub struct PractitionerCode(pub practitioner_code::Model);

#[Object]
impl PractitionerCode {
    async fn id_number(&self) -> &str {
        &self.0.id_number
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn trade(&self) -> Trade {
        self.0.trade.into()
    }
    async fn color(&self) -> CodeColor {
        self.0.color.into()
    }
    /// The rules that fired (none for BLUE).
    async fn rules(&self) -> Vec<String> {
        serde_json::from_str(&self.0.rules).unwrap_or_default()
    }
    /// The employers of the person's in-post rows in the trade.
    async fn employers(&self) -> Vec<Employer> {
        let items: Vec<serde_json::Value> = serde_json::from_str(&self.0.employers).unwrap_or_default();
        items
            .iter()
            .map(|e| Employer {
                credit_code: e["creditCode"].as_str().unwrap_or_default().to_string(),
                name: e["name"].as_str().map(str::to_string),
            })
            .collect()
    }
    /// The first workplace's region.
    async fn region_code(&self) -> Option<&str> {
        self.0.region_code.as_deref()
    }
    /// Every workplace's region.
    async fn regions(&self) -> Vec<String> {
        split(&self.0.regions)
    }
    /// The trade's regulators of those regions.
    async fn departments(&self) -> Vec<String> {
        split(&self.0.departments)
    }
    async fn computed_at(&self) -> DateTime {
        DateTime(self.0.computed_at)
    }
}

/// Which codes to list.
#[derive(InputObject, Default)]
pub struct PractitionerCodeFilter {
    pub trade: Option<Trade>,
    pub colors: Option<Vec<CodeColor>>,
    pub region_prefix: Option<String>,
    /// One person's codes (any spelling of the ID number).
    pub id_number: Option<String>,
}

/// A citizen's own code in a trade.
#[derive(SimpleObject)]
pub struct OwnCode {
    pub trade: Trade,
    pub color: CodeColor,
    pub computed_at: DateTime,
    /// The rule's name for RED and YELLOW (never the judgment); `null` for BLUE.
    pub rule: Option<String>,
    /// Every rule's name.
    pub rules: Vec<String>,
    /// Where to appeal: the trade's regulator of the workplace.
    pub appeal_to: Option<String>,
}

/// An employer's check of a candidate: the colour and when it was computed, nothing else.
#[derive(SimpleObject)]
pub struct CodeCheck {
    pub color: CodeColor,
    pub computed_at: DateTime,
}

/// A count of findings (for roles that see aggregates only; small cells suppressed).
#[derive(SimpleObject)]
pub struct FindingBucket {
    pub level: FindingLevel,
    pub region: Option<String>,
    /// The month of the run's `asOf`.
    pub month: String,
    pub count: Option<i64>,
    pub suppressed: bool,
}

/// A registry row: what 市场监管局 says of an enterprise.
pub struct Registration(pub registry_row::Model);

#[Object]
impl Registration {
    async fn credit_code(&self) -> &str {
        &self.0.credit_code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn enterprise_type(&self) -> Option<&str> {
        self.0.enterprise_type.as_deref()
    }
    /// 存续 / 在业 / 吊销 / 注销 / 迁出.
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn established_on(&self) -> Option<Date> {
        self.0.established_on.map(Date)
    }
    async fn region_code(&self) -> Option<&str> {
        self.0.region_code.as_deref()
    }
    async fn legal_representative(&self) -> Option<&str> {
        self.0.legal_rep.as_deref()
    }
    async fn updated_at(&self) -> &str {
        &self.0.version
    }
}

/// A practitioner row: a person working in a regulated trade.
#[derive(SimpleObject)]
pub struct Practice {
    pub trade: Trade,
    pub post: Option<String>,
    pub employer: Employer,
    pub in_post: bool,
    pub region_code: Option<String>,
    pub certificate: Option<String>,
}

/// An effective criminal judgment of a person.
#[derive(SimpleObject)]
pub struct Conviction {
    pub case_number: String,
    pub charges: Vec<String>,
    pub penalty: Option<String>,
    pub term_months: Option<i32>,
    pub effective_on: Date,
    pub released_on: Option<Date>,
    /// 从业禁止: the trade it covers (or 全部) and for how many years.
    pub ban_scope: Option<String>,
    pub ban_years: Option<i32>,
}

impl From<entities::conviction_row::Model> for Conviction {
    fn from(c: entities::conviction_row::Model) -> Self {
        Conviction {
            case_number: c.case_number,
            charges: serde_json::from_str(&c.charges).unwrap_or_default(),
            penalty: c.penalty_kind,
            term_months: c.term_months,
            effective_on: Date(c.effective_on),
            released_on: c.released_on.map(Date),
            ban_scope: c.ban_scope,
            ban_years: c.ban_years,
        }
    }
}

impl From<entities::practitioner_row::Model> for Practice {
    fn from(p: entities::practitioner_row::Model) -> Self {
        Practice {
            trade: p.trade.into(),
            post: p.post,
            employer: Employer {
                credit_code: p.employer_credit_code,
                name: p.employer_name,
            },
            in_post: p.in_post,
            region_code: p.region_code,
            certificate: p.certificate,
        }
    }
}

// Resolvers the query and mutation roots delegate to.

pub async fn supervision_models(ctx: &Context<'_>) -> async_graphql::Result<Vec<SupervisionModel>> {
    if !store(ctx)?.scope().reads_models() {
        return Err(ApiError::Forbidden.into());
    }
    Ok(models(ctx)?
        .declarations
        .iter()
        .cloned()
        .map(SupervisionModel)
        .collect())
}

pub async fn findings(
    ctx: &Context<'_>,
    model: ID,
    as_of: Option<Date>,
    filter: Option<FindingFilter>,
    first: i32,
    after: Option<String>,
) -> async_graphql::Result<FindingConnection> {
    let as_of = checked_as_of(as_of)?;
    let declaration = model_of(ctx, &model)?;
    let (first, after_id) = limits(ctx)?.page(first, after.as_deref())?;
    let store = store(ctx)?;
    if store.scope().counts_findings_only() {
        return Err(ApiError::Forbidden.into());
    }
    let page = store
        .findings(
            models(ctx)?,
            declaration,
            as_of,
            &filter.unwrap_or_default().into(),
            first,
            after_id,
        )
        .await
        .map_err(ApiError::from)?;
    Ok(FindingConnection::of_page(page, after_id.is_some(), |f| f.id, Finding))
}

pub async fn finding(ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Finding>> {
    let id = parse_id_of(NodeKind::Finding, &id)?;
    let found = store(ctx)?.finding(models(ctx)?, id).await.map_err(ApiError::from)?;
    Ok(found.map(Finding))
}

pub async fn finding_stats(
    ctx: &Context<'_>,
    model: ID,
    as_of: Option<Date>,
) -> async_graphql::Result<Vec<FindingBucket>> {
    let as_of = checked_as_of(as_of)?;
    let declaration = model_of(ctx, &model)?;
    let store = store(ctx)?;
    let counts = store.finding_counts(declaration, as_of).await.map_err(ApiError::from)?;
    let suppress = store.scope().suppresses_small_cells();
    let cells: Vec<(Vec<Option<String>>, u64)> = counts
        .iter()
        .map(|c| {
            (
                vec![
                    Some(c.level.as_str().to_string()),
                    c.region.clone(),
                    Some(c.month.clone()),
                ],
                c.count,
            )
        })
        .collect();
    let hidden = if suppress {
        hub::suppression::suppressed(&cells, hub::suppression::SMALL_CELL)
    } else {
        vec![false; cells.len()]
    };
    Ok(counts
        .into_iter()
        .zip(hidden)
        .map(|(c, hidden)| FindingBucket {
            level: c.level.into(),
            region: c.region,
            month: c.month,
            count: (!hidden).then_some(c.count as i64),
            suppressed: hidden,
        })
        .collect())
}

pub async fn practitioner_codes(
    ctx: &Context<'_>,
    as_of: Option<Date>,
    filter: Option<PractitionerCodeFilter>,
    first: i32,
    after: Option<String>,
) -> async_graphql::Result<PractitionerCodeConnection> {
    let as_of = checked_as_of(as_of)?;
    let Some(declaration) = models(ctx)?
        .declarations
        .iter()
        .find(|d| d.rule == hub::models::Rule::TradeAccess)
    else {
        return Err(ApiError::NotFound("trade_access model").into());
    };
    let (first, after_id) = limits(ctx)?.page(first, after.as_deref())?;
    let f = filter.unwrap_or_default();
    let q = CodeQuery {
        trade: f.trade.map(Into::into),
        colors: f.colors.map(|v| v.into_iter().map(Into::into).collect()),
        region_prefix: f.region_prefix,
        id_number: f.id_number,
    };
    let page = store(ctx)?
        .practitioner_codes(declaration, as_of, &q, first, after_id)
        .await
        .map_err(ApiError::from)?;
    Ok(PractitionerCodeConnection::of_page(
        page,
        after_id.is_some(),
        |c| c.id,
        PractitionerCode,
    ))
}

pub async fn my_practitioner_code(ctx: &Context<'_>) -> async_graphql::Result<Vec<OwnCode>> {
    let codes = store(ctx)?
        .my_codes(viewer(ctx)?, models(ctx)?)
        .await
        .map_err(ApiError::from)?;
    Ok(codes
        .into_iter()
        .map(|c| {
            let labels = hub::store::rule_labels(&c.rules);
            OwnCode {
                trade: c.trade.into(),
                color: c.color.into(),
                computed_at: DateTime(c.computed_at),
                rule: labels.first().map(|l| l.to_string()),
                rules: labels.iter().map(|l| l.to_string()).collect(),
                appeal_to: (c.color != entities::CodeColor::Blue && !c.appeal_to.is_empty())
                    .then(|| c.appeal_to.join("、")),
            }
        })
        .collect())
}

pub async fn verify_practitioner_code(
    ctx: &Context<'_>,
    id_number: String,
    trade: Trade,
) -> async_graphql::Result<CodeCheck> {
    let (color, at) = store(ctx)?
        .verify_code(viewer(ctx)?, models(ctx)?, &id_number, trade.into())
        .await
        .map_err(ApiError::from)?;
    Ok(CodeCheck {
        color: color.into(),
        computed_at: DateTime(at),
    })
}

pub async fn run_supervision_model(ctx: &Context<'_>, id: ID, as_of: Option<Date>) -> async_graphql::Result<ModelRun> {
    let as_of = checked_as_of(as_of)?;
    let store = store(ctx)?;
    if !store.scope().runs_models() {
        return Err(ApiError::Forbidden.into());
    }
    let declaration = model_of(ctx, &id)?.clone();
    let models = models(ctx)?.clone();
    let db = store.pool().clone();
    // The run goes on in its own task: a client that goes away does not stop it half-way.
    let ran = tokio::spawn(async move {
        hub::models::engine::run(&db, &declaration, as_of, models.today(), models.task_days).await
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("model run failed: {e}")))?
    .map_err(ApiError::from)?;
    if !ran.raised.is_empty() {
        if let Ok(bus) = ctx.data::<hub::events::EventBus>() {
            bus.publish(hub::events::Event::FindingsRaised {
                model: ran.run.model.clone(),
                finding_ids: ran.raised.clone(),
            })
            .await;
        }
    }
    Ok(ModelRun(ran.run))
}

pub async fn exempt_finding(ctx: &Context<'_>, id: ID, reason: String) -> async_graphql::Result<Finding> {
    let id = parse_id_of(NodeKind::Finding, &id)?;
    let store = store(ctx)?;
    let f = store
        .exempt_finding(viewer(ctx)?, models(ctx)?, id, &reason)
        .await
        .map_err(ApiError::from)?;
    Ok(Finding(f))
}

pub async fn open_finding_task(
    ctx: &Context<'_>,
    id: ID,
    department: Option<String>,
    deadline: Option<Date>,
) -> async_graphql::Result<Finding> {
    let id = parse_id_of(NodeKind::Finding, &id)?;
    let f = store(ctx)?
        .open_finding_task(viewer(ctx)?, models(ctx)?, id, department, deadline.map(|d| d.0))
        .await
        .map_err(ApiError::from)?;
    if let Ok(bus) = ctx.data::<hub::events::EventBus>() {
        for task in store(ctx)?.finding_tasks(f.id).await.map_err(ApiError::from)? {
            bus.publish(hub::events::Event::TaskChanged { task_id: task.id }).await;
        }
    }
    Ok(Finding(f))
}
