//! The subscription root: live updates over `/graphql/ws`.
//!
//! Every subscription follows the event bus (which says only *which* cases or tasks
//! changed) and reads what it delivers back through the subscriber's own `ScopedStore`,
//! so a subscriber is told exactly what the same query would show it, and nothing else.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;

use async_graphql::{Context, Object, Subscription, ID};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::{self, error::RecvError};

use super::chain::{chain_of, walk_params, ChainGrowth};
use super::filter::CaseFilter;
use super::governance::{compute, GovernanceLevel, GovernanceScore, Window};
use super::scalars::{parse_id_of, NodeKind};
use super::tasks::SupervisionTask;
use super::types::{Case, LoopStage};
use super::{readable_store_owned, store};
use crate::error::ApiError;
use hub::events::{Event, EventBus};
use hub::governance::Governance;
use hub::ingest::ChangeKind;
use hub::linkage::WalkParams;
use hub::store::{CaseQuery, ScopedStore};

/// One subscription's reaction to events: what it delivers for each batch of them.
/// `on` changes the watch's state only after its last read, so that a reading dropped at its
/// budget leaves the state as it was.
trait Watch: Send + 'static {
    type Item: Send + 'static;
    /// The store the watch reads through (the subscriber's).
    fn store(&self) -> &ScopedStore;
    fn on(&mut self, events: Vec<Arc<Event>>) -> impl Future<Output = async_graphql::Result<Vec<Self::Item>>> + Send;
}

/// Turns the bus into a stream of what `watch` delivers. Events that arrived together are
/// handled as one batch; a subscriber that falls behind skips ahead (and is told so in the log).
/// `rx` must have been taken before the watch computed its starting state, so that nothing
/// in between is missed.
///
/// Each batch is one reading with the request budget: past it the subscriber gets a
/// `LIMIT_EXCEEDED` error instead of that batch's deliveries (its statements stop too), and the
/// subscription goes on. Watches that compare with what they delivered before (chains,
/// rankings, warnings) catch up at the next change.
fn follow<W: Watch>(
    bus: &EventBus,
    rx: broadcast::Receiver<Arc<Event>>,
    watch: W,
) -> impl Stream<Item = async_graphql::Result<W::Item>> + Send {
    let state = (rx, watch, VecDeque::<async_graphql::Result<W::Item>>::new(), bus.live());
    stream::unfold(state, |(mut rx, mut watch, mut queue, live)| async move {
        loop {
            if let Some(item) = queue.pop_front() {
                return Some((item, (rx, watch, queue, live)));
            }
            // What was read for the last delivery (or the starting state) is over: the next
            // reading begins after the next change, and so sees it.
            watch.store().reader().end_reading();
            let mut batch = match rx.recv().await {
                Ok(event) => vec![event],
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a subscriber fell behind; some events were skipped");
                    continue;
                }
                Err(RecvError::Closed) => return None,
            };
            while let Ok(event) = rx.try_recv() {
                batch.push(event);
            }
            let store = watch.store().clone();
            match within_reading_budget(&store, watch.on(batch)).await {
                Ok(items) => queue.extend(items.into_iter().map(Ok)),
                Err(e) => queue.push_back(Err(e)),
            }
        }
    })
}

/// `read` (one reading of a subscription through `store`: its starting state, or what a change
/// delivers) cut off at the reading's budget with `LIMIT_EXCEEDED`.
async fn within_reading_budget<T>(
    store: &ScopedStore,
    read: impl Future<Output = async_graphql::Result<T>>,
) -> async_graphql::Result<T> {
    let Some(budget) = store.reader().reading_budget() else {
        return read.await;
    };
    tokio::time::timeout(budget, read).await.unwrap_or_else(|_| {
        Err(ApiError::LimitExceeded(format!(
            "a reading of this subscription (its starting state, or what a change delivers) exceeded the time budget of {} ms and was cancelled",
            budget.as_millis()
        ))
        .into())
    })
}

fn bus<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a EventBus> {
    ctx.data::<EventBus>()
}

fn changes(events: &[Arc<Event>]) -> impl Iterator<Item = &hub::ingest::CaseChange> {
    events.iter().flat_map(|e| match e.as_ref() {
        Event::CasesChanged { changes } => changes.as_slice(),
        Event::TaskChanged { .. } | Event::InspectionRecorded { .. } | Event::FindingsRaised { .. } => &[],
    })
}

/// A case whose supervision-loop stage, as its source reports it, changed.
pub struct StageChange {
    case: Case,
    from: Option<LoopStage>,
    to: Option<LoopStage>,
}

