//! The linkage index: each gateway's in-memory copy of the graph case ↔ shared key, so that a
//! chain is walked without a database round trip per step.
//!
//! It holds only keys carried by at least two cases (a key of one case ties nothing), the
//! cases carrying them, and what decides whether a viewer may see those cases (source,
//! transfer, deletion, region). It is built in the background when the gateway starts and
//! kept current from `linkage_journal`, which every writer appends to in commit order: before
//! a walk the index applies the rows after the last one it applied, so a chain reflects every
//! change committed before the request — by this gateway, another one, or `qianchuan ingest`.
//! Until it is built, and while it is far behind, chains are walked in SQL instead.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use entities::{case, case_key, linkage_journal, LinkKind, Source};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::error::ApiResult;
use crate::linkage::LinkGraph;
use crate::policy::{CaseVisibility, Scope};
use crate::store::{ids_in, keys_condition, Key, Neighbours};

/// Rows read per query while building.
const PAGE: u64 = 50_000;
/// Journal rows applied per step while catching up.
const JOURNAL_PAGE: u64 = 20_000;
/// Ids or keys bound per query while catching up.
const CHUNK: usize = 5_000;
/// Behind by more journal rows than this, a request does not wait: it is answered in SQL
/// while the index catches up in the background.
const WAIT_AT_MOST: i64 = 20_000;

struct CaseEntry {
    source: Source,
    transferred: bool,
    deleted: bool,
    region: Option<Arc<str>>,
    /// Shared keys the case carries.
    keys: Vec<u32>,
}

impl CaseEntry {
    fn visibility(&self) -> CaseVisibility<'_> {
        CaseVisibility {
            source: self.source,
            transferred: self.transferred,
            deleted: self.deleted,
            region_code: self.region.as_deref(),
        }
    }
}

struct KeyEntry {
    kind: LinkKind,
    value: Arc<str>,
    cases: Vec<i64>,
}

/// What decides a case's visibility, as read from `cases`.
struct CaseRow {
    source: Source,
    transferred: bool,
    deleted: bool,
    region: Option<String>,
}

type CaseTuple = (i64, String, bool, bool, Option<String>);

fn case_row((id, source, transferred, deleted, region): CaseTuple) -> Option<(i64, CaseRow)> {
    Source::parse(&source).map(|source| {
        (
            id,
            CaseRow {
                source,
                transferred,
                deleted,
                region,
            },
        )
    })
}

#[derive(Default)]
struct Graph {
    cases: HashMap<i64, CaseEntry>,
    keys: Vec<KeyEntry>,
    by_value: HashMap<LinkKind, HashMap<Arc<str>, u32>>,
    regions: HashSet<Arc<str>>,
}

impl Graph {
    fn key_id(&self, kind: LinkKind, value: &str) -> Option<u32> {
        self.by_value.get(&kind).and_then(|m| m.get(value)).copied()
    }

    fn add_key(&mut self, kind: LinkKind, value: &str) -> u32 {
        if let Some(id) = self.key_id(kind, value) {
            return id;
        }
        let id = self.keys.len() as u32;
        let value: Arc<str> = Arc::from(value);
        self.keys.push(KeyEntry {
            kind,
            value: value.clone(),
            cases: Vec::new(),
        });
        self.by_value.entry(kind).or_default().insert(value, id);
        id
    }

    fn region(&mut self, region: Option<&str>) -> Option<Arc<str>> {
        let region = region?;
        if let Some(r) = self.regions.get(region) {
            return Some(r.clone());
        }
        let r: Arc<str> = Arc::from(region);
        self.regions.insert(r.clone());
        Some(r)
    }

    fn entry(&mut self, id: i64, row: &CaseRow) -> &mut CaseEntry {
        let region = self.region(row.region.as_deref());
        let e = self.cases.entry(id).or_insert_with(|| CaseEntry {
            source: row.source,
            transferred: row.transferred,
            deleted: row.deleted,
            region: None,
            keys: Vec::new(),
        });
        e.source = row.source;
        e.transferred = row.transferred;
        e.deleted = row.deleted;
        e.region = region;
        e
    }

    /// Ties `case` to key `key` (both ways, once).
    fn attach(&mut self, case: i64, key: u32) {
        if let Some(e) = self.cases.get_mut(&case) {
            if !e.keys.contains(&key) {
                e.keys.push(key);
            }
        }
        if let Some(k) = self.keys.get_mut(key as usize) {
            if !k.cases.contains(&case) {
                k.cases.push(case);
            }
        }
    }

    /// Forgets a case and its ties.
    fn detach(&mut self, case: i64) {
        if let Some(e) = self.cases.remove(&case) {
            for k in e.keys {
                if let Some(k) = self.keys.get_mut(k as usize) {
                    k.cases.retain(|c| *c != case);
                }
            }
        }
    }

