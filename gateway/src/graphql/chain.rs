//! `CaseChain` and its parts: the chain a case pulls across the five systems.

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use entities::ids::{id_number::mask_id_number, phone::mask_phone};
use entities::LinkKind as Kind;

use super::in_place::{InPlace, InPlaceList, MayWait};
use super::scalars::{global_id, NodeKind};
use super::store;
use super::types::Case;
use crate::error::{ApiError, ApiResult};
use hub::linkage::{Chain, WalkParams};
use hub::store::ScopedStore;

/// What kind of key ties two cases together.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::LinkKind")]
pub enum LinkKind {
    /// A valid resident ID number (score 1.0).
    PersonId,
    /// A valid unified social credit code (score 1.0).
    OrgUscc,
    /// A court, procuratorate or police case number (score 1.0).
    CaseNo,
    /// An officer's badge within an agency, `agency code:badge` (score 1.0).
    Badge,
    /// A full phone number (score 0.8).
    Phone,
    /// A full organization name (score 0.7).
    OrgName,
    /// A person's name alone (score 0.3).
    PersonName,
}

/// A key as a viewer may read it: ID numbers and phones masked for masking roles.
fn visible_key(kind: Kind, key: String, masked: bool) -> String {
    match (masked, kind) {
        (true, Kind::PersonId) => mask_id_number(&key),
        (true, Kind::Phone) => mask_phone(&key),
        _ => key,
    }
}

// The chain's parts and their cases are resolved in place (`in_place`): without the executor's
// boxed future and task per field and per list item, and one field after another unless two
// fields that may wait are selected (`MayWait`): `CaseChain`'s `root` and `nodes`, or `Case`'s
// `provenance` and `parties` — one after the other, each case of a list would reach the
// parties' loader at its own moment after its first read, so the loader would read for them
// apart instead of in one batch whenever those first reads outlast its wait of one timer tick
// (on an idle machine they do not: the test `a_pages_parties_are_read_in_one_batch_after_another_read`,
// which counts the statements, holds either way). Of these types the executor resolves only a
// `ChainGrowth` (pushed to a subscriber), one field after another (`serial`): of its fields only
// `nodes` holds cases, whose parties may wait.

/// One case of a chain.
pub struct ChainNode {
    case: Case,
    depth: i32,
    score: f64,
}

#[Object]
impl ChainNode {
    async fn case(&self) -> InPlace<&Case> {
        InPlace(&self.case)
    }
    /// Links from the root along the best path (the root: 0).
    async fn depth(&self) -> i32 {
        self.depth
    }
    /// The product of the link scores along the best path (the root: 1).
    async fn score(&self) -> f64 {
        self.score
    }
}

// The cases' ids are written only when asked.
pub struct ChainLink {
    from: i64,
    to: i64,
    kind: LinkKind,
    key: String,
    score: f64,
}

impl MayWait for ChainNode {
    const FIELDS: &'static [&'static str] = &["case"];
}

/// Two cases tied by a shared key, and which key.
#[Object]
impl ChainLink {
    async fn from(&self) -> ID {
        global_id(NodeKind::Case, self.from)
    }
    async fn to(&self) -> ID {
        global_id(NodeKind::Case, self.to)
    }
    async fn kind(&self) -> LinkKind {
        self.kind
    }
    /// The shared key (masked for masking roles).
    async fn key(&self) -> &str {
        &self.key
    }
    /// The score of a link of this kind.
    async fn score(&self) -> f64 {
        self.score
    }
}

impl MayWait for ChainLink {
    const FIELDS: &'static [&'static str] = &[];
}

/// A key shared by too many cases to walk through.
#[derive(SimpleObject)]
pub struct ChainHub {
    pub kind: LinkKind,
    pub key: String,
    /// How many cases you may see carry it.
    pub case_count: i32,
}

impl MayWait for ChainHub {
    const FIELDS: &'static [&'static str] = &[];
}

/// The chain one case pulls: every case you may see tied to it, and why.
pub struct CaseChain {
    root: Case,
    nodes: Vec<ChainNode>,
    links: Vec<ChainLink>,
    hubs: Vec<ChainHub>,
    truncated: bool,
}

#[Object]
impl CaseChain {
    async fn root(&self) -> InPlace<&Case> {
        InPlace(&self.root)
    }
    /// The root first, at depth 0 with score 1.
    async fn nodes(&self) -> InPlaceList<'_, ChainNode> {
        InPlaceList(&self.nodes)
    }
    async fn links(&self) -> InPlaceList<'_, ChainLink> {
        InPlaceList(&self.links)
    }
    /// Identifiers shared by too many cases to expand.
    async fn hubs(&self) -> InPlaceList<'_, ChainHub> {
        InPlaceList(&self.hubs)
    }
    /// True when maxNodes or a hub stopped the walk.
    async fn truncated(&self) -> bool {
        self.truncated
    }
}

