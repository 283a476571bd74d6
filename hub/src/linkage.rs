//! The chain walk: breadth-first over the bipartite graph case ↔ key, one batched
//! lookup per step, inside the viewer's scope, keeping the best path score per case. The
//! graph is either the database (`ScopedStore`, one query per step) or the gateway's
//! in-memory linkage index seen through the same scope (`link_index::IndexView`).

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use entities::LinkKind;

use crate::error::{Error, Result};

/// A key: its kind and normalized value.
pub type Key = (LinkKind, String);

/// What `neighbours` found, for keys of type `K`.
#[derive(Debug)]
pub struct Neighbours<K = Key> {
    /// `(case, key)` for every key that is not a hub.
    pub cases: Vec<(i64, K)>,
    /// Hubs and how many visible cases carry each.
    pub hubs: BTreeMap<K, u64>,
}

impl<K> Default for Neighbours<K> {
    fn default() -> Self {
        Neighbours {
            cases: Vec::new(),
            hubs: BTreeMap::new(),
        }
    }
}

/// The graph case ↔ key as one viewer may see it.
pub trait LinkGraph: Sync {
    /// How the graph names a key while walking (the index: a number; SQL: kind and value).
    type Key: Ord + Clone + Send + Sync;
    /// The kind of a key (its score).
    fn kind(&self, key: &Self::Key) -> LinkKind;
    /// A key's kind and normalized value.
    fn describe(&self, key: &Self::Key) -> Key;
    /// The keys of the given cases that the viewer may see (others are skipped).
    fn keys_of_cases(
        &self,
        case_ids: &[i64],
    ) -> impl std::future::Future<Output = Result<Vec<(i64, Self::Key)>>> + Send;
    /// For each key, the visible cases carrying it — or, when more than `hub_threshold`
    /// visible cases carry it (a hub), only how many.
    fn neighbours(
        &self,
        keys: &[Self::Key],
        hub_threshold: u64,
    ) -> impl std::future::Future<Output = Result<Neighbours<Self::Key>>> + Send;
}

/// What the caller asked for.
#[derive(Debug, Clone, Copy)]
pub struct WalkParams {
    pub max_depth: u32,
    pub min_score: f64,
    pub max_nodes: usize,
    pub hub_threshold: u64,
}

pub const MAX_DEPTH_LIMIT: i32 = 6;
pub const MAX_NODES_LIMIT: i32 = 1000;