    fn apply(&mut self, delta: Delta) {
        for id in &delta.changed {
            self.detach(*id);
        }
        let changed: HashSet<i64> = delta.changed.iter().copied().collect();
        for ((kind, value), carriers) in &delta.new_shared {
            let key = self.add_key(*kind, value);
            for c in carriers {
                if changed.contains(c) {
                    continue; // attached below, with all its keys
                }
                if !self.cases.contains_key(c) {
                    let Some(row) = delta.rows.get(c) else { continue };
                    self.entry(*c, row);
                }
                self.attach(*c, key);
            }
        }
        for id in &delta.changed {
            let Some(row) = delta.rows.get(id) else { continue }; // no longer stored
            let keys: Vec<u32> = delta
                .keys_of
                .get(id)
                .into_iter()
                .flatten()
                .filter_map(|(kind, value)| self.key_id(*kind, value))
                .collect();
            if keys.is_empty() {
                continue;
            }
            self.entry(*id, row);
            for key in keys {
                self.attach(*id, key);
            }
        }
    }
}

/// What a page of the journal changed, read from the database before the index is locked.
#[derive(Default)]
struct Delta {
    changed: Vec<i64>,
    /// The current keys of the changed cases.
    keys_of: HashMap<i64, Vec<Key>>,
    /// Keys the index did not hold that two or more cases now carry, with those cases.
    new_shared: BTreeMap<Key, BTreeSet<i64>>,
    /// Visibility of the changed cases and of new carriers not yet indexed.
    rows: HashMap<i64, CaseRow>,
}

/// Whether the index can answer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexState {
    Building,
    Ready,
}

/// Figures for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct IndexFigures {
    pub state: IndexState,
    pub cases: usize,
    pub keys: usize,
    pub applied: i64,
}

pub struct LinkIndex {
    db: DatabaseConnection,
    graph: RwLock<Graph>,
    /// The last journal row applied.
    applied: AtomicI64,
    ready: AtomicBool,
    /// One catch-up at a time.
    catching_up: Arc<tokio::sync::Mutex<()>>,
}

