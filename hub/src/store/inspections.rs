//! 平安督 through the viewer's scope: recording, reading and the index.

use chrono::{NaiveDate, Utc};

use super::ScopedStore;
use crate::error::{Error, Result};
use crate::inspections::index::{self, TownMonth, Weights};
use crate::inspections::{self as domain, InspectionInput, InspectionView, Origin, Recorded};
use crate::viewer::Viewer;

impl ScopedStore {
    /// Records an inspection for `viewer` (`admin`, or an `inspector` in its regions), opening
    /// a task per problem. The same `id` with the same content answers the stored inspection;
    /// with other content it is `BAD_USER_INPUT` (an inspection is immutable).
    pub async fn record_inspection(
        &self,
        viewer: &Viewer,
        input: InspectionInput,
        task_days: u32,
    ) -> Result<(InspectionView, bool)> {
        if !self.scope.records_inspections() {
            return Err(Error::Forbidden);
        }
        let input = input
            .validated(Utc::now())
            .map_err(|invalid| Error::bad_input(invalid.to_string()))?;
        if !self.scope.may_record_inspection(&input.region_code) {
            return Err(Error::Forbidden);
        }
        // The other region is not named: it may come from records this viewer cannot read.
        if domain::town_elsewhere(&self.pool, &input.region_code, &input.town)
            .await?
            .is_some()
        {
            return Err(Error::bad_input(format!(
                "town: {} lies in another region than {}",
                input.town, input.region_code
            )));
        }
        let origin = Origin {
            file: "recordInspection",
            positions: Vec::new(),
        };
        let txn = self.begin_write().await?;
        let (stored, inserted) = match domain::record(txn, viewer, &input, origin, task_days).await? {
            Recorded::Inserted(m) => (m, true),
            Recorded::Unchanged(m) => (m, false),
            Recorded::Conflicting(m) => {
                return Err(Error::bad_input(format!(
                "id: inspection {} is recorded with other content; a correction is a new inspection with its own id",
                m.id
            )))
            }
        };
        let view = domain::read(&self.pool, &self.scope, &stored.id)
            .await?
            .ok_or(Error::NotFound("inspection"))?;
        Ok((view, inserted))
    }

    /// The inspection `id`, if the viewer may read it.
    pub async fn inspection(&self, id: &str) -> Result<Option<InspectionView>> {
        domain::read(&self.db, &self.scope, id).await
    }

    /// The 平安督查指数 of months `from`..=`to` (`YYYY-MM`) in `region_prefix`, as of `today`.
    pub async fn inspection_index(
        &self,
        from: &str,
        to: &str,
        region_prefix: Option<&str>,
        today: NaiveDate,
        weights: Weights,
    ) -> Result<Vec<TownMonth>> {
        index::for_viewer(&self.db, &self.scope, from, to, region_prefix, today, weights).await
    }
}
