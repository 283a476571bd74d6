//! Admin-only reads: provenance and quarantine.

use entities::{quarantine, source_record, Source};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use super::page::keyset_page;
use super::{Page, ScopedStore};
use crate::error::{Error, Result};
use sea_orm::Order;

impl ScopedStore {
    fn admin_only(&self) -> Result<()> {
        if self.scope.administers() {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// Every stored version of a case's source record, newest version first.
    pub async fn provenance(&self, source: Source, source_key: &str) -> Result<Vec<source_record::Model>> {
        self.admin_only()?;
        Ok(source_record::Entity::find()
            .filter(source_record::Column::Source.eq(source))
            .filter(source_record::Column::SourceKey.eq(source_key))
            .order_by_desc(source_record::Column::Version)
            .order_by_desc(source_record::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Quarantined input records, newest first.
    pub async fn quarantined(
        &self,
        source: Option<entities::Feed>,
        file: Option<&str>,
        first: u64,
        before: Option<i64>,
    ) -> Result<Page<quarantine::Model>> {
        self.admin_only()?;
        let mut c = Condition::all();
        if let Some(s) = source {
            c = c.add(quarantine::Column::Source.eq(s));
        }
        if let Some(f) = file {
            c = c.add(quarantine::Column::File.eq(f));
        }
        keyset_page::<quarantine::Entity, _>(&self.db, c, quarantine::Column::Id, Order::Desc, first, before).await
    }
}
