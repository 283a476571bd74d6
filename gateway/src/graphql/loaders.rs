//! DataLoaders: one batched query per level instead of one per row.

use async_graphql::dataloader::Loader;
use entities::{case_party, party};
use std::collections::HashMap;

use hub::store::ScopedStore;

/// `Case.parties`, batched over every case of a response.
pub struct PartiesByCase(pub ScopedStore);

impl Loader<i64> for PartiesByCase {
    type Value = Vec<(case_party::Model, party::Model)>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        Ok(self
            .0
            .records()
            .map_err(crate::error::ApiError::from)?
            .parties_of_cases(keys)
            .await
            .map_err(crate::error::ApiError::from)?)
    }
}
