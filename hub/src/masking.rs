//! Masking as data leaves: every string a masking viewer (`congress`) receives — structured
//! fields, free text, error messages, subscription messages — passes through `mask_strings`
//! once, on its way out (HTTP and WebSocket alike), whatever resolver produced it. (The HTTP
//! path masks a response's data as executed, before it is written: the gateway's
//! `mask_graphql_strings` is this walk over GraphQL values, with the same `mask_text`.)

use entities::ids::mask_text;
use serde_json::Value;

/// Masks every ID number and phone in every string of `value`, in place.
pub fn mask_strings(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(masked) = mask_text(s) {
                *s = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_strings),
        Value::Object(map) => map.values_mut().for_each(mask_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_every_string_of_a_response() {
        let mut v = json!({"data": {"cases": [{"summary": "身份证（33072620020223162x）联系电话13172297575", "version": 3,
            "sourceKey": "JD-2024-0001"}]}, "errors": [{"message": "no case 13912345678"}]});
        mask_strings(&mut v);
        assert_eq!(
            v,
            json!({"data": {"cases": [{"summary": "身份证（330726********162X）联系电话131****7575", "version": 3,
                "sourceKey": "JD-2024-0001"}]}, "errors": [{"message": "no case 139****5678"}]})
        );
    }
}