#[Object]
impl StageChange {
    async fn case(&self) -> &Case {
        &self.case
    }
    /// The stage before (`null` for a case new to the hub).
    async fn from(&self) -> Option<LoopStage> {
        self.from
    }
    async fn to(&self) -> Option<LoopStage> {
        self.to
    }
}

struct StageWatch {
    store: ScopedStore,
    query: CaseQuery,
}

impl Watch for StageWatch {
    type Item = StageChange;
    fn store(&self) -> &ScopedStore {
        &self.store
    }
    async fn on(&mut self, events: Vec<Arc<Event>>) -> async_graphql::Result<Vec<StageChange>> {
        let moved: HashMap<i64, (Option<LoopStage>, Option<LoopStage>)> = changes(&events)
            .filter(|c| c.kind != ChangeKind::Deleted && c.stage_before != c.stage_after)
            .map(|c| {
                (
                    c.case_id,
                    (c.stage_before.map(LoopStage::from), c.stage_after.map(LoopStage::from)),
                )
            })
            .collect();
        if moved.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = moved.keys().copied().collect();
        Ok(self
            .store
            .records()
            .map_err(crate::error::ApiError::from)?
            .matching_among(&self.query, &ids)
            .await
            .map_err(crate::error::ApiError::from)?
            .into_iter()
            .filter_map(|c| {
                let (from, to) = moved.get(&c.id).copied()?;
                Some(StageChange {
                    case: Case::from(c),
                    from,
                    to,
                })
            })
            .collect())
    }
}

struct TaskWatch {
    store: ScopedStore,
}

impl Watch for TaskWatch {
    type Item = SupervisionTask;
    fn store(&self) -> &ScopedStore {
        &self.store
    }
    async fn on(&mut self, events: Vec<Arc<Event>>) -> async_graphql::Result<Vec<SupervisionTask>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for event in &events {
            if let Event::TaskChanged { task_id } = event.as_ref() {
                if seen.insert(*task_id) {
                    if let Some(task) = self.store.task(*task_id).await.map_err(crate::error::ApiError::from)? {
                        out.push(SupervisionTask(task));
                    }
                }
            }
        }
        Ok(out)
    }
}

struct InspectionWatch {
    store: ScopedStore,
    region_prefix: Option<String>,
}

impl Watch for InspectionWatch {
    type Item = super::inspections::Inspection;
    fn store(&self) -> &ScopedStore {
        &self.store
    }
    async fn on(&mut self, events: Vec<Arc<Event>>) -> async_graphql::Result<Vec<Self::Item>> {
        let mut out = Vec::new();
        for event in &events {
            if let Event::InspectionRecorded { inspection_id } = event.as_ref() {
                let view = self
                    .store
                    .inspection(inspection_id)
                    .await
                    .map_err(crate::error::ApiError::from)?;
                if let Some(view) = view.filter(|v| {
                    self.region_prefix
                        .as_deref()
                        .is_none_or(|p| v.inspection.region_code.starts_with(p))
                }) {
                    out.push(super::inspections::Inspection(view));
                }
            }
        }
        Ok(out)
    }
}

struct FindingWatch {
    store: ScopedStore,
    models: Arc<hub::models::Models>,
    model: Option<String>,
    filter: hub::store::FindingQuery,
}

impl FindingWatch {
    fn wanted(&self, f: &entities::finding::Model) -> bool {
        let q = &self.filter;
        q.levels.as_ref().is_none_or(|l| l.contains(&f.level))
            && q.statuses.as_ref().is_none_or(|s| s.contains(&f.status))
            && q.trade.is_none_or(|t| f.trade == Some(t))
            && q.region_prefix
                .as_deref()
                .is_none_or(|p| f.regions.split(',').any(|r| !r.is_empty() && r.starts_with(p)))
    }
}

impl Watch for FindingWatch {
    type Item = super::models::Finding;
    fn store(&self) -> &ScopedStore {
        &self.store
    }
    async fn on(&mut self, events: Vec<Arc<Event>>) -> async_graphql::Result<Vec<Self::Item>> {
        let mut out = Vec::new();
        for event in &events {
            let Event::FindingsRaised { model, finding_ids } = event.as_ref() else {
                continue;
            };
            if self.model.as_deref().is_some_and(|m| m != model) {
                continue;
            }
            for id in finding_ids {
                let found = self.store.finding(&self.models, *id).await.map_err(ApiError::from)?;
                if let Some(f) = found.filter(|f| self.wanted(f)) {
                    out.push(super::models::Finding(f));
                }
            }
        }
        Ok(out)
    }
}

