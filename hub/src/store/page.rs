//! Keyset pages over an id column, one implementation for every list (cases, tasks, the audit
//! log, quarantine): `first` items after (or before) the cursor's id, whether more follow, and
//! the total matching — counted only when asked for.

use sea_orm::sea_query::SimpleExpr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, ExprTrait, FromQueryResult, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Value,
};

use crate::error::Result;

/// One page of a keyset-paginated list.
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next: bool,
    pub total: Total,
}

type Counting = std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64>> + Send>>;

/// How many items match a list's condition, counted when asked for — through the same reader
/// as the page (a query's snapshot) — and not otherwise: a count reads every matching row,
/// where a page reads its own, and most pages are asked for without it.
#[derive(Clone)]
pub struct Total(std::sync::Arc<dyn Fn() -> Counting + Send + Sync>);

impl Total {
    fn of<E, C>(db: &C, condition: Condition) -> Total
    where
        E: EntityTrait,
        E::Model: FromQueryResult + Send + Sync,
        C: ConnectionTrait + Clone + Send + Sync + 'static,
    {
        let db = db.clone();
        Total(std::sync::Arc::new(move || {
            let (db, condition) = (db.clone(), condition.clone());
            Box::pin(async move { Ok(E::find().filter(condition).count(&db).await?) })
        }))
    }

    /// Counts the matching items.
    pub async fn count(&self) -> Result<u64> {
        (self.0)().await
    }
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
    C: ConnectionTrait + Clone + Send + Sync + 'static,
{
    let total = Total::of::<E, C>(db, condition.clone());
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

/// Which items a page holds: the first `n` after a position, or the last `n` before one
/// (Relay's `first`/`after` and `last`/`before`); no position: from the start or the end.
#[derive(Debug, Clone)]
pub enum Window<P> {
    First { n: u64, after: Option<P> },
    Last { n: u64, before: Option<P> },
}

/// The direction of a sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// A page of a sorted list, with whether items come before it and after it.
pub struct SortedPage<T> {
    pub items: Vec<T>,
    pub has_previous: bool,
    pub has_next: bool,
    pub total: Total,
}

/// The page of `E` matching `condition`, sorted by `key` then `id` (both in `direction`), in the
/// `window` of positions `(key value, id)`. Keyset, whatever the window: a page costs its own
/// rows, and a cursor stays valid while rows are added or removed around it.
pub async fn sorted_page<E, C>(
    db: &C,
    condition: Condition,
    key: SimpleExpr,
    id: E::Column,
    direction: Direction,
    window: Window<(Value, i64)>,
) -> Result<SortedPage<E::Model>>
where
    E: EntityTrait,
    E::Model: FromQueryResult + Send + Sync,
    C: ConnectionTrait + Clone + Send + Sync + 'static,
{
    let total = Total::of::<E, C>(db, condition.clone());
    let (n, position, backward) = match window {
        Window::First { n, after } => (n, after, false),
        Window::Last { n, before } => (n, before, true),
    };
    // Backward pages are read in the opposite order from their position, then turned round.
    let ascending = (direction == Direction::Ascending) != backward;
    let read_order = if ascending { Order::Asc } else { Order::Desc };
    let mut select = E::find()
        .filter(condition)
        .order_by(key.clone(), read_order.clone())
        .order_by(id, read_order);
    if let Some((value, at)) = position.clone() {
        let past_key = if ascending {
            key.clone().gt(value.clone())
        } else {
            key.clone().lt(value.clone())
        };
        let past_id = if ascending { id.gt(at) } else { id.lt(at) };
        select = select.filter(
            Condition::any()
                .add(past_key)
                .add(Condition::all().add(key.eq(value)).add(past_id)),
        );
    }
    let mut items = select.limit(n + 1).all(db).await?;
    let more = items.len() as u64 > n;
    items.truncate(n as usize);
    if backward {
        items.reverse();
        Ok(SortedPage {
            items,
            has_previous: more,
            has_next: position.is_some(),
            total,
        })
    } else {
        Ok(SortedPage {
            items,
            has_previous: position.is_some(),
            has_next: more,
            total,
        })
    }
}
