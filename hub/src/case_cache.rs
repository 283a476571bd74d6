//! The case cache: case rows, and the parties of cases with every mention of those parties,
//! held in process so that `case(id)`, chains and `Case.parties` are answered without reading
//! them again.
//!
//! It is kept by the linkage index (`link_index`), which applies the linkage journal: every
//! writer of cases or their parties notes the changed cases there, and applying a row evicts
//! the case and every party that any of its mentions, old or new, names. A request uses the
//! cache only once the index has applied the journal as of a moment after the request began,
//! so what it answers reflects every change committed before it — as SQL would.
//!
//! An entry filled from a read is kept only if nothing was evicted between the moment before
//! that read and the insertion (`epoch`): a read that may have missed a change never lands
//! after the change's eviction.
//!
//! Entries are unscoped: what a viewer may see of them is decided on the way out, by the scope's
//! in-memory rule (`Scope::admits`, which a test holds equal to the SQL condition). Memory is
//! bounded by a budget in bytes; past it, entries are evicted oldest first, a recently read one
//! getting a second chance (the CLOCK policy).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use entities::{case, case_party, party, Source};

use crate::policy::{CaseVisibility, Scope};
use crate::store::described_by;

/// What decides whether a scope reaches a case, as owned data (for a mention's case).
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub source: Source,
    pub transferred: bool,
    pub deleted: bool,
    pub region_code: Option<Box<str>>,
}

impl Placement {
    pub fn of(case: &case::Model) -> Placement {
        Placement {
            source: case.source,
            transferred: case.transferred,
            deleted: case.deleted,
            region_code: case.region_code.as_deref().map(Into::into),
        }
    }

    pub fn visibility(&self) -> CaseVisibility<'_> {
        CaseVisibility {
            source: self.source,
            transferred: self.transferred,
            deleted: self.deleted,
            region_code: self.region_code.as_deref(),
        }
    }
}

/// One mention of a party: the participation row and where its case stands.
#[derive(Clone, Debug)]
pub struct Mention {
    pub link: case_party::Model,
    pub case: Placement,
}

/// A party with every mention of it, in case order (then position).
#[derive(Debug)]
pub struct PartyMentions {
    pub party: party::Model,
    pub mentions: Vec<Mention>,
}

/// Parties with more mentions than this are answered from each read, never kept: one
/// entry would hold thousands of rows that any change to one of those cases throws away.
pub const MAX_MENTIONS_KEPT: usize = 1_000;

/// The participations of case `case_id` with their parties as `scope` sees them: each party
/// described by its visible mentions only, in position order. Empty when the case itself is
/// not visible. `parties`: the entries of the case's parties (others are ignored).
pub fn participations_seen(
    scope: &Scope,
    case_id: i64,
    parties: &[Arc<PartyMentions>],
) -> Vec<(case_party::Model, party::Model)> {
    let mut out = Vec::new();
    for entry in parties {
        let visible = || entry.mentions.iter().filter(|m| scope.admits(m.case.visibility()));
        if !visible().any(|m| m.link.case_id == case_id) {
            continue;
        }
        let described = described_by(entry.party.clone(), visible().map(|m| &m.link));
        for m in visible().filter(|m| m.link.case_id == case_id) {
            out.push((m.link.clone(), described.clone()));
        }
    }
    out.sort_by_key(|(link, _)| (link.position, link.id));
    out
}

enum Visit {
    Spare,
    Evict,
    Stale,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Item {
    Case(i64),
    Participations(i64),
    Party(i64),
}

struct Slot<T> {
    value: T,
    bytes: usize,
    referenced: bool,
    /// Which queue entry is this slot's (older ones are stale).
    stamp: u64,
}

#[derive(Default)]
struct Inner {
    cases: HashMap<i64, Slot<Arc<case::Model>>>,
    /// The parties of a case, in position order.
    participations: HashMap<i64, Slot<Arc<[i64]>>>,
    parties: HashMap<i64, Slot<Arc<PartyMentions>>>,
    /// The kept parties that have a mention in each case.
    parties_in_case: HashMap<i64, Vec<i64>>,
    queue: VecDeque<(Item, u64)>,
    next_stamp: u64,
    bytes: usize,
}

/// Figures for `/metrics` and `/readyz`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheFigures {
    pub cases: usize,
    pub parties: usize,
    pub bytes: usize,
    pub budget: usize,
    pub hits: u64,
    pub misses: u64,
}

