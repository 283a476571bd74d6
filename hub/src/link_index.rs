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

use entities::{case, case_key, case_party, linkage_journal, LinkKind, Source};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::case_cache::CaseCache;
use crate::error::Result;
use crate::linkage::LinkGraph;
use crate::linkage::{Key, Neighbours};
use crate::policy::{CaseVisibility, Scope};
use crate::read_after::ReadAfter;
use crate::sql::{ids_in, keys_condition};

/// How often an idle gateway applies the journal.
const FOLLOW_EVERY: Duration = Duration::from_secs(5);

/// Rows read per query while building (small pages keep the transient memory small).
const PAGE: u64 = 10_000;
/// Journal rows applied per step while catching up.
const JOURNAL_PAGE: u64 = 20_000;
/// Ids or keys bound per query while catching up.
const CHUNK: usize = 5_000;
/// Behind by more journal rows than this, a request does not wait: it is answered in SQL
/// while the index catches up in the background.
const WAIT_AT_MOST: i64 = 20_000;

/// Up to five ids in place, more on the heap: most keys tie two or three cases and most
/// cases carry a few shared keys, so a million-case index holds few small allocations.
#[derive(Clone, Debug)]
enum Ids {
    Inline(u8, [u32; 5]),
    Heap(Box<[u32]>),
}

impl Ids {
    const EMPTY: Ids = Ids::Inline(0, [0; 5]);

    fn from_vec(v: Vec<u32>) -> Ids {
        if v.len() <= 5 {
            let mut a = [0; 5];
            a[..v.len()].copy_from_slice(&v);
            Ids::Inline(v.len() as u8, a)
        } else {
            Ids::Heap(v.into_boxed_slice())
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            Ids::Inline(n, a) => &a[..*n as usize],
            Ids::Heap(b) => b,
        }
    }

    fn contains(&self, id: u32) -> bool {
        self.as_slice().contains(&id)
    }

    fn push(&mut self, id: u32) {
        match self {
            Ids::Inline(n, a) if (*n as usize) < a.len() => {
                a[*n as usize] = id;
                *n += 1;
            }
            _ => {
                let mut v = self.as_slice().to_vec();
                v.push(id);
                *self = Ids::Heap(v.into_boxed_slice());
            }
        }
    }

    fn remove(&mut self, id: u32) {
        if self.contains(id) {
            *self = Ids::from_vec(self.as_slice().iter().copied().filter(|x| *x != id).collect());
        }
    }
}

const TRANSFERRED: u8 = 1;
const DELETED: u8 = 2;

/// A case of the index: what decides its visibility, and its shared keys.
#[derive(Clone, Debug)]
struct CaseSlot {
    /// 0: no region; otherwise 1 + its index in `Graph::regions`.
    region: u32,
    /// 0: no case here; otherwise 1 + its index in `Source::ALL`.
    source: u8,
    flags: u8,
    keys: Ids,
}

impl CaseSlot {
    const EMPTY: CaseSlot = CaseSlot {
        region: 0,
        source: 0,
        flags: 0,
        keys: Ids::EMPTY,
    };
}

const PAGE_BITS: u32 = 10;

/// Cases by id, in pages of 1,024 ids (case ids are dense: no hashing, no per-case allocation).
#[derive(Default)]
struct CaseTable {
    pages: Vec<Option<Box<[CaseSlot]>>>,
    len: usize,
}

impl CaseTable {
    fn get(&self, id: u32) -> Option<&CaseSlot> {
        let page = self.pages.get((id >> PAGE_BITS) as usize)?.as_ref()?;
        page.get((id & ((1 << PAGE_BITS) - 1)) as usize)
            .filter(|s| s.source != 0)
    }

    fn get_mut(&mut self, id: u32) -> Option<&mut CaseSlot> {
        let page = self.pages.get_mut((id >> PAGE_BITS) as usize)?.as_mut()?;
        page.get_mut((id & ((1 << PAGE_BITS) - 1)) as usize)
            .filter(|s| s.source != 0)
    }