impl LinkIndex {
    /// An empty index that builds itself in the background (retrying while the database
    /// cannot be read); chains are walked in SQL until it is ready.
    pub fn start(db: DatabaseConnection) -> Arc<LinkIndex> {
        let index = Arc::new(LinkIndex::empty(db));
        let building = index.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            while let Err(e) = building.build().await {
                tracing::warn!(error = %e, "building the linkage index; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        });
        index
    }

    /// Builds an index now (for tools and tests).
    pub async fn built(db: DatabaseConnection) -> Result<Arc<LinkIndex>, DbErr> {
        let index = Arc::new(LinkIndex::empty(db));
        index.build().await?;
        Ok(index)
    }

    fn empty(db: DatabaseConnection) -> LinkIndex {
        LinkIndex {
            db,
            graph: RwLock::new(Graph::default()),
            applied: AtomicI64::new(0),
            ready: AtomicBool::new(false),
            catching_up: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Graph> {
        self.graph.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Graph> {
        self.graph.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn figures(&self) -> IndexFigures {
        let g = self.read();
        IndexFigures {
            state: if self.ready.load(Ordering::Acquire) {
                IndexState::Ready
            } else {
                IndexState::Building
            },
            cases: g.cases.len(),
            keys: g.keys.len(),
            applied: self.applied.load(Ordering::Acquire),
        }
    }

    /// Reads every shared key and the cases carrying them, then catches up with the journal
    /// rows written meanwhile.
    async fn build(&self) -> Result<(), DbErr> {
        let _one = self.catching_up.lock().await;
        // Rows after this one may or may not be in what is read below: applied again later.
        let start = linkage_journal::last_seq(&self.db).await?;
        let mut graph = Graph::default();
        self.read_shared_keys(&mut graph).await?;
        self.read_visibility(&mut graph).await?;
        *self.write() = graph;
        self.applied.store(start, Ordering::Release);
        while self.apply_journal_page().await? {}
        self.ready.store(true, Ordering::Release);
        let f = self.figures();
        tracing::info!(cases = f.cases, keys = f.keys, "linkage index ready");
        Ok(())
    }

    /// `case_keys` in `(value, kind, case_id)` order (its index), a page at a time; keys with
    /// two or more cases are kept.
    async fn read_shared_keys(&self, graph: &mut Graph) -> Result<(), DbErr> {
        let backend = self.db.get_database_backend();
        let first = "SELECT value, kind, case_id FROM case_keys ORDER BY value, kind, case_id LIMIT ";
        let next = match backend {
            DbBackend::Postgres => {
                "SELECT value, kind, case_id FROM case_keys WHERE (value, kind, case_id) > ($1, $2, $3) \
                 ORDER BY value, kind, case_id LIMIT "
            }
            _ => {
                "SELECT value, kind, case_id FROM case_keys WHERE (value, kind, case_id) > (?, ?, ?) \
                 ORDER BY value, kind, case_id LIMIT "
            }
        };
        let mut after: Option<(String, String, i64)> = None;
        let mut group: Option<(String, String, Vec<i64>)> = None;
        loop {
            let statement = match &after {
                None => Statement::from_string(backend, format!("{first}{PAGE}")),
                Some((v, k, c)) => Statement::from_sql_and_values(
                    backend,
                    format!("{next}{PAGE}"),
                    [v.clone().into(), k.clone().into(), (*c).into()],
                ),
            };
            let rows = self.db.query_all_raw(statement).await?;
            let count = rows.len();
            for row in rows {
                let value: String = row.try_get_by_index(0)?;
                let kind: String = row.try_get_by_index(1)?;
                let case_id: i64 = row.try_get_by_index(2)?;
                match &mut group {
                    Some((v, k, cases)) if *v == value && *k == kind => cases.push(case_id),
                    _ => {
                        keep_if_shared(graph, group.take());
                        group = Some((value.clone(), kind.clone(), vec![case_id]));
                    }
                }
                after = Some((value, kind, case_id));
            }
            if (count as u64) < PAGE {
                break;
            }
        }
        keep_if_shared(graph, group);
        Ok(())
    }

    /// Source, transfer, deletion and region of the indexed cases, a page of `cases` at a time.
    async fn read_visibility(&self, graph: &mut Graph) -> Result<(), DbErr> {
        let mut after = i64::MIN;
        loop {
            let rows: Vec<CaseTuple> = visibility_query()
                .filter(case::Column::Id.gt(after))
                .order_by_asc(case::Column::Id)
                .limit(PAGE)
                .into_tuple()
                .all(&self.db)
                .await?;
            let count = rows.len();
            if let Some(last) = rows.last() {
                after = last.0;
            }
            for (id, row) in rows.into_iter().filter_map(case_row) {
                if graph.cases.contains_key(&id) {
                    graph.entry(id, &row);
                }
            }
            if (count as u64) < PAGE {
                break;
            }
        }
        Ok(())
    }

    /// Brings the index up to the journal's last row. `Ok(false)`: the index cannot answer
    /// now (still building, or far behind and catching up in the background).
    pub async fn current(self: &Arc<Self>) -> Result<bool, DbErr> {
        if !self.ready.load(Ordering::Acquire) {
            return Ok(false);
        }
        let last = linkage_journal::last_seq(&self.db).await?;
        let applied = self.applied.load(Ordering::Acquire);
        if last <= applied {
            return Ok(true);
        }
        if last - applied > WAIT_AT_MOST {
            if let Ok(guard) = self.catching_up.clone().try_lock_owned() {
                let index = self.clone();
                tokio::spawn(async move {
                    let _one = guard;
                    loop {
                        match index.apply_journal_page().await {
                            Ok(true) => continue,
                            Ok(false) => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "catching the linkage index up");
                                break;
                            }
                        }
                    }
                });
            }
            return Ok(false);
        }
        let _one = self.catching_up.lock().await;
        while self.applied.load(Ordering::Acquire) < last {
            if !self.apply_journal_page().await? {
                break;
            }
        }
        Ok(true)
    }

    /// Applies the next page of the journal; `false` when there was none.
    async fn apply_journal_page(&self) -> Result<bool, DbErr> {
        let applied = self.applied.load(Ordering::Acquire);
        let rows: Vec<(i64, i64)> = linkage_journal::Entity::find()
            .select_only()
            .column(linkage_journal::Column::Seq)
            .column(linkage_journal::Column::CaseId)
            .filter(linkage_journal::Column::Seq.gt(applied))
            .order_by_asc(linkage_journal::Column::Seq)
            .limit(JOURNAL_PAGE)
            .into_tuple()
            .all(&self.db)
            .await?;
        let Some(last) = rows.last().map(|r| r.0) else {
            return Ok(false);
        };
        let changed: Vec<i64> = rows.iter().map(|r| r.1).collect::<BTreeSet<_>>().into_iter().collect();
        let delta = self.read_delta(changed).await?;
        self.write().apply(delta);
        self.applied.store(last, Ordering::Release);
        Ok(true)
    }

    async fn read_delta(&self, changed: Vec<i64>) -> Result<Delta, DbErr> {
        let backend = self.db.get_database_backend();
        let mut delta = Delta::default();
        for chunk in changed.chunks(CHUNK) {
            let rows: Vec<(i64, String, String)> = case_key::Entity::find()
                .select_only()
                .column(case_key::Column::CaseId)
                .column(case_key::Column::Kind)
                .column(case_key::Column::Value)
                .filter(ids_in(backend, r#""case_keys"."case_id""#, chunk))
                .into_tuple()
                .all(&self.db)
                .await?;
            for (id, kind, value) in rows {
                if let Some(kind) = LinkKind::parse(&kind) {
                    delta.keys_of.entry(id).or_default().push((kind, value));
                }
            }
        }
        let unknown: Vec<Key> = {
            let g = self.read();
            delta
                .keys_of
                .values()
                .flatten()
                .filter(|(kind, value)| g.key_id(*kind, value).is_none())
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        for chunk in unknown.chunks(CHUNK) {
            let rows: Vec<(i64, String, String)> = case_key::Entity::find()
                .select_only()
                .column(case_key::Column::CaseId)
                .column(case_key::Column::Kind)
                .column(case_key::Column::Value)
                .filter(keys_condition(backend, chunk))
                .into_tuple()
                .all(&self.db)
                .await?;
            let mut carriers: BTreeMap<Key, BTreeSet<i64>> = BTreeMap::new();
            for (id, kind, value) in rows {
                if let Some(kind) = LinkKind::parse(&kind) {
                    carriers.entry((kind, value)).or_default().insert(id);
                }
            }
            delta
                .new_shared
                .extend(carriers.into_iter().filter(|(_, cases)| cases.len() >= 2));
        }
        let need: Vec<i64> = {
            let g = self.read();
            let mut need: BTreeSet<i64> = changed.iter().copied().collect();
            need.extend(
                delta
                    .new_shared
                    .values()
                    .flatten()
                    .filter(|c| !g.cases.contains_key(*c)),
            );
            need.into_iter().collect()
        };
        for chunk in need.chunks(CHUNK) {
            let rows: Vec<CaseTuple> = visibility_query()
                .filter(ids_in(backend, r#""cases"."id""#, chunk))
                .into_tuple()
                .all(&self.db)
                .await?;
            delta.rows.extend(rows.into_iter().filter_map(case_row));
        }
        delta.changed = changed;
        Ok(delta)
    }

    /// The index as one viewer may see it.
    pub fn view<'a>(&'a self, scope: &'a Scope) -> IndexView<'a> {
        IndexView { index: self, scope }
    }
}

/// Adds a key read while building, with its cases, if two or more cases carry it.
fn keep_if_shared(graph: &mut Graph, group: Option<(String, String, Vec<i64>)>) {
    let Some((value, kind, mut cases)) = group else { return };
    cases.dedup();
    let Some(kind) = LinkKind::parse(&kind) else { return };
    if cases.len() < 2 {
        return;
    }
    let key = graph.add_key(kind, &value);
    for c in cases {
        graph.cases.entry(c).or_insert_with(|| CaseEntry {
            source: Source::Enforcement,
            transferred: false,
            deleted: true, // invisible until its row is read
            region: None,
            keys: Vec::new(),
        });
        graph.attach(c, key);
    }
}

fn visibility_query() -> sea_orm::Select<case::Entity> {
    case::Entity::find()
        .select_only()
        .column(case::Column::Id)
        .column(case::Column::Source)
        .column(case::Column::Transferred)
        .column(case::Column::Deleted)
        .column(case::Column::RegionCode)
}

/// The linkage index seen through one viewer's scope: a case it may not see is neither
/// returned nor walked through, and hubs count only visible cases — as in SQL.
pub struct IndexView<'a> {
    index: &'a LinkIndex,
    scope: &'a Scope,
}

impl LinkGraph for IndexView<'_> {
    async fn keys_of_cases(&self, case_ids: &[i64]) -> ApiResult<Vec<(i64, Key)>> {
        let g = self.index.read();
        let mut out = Vec::new();
        for id in case_ids {
            let Some(e) = g.cases.get(id) else { continue };
            if !self.scope.admits(e.visibility()) {
                continue;
            }
            for k in &e.keys {
                if let Some(k) = g.keys.get(*k as usize) {
                    out.push((*id, (k.kind, k.value.to_string())));
                }
            }
        }
        Ok(out)
    }

    async fn neighbours(&self, keys: &[Key], hub_threshold: u64) -> ApiResult<Neighbours> {
        let g = self.index.read();
        let mut out = Neighbours::default();
        for key in keys {
            let Some(k) = g.key_id(key.0, &key.1).and_then(|id| g.keys.get(id as usize)) else {
                continue;
            };
            let visible: Vec<i64> = k
                .cases
                .iter()
                .copied()
                .filter(|c| g.cases.get(c).is_some_and(|e| self.scope.admits(e.visibility())))
                .collect();
            if visible.len() as u64 > hub_threshold {
                out.hubs.insert(key.clone(), visible.len() as u64);
            } else {
                out.cases.extend(visible.into_iter().map(|c| (c, key.clone())));
            }
        }
        Ok(out)
    }
}