pub struct CaseCache {
    inner: Mutex<Inner>,
    /// Bumped by every eviction of changed entries.
    epoch: AtomicU64,
    budget: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn text(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::capacity)
}

fn json_bytes(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => 32 + s.capacity(),
        serde_json::Value::Array(items) => 32 + items.iter().map(json_bytes).sum::<usize>(),
        _ => 32,
    }
}

fn case_bytes(c: &case::Model) -> usize {
    std::mem::size_of::<case::Model>()
        + c.source_key.capacity()
        + [
            &c.title,
            &c.summary,
            &c.category,
            &c.status,
            &c.region_code,
            &c.town,
            &c.agency,
            &c.free_text,
            &c.masked_text,
        ]
        .into_iter()
        .map(text)
        .sum::<usize>()
        + json_bytes(&c.case_numbers)
}

fn link_bytes(l: &case_party::Model) -> usize {
    std::mem::size_of::<Mention>()
        + l.role.capacity()
        + l.name_as_recorded.capacity()
        + text(&l.name)
        + l.phones.as_ref().map_or(0, json_bytes)
        + 40
}

fn party_bytes(p: &PartyMentions) -> usize {
    std::mem::size_of::<PartyMentions>()
        + p.party.name.capacity()
        + p.party.identity.capacity()
        + json_bytes(&p.party.phones)
        + 40
        + p.mentions.iter().map(|m| link_bytes(&m.link)).sum::<usize>()
}

/// Per-entry bookkeeping (map slots, queue entry), about.
const OVERHEAD: usize = 96;

