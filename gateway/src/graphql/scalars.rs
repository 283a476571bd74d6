//! Custom scalars and global IDs.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value, ID};
use base64::Engine;
use chrono::NaiveDate;

use crate::error::ApiError;

/// An instant, RFC 3339 (`2022-09-27T10:15:00Z`).
#[derive(Debug, Clone, Copy)]
pub struct DateTime(pub chrono::DateTime<chrono::Utc>);

/// An instant, RFC 3339 (`2022-09-27T10:15:00Z`).
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| DateTime(d.with_timezone(&chrono::Utc)))
                .map_err(|_| InputValueError::custom(format!("{s:?} is not an RFC 3339 instant"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// A calendar date, `YYYY-MM-DD`.
#[Scalar(
    name = "Date",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom(format!("{s:?} is not a YYYY-MM-DD date"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// The object kinds a global ID can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Case,
    Party,
    Task,
    Finding,
}

impl NodeKind {
    fn prefix(self) -> &'static str {
        match self {
            NodeKind::Case => "Case",
            NodeKind::Party => "Party",
            NodeKind::Task => "Task",
            NodeKind::Finding => "Finding",
        }
    }
}

/// `Case:42` → ID.
pub fn global_id(kind: NodeKind, id: i64) -> ID {
    // Written directly: a response can carry hundreds of ids, and `format!` cost several times more.
    let prefix = kind.prefix();
    let mut number = itoa::Buffer::new();
    let number = number.format(id);
    let mut text = String::with_capacity(prefix.len() + 1 + number.len());
    text.push_str(prefix);
    text.push(':');
    text.push_str(number);
    ID(text)
}

/// Parses a global ID of any kind.
pub fn parse_global_id(id: &str) -> Result<(NodeKind, i64), ApiError> {
    let bad = || ApiError::bad_input(format!("{id:?} is not an id of this API"));
    let (prefix, number) = id.split_once(':').ok_or_else(bad)?;
    let kind = match prefix {
        "Case" => NodeKind::Case,
        "Party" => NodeKind::Party,
        "Task" => NodeKind::Task,
        "Finding" => NodeKind::Finding,
        _ => return Err(bad()),
    };
    let n: i64 = number.parse().map_err(|_| bad())?;
    Ok((kind, n))
}

/// Parses a global ID that must be of `kind`.
pub fn parse_id_of(kind: NodeKind, id: &str) -> Result<i64, ApiError> {
    match parse_global_id(id)? {
        (k, n) if k == kind => Ok(n),
        _ => Err(ApiError::bad_input(format!("{id:?} is not a {} id", kind.prefix()))),
    }
}

pub fn encode_cursor(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{id}"))
}

pub fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::bad_input(format!("{cursor:?} is not a cursor of this connection"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix("after:").and_then(|n| n.parse().ok()).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_cursors_round_trip_and_reject_garbage() {
        assert_eq!(
            parse_global_id(&global_id(NodeKind::Party, 7)).unwrap(),
            (NodeKind::Party, 7)
        );
        assert!(parse_id_of(NodeKind::Case, "Party:7").is_err());
        for id in [0, -42, i64::MAX, i64::MIN] {
            assert_eq!(global_id(NodeKind::Case, id).0, format!("Case:{id}"));
        }
        assert!(parse_global_id("Case:x").is_err() && parse_global_id("Robot:1").is_err());
        assert_eq!(decode_cursor(&encode_cursor(99)).unwrap(), 99);
        assert!(decode_cursor("!!").is_err());
    }
}

pub struct JsonValue(pub serde_json::Value);

/// Any JSON value (ECMA-404).
#[Scalar(
    name = "JSON",
    specified_by_url = "https://www.ecma-international.org/publications-and-standards/standards/ecma-404/"
)]
impl ScalarType for JsonValue {
    fn parse(value: Value) -> InputValueResult<Self> {
        Ok(JsonValue(value.into_json()?))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}