struct RankingWatch {
    store: ScopedStore,
    month: String,
    region_prefix: Option<String>,
    settings: hub::inspections::Settings,
    last: Vec<(String, String, Option<u32>, Option<f64>)>,
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl RankingWatch {
    async fn ranking(&self) -> async_graphql::Result<Vec<hub::inspections::index::TownMonth>> {
        Ok(self
            .store
            .inspection_index(
                &self.month,
                &self.month,
                self.region_prefix.as_deref(),
                hub::inspections::day_of(chrono::Utc::now()),
                self.settings.weights,
            )
            .await
            .map_err(crate::error::ApiError::from)?)
    }

    fn summary(rows: &[hub::inspections::index::TownMonth]) -> Vec<(String, String, Option<u32>, Option<f64>)> {
        rows.iter()
            .map(|r| {
                let f = r.figures.as_ref();
                (r.region.clone(), r.town.clone(), f.map(|f| f.rank), f.map(|f| f.index))
            })
            .collect()
    }
}

impl Watch for RankingWatch {
    type Item = Vec<super::inspections::InspectionScore>;
    fn store(&self) -> &ScopedStore {
        &self.store
    }
    async fn on(&mut self, events: Vec<Arc<Event>>) -> async_graphql::Result<Vec<Self::Item>> {
        let relevant = events
            .iter()
            .any(|e| matches!(e.as_ref(), Event::InspectionRecorded { .. } | Event::TaskChanged { .. }));
        if !relevant {
            return Ok(Vec::new());
        }
        let rows = self.ranking().await?;
        let now = Self::summary(&rows);
        if now == self.last {
            return Ok(Vec::new());
        }
        self.last = now;
        Ok(vec![rows.into_iter().map(Into::into).collect()])
    }
}

struct ChainWatch {
    store: ScopedStore,
    root: i64,
    params: WalkParams,
    known: HashSet<i64>,
}

impl Watch for ChainWatch {
    type Item = ChainGrowth;
    fn store(&self) -> &ScopedStore {
        &self.store
    }
    async fn on(&mut self, events: Vec<Arc<Event>>) -> async_graphql::Result<Vec<ChainGrowth>> {
        if changes(&events).next().is_none() {
            return Ok(Vec::new());
        }
        let chain = chain_of(&self.store, self.root, self.params).await?;
        let ids = chain.case_ids();
        let growth = chain.growth_beyond(&self.known, super::scalars::global_id(NodeKind::Case, self.root));
        // A case that left the view (deleted, or no longer tied) is announced again if it returns.
        self.known = ids;
        Ok(growth.into_iter().collect())
    }
}

/// What a place's warning is, for comparing two computations.
type Warnings = HashMap<(Option<String>, Option<String>, String), usize>;

fn warnings_of(scores: &[GovernanceScore]) -> Warnings {
    scores
        .iter()
        .filter_map(|s| {
            let rank = s.warning? as usize + 1;
            Some(((s.region.clone(), s.town.clone(), s.month.clone()), rank))
        })
        .collect()
}

/// Subscriptions' states computed once per change and shared by every subscriber with the
/// same scope and arguments: twenty `governanceWarnings` over one town cost one computation
/// of the index per ingest, not twenty.
#[derive(Clone, Default)]
pub struct SharedStates {
    states: Arc<std::sync::Mutex<HashMap<String, SharedState>>>,
    computed: Arc<std::sync::atomic::AtomicU64>,
}

type SharedState = (u64, Arc<tokio::sync::OnceCell<Arc<Vec<GovernanceScore>>>>);

impl SharedStates {
    /// The scores for `key` as of event `generation`: computed by the first subscriber that
    /// asks, awaited by the others (an error is not kept: the next asks again).
    async fn scores<F, Fut>(
        &self,
        key: String,
        generation: u64,
        compute: F,
    ) -> async_graphql::Result<Arc<Vec<GovernanceScore>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<GovernanceScore>, ApiError>>,
    {
        let cell = {
            let mut map = self
                .states
                .lock()
                .map_err(|_| ApiError::Internal(anyhow::anyhow!("shared states poisoned")))?;
            map.retain(|_, (g, _)| *g >= generation);
            map.entry(key)
                .and_modify(|(g, cell)| {
                    if *g < generation {
                        *g = generation;
                        *cell = Arc::default();
                    }
                })
                .or_insert_with(|| (generation, Arc::default()))
                .1
                .clone()
        };
        Ok(cell
            .get_or_try_init(|| async {
                self.computed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                compute().await.map(Arc::new)
            })
            .await
            .cloned()?)
    }

