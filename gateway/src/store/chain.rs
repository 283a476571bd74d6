//! The chain of a case, with its cases, as one viewer may see it.

use std::collections::HashMap;

use entities::case;

use super::ScopedStore;
use crate::error::{ApiError, ApiResult};
use crate::linkage::{walk, Chain, WalkParams};

impl ScopedStore {
    /// Walks the chain of a visible case and reads its cases (the root included) through the
    /// scope. On the linkage index when the gateway keeps one and it is current; its answer
    /// is used only if the database returns every case it found — otherwise (a case changed
    /// since, or the root is not visible) the walk is done again in SQL, which decides.
    pub async fn chain(&self, root: i64, params: WalkParams) -> ApiResult<(Chain, HashMap<i64, case::Model>)> {
        if let Some(index) = &self.links {
            match index.current().await {
                Ok(true) => {
                    let chain = walk(&index.view(&self.scope), root, params).await?;
                    let ids: Vec<i64> = chain.nodes.iter().map(|n| n.case_id).collect();
                    let cases = self.visible_cases_by_ids(&ids).await?;
                    if ids.iter().all(|id| cases.contains_key(id)) {
                        self.trail.cases(ids.iter().copied());
                        return Ok((chain, cases));
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "linkage index unavailable; walking in SQL"),
            }
        }
        if self.case_by_id(root).await?.is_none() {
            return Err(ApiError::NotFound("case"));
        }
        let chain = walk(self, root, params).await?;
        let ids: Vec<i64> = chain.nodes.iter().map(|n| n.case_id).collect();
        let cases = self.cases_by_ids(&ids).await?;
        Ok((chain, cases))
    }
}
