//! The chain of a case, with its cases, as one viewer may see it.

use std::collections::HashMap;
use std::sync::Arc;

use entities::case;

use super::Records;
use crate::error::{Error, Result};
use crate::link_index::LinkIndex;
use crate::linkage::{walk, Chain, WalkParams};

impl Records<'_> {
    /// Walks the chain of a visible case and reads its cases (the root included) through the
    /// scope. On the linkage index when the gateway keeps one; its answer is used only if the
    /// database returns every case it found — otherwise (a case changed since, or the root is
    /// not visible) the walk is done again in SQL, which decides.
    pub async fn chain(&self, root: i64, params: WalkParams) -> Result<(Chain, HashMap<i64, Arc<case::Model>>)> {
        if let Some(index) = self.0.links.as_ref().filter(|i| i.usable()) {
            if let Some(found) = self.chain_on_index(index, root, params).await? {
                return Ok(found);
            }
        }
        if self.case_by_id(root).await?.is_none() {
            return Err(Error::NotFound("case"));
        }
        let chain = walk(self.0, root, params).await?;
        let ids: Vec<i64> = chain.nodes.iter().map(|n| n.case_id).collect();
        let cases = self.cases_by_ids(&ids).await?;
        Ok((chain, cases))
    }

    /// The walk on the index, brought current as of this request (the journal's last row read
    /// after it began), with its cases from the case cache — or in the request's snapshot when
    /// memory may not answer. `None`: SQL must answer (the index cannot answer now, or a case
    /// it found is not visible: the root, or one changed since).
    async fn chain_on_index(
        &self,
        index: &Arc<LinkIndex>,
        root: i64,
        params: WalkParams,
    ) -> Result<Option<(Chain, HashMap<i64, Arc<case::Model>>)>> {
        let Some(cache) = self.memory().await else {
            return self.chain_on_index_in_snapshot(index, root, params).await;
        };
        let chain = walk(&index.view(&self.0.scope), root, params).await?;
        let ids: Vec<i64> = chain.nodes.iter().map(|n| n.case_id).collect();
        let cases = self.cases_in(cache, &ids).await?;
        if !ids.iter().all(|id| cases.contains_key(id)) {
            return Ok(None);
        }
        self.0.trail.cases(ids.iter().copied());
        Ok(Some((chain, cases)))
    }

    /// The walk on the index for a request whose snapshot is open (memory may not answer it):
    /// the cases are read in the snapshot together with the journal's last row, and when that row is one the index has not applied (a change
    /// committed meanwhile, by anyone), the index catches up and the walk is done again. So a
    /// walk costs one query when nothing changed. `None`: SQL must answer.
    async fn chain_on_index_in_snapshot(
        &self,
        index: &Arc<LinkIndex>,
        root: i64,
        params: WalkParams,
    ) -> Result<Option<(Chain, HashMap<i64, Arc<case::Model>>)>> {
        for first in [true, false] {
            let applied = index.applied();
            let chain = walk(&index.view(&self.0.scope), root, params).await?;
            let ids: Vec<i64> = chain.nodes.iter().map(|n| n.case_id).collect();
            let (cases, head) = self.visible_cases_and_journal_head(&ids).await?;
            let Some(head) = head else { return Ok(None) }; // not even the root is visible
            if first && head > applied {
                match index.catch_up_to(head).await {
                    Ok(true) => continue,
                    Ok(false) => return Ok(None),
                    Err(e) => {
                        tracing::warn!(error = %e, "catching the linkage index up; walking in SQL");
                        return Ok(None);
                    }
                }
            }
            if !ids.iter().all(|id| cases.contains_key(id)) {
                return Ok(None);
            }
            self.0.trail.cases(ids.iter().copied());
            return Ok(Some((chain, cases)));
        }
        Ok(None)
    }
}