    /// The slot of `id`, created empty (source 0) if needed.
    fn slot(&mut self, id: u32) -> &mut CaseSlot {
        let p = (id >> PAGE_BITS) as usize;
        if self.pages.len() <= p {
            self.pages.resize_with(p + 1, || None);
        }
        let page = self.pages[p].get_or_insert_with(|| vec![CaseSlot::EMPTY; 1 << PAGE_BITS].into_boxed_slice());
        &mut page[(id & ((1 << PAGE_BITS) - 1)) as usize]
    }

    fn remove(&mut self, id: u32) -> Option<CaseSlot> {
        let slot = std::mem::replace(self.get_mut(id)?, CaseSlot::EMPTY);
        self.len -= 1;
        Some(slot)
    }
}

/// A shared key: its kind, its value (a slice of `KeyTable::values`) and its cases.
struct KeyEntry {
    start: u32,
    len: u16,
    kind: u8,
    cases: Ids,
}

/// Shared keys by id, their values in strings of 1 MiB, found by value through a table of
/// ids. Both grow a chunk at a time, never by doubling and copying: an allocator keeps what
/// a doubled-away table held, and at a million cases that was a quarter of the gateway.
#[derive(Default)]
struct KeyTable {
    values: Vec<String>,
    entries: Vec<Vec<KeyEntry>>,
    len: u32,
    lookup: hashbrown::HashTable<u32>,
    hasher: std::hash::RandomState,
}

const VALUE_CHUNK_BITS: u32 = 20;
const ENTRY_CHUNK_BITS: u32 = 16;

fn kind_index(kind: LinkKind) -> u8 {
    LinkKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u8
}

fn value_in<'a>(values: &'a [String], e: &KeyEntry) -> &'a str {
    let offset = (e.start & ((1 << VALUE_CHUNK_BITS) - 1)) as usize;
    values
        .get((e.start >> VALUE_CHUNK_BITS) as usize)
        .and_then(|chunk| chunk.get(offset..offset + e.len as usize))
        .unwrap_or("")
}

fn entry_in(entries: &[Vec<KeyEntry>], id: u32) -> Option<&KeyEntry> {
    entries
        .get((id >> ENTRY_CHUNK_BITS) as usize)?
        .get((id & ((1 << ENTRY_CHUNK_BITS) - 1)) as usize)
}

impl KeyTable {
    fn value(&self, e: &KeyEntry) -> &str {
        value_in(&self.values, e)
    }

    fn entry(&self, id: u32) -> Option<&KeyEntry> {
        entry_in(&self.entries, id)
    }

    fn entry_mut(&mut self, id: u32) -> Option<&mut KeyEntry> {
        self.entries
            .get_mut((id >> ENTRY_CHUNK_BITS) as usize)?
            .get_mut((id & ((1 << ENTRY_CHUNK_BITS) - 1)) as usize)
    }

    fn iter(&self) -> impl Iterator<Item = &KeyEntry> {
        self.entries.iter().flatten()
    }

    fn kind(e: &KeyEntry) -> LinkKind {
        LinkKind::ALL
            .get(e.kind as usize)
            .copied()
            .unwrap_or(LinkKind::PersonName)
    }

    fn hash(hasher: &std::hash::RandomState, kind: u8, value: &str) -> u64 {
        use std::hash::BuildHasher;
        hasher.hash_one((kind, value))
    }

    fn find(&self, kind: LinkKind, value: &str) -> Option<u32> {
        let k = kind_index(kind);
        self.lookup
            .find(Self::hash(&self.hasher, k, value), |id| {
                self.entry(*id).is_some_and(|e| e.kind == k && self.value(e) == value)
            })
            .copied()
    }