impl WalkParams {
    pub fn new(max_depth: i32, min_score: f64, max_nodes: i32, hub_threshold: u64) -> Result<Self> {
        if !(0..=MAX_DEPTH_LIMIT).contains(&max_depth) {
            return Err(Error::LimitExceeded(format!(
                "maxDepth must be between 0 and {MAX_DEPTH_LIMIT}"
            )));
        }
        if !(1..=MAX_NODES_LIMIT).contains(&max_nodes) {
            return Err(Error::LimitExceeded(format!(
                "maxNodes must be between 1 and {MAX_NODES_LIMIT}"
            )));
        }
        if !(0.0..=1.0).contains(&min_score) || min_score.is_nan() {
            return Err(Error::bad_input("minScore must be between 0 and 1"));
        }
        Ok(WalkParams {
            max_depth: max_depth as u32,
            min_score,
            max_nodes: max_nodes as usize,
            hub_threshold,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChainNode {
    pub case_id: i64,
    pub depth: u32,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChainLink {
    pub from: i64,
    pub to: i64,
    pub kind: LinkKind,
    pub key: String,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChainHub {
    pub kind: LinkKind,
    pub key: String,
    pub case_count: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// The root first, then by depth, best score first.
    pub nodes: Vec<ChainNode>,
    pub links: Vec<ChainLink>,
    pub hubs: Vec<ChainHub>,
    pub truncated: bool,
}

/// Walks from `root` (which the caller has found visible). Whatever the graph, keys are
/// taken in the order of their kind and value, so the same walk truncates at the same cases
/// on the index and in SQL.
pub async fn walk<G: LinkGraph>(graph: &G, root: i64, p: WalkParams) -> Result<Chain> {
    // Case ids are the database's own, not a client's choice: a fast hasher needs no defence.
    let mut best: FxHashMap<i64, (u32, f64)> = FxHashMap::default();
    best.insert(root, (0, 1.0));
    let mut order: Vec<i64> = vec![root];
    let mut links: BTreeMap<(i64, i64, G::Key), f64> = BTreeMap::new();
    let mut hubs: BTreeMap<G::Key, u64> = BTreeMap::new();
    let mut walked: BTreeSet<G::Key> = BTreeSet::new();
    let mut frontier: Vec<i64> = vec![root];
    let mut truncated = false;

    for depth in 1..=p.max_depth {
        if frontier.is_empty() {
            break;
        }
        // Keys of the frontier, each with the frontier cases that carry it and their scores,
        // ordered by key (a stable sort: a key's cases stay in the order they were found).
        let mut reach: Vec<(G::Key, i64, f64)> = Vec::new();
        for (case_id, key) in graph.keys_of_cases(&frontier).await? {
            let parent_score = best.get(&case_id).map(|b| b.1).unwrap_or(0.0);
            if parent_score * graph.kind(&key).score() + f64::EPSILON >= p.min_score {
                reach.push((key, case_id, parent_score));
            }
        }
        reach.sort_by(|a, b| a.0.cmp(&b.0));
        let mut candidates: Vec<G::Key> = Vec::new();
        for (key, _, _) in &reach {
            if candidates.last() != Some(key) && !walked.contains(key) {
                candidates.push(key.clone());
            }
        }
        if candidates.is_empty() {
            break;
        }
        let found = graph.neighbours(&candidates, p.hub_threshold).await?;
        walked.extend(candidates);
        if !found.hubs.is_empty() {
            truncated = true;
            hubs.extend(found.hubs);
        }
        let mut next: Vec<i64> = Vec::new();
        // Neighbours in the order of their key's kind and value, then case: each distinct key
        // described once and ranked, and the rank looked up once per neighbour.
        let mut distinct: Vec<G::Key> = found.cases.iter().map(|(_, k)| k.clone()).collect();
        distinct.sort();
        distinct.dedup();
        let mut named: Vec<(Key, usize)> = distinct
            .iter()
            .enumerate()
            .map(|(i, k)| (graph.describe(k), i))
            .collect();
        named.sort();
        let mut rank = vec![0usize; distinct.len()];
        for (r, (_, i)) in named.into_iter().enumerate() {
            rank[i] = r;
        }
        let mut neighbours = found.cases;
        neighbours.sort_by_cached_key(|(case_id, key)| (distinct.binary_search(key).map(|i| rank[i]).ok(), *case_id));
        for (case_id, key) in neighbours {
            let first = reach.partition_point(|r| r.0 < key);
            let key_score = graph.kind(&key).score();
            for (_, parent, parent_score) in reach[first..].iter().take_while(|r| r.0 == key) {
                if *parent == case_id {
                    continue;
                }
                let score = parent_score * key_score;
                if score + f64::EPSILON < p.min_score {
                    continue;
                }
                match best.get_mut(&case_id) {
                    Some(existing) => {
                        if score > existing.1 {
                            existing.1 = score;
                        }
                    }
                    None => {
                        if best.len() >= p.max_nodes {
                            truncated = true;
                            continue;
                        }
                        best.insert(case_id, (depth, score));
                        order.push(case_id);
                        next.push(case_id);
                    }
                }
                links.entry((*parent, case_id, key.clone())).or_insert(key_score);
            }
        }
        frontier = next;
    }

    let mut nodes: Vec<ChainNode> = order
        .iter()
        .filter_map(|id| {
            best.get(id).map(|(d, s)| ChainNode {
                case_id: *id,
                depth: *d,
                score: *s,
            })
        })
        .collect();
    nodes[1..].sort_by(|a, b| {
        a.depth
            .cmp(&b.depth)
            .then(b.score.total_cmp(&a.score))
            .then(a.case_id.cmp(&b.case_id))
    });
    // A link between two cases of the chain, once per key (either direction: the one from the
    // lower id when both were walked), in the order of (from, to, kind, key).
    let mut described: Vec<((i64, i64, LinkKind, String), f64)> = links
        .iter()
        .filter(|((a, b, key), _)| {
            best.contains_key(a) && best.contains_key(b) && (a < b || !links.contains_key(&(*b, *a, key.clone())))
        })
        .map(|((a, b, key), score)| {
            let (kind, value) = graph.describe(key);
            ((*a, *b, kind, value), *score)
        })
        .collect();
    described.sort_by(|x, y| x.0.cmp(&y.0));
    let links = described
        .into_iter()
        .map(|((from, to, kind, key), score)| ChainLink {
            from,
            to,
            kind,
            key,
            score,
        })
        .collect();
    let mut hubs: Vec<ChainHub> = hubs
        .into_iter()
        .map(|(key, case_count)| {
            let (kind, key) = graph.describe(&key);
            ChainHub { kind, key, case_count }
        })
        .collect();
    hubs.sort_by(|a, b| (a.kind, &a.key).cmp(&(b.kind, &b.key)));
    Ok(Chain {
        nodes,
        links,
        hubs,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    //! The walk on an in-memory graph: no database, the rules of API.md's "Linkage".
    use super::*;
    use std::collections::HashSet;

    /// Cases with their keys; `hidden` cases are outside the viewer's scope.
    #[derive(Default)]
    struct MemoryGraph {
        keys: BTreeMap<i64, Vec<Key>>,
        hidden: HashSet<i64>,
    }

    impl MemoryGraph {
        fn with(mut self, case: i64, kind: LinkKind, value: &str) -> Self {
            self.keys.entry(case).or_default().push((kind, value.to_string()));
            self
        }

        fn hide(mut self, case: i64) -> Self {
            self.hidden.insert(case);
            self
        }
    }

    impl LinkGraph for MemoryGraph {
        type Key = Key;

        fn kind(&self, key: &Key) -> LinkKind {
            key.0
        }

        fn describe(&self, key: &Key) -> Key {
            key.clone()
        }

        async fn keys_of_cases(&self, case_ids: &[i64]) -> Result<Vec<(i64, Key)>> {
            Ok(case_ids
                .iter()
                .filter(|c| !self.hidden.contains(c))
                .flat_map(|c| self.keys.get(c).into_iter().flatten().map(move |k| (*c, k.clone())))
                .collect())
        }

        async fn neighbours(&self, keys: &[Key], hub_threshold: u64) -> Result<Neighbours> {
            let mut out = Neighbours::default();
            for key in keys {
                let carriers: Vec<i64> = self
                    .keys
                    .iter()
                    .filter(|(c, ks)| !self.hidden.contains(c) && ks.contains(key))
                    .map(|(c, _)| *c)
                    .collect();
                if carriers.len() as u64 > hub_threshold {
                    out.hubs.insert(key.clone(), carriers.len() as u64);
                } else {
                    out.cases.extend(carriers.into_iter().map(|c| (c, key.clone())));
                }
            }
            Ok(out)
        }
    }

    fn params(max_depth: i32, min_score: f64, max_nodes: i32, hub_threshold: u64) -> WalkParams {
        WalkParams::new(max_depth, min_score, max_nodes, hub_threshold).unwrap()
    }

    fn run(graph: &MemoryGraph, p: WalkParams) -> Chain {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(walk(graph, 1, p)).unwrap()
    }

    fn scored(chain: &Chain) -> Vec<(i64, u32, f64)> {
        chain
            .nodes
            .iter()
            .map(|n| (n.case_id, n.depth, (n.score * 1000.0).round() / 1000.0))
            .collect()
    }

    #[test]
    fn scores_multiply_along_the_best_path_and_stop_at_min_score() {
        let g = MemoryGraph::default()
            .with(1, LinkKind::Phone, "13805711234")
            .with(2, LinkKind::Phone, "13805711234")
            .with(2, LinkKind::OrgName, "杭州某某科技有限公司")
            .with(3, LinkKind::OrgName, "杭州某某科技有限公司")
            .with(3, LinkKind::CaseNo, "(2022)浙0110刑初1号")
            .with(4, LinkKind::CaseNo, "(2022)浙0110刑初1号");
        let chain = run(&g, params(3, 0.5, 200, 50));
        // 0.8, then 0.8 × 0.7 = 0.56; case 4 would be 0.56 × 1.0 at depth 3.
        assert_eq!(
            scored(&chain),
            vec![(1, 0, 1.0), (2, 1, 0.8), (3, 2, 0.56), (4, 3, 0.56)]
        );
        let strict = run(&g, params(3, 0.6, 200, 50));
        assert_eq!(scored(&strict), vec![(1, 0, 1.0), (2, 1, 0.8)]);
        let shallow = run(&g, params(1, 0.5, 200, 50));
        assert_eq!(scored(&shallow), vec![(1, 0, 1.0), (2, 1, 0.8)]);
        assert_eq!(chain.links.len(), 3);
        assert!(!chain.truncated);
    }

    #[test]
    fn a_link_walked_both_ways_is_listed_once_from_the_lower_id() {
        // 2 and 3 both reached from 1; walking their shared credit code from each finds the other.
        let g = MemoryGraph::default()
            .with(1, LinkKind::Phone, "13805711234")
            .with(2, LinkKind::Phone, "13805711234")
            .with(3, LinkKind::Phone, "13805711234")
            .with(2, LinkKind::OrgUscc, "91330100MA2XXXXX1X")
            .with(3, LinkKind::OrgUscc, "91330100MA2XXXXX1X");
        let chain = run(&g, params(3, 0.5, 200, 50));
        let links: Vec<(i64, i64, LinkKind, &str)> = chain
            .links
            .iter()
            .map(|l| (l.from, l.to, l.kind, l.key.as_str()))
            .collect();
        assert_eq!(
            links,
            vec![
                (1, 2, LinkKind::Phone, "13805711234"),
                (1, 3, LinkKind::Phone, "13805711234"),
                (2, 3, LinkKind::OrgUscc, "91330100MA2XXXXX1X"),
            ]
        );
    }

    #[test]
    fn a_name_alone_never_pulls_a_case_in_at_the_default_score() {
        let g = MemoryGraph::default()
            .with(1, LinkKind::PersonName, "张三")
            .with(2, LinkKind::PersonName, "张三");
        assert_eq!(scored(&run(&g, params(3, 0.5, 200, 50))), vec![(1, 0, 1.0)]);
        assert_eq!(
            scored(&run(&g, params(3, 0.3, 200, 50))),
            vec![(1, 0, 1.0), (2, 1, 0.3)]
        );
    }

    #[test]
    fn a_hidden_case_is_never_walked_through() {
        let g = MemoryGraph::default()
            .with(1, LinkKind::PersonId, "a")
            .with(2, LinkKind::PersonId, "a")
            .with(2, LinkKind::OrgUscc, "b")
            .with(3, LinkKind::OrgUscc, "b")
            .hide(2);
        assert_eq!(scored(&run(&g, params(3, 0.5, 200, 50))), vec![(1, 0, 1.0)]);
    }

    #[test]
    fn hubs_are_listed_not_walked_and_max_nodes_truncates() {
        let mut g = MemoryGraph::default().with(1, LinkKind::Phone, "hub");
        for c in 2..=8 {
            g = g.with(c, LinkKind::Phone, "hub");
        }
        let chain = run(&g, params(3, 0.5, 200, 5));
        assert_eq!(scored(&chain), vec![(1, 0, 1.0)]);
        assert_eq!(
            chain.hubs,
            vec![ChainHub {
                kind: LinkKind::Phone,
                key: "hub".into(),
                case_count: 8
            }]
        );
        assert!(chain.truncated);
        let capped = run(&g, params(3, 0.5, 3, 50));
        assert_eq!(capped.nodes.len(), 3);
        assert!(capped.truncated);
        assert_eq!(
            capped.nodes[1].case_id, 2,
            "the same cases whatever the graph: in key and id order"
        );
    }

    #[test]
    fn walk_parameters_are_bounded() {
        assert!(WalkParams::new(7, 0.5, 200, 50).is_err());
        assert!(WalkParams::new(3, 1.5, 200, 50).is_err());
        assert!(WalkParams::new(3, 0.5, 0, 50).is_err());
        assert!(WalkParams::new(3, f64::NAN, 10, 50).is_err());
    }
}
