//! `cases(orderBy:, first:, after:, last:, before:)`: the sort of the case list and its
//! cursors. A cursor holds the case's sort value and id, so it stays a valid place in the list
//! while cases are added or changed around it; a cursor of one sort is refused by another.

use async_graphql::{Enum, InputObject};
use base64::Engine;
use hub::store::{CasePosition, CaseSort, Direction, SortedPage, Window};

use super::connection::{Edge, PageInfo};
use super::types::{Case, CaseConnection};
use crate::error::ApiError;

/// What `cases` are sorted by.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum CaseOrderField {
    /// The day the case was opened; cases without one come last ascending, first descending.
    OpenedOn,
    /// When the hub last stored a change to the case.
    UpdatedAt,
}

/// Ascending or descending.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum OrderDirection {
    #[default]
    Asc,
    Desc,
}

/// The sort of `cases`; ties are broken by id in the same direction. Without it, cases come
/// in id order.
#[derive(InputObject, Clone, Copy, Debug)]
pub struct CaseOrder {
    pub field: CaseOrderField,
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// The sort and direction `orderBy` asks for.
pub fn sort_of(order: Option<CaseOrder>) -> (CaseSort, Direction) {
    match order {
        None => (CaseSort::Id, Direction::Ascending),
        Some(CaseOrder { field, direction }) => (
            match field {
                CaseOrderField::OpenedOn => CaseSort::OpenedOn,
                CaseOrderField::UpdatedAt => CaseSort::UpdatedAt,
            },
            match direction {
                OrderDirection::Asc => Direction::Ascending,
                OrderDirection::Desc => Direction::Descending,
            },
        ),
    }
}

/// The page window of `first`/`after` or `last`/`before`. Paging backward (`last` or
/// `before` given) leaves `first` (and its default) aside; `after` and `before` together are
/// refused.
pub fn window(
    sort: CaseSort,
    max_page_size: u64,
    first: Option<i32>,
    after: Option<&str>,
    last: Option<i32>,
    before: Option<&str>,
) -> Result<Window<CasePosition>, ApiError> {
    let size = |name: &str, n: i32| -> Result<u64, ApiError> {
        let n = u64::try_from(n).map_err(|_| ApiError::bad_input(format!("{name} must not be negative")))?;
        if n > max_page_size {
            return Err(ApiError::LimitExceeded(format!(
                "{name} may be at most {max_page_size} (asked {n})"
            )));
        }
        Ok(n)
    };
    let position = |cursor: Option<&str>| cursor.map(|c| decode(sort, c)).transpose();
    if last.is_some() || before.is_some() {
        if after.is_some() {
            return Err(ApiError::bad_input(
                "give either after (forward) or before (backward), not both",
            ));
        }
        return Ok(Window::Last {
            n: size("last", last.unwrap_or(20))?,
            before: position(before)?,
        });
    }
    Ok(Window::First {
        n: size("first", first.unwrap_or(20))?,
        after: position(after)?,
    })
}

/// The connection of a sorted page of cases.
pub fn connection(page: SortedPage<entities::case::Model>, sort: CaseSort) -> CaseConnection {
    let edges: Vec<Edge<Case>> = page
        .items
        .into_iter()
        .map(|c| Edge {
            cursor: encode(&sort.position_of(&c)),
            node: Case::from(c),
        })
        .collect();
    CaseConnection {
        page_info: PageInfo {
            has_next_page: page.has_next,
            has_previous_page: page.has_previous,
            start_cursor: edges.first().map(|e| e.cursor.clone()),
            end_cursor: edges.last().map(|e| e.cursor.clone()),
        },
        edges,
        total: page.total,
    }
}

/// A cursor: `after:ID` for the id sort (as every other connection), `opened:DAY:ID`,
/// `updated:RFC3339:ID`, base64url.
fn encode(position: &CasePosition) -> String {
    let text = match position {
        CasePosition::Id(id) => format!("after:{id}"),
        CasePosition::OpenedOn(day, id) => format!("opened:{day}:{id}"),
        CasePosition::UpdatedAt(at, id) => {
            format!(
                "updated:{}:{id}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            )
        }
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode(sort: CaseSort, cursor: &str) -> Result<CasePosition, ApiError> {
    let bad = || ApiError::bad_input(format!("{cursor:?} is not a cursor of this connection"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
    let position = match kind {
        "after" => CasePosition::Id(rest.parse().map_err(|_| bad())?),
        "opened" | "updated" => {
            let (value, id) = rest.rsplit_once(':').ok_or_else(bad)?;
            let id: i64 = id.parse().map_err(|_| bad())?;
            if kind == "opened" {
                CasePosition::OpenedOn(value.parse().map_err(|_| bad())?, id)
            } else {
                let at = chrono::DateTime::parse_from_rfc3339(value).map_err(|_| bad())?;
                CasePosition::UpdatedAt(at.with_timezone(&chrono::Utc), id)
            }
        }
        _ => return Err(bad()),
    };
    if position.sort() != sort {
        return Err(ApiError::bad_input(format!(
            "{cursor:?} is a cursor of another orderBy than this request's"
        )));
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_their_sort() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-02T07:56:25.123456789Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2023, 2, 28).unwrap();
        for position in [
            CasePosition::Id(7),
            CasePosition::OpenedOn(day, 8),
            CasePosition::OpenedOn(hub::store::NO_OPENING_DATE, 9),
            CasePosition::UpdatedAt(at, 10),
        ] {
            let cursor = encode(&position);
            assert_eq!(decode(position.sort(), &cursor).unwrap(), position);
            let other = if position.sort() == CaseSort::Id {
                CaseSort::UpdatedAt
            } else {
                CaseSort::Id
            };
            assert!(decode(other, &cursor).is_err());
        }
        // The id sort's cursors are those of every other connection.
        assert_eq!(encode(&CasePosition::Id(99)), super::super::scalars::encode_cursor(99));
        for garbage in ["!!", "b3BlbmVkOng6MQ", "dXBkYXRlZDp4OjE", "Zm9vOjE"] {
            assert!(decode(CaseSort::OpenedOn, garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn windows_forward_and_backward() {
        let forward = window(CaseSort::Id, 100, Some(5), None, None, None).unwrap();
        assert!(matches!(forward, Window::First { n: 5, after: None }));
        let backward = window(CaseSort::Id, 100, Some(20), None, Some(3), None).unwrap();
        assert!(matches!(backward, Window::Last { n: 3, before: None }));
        let cursor = encode(&CasePosition::Id(4));
        let before = window(CaseSort::Id, 100, Some(20), None, None, Some(&cursor)).unwrap();
        assert!(matches!(
            before,
            Window::Last {
                n: 20,
                before: Some(CasePosition::Id(4))
            }
        ));
        assert!(window(CaseSort::Id, 100, None, Some(&cursor), None, Some(&cursor)).is_err());
        assert!(window(CaseSort::Id, 100, None, None, Some(101), None).is_err());
        assert!(window(CaseSort::Id, 100, None, None, Some(-1), None).is_err());
    }
}