    /// The id of a key, added if new (`None`: the key or the table outgrew the layout).
    fn insert(&mut self, kind: LinkKind, value: &str) -> Option<u32> {
        if let Some(id) = self.find(kind, value) {
            return Some(id);
        }
        let len = u16::try_from(value.len()).ok()?;
        let id = self.len;
        let next_id = id.checked_add(1)?;
        let new_chunk = self
            .values
            .last()
            .is_none_or(|chunk| chunk.len() + value.len() > 1 << VALUE_CHUNK_BITS);
        let chunk = self.values.len() - usize::from(!new_chunk);
        if chunk >= 1 << (32 - VALUE_CHUNK_BITS) {
            return None;
        }
        if new_chunk {
            self.values.push(String::with_capacity(1 << VALUE_CHUNK_BITS));
        }
        let last = self.values.last_mut()?;
        let start = ((chunk as u32) << VALUE_CHUNK_BITS) | last.len() as u32;
        last.push_str(value);
        self.len = next_id;
        if self
            .entries
            .last()
            .is_none_or(|chunk| chunk.len() == 1 << ENTRY_CHUNK_BITS)
        {
            self.entries.push(Vec::with_capacity(1 << ENTRY_CHUNK_BITS));
        }
        let k = kind_index(kind);
        self.entries.last_mut()?.push(KeyEntry {
            start,
            len,
            kind: k,
            cases: Ids::EMPTY,
        });
        let (values, entries, hasher) = (&self.values, &self.entries, &self.hasher);
        self.lookup
            .insert_unique(Self::hash(hasher, k, value), id, |id| match entry_in(entries, *id) {
                Some(e) => Self::hash(hasher, e.kind, value_in(values, e)),
                None => 0,
            });
        Some(id)
    }
}

/// What decides a case's visibility, as read from `cases`.
struct CaseRow {
    source: Source,
    transferred: bool,
    deleted: bool,
    region: Option<String>,
}

type CaseTuple = (i64, Source, bool, bool, Option<String>);

fn case_row((id, source, transferred, deleted, region): CaseTuple) -> (i64, CaseRow) {
    let row = CaseRow {
        source,
        transferred,
        deleted,
        region,
    };
    (id, row)
}

#[derive(Default)]
struct Graph {
    cases: CaseTable,
    keys: KeyTable,
    regions: Vec<Box<str>>,
    region_ids: HashMap<Box<str>, u32>,
    /// A case id or a key the compact layout cannot hold was met: the index stays unused.
    overflow: bool,
}

/// Case ids as the index holds them.
fn slot_id(id: i64) -> Option<u32> {
    u32::try_from(id).ok()
}

impl Graph {
    /// The memory the tables take, about (allocator overhead aside).
    fn bytes(&self) -> usize {
        let heap = |ids: &Ids| match ids {
            Ids::Inline(..) => 0,
            Ids::Heap(b) => b.len() * 4,
        };
        let pages = self.cases.pages.iter().flatten();
        let cases: usize = pages
            .map(|p| p.len() * std::mem::size_of::<CaseSlot>() + p.iter().map(|s| heap(&s.keys)).sum::<usize>())
            .sum();
        let keys: usize = self.keys.entries.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<KeyEntry>()
            + self.keys.iter().map(|e| heap(&e.cases)).sum::<usize>()
            + self.keys.values.iter().map(String::capacity).sum::<usize>()
            + self.keys.lookup.capacity() * (std::mem::size_of::<u32>() + 1);
        cases + keys
    }

    fn key_id(&self, kind: LinkKind, value: &str) -> Option<u32> {
        self.keys.find(kind, value)
    }

    fn add_key(&mut self, kind: LinkKind, value: &str) -> Option<u32> {
        let id = self.keys.insert(kind, value);
        self.overflow |= id.is_none();
        id
    }

