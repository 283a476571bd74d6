//! Small readers for loosely typed JSON fields.

use serde_json::Value;

/// A string field; numbers are taken as their text, null and empty as absent.
pub fn string(obj: &Value, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A version: a positive integer or its string spelling (`"2"`).
pub fn version(obj: &Value, key: &str) -> Result<Option<i32>, ()> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .filter(|v| *v >= 1)
            .map(Some)
            .ok_or(()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse::<i32>().ok().filter(|v| *v >= 1).map(Some).ok_or(()),
        Some(_) => Err(()),
    }
}

/// An array field that may come as a single object.
pub fn list<'a>(obj: &'a Value, key: &str) -> Vec<&'a Value> {
    match obj.get(key) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    }
}