impl CaseCache {
    /// A cache of at most about `budget` bytes (0 keeps nothing: every answer is read).
    pub fn new(budget: usize) -> CaseCache {
        CaseCache {
            inner: Mutex::new(Inner::default()),
            epoch: AtomicU64::new(0),
            budget,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Read before reading what will be inserted: an insertion with an older epoch is refused.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn figures(&self) -> CacheFigures {
        let inner = self.lock();
        CacheFigures {
            cases: inner.cases.len(),
            parties: inner.parties.len(),
            bytes: inner.bytes,
            budget: self.budget,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// The kept rows among `ids`; the others are missing.
    pub fn cases(&self, ids: &[i64]) -> (Vec<Arc<case::Model>>, Vec<i64>) {
        let mut inner = self.lock();
        let (mut found, mut missing) = (Vec::new(), Vec::new());
        for id in ids {
            match inner.cases.get_mut(id) {
                Some(slot) => {
                    slot.referenced = true;
                    found.push(slot.value.clone());
                }
                None => missing.push(*id),
            }
        }
        drop(inner);
        self.count_lookups(found.len(), missing.len());
        (found, missing)
    }

    fn count_lookups(&self, hits: usize, misses: usize) {
        self.hits.fetch_add(hits as u64, Ordering::Relaxed);
        self.misses.fetch_add(misses as u64, Ordering::Relaxed);
    }

    /// The kept parties (with their mentions) of each of `case_ids` whose parties are all
    /// kept; the others are missing.
    pub fn participations(&self, case_ids: &[i64]) -> (HashMap<i64, Vec<Arc<PartyMentions>>>, Vec<i64>) {
        let mut inner = self.lock();
        let (mut found, mut missing) = (HashMap::new(), Vec::new());
        for id in case_ids {
            match inner.parties_of(*id) {
                Some(parties) => {
                    found.insert(*id, parties);
                }
                None => missing.push(*id),
            }
        }
        drop(inner);
        self.count_lookups(found.len(), missing.len());
        (found, missing)
    }

    /// The kept parties (with their mentions) of every one of `case_ids`, or `None` when the
    /// parties of one of them are not all kept (counted as a look-up only when answered).
    pub fn all_participations(&self, case_ids: &[i64]) -> Option<HashMap<i64, Vec<Arc<PartyMentions>>>> {
        let mut inner = self.lock();
        let mut found = HashMap::with_capacity(case_ids.len());
        for id in case_ids {
            found.insert(*id, inner.parties_of(*id)?);
        }
        drop(inner);
        self.count_lookups(found.len(), 0);
        Some(found)
    }

    /// Keeps `rows`, read after `epoch` was read, unless something was evicted since.
    pub fn insert_cases(&self, epoch: u64, rows: impl IntoIterator<Item = Arc<case::Model>>) {
        if self.budget == 0 {
            return;
        }
        let mut inner = self.lock();
        if self.epoch() != epoch {
            return;
        }
        for row in rows {
            let id = row.id;
            let bytes = case_bytes(&row) + OVERHEAD;
            let stamp = inner.stamp(Item::Case(id));
            if let Some(old) = inner.cases.insert(id, Slot::new(row, bytes, stamp)) {
                inner.bytes -= old.bytes;
            }
            inner.bytes += bytes;
        }
        inner.shrink_to(self.budget);
    }

    /// Keeps the parties of each case of `cases` (party ids in position order) and the
    /// `parties` with all their mentions, read after `epoch` was read, unless something was
    /// evicted since. A case whose parties are not all among `parties` (or too often
    /// mentioned to keep) is not kept.
    pub fn insert_participations(
        &self,
        epoch: u64,
        cases: &HashMap<i64, Vec<i64>>,
        parties: &HashMap<i64, Arc<PartyMentions>>,
    ) {
        if self.budget == 0 {
            return;
        }
        let mut inner = self.lock();
        if self.epoch() != epoch {
            return;
        }
        let kept = |p: &i64| parties.get(p).is_some_and(|e| e.mentions.len() <= MAX_MENTIONS_KEPT);
        for (case_id, party_ids) in cases {
            if !party_ids.iter().all(kept) {
                continue;
            }
            for p in party_ids {
                if inner.parties.contains_key(p) {
                    continue;
                }
                let Some(entry) = parties.get(p) else { continue };
                inner.keep_party(entry.clone());
            }
            let list: Arc<[i64]> = party_ids.as_slice().into();
            let bytes = OVERHEAD + 8 * list.len();
            let stamp = inner.stamp(Item::Participations(*case_id));
            if let Some(old) = inner.participations.insert(*case_id, Slot::new(list, bytes, stamp)) {
                inner.bytes -= old.bytes;
            }
            inner.bytes += bytes;
        }
        inner.shrink_to(self.budget);
    }

    /// Forgets changed `cases` — their rows, their parties, every party with a mention in them —
    /// and `parties` (the parties their current rows mention). Later insertions of reads made
    /// before this call are refused.
    pub fn evict(&self, cases: &[i64], parties: &[i64]) {
        let mut inner = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for id in cases {
            if let Some(slot) = inner.cases.remove(id) {
                inner.bytes -= slot.bytes;
            }
            if let Some(slot) = inner.participations.remove(id) {
                inner.bytes -= slot.bytes;
            }
            for party in inner.parties_in_case.get(id).cloned().unwrap_or_default() {
                inner.forget_party(party);
            }
        }
        for party in parties {
            inner.forget_party(*party);
        }
    }

    /// Forgets everything (the index is rebuilt).
    pub fn clear(&self) {
        let mut inner = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        *inner = Inner::default();
    }
}

impl<T> Slot<T> {
    fn new(value: T, bytes: usize, stamp: u64) -> Slot<T> {
        Slot {
            value,
            bytes,
            referenced: false,
            stamp,
        }
    }
}

impl Inner {
    fn stamp(&mut self, item: Item) -> u64 {
        self.next_stamp += 1;
        self.queue.push_back((item, self.next_stamp));
        self.next_stamp
    }

    fn parties_of(&mut self, case_id: i64) -> Option<Vec<Arc<PartyMentions>>> {
        let slot = self.participations.get_mut(&case_id)?;
        slot.referenced = true;
        let ids = slot.value.clone();
        let mut out = Vec::with_capacity(ids.len());
        for p in ids.iter() {
            let slot = self.parties.get_mut(p)?;
            slot.referenced = true;
            out.push(slot.value.clone());
        }
        Some(out)
    }

    fn keep_party(&mut self, entry: Arc<PartyMentions>) {
        let id = entry.party.id;
        let bytes = party_bytes(&entry) + OVERHEAD;
        let mut cases: Vec<i64> = entry.mentions.iter().map(|m| m.link.case_id).collect();
        cases.dedup();
        for c in cases {
            self.parties_in_case.entry(c).or_default().push(id);
        }
        let stamp = self.stamp(Item::Party(id));
        self.parties.insert(id, Slot::new(entry, bytes, stamp));
        self.bytes += bytes;
    }

    fn forget_party(&mut self, id: i64) {
        let Some(slot) = self.parties.remove(&id) else { return };
        self.bytes -= slot.bytes;
        for m in &slot.value.mentions {
            if let Some(list) = self.parties_in_case.get_mut(&m.link.case_id) {
                list.retain(|p| *p != id);
                if list.is_empty() {
                    self.parties_in_case.remove(&m.link.case_id);
                }
            }
        }
    }

    fn forget(&mut self, item: Item) {
        match item {
            Item::Case(id) => {
                if let Some(slot) = self.cases.remove(&id) {
                    self.bytes -= slot.bytes;
                }
            }
            Item::Participations(id) => {
                if let Some(slot) = self.participations.remove(&id) {
                    self.bytes -= slot.bytes;
                }
            }
            Item::Party(id) => self.forget_party(id),
        }
    }

    /// What the queue entry `(item, stamp)` means now: a live entry read since it was queued
    /// is spared once (its reference bit cleared), one not read is evicted, one evicted or
    /// replaced since is stale.
    fn visit(&mut self, item: Item, stamp: u64) -> Visit {
        fn visit_slot<T>(slot: Option<&mut Slot<T>>, stamp: u64) -> Visit {
            match slot {
                Some(s) if s.stamp == stamp && s.referenced => {
                    s.referenced = false;
                    Visit::Spare
                }
                Some(s) if s.stamp == stamp => Visit::Evict,
                _ => Visit::Stale,
            }
        }
        match item {
            Item::Case(id) => visit_slot(self.cases.get_mut(&id), stamp),
            Item::Participations(id) => visit_slot(self.participations.get_mut(&id), stamp),
            Item::Party(id) => visit_slot(self.parties.get_mut(&id), stamp),
        }
    }

    fn set_stamp(&mut self, item: Item, stamp: u64) {
        match item {
            Item::Case(id) => self.cases.get_mut(&id).map(|s| s.stamp = stamp),
            Item::Participations(id) => self.participations.get_mut(&id).map(|s| s.stamp = stamp),
            Item::Party(id) => self.parties.get_mut(&id).map(|s| s.stamp = stamp),
        };
    }

    /// Evicts, oldest first (a recently read entry goes round once more), until within `budget`.
    fn shrink_to(&mut self, budget: usize) {
        while self.bytes > budget {
            let Some((item, stamp)) = self.queue.pop_front() else {
                break;
            };
            match self.visit(item, stamp) {
                Visit::Spare => {
                    let stamp = self.stamp(item);
                    self.set_stamp(item, stamp);
                }
                Visit::Evict => self.forget(item),
                Visit::Stale => {}
            }
        }
        // Stale queue entries of evicted items are dropped once they outnumber the live ones.
        let live = self.cases.len() + self.participations.len() + self.parties.len();
        if self.queue.len() > 2 * live + 1024 {
            let (cases, participations, parties) = (&self.cases, &self.participations, &self.parties);
            self.queue.retain(|(item, stamp)| {
                let current = match item {
                    Item::Case(id) => cases.get(id).map(|s| s.stamp),
                    Item::Participations(id) => participations.get(id).map(|s| s.stamp),
                    Item::Party(id) => parties.get(id).map(|s| s.stamp),
                };
                current == Some(*stamp)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::{Role, Viewer};
    use entities::PartyKind;

    fn case_row(id: i64, source: Source, region: &str) -> Arc<case::Model> {
        Arc::new(case::Model {
            id,
            source,
            source_key: format!("K-{id}"),
            version: 1,
            title: Some(format!("案件 {id}")),
            summary: None,
            category: None,
            status: None,
            stage: None,
            region_code: Some(region.into()),
            town: None,
            agency: None,
            opened_on: None,
            closed_on: None,
            deadline_on: None,
            case_numbers: serde_json::json!([]),
            transferred: false,
            deleted: false,
            record_id: None,
            updated_at: chrono::Utc::now(),
            free_text: None,
            satisfaction: None,
            masked_text: None,
        })
    }

    fn mention(id: i64, case: &case::Model, party: i64, name: &str, phone: &str) -> Mention {
        Mention {
            link: case_party::Model {
                id,
                case_id: case.id,
                party_id: party,
                role: "证人".into(),
                name_as_recorded: name.into(),
                position: id as i32,
                name: Some(name.into()),
                id_number: None,
                credit_code: None,
                phones: Some(serde_json::json!([phone])),
            },
            case: Placement::of(case),
        }
    }

    fn party_row(id: i64) -> party::Model {
        party::Model {
            id,
            kind: PartyKind::Person,
            name: "登记名".into(),
            id_number: None,
            credit_code: None,
            phones: serde_json::json!(["13000000000"]),
            identity: format!("NAME:{id}"),
            updated_at: chrono::Utc::now(),
        }
    }

    fn scope(role: Role, regions: &[&str]) -> Scope {
        Scope::for_viewer(&Viewer {
            sub: "t".into(),
            role,
            regions: regions.iter().map(|r| r.to_string()).collect(),
            unit: None,
            own_id: None,
        })
    }

    #[test]
    fn a_party_is_described_by_the_mentions_the_viewer_may_see() {
        let open = case_row(1, Source::Enforcement, "330110");
        let hidden = case_row(2, Source::Discipline, "330110");
        let elsewhere = case_row(3, Source::Enforcement, "110105");
        let entry = Arc::new(PartyMentions {
            party: party_row(7),
            mentions: vec![
                mention(10, &open, 7, "张三", "13800000001"),
                mention(11, &hidden, 7, "张叁", "13800000002"),
                mention(12, &elsewhere, 7, "张三丰", "13800000003"),
            ],
        });
        let plc = scope(Role::Plc, &["3301"]);
        let seen = participations_seen(&plc, 1, std::slice::from_ref(&entry));
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].1.name, "张三");
        assert_eq!(
            seen[0].1.phones,
            serde_json::json!(["13800000001"]),
            "hidden phones stay out"
        );
        assert!(
            participations_seen(&plc, 2, std::slice::from_ref(&entry)).is_empty(),
            "a hidden case"
        );
        let admin = scope(Role::Admin, &[]);
        let all = participations_seen(&admin, 3, std::slice::from_ref(&entry));
        assert_eq!(all[0].1.name, "张三", "the first mention's name");
        assert_eq!(all[0].1.phones.as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn a_read_older_than_an_eviction_is_not_kept() {
        let cache = CaseCache::new(1 << 20);
        let before = cache.epoch();
        cache.evict(&[1], &[]);
        cache.insert_cases(before, [case_row(1, Source::Social, "3301")]);
        assert_eq!(cache.cases(&[1]).1, vec![1], "refused");
        cache.insert_cases(cache.epoch(), [case_row(1, Source::Social, "3301")]);
        assert_eq!(cache.cases(&[1]).0.len(), 1, "kept");
        assert_eq!((cache.figures().hits, cache.figures().misses), (1, 1));
    }

    #[test]
    fn a_changed_case_takes_its_parties_and_their_other_cases_parties_with_it() {
        let cache = CaseCache::new(1 << 20);
        let (a, b, c) = (
            case_row(1, Source::Social, "3301"),
            case_row(2, Source::Social, "3301"),
            case_row(3, Source::Social, "3301"),
        );
        let shared = Arc::new(PartyMentions {
            party: party_row(7),
            mentions: vec![mention(10, &a, 7, "甲", "1"), mention(11, &b, 7, "甲", "2")],
        });
        let alone = Arc::new(PartyMentions {
            party: party_row(8),
            mentions: vec![mention(12, &c, 8, "乙", "3")],
        });
        let cases = HashMap::from([(1, vec![7]), (2, vec![7]), (3, vec![8])]);
        let parties = HashMap::from([(7, shared), (8, alone)]);
        cache.insert_participations(cache.epoch(), &cases, &parties);
        assert_eq!(cache.participations(&[1, 2, 3]).0.len(), 3);
        // Case 1 changed: party 7 (mentioned there) goes, so case 2's parties are missing too.
        cache.evict(&[1], &[]);
        let (found, missing) = cache.participations(&[1, 2, 3]);
        assert_eq!((found.len(), missing), (1, vec![1, 2]));
        // A party newly mentioned by a changed case goes by its id.
        cache.evict(&[], &[8]);
        assert_eq!(cache.participations(&[3]).1, vec![3]);
        assert_eq!(
            cache.figures().bytes,
            cache.lock().participations.values().map(|s| s.bytes).sum::<usize>()
        );
    }

    #[test]
    fn the_budget_holds_and_a_case_read_since_it_was_kept_stays_longer() {
        let one = case_bytes(&case_row(1, Source::Social, "3301")) + OVERHEAD;
        let cache = CaseCache::new(10 * one + 100);
        cache.insert_cases(cache.epoch(), (1..=10).map(|id| case_row(id, Source::Social, "3301")));
        assert_eq!(cache.figures().cases, 10);
        cache.cases(&[1]);
        cache.insert_cases(cache.epoch(), (11..=15).map(|id| case_row(id, Source::Social, "3301")));
        let f = cache.figures();
        assert!(f.bytes <= f.budget && f.cases <= 10, "{f:?}");
        let (found, missing) = cache.cases(&[1, 2]);
        assert_eq!((found.len(), missing), (1, vec![2]), "1 was read, 2 was not");
        cache.clear();
        assert_eq!(cache.figures().bytes, 0);
    }
}