    fn visibility(&self, slot: &CaseSlot) -> CaseVisibility<'_> {
        CaseVisibility {
            source: Source::ALL
                .get((slot.source as usize).wrapping_sub(1))
                .copied()
                .unwrap_or(Source::Discipline),
            transferred: slot.flags & TRANSFERRED != 0,
            deleted: slot.flags & DELETED != 0,
            region_code: (slot.region as usize)
                .checked_sub(1)
                .and_then(|i| self.regions.get(i))
                .map(|r| &**r),
        }
    }

    fn admits(&self, scope: &Scope, case: u32) -> bool {
        self.cases
            .get(case)
            .is_some_and(|slot| scope.admits(self.visibility(slot)))
    }

    fn region(&mut self, region: Option<&str>) -> u32 {
        let Some(region) = region else { return 0 };
        if let Some(id) = self.region_ids.get(region) {
            return *id;
        }
        self.regions.push(region.into());
        let id = self.regions.len() as u32;
        self.region_ids.insert(region.into(), id);
        id
    }

    /// Sets what decides the visibility of case `id`, adding it if new.
    fn set_row(&mut self, id: u32, row: &CaseRow) {
        let region = self.region(row.region.as_deref());
        let added = self.cases.get(id).is_none();
        let slot = self.cases.slot(id);
        slot.source = 1 + Source::ALL.iter().position(|s| *s == row.source).unwrap_or(0) as u8;
        slot.flags = if row.transferred { TRANSFERRED } else { 0 } | if row.deleted { DELETED } else { 0 };
        slot.region = region;
        if added {
            self.cases.len += 1;
        }
    }

    /// Ties `case` (already in the table) to key `key`, both ways, once.
    fn attach(&mut self, case: u32, key: u32) {
        if let Some(slot) = self.cases.get_mut(case) {
            if !slot.keys.contains(key) {
                slot.keys.push(key);
            }
        }
        if let Some(k) = self.keys.entry_mut(key) {
            if !k.cases.contains(case) {
                k.cases.push(case);
            }
        }
    }

    /// Forgets a case and its ties.
    fn detach(&mut self, case: u32) {
        if let Some(slot) = self.cases.remove(case) {
            for k in slot.keys.as_slice() {
                if let Some(k) = self.keys.entry_mut(*k) {
                    k.cases.remove(case);
                }
            }
        }
    }

    fn apply(&mut self, delta: Delta) {
        let changed: HashSet<i64> = delta.changed.iter().copied().collect();
        for id in &delta.changed {
            match slot_id(*id) {
                Some(id) => self.detach(id),
                None => self.overflow = true,
            }
        }
        for ((kind, value), carriers) in &delta.new_shared {
            let Some(key) = self.add_key(*kind, value) else {
                continue;
            };
            for c in carriers {
                if changed.contains(c) {
                    continue; // attached below, with all its keys
                }
                let Some(c32) = slot_id(*c) else {
                    self.overflow = true;
                    continue;
                };
                if self.cases.get(c32).is_none() {
                    let Some(row) = delta.rows.get(c) else { continue };
                    self.set_row(c32, row);
                }
                self.attach(c32, key);
            }
        }
        for id in &delta.changed {
            let (Some(row), Some(id32)) = (delta.rows.get(id), slot_id(*id)) else {
                continue; // no longer stored
            };
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
            self.set_row(id32, row);
            for key in keys {
                self.attach(id32, key);
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

/// What applying a page of the journal did.
enum Step {
    Applied,
    /// Nothing left to apply.
    Current,
    /// The journal was pruned past what the index applied.
    Pruned,
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
    /// Bytes the index's tables take, about.
    pub bytes: usize,
}

/// The `application_name` of the connection that asks for the journal's last row.
pub const JOURNAL_HEAD_CONNECTION: &str = "qianchuan journal head";

pub struct LinkIndex {
    db: DatabaseConnection,
    graph: RwLock<Graph>,
    /// Case rows and parties, kept current by the same journal (`case_cache`).
    cache: CaseCache,
    /// The journal's last row as of a moment after a request began, shared by the requests
    /// waiting at that moment; asked on a connection of its own.
    head: ReadAfter<i64>,
    head_connection: crate::db::OwnConnection,
    /// The last journal row applied.
    applied: AtomicI64,
    ready: AtomicBool,
    /// One catch-up at a time.
    catching_up: Arc<tokio::sync::Mutex<()>>,
}

impl LinkIndex {
    /// An empty index that builds itself in the background (retrying while the database
    /// cannot be read); chains are walked in SQL until it is ready.
    /// `cache_bytes`: the case cache's budget.
    pub fn start(db: DatabaseConnection, cache_bytes: usize) -> Arc<LinkIndex> {
        let index = Arc::new(LinkIndex::empty(db, cache_bytes));
        index.rebuild();
        // Kept current between requests too, so a quiet gateway is not far behind when the
        // next chain is asked for (nor behind a pruned journal).
        let following = Arc::downgrade(&index);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FOLLOW_EVERY).await;
                let Some(index) = following.upgrade() else { break };
                if let Err(e) = index.current().await {
                    tracing::debug!(error = %e, "following the linkage journal");
                }
            }
        });
        index
    }

    /// Builds the index again in the background; chains are walked in SQL meanwhile.
    fn rebuild(self: &Arc<Self>) {
        self.ready.store(false, Ordering::Release);
        self.cache.clear();
        let building = self.clone();
        tokio::spawn(async move {
            let mut wait = Duration::from_secs(1);
            while let Err(e) = building.build().await {
                tracing::warn!(error = %e, "building the linkage index; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        });
    }

    /// Builds an index now (for tools and tests), with a case cache of `cache_bytes`.
    pub async fn built(db: DatabaseConnection, cache_bytes: usize) -> Result<Arc<LinkIndex>, DbErr> {
        let index = Arc::new(LinkIndex::empty(db, cache_bytes));
        index.build().await?;
        Ok(index)
    }

    fn empty(db: DatabaseConnection, cache_bytes: usize) -> LinkIndex {
        LinkIndex {
            head_connection: crate::db::OwnConnection::new(db.clone(), JOURNAL_HEAD_CONNECTION),
            db,
            graph: RwLock::new(Graph::default()),
            cache: CaseCache::new(cache_bytes),
            head: ReadAfter::default(),
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
            cases: g.cases.len,
            keys: g.keys.len as usize,
            bytes: g.bytes(),
            applied: self.applied.load(Ordering::Acquire),
        }
    }

    /// Reads every shared key and the cases carrying them, then catches up with the journal
    /// rows written meanwhile.
    async fn build(&self) -> Result<(), DbErr> {
        let _one = self.catching_up.lock().await;
        'build: loop {
            // Rows after this one may or may not be in what is read below: applied again later.
            let start = linkage_journal::last_seq(&self.db).await?;
            let mut graph = Graph::default();
            self.read_shared_keys(&mut graph).await?;
            self.read_visibility(&mut graph).await?;
            *self.write() = graph;
            self.cache.clear();
            self.applied.store(start, Ordering::Release);
            loop {
                match self.apply_journal_page().await? {
                    Step::Applied => {}
                    Step::Current => break 'build,
                    Step::Pruned => continue 'build, // pruned while building: read again
                }
            }
        }
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
        let mut after: Option<(String, LinkKind, i64)> = None;
        let mut group: Option<(String, LinkKind, Vec<i64>)> = None;
        loop {
            let statement = match &after {
                None => Statement::from_string(backend, format!("{first}{PAGE}")),
                Some((v, k, c)) => Statement::from_sql_and_values(
                    backend,
                    format!("{next}{PAGE}"),
                    [v.clone().into(), (*k).into(), (*c).into()],
                ),
            };
            let rows = self.db.query_all_raw(statement).await?;
            let count = rows.len();
            for row in rows {
                let value: String = row.try_get_by_index(0)?;
                let kind: LinkKind = row.try_get_by_index(1)?;
                let case_id: i64 = row.try_get_by_index(2)?;
                match &mut group {
                    Some((v, k, cases)) if *v == value && *k == kind => cases.push(case_id),
                    _ => {
                        keep_if_shared(graph, group.take());
                        group = Some((value.clone(), kind, vec![case_id]));
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
            for (id, row) in rows.into_iter().map(case_row) {
                if let Some(id) = slot_id(id).filter(|id| graph.cases.get(*id).is_some()) {
                    graph.set_row(id, &row);
                }
            }
            if (count as u64) < PAGE {
                break;
            }
        }
        Ok(())
    }

    /// Built, and able to hold this database's ids and keys.
    pub fn usable(&self) -> bool {
        self.ready.load(Ordering::Acquire) && !self.read().overflow
    }

    /// The last journal row applied.
    pub fn applied(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Brings the index up to the journal's last row. `Ok(false)`: the index cannot answer
    /// now (still building, or far behind and catching up in the background).
    pub async fn current(self: &Arc<Self>) -> Result<bool, DbErr> {
        if !self.usable() {
            return Ok(false);
        }
        let last = linkage_journal::last_seq(&self.db).await?;
        self.catch_up_to(last).await
    }

    /// Brings the index and its case cache up to the journal's last row as of a moment after
    /// `began` (one question to the database for every request waiting at that moment).
    /// `Ok(false)`: the index cannot answer now.
    pub async fn current_after(self: &Arc<Self>, began: std::time::Instant) -> Result<bool, DbErr> {
        if !self.usable() {
            return Ok(false);
        }
        let head = self.head_after(began).await?;
        self.catch_up_to(head).await
    }

    /// The journal's last row as of a moment after `began` (one question to the database for
    /// every caller waiting at that moment).
    pub async fn head_after(&self, began: std::time::Instant) -> Result<i64, DbErr> {
        self.head
            .after(began, || async {
                self.head_connection
                    .query_i64(linkage_journal::LAST_SEQ)
                    .await
                    .map(Option::unwrap_or_default)
                    .inspect_err(crate::db::note_failure)
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(DbErr::Custom)
    }

    /// The case cache this index keeps current.
    pub fn cache(&self) -> &CaseCache {
        &self.cache
    }

    /// Applies the journal up to row `last` at least. `Ok(false)`: too far behind to wait;
    /// the rest is applied in the background.
    pub async fn catch_up_to(self: &Arc<Self>, last: i64) -> Result<bool, DbErr> {
        let applied = self.applied();
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
                            Ok(Step::Applied) => continue,
                            Ok(Step::Current) => break,
                            Ok(Step::Pruned) => {
                                drop(_one);
                                index.rebuild();
                                break;
                            }
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
        let one = self.catching_up.lock().await;
        while self.applied.load(Ordering::Acquire) < last {
            match self.apply_journal_page().await? {
                Step::Applied => {}
                Step::Current => break,
                Step::Pruned => {
                    drop(one);
                    self.rebuild();
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Applies the next page of the journal.
    async fn apply_journal_page(&self) -> Result<Step, DbErr> {
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
            return Ok(Step::Current);
        };
        if rows.iter().any(|r| r.1 == linkage_journal::PRUNED_MARK) {
            // Rows this index never applied were pruned: only reading everything again is safe.
            return Ok(Step::Pruned);
        }
        let changed: Vec<i64> = rows.iter().map(|r| r.1).collect::<BTreeSet<_>>().into_iter().collect();
        let mentioned = self.parties_mentioned_by(&changed).await?;
        let delta = self.read_delta(changed.clone()).await?;
        self.write().apply(delta);
        self.cache.evict(&changed, &mentioned);
        self.applied.store(last, Ordering::Release);
        Ok(Step::Applied)
    }

    /// The parties the current rows of `cases` mention (their earlier mentions are known to
    /// the cache), for the cache to forget.
    async fn parties_mentioned_by(&self, cases: &[i64]) -> Result<Vec<i64>, DbErr> {
        let backend = self.db.get_database_backend();
        let mut parties = BTreeSet::new();
        for chunk in cases.chunks(CHUNK) {
            let rows: Vec<i64> = case_party::Entity::find()
                .select_only()
                .column(case_party::Column::PartyId)
                .distinct()
                .filter(ids_in(backend, r#""case_parties"."case_id""#, chunk))
                .into_tuple()
                .all(&self.db)
                .await?;
            parties.extend(rows);
        }
        Ok(parties.into_iter().collect())
    }

    async fn read_delta(&self, changed: Vec<i64>) -> Result<Delta, DbErr> {
        let backend = self.db.get_database_backend();
        let mut delta = Delta::default();
        for chunk in changed.chunks(CHUNK) {
            let rows: Vec<(i64, LinkKind, String)> = case_key::Entity::find()
                .select_only()
                .column(case_key::Column::CaseId)
                .column(case_key::Column::Kind)
                .column(case_key::Column::Value)
                .filter(ids_in(backend, r#""case_keys"."case_id""#, chunk))
                .into_tuple()
                .all(&self.db)
                .await?;
            for (id, kind, value) in rows {
                delta.keys_of.entry(id).or_default().push((kind, value));
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
            let rows: Vec<(i64, LinkKind, String)> = case_key::Entity::find()
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
                carriers.entry((kind, value)).or_default().insert(id);
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
                    .filter(|c| slot_id(**c).is_none_or(|c| g.cases.get(c).is_none())),
            );
            need.into_iter().collect()
        };
        for chunk in need.chunks(CHUNK) {
            let rows: Vec<CaseTuple> = visibility_query()
                .filter(ids_in(backend, r#""cases"."id""#, chunk))
                .into_tuple()
                .all(&self.db)
                .await?;
            delta.rows.extend(rows.into_iter().map(case_row));
        }
        delta.changed = changed;
        Ok(delta)
    }

    /// The index as one viewer may see it.
    pub fn view<'a>(&'a self, scope: &'a Scope) -> IndexView<'a> {
        IndexView { index: self, scope }
    }
}

/// Adds a key read while building, with its cases, if two or more cases carry it. A case
/// is invisible (deleted) until its row is read.
fn keep_if_shared(graph: &mut Graph, group: Option<(String, LinkKind, Vec<i64>)>) {
    let Some((value, kind, mut cases)) = group else { return };
    cases.dedup();
    if cases.len() < 2 {
        return;
    }
    let Some(key) = graph.add_key(kind, &value) else { return };
    let mut carriers = Vec::with_capacity(cases.len());
    for c in cases {
        let Some(c) = slot_id(c) else {
            graph.overflow = true;
            continue;
        };
        if graph.cases.get(c).is_none() {
            let slot = graph.cases.slot(c);
            slot.source = 1;
            slot.flags = DELETED;
            graph.cases.len += 1;
        }
        if let Some(slot) = graph.cases.get_mut(c) {
            slot.keys.push(key);
        }
        carriers.push(c);
    }
    if let Some(k) = graph.keys.entry_mut(key) {
        k.cases = Ids::from_vec(carriers);
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

/// A key as the index walks it: its kind (for its score) and its number.
pub type IndexKey = (LinkKind, u32);

impl LinkGraph for IndexView<'_> {
    type Key = IndexKey;

    fn kind(&self, key: &IndexKey) -> LinkKind {
        key.0
    }

    fn describe(&self, key: &IndexKey) -> Key {
        let g = self.index.read();
        let value = g.keys.entry(key.1).map(|e| g.keys.value(e)).unwrap_or("");
        (key.0, value.to_string())
    }

    async fn keys_of_cases(&self, case_ids: &[i64]) -> Result<Vec<(i64, IndexKey)>> {
        let g = self.index.read();
        let mut out = Vec::new();
        for id in case_ids {
            let Some(slot) = slot_id(*id).and_then(|c| g.cases.get(c)) else {
                continue;
            };
            if !self.scope.admits(g.visibility(slot)) {
                continue;
            }
            for k in slot.keys.as_slice() {
                if let Some(e) = g.keys.entry(*k) {
                    out.push((*id, (KeyTable::kind(e), *k)));
                }
            }
        }
        Ok(out)
    }

    async fn neighbours(&self, keys: &[IndexKey], hub_threshold: u64) -> Result<Neighbours<IndexKey>> {
        let g = self.index.read();
        let mut out = Neighbours::default();
        for key in keys {
            let Some(k) = g.keys.entry(key.1) else { continue };
            // Past the threshold a key is a hub: its visible cases are only counted.
            let (first, mut visible) = (out.cases.len(), 0u64);
            for c in k.cases.as_slice() {
                if g.admits(self.scope, *c) {
                    visible += 1;
                    if visible <= hub_threshold {
                        out.cases.push((i64::from(*c), *key));
                    }
                }
            }
            if visible > hub_threshold {
                out.cases.truncate(first);
                out.hubs.insert(*key, visible);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_small_and_keep_their_order() {
        assert!(std::mem::size_of::<Ids>() <= 24);
        assert!(std::mem::size_of::<CaseSlot>() <= 32);
        assert!(std::mem::size_of::<KeyEntry>() <= 32);
        let mut ids = Ids::EMPTY;
        for i in 0..8 {
            ids.push(i);
        }
        assert_eq!(ids.as_slice(), &[0, 1, 2, 3, 4, 5, 6, 7]);
        ids.remove(3);
        ids.remove(6);
        ids.remove(42);
        assert_eq!(ids.as_slice(), &[0, 1, 2, 4, 5, 7]);
        ids.remove(0);
        assert!(matches!(ids, Ids::Inline(5, _)));
        assert!(ids.contains(7) && !ids.contains(0));
    }

    #[test]
    fn keys_are_found_by_kind_and_value() {
        let mut t = KeyTable::default();
        let a = t.insert(LinkKind::Phone, "13805711234");
        let b = t.insert(LinkKind::CaseNo, "13805711234");
        let c = t.insert(LinkKind::OrgName, "杭州某某科技有限公司");
        assert!(a.is_some() && b.is_some() && c.is_some() && a != b);
        // Enough to fill several chunks of values and of entries.
        for i in 0..150_000 {
            t.insert(LinkKind::PersonId, &format!("value-{i:010}"));
        }
        assert!(t.values.len() > 2 && t.entries.len() > 2);
        assert_eq!(t.find(LinkKind::Phone, "13805711234"), a);
        assert_eq!(t.find(LinkKind::CaseNo, "13805711234"), b);
        assert_eq!(t.insert(LinkKind::OrgName, "杭州某某科技有限公司"), c);
        assert_eq!(
            t.find(LinkKind::PersonId, "value-0000149999")
                .and_then(|id| t.entry(id))
                .map(|e| t.value(e)),
            Some("value-0000149999")
        );
        assert_eq!(t.find(LinkKind::PersonId, "value-0000000000"), Some(3));
        assert_eq!(t.find(LinkKind::Badge, "v1"), None);
    }

    #[test]
    fn case_table_adds_finds_and_removes() {
        let mut t = CaseTable::default();
        assert!(t.get(5000).is_none());
        let s = t.slot(5000);
        s.source = 2;
        t.len += 1;
        assert!(t.get(5000).is_some() && t.get(5001).is_none() && t.get(10).is_none());
        assert!(t.remove(5000).is_some());
        assert!(t.get(5000).is_none() && t.len == 0);
    }
}