impl MayWait for CaseChain {
    /// Each holds cases, whose parties may be read.
    const FIELDS: &'static [&'static str] = &["root", "nodes"];
}

/// The walk's parameters from a chain field's arguments (defaults: depth 3, score 0.5,
/// 200 nodes) and the configured hub threshold.
pub(crate) fn walk_params(
    ctx: &Context<'_>,
    max_depth: Option<i32>,
    min_score: Option<f64>,
    max_nodes: Option<i32>,
) -> async_graphql::Result<WalkParams> {
    Ok(WalkParams::new(
        max_depth.unwrap_or(3),
        min_score.unwrap_or(0.5),
        max_nodes.unwrap_or(200),
        ctx.data::<super::Limits>()?.hub_threshold,
    )
    .map_err(crate::error::ApiError::from)?)
}

/// Walks the chain of a visible case and loads its cases (one query).
pub async fn case_chain(ctx: &Context<'_>, root_id: i64, params: WalkParams) -> async_graphql::Result<CaseChain> {
    Ok(chain_of(store(ctx)?, root_id, params).await?)
}

/// The chain of a visible case, as `store` may see it.
pub(crate) async fn chain_of(store: &ScopedStore, root_id: i64, params: WalkParams) -> ApiResult<CaseChain> {
    let (
        Chain {
            nodes,
            links,
            hubs,
            truncated,
        },
        mut cases,
    ) = store.records()?.chain(root_id, params).await?;
    let root = cases.get(&root_id).cloned().ok_or(ApiError::NotFound("case"))?;
    let masked = store.scope().masked;
    Ok(CaseChain {
        root: Case(root),
        nodes: nodes
            .into_iter()
            .filter_map(|n| {
                cases.remove(&n.case_id).map(|c| ChainNode {
                    case: Case(c),
                    depth: n.depth as i32,
                    score: n.score,
                })
            })
            .collect(),
        links: links
            .into_iter()
            .map(|l| ChainLink {
                from: l.from,
                to: l.to,
                kind: l.kind.into(),
                key: visible_key(l.kind, l.key, masked),
                score: l.score,
            })
            .collect(),
        hubs: hubs
            .into_iter()
            .map(|h| ChainHub {
                kind: h.kind.into(),
                key: visible_key(h.kind, h.key, masked),
                case_count: i32::try_from(h.case_count).unwrap_or(i32::MAX),
            })
            .collect(),
        truncated,
    })
}

/// Cases that joined a watched chain since the last update, with the links that tie them in.
pub struct ChainGrowth {
    pub(crate) watched: ID,
    pub(crate) nodes: Vec<ChainNode>,
    pub(crate) links: Vec<ChainLink>,
    pub(crate) truncated: bool,
}

#[Object(serial)]
impl ChainGrowth {
    /// The watched case.
    async fn watched(&self) -> &ID {
        &self.watched
    }
    /// The cases new to the chain.
    async fn nodes(&self) -> InPlaceList<'_, ChainNode> {
        InPlaceList(&self.nodes)
    }
    /// The chain's links that touch a new case.
    async fn links(&self) -> InPlaceList<'_, ChainLink> {
        InPlaceList(&self.links)
    }
    /// True when maxNodes or a hub stopped the walk.
    async fn truncated(&self) -> bool {
        self.truncated
    }
}

impl CaseChain {
    /// The ids of the chain's cases.
    pub(crate) fn case_ids(&self) -> std::collections::HashSet<i64> {
        self.nodes.iter().map(|n| n.case.0.id).collect()
    }

    /// What this chain has beyond `known`: the new cases and the links touching them.
    pub(crate) fn growth_beyond(self, known: &std::collections::HashSet<i64>, watched: ID) -> Option<ChainGrowth> {
        let new_ids: std::collections::HashSet<i64> = self
            .nodes
            .iter()
            .filter(|n| !known.contains(&n.case.0.id))
            .map(|n| n.case.0.id)
            .collect();
        if new_ids.is_empty() {
            return None;
        }
        Some(ChainGrowth {
            watched,
            nodes: self
                .nodes
                .into_iter()
                .filter(|n| !known.contains(&n.case.0.id))
                .collect(),
            links: self
                .links
                .into_iter()
                .filter(|l| new_ids.contains(&l.from) || new_ids.contains(&l.to))
                .collect(),
            truncated: self.truncated,
        })
    }
}