    /// How many states have been computed (for `/metrics`).
    pub fn computed(&self) -> u64 {
        self.computed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Expensive subscriptions (`governanceWarnings`) one WebSocket connection may hold at once.
pub const MAX_EXPENSIVE_PER_CONNECTION: usize = 4;

/// The turns of one connection for expensive subscriptions (set by the WebSocket handler).
#[derive(Clone)]
pub struct ExpensiveTurns(pub Arc<tokio::sync::Semaphore>);

impl ExpensiveTurns {
    pub fn new() -> Self {
        ExpensiveTurns(Arc::new(tokio::sync::Semaphore::new(MAX_EXPENSIVE_PER_CONNECTION)))
    }
}

impl Default for ExpensiveTurns {
    fn default() -> Self {
        Self::new()
    }
}

struct WarningWatch {
    store: ScopedStore,
    governance: Governance,
    query: CaseQuery,
    window: Window,
    level: GovernanceLevel,
    raised: Warnings,
    shared: SharedStates,
    bus: EventBus,
    key: String,
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl WarningWatch {
    async fn scores(&self) -> async_graphql::Result<Arc<Vec<GovernanceScore>>> {
        self.shared
            .scores(self.key.clone(), self.bus.generation(), || {
                compute(
                    &self.store,
                    &self.governance,
                    self.query.clone(),
                    self.window,
                    self.level,
                )
            })
            .await
    }
}

impl Watch for WarningWatch {
    type Item = GovernanceScore;
    fn store(&self) -> &ScopedStore {
        &self.store
    }
    async fn on(&mut self, _events: Vec<Arc<Event>>) -> async_graphql::Result<Vec<GovernanceScore>> {
        let scores = self.scores().await?;
        let now = warnings_of(&scores);
        let fresh: Vec<GovernanceScore> = scores
            .iter()
            .filter(|s| {
                let key = (s.region.clone(), s.town.clone(), s.month.clone());
                match (now.get(&key), self.raised.get(&key)) {
                    (Some(rank), Some(before)) => rank > before,
                    (Some(_), None) => true,
                    _ => false,
                }
            })
            .cloned()
            .collect();
        self.raised = now;
        Ok(fresh)
    }
}

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Cases you may see whose supervision-loop stage changes as their source reports it
    /// (new cases included, `from: null`), matching `filter`. Deleted cases are not announced.
    async fn stage_changed(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<StageChange>>> {
        let store = readable_store_owned(ctx)?;
        let query = filter.unwrap_or_default().to_query(store.scope())?;
        query.condition().map_err(crate::error::ApiError::from)?;
        let bus = bus(ctx)?;
        Ok(follow(bus, bus.subscribe(), StageWatch { store, query }))
    }

    /// Supervision tasks you may see, each time one is opened or takes a step.
    async fn task_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<SupervisionTask>>> {
        let store = store(ctx)?.clone();
        store.may_read_tasks().map_err(crate::error::ApiError::from)?;
        let bus = bus(ctx)?;
        Ok(follow(bus, bus.subscribe(), TaskWatch { store }))
    }

    /// 平安督 inspections as they are recorded (`inspector` in its regions, or admin),
    /// optionally only those in `regionPrefix`.
    async fn inspection_recorded(
        &self,
        ctx: &Context<'_>,
        region_prefix: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<super::inspections::Inspection>>> {
        let store = store(ctx)?.clone();
        if !store.scope().reads_inspections() {
            return Err(crate::error::ApiError::Forbidden.into());
        }
        let bus = bus(ctx)?;
        Ok(follow(bus, bus.subscribe(), InspectionWatch { store, region_prefix }))
    }

    /// Each finding a model's automatic run raises (new, or raised again), in your scope —
    /// as `findings` would list it to you: the subject's regions, `congress` shell_company
    /// only, `agency` its department's. Optionally one model's, and filtered.
    async fn finding_raised(
        &self,
        ctx: &Context<'_>,
        model: Option<ID>,
        filter: Option<super::models::FindingFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<super::models::Finding>>> {
        let store = store(ctx)?.clone();
        if store.scope().counts_findings_only() || !store.scope().reads_models() {
            return Err(ApiError::Forbidden.into());
        }
        let models = super::models::models(ctx)?.clone();
        if let Some(m) = &model {
            if models.get(m).is_none() {
                return Err(ApiError::NotFound("supervision model").into());
            }
        }
        let bus = bus(ctx)?;
        Ok(follow(
            bus,
            bus.subscribe(),
            FindingWatch {
                store,
                models,
                model: model.map(|m| m.0),
                filter: filter.unwrap_or_default().into(),
            },
        ))
    }

    /// The 平安督 ranking of `month` (`YYYY-MM`) in `regionPrefix`, each time it changes
    /// (月度晾晒 live): after an inspection is recorded or one of their tasks takes a step, the
    /// month's rows as `inspectionIndex` gives them, when a town's rank or index moved.
    async fn inspection_ranking(
        &self,
        ctx: &Context<'_>,
        month: String,
        region_prefix: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Vec<super::inspections::InspectionScore>>>>
    {
        let store = store(ctx)?.clone();
        if !store.scope().reads_inspection_index() {
            return Err(ApiError::Forbidden.into());
        }
        let turn = match ctx.data_opt::<ExpensiveTurns>() {
            Some(turns) => Some(turns.0.clone().try_acquire_owned().map_err(|_| {
                ApiError::LimitExceeded(format!(
                    "at most {MAX_EXPENSIVE_PER_CONNECTION} aggregate subscriptions per connection"
                ))
            })?),
            None => None,
        };
        let bus = bus(ctx)?;
        let rx = bus.subscribe();
        let mut watch = RankingWatch {
            store,
            month,
            region_prefix,
            settings: ctx
                .data_opt::<hub::inspections::Settings>()
                .copied()
                .unwrap_or_default(),
            last: Vec::new(),
            _turn: turn,
        };
        let store = watch.store.clone();
        watch.last = RankingWatch::summary(&within_reading_budget(&store, watch.ranking()).await?);
        Ok(follow(bus, rx, watch))
    }

    /// Watches the chain of a case: each time cases you may see join it (a case ingested
    /// later that shares a key with the chain, on whichever gateway it was ingested), the
    /// new cases and the links that tie them in. Same parameters as `caseChain`.
    #[graphql(complexity = "max_nodes.unwrap_or(200).max(1) as usize * child_complexity / 4 + 1")]
    async fn chain_grew(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default = 3)] max_depth: Option<i32>,
        #[graphql(default = 0.5)] min_score: Option<f64>,
        #[graphql(default = 200)] max_nodes: Option<i32>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<ChainGrowth>>> {
        let store = readable_store_owned(ctx)?;
        let root = parse_id_of(NodeKind::Case, &case_id)?;
        let params = walk_params(ctx, max_depth, min_score, max_nodes)?;
        // Listen before the first walk, so nothing ingested in between is missed.
        let bus = bus(ctx)?;
        let rx = bus.subscribe();
        let known = within_reading_budget(&store, async { Ok(chain_of(&store, root, params).await?) })
            .await?
            .case_ids();
        Ok(follow(
            bus,
            rx,
            ChainWatch {
                store,
                root,
                params,
                known,
            },
        ))
    }

    /// Governance warnings as they are raised: a place and month whose index reaches a
    /// warning (or a higher step of one) after new data or a task's step. Same arguments
    /// as `governanceIndex`; computed within your scope.
    async fn governance_warnings(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
        from: String,
        to: String,
        #[graphql(default_with = "Some(GovernanceLevel::Town)")] level: Option<GovernanceLevel>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<GovernanceScore>>> {
        let level = level.unwrap_or(GovernanceLevel::Town);
        let store = store(ctx)?.clone();
        let governance = ctx.data::<Governance>()?.clone();
        let window = Window::parse(&from, &to).map_err(crate::error::ApiError::from)?;
        let query = filter.unwrap_or_default().to_query(store.scope())?;
        let turn = match ctx.data_opt::<ExpensiveTurns>() {
            Some(turns) => Some(turns.0.clone().try_acquire_owned().map_err(|_| {
                ApiError::LimitExceeded(format!(
                    "at most {MAX_EXPENSIVE_PER_CONNECTION} governanceWarnings subscriptions per connection"
                ))
            })?),
            None => None,
        };
        let bus = bus(ctx)?;
        let rx = bus.subscribe();
        let key = format!("{:?}|{query:?}|{window:?}|{level:?}", store.scope());
        let mut watch = WarningWatch {
            store,
            governance,
            query,
            window,
            level,
            raised: Warnings::default(),
            shared: ctx.data::<SharedStates>()?.clone(),
            bus: bus.clone(),
            key,
            _turn: turn,
        };
        let store = watch.store.clone();
        watch.raised = warnings_of(&within_reading_budget(&store, watch.scores()).await?);
        Ok(follow(bus, rx, watch))
    }
}
