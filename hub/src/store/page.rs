//! Keyset pages over an id column, one implementation for every list (cases, tasks, the audit
//! log, quarantine): `first` items after (or before) the cursor's id, whether more follow, and
//! the total matching.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::error::Result;

/// One page of a keyset-paginated list.
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next: bool,
    pub total: u64,
}

/// The page of `E` matching `condition`, in `order` of `id`, starting past `cursor` (an id
/// already seen: greater than it ascending, smaller descending).
pub async fn keyset_page<E, C>(
    db: &C,
    condition: Condition,
    id: E::Column,
    order: Order,
    first: u64,
    cursor: Option<i64>,
) -> Result<Page<E::Model>>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    C: ConnectionTrait,
{
    let total = E::find().filter(condition.clone()).count(db).await?;
    let mut select = E::find().filter(condition).order_by(id, order.clone());
    if let Some(cursor) = cursor {
        select = select.filter(match order {
            Order::Desc => id.lt(cursor),
            _ => id.gt(cursor),
        });
    }
    let mut items = select.limit(first + 1).all(db).await?;
    let has_next = items.len() as u64 > first;
    items.truncate(first as usize);
    Ok(Page { items, has_next, total })
}
