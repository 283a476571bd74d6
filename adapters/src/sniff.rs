//! Recognizes a file that is plainly another feed's (a procuratorate page fed as
//! `enforcement`, a registry CSV fed as `social`), from the strong marks of each document —
//! its root element, its JSON keys, its header's columns — so that it is rejected whole with
//! the likely feed named, instead of being read as junk rows. Only unmistakable marks count:
//! a file of the right feed is never refused here.

use entities::Feed;
use serde_json::Value;

/// Bytes looked at.
const HEAD: usize = 64 * 1024;

/// The feed `bytes` plainly belong to, when that is not `feed`.
pub fn other_feed(feed: Feed, bytes: &[u8]) -> Option<Feed> {
    let found = likely_feed(bytes)?;
    (found != feed).then_some(found)
}

/// The feed whose marks `bytes` carry, if any.
pub fn likely_feed(bytes: &[u8]) -> Option<Feed> {
    let head = &bytes[..bytes.len().min(HEAD)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = match std::str::from_utf8(head) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        // Cut inside a character at HEAD, or another encoding (discipline's GB18030).
        Err(e) if e.error_len().is_none() => {
            std::borrow::Cow::Borrowed(std::str::from_utf8(&head[..e.valid_up_to()]).ok()?)
        }
        Err(_) => encoding_rs::GB18030.decode(head).0,
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with("<?xml") || trimmed.starts_with("<JDSXPL") {
        return Some(Feed::Congress);
    }
    let first = trimmed.lines().next()?.trim();
    if first.starts_with('{') {
        return json_feed(first, trimmed);
    }
    let columns: Vec<&str> = first.split(',').map(|c| c.trim().trim_matches('"')).collect();
    let has = |name: &str| columns.contains(&name);
    if has("线索编号") && has("被反映人") {
        Some(Feed::Discipline)
    } else if has("工单编号") && has("渠道") {
        Some(Feed::Social)
    } else if has("费款所属期") && has("参保人数") {
        Some(Feed::Insurance)
    } else if has("企业名称") && has("登记状态") {
        Some(Feed::Registry)
    } else if has("证件号码") && has("行业") && has("从业状态") {
        Some(Feed::Practitioners)
    } else if has("inspectedAt") && has("pointType") {
        Some(Feed::Inspections)
    } else {
        None
    }
}

fn json_feed(first_line: &str, text: &str) -> Option<Feed> {
    // A procuratorate page is one JSON document (maybe pretty-printed over many lines).
    let value: Value = serde_json::from_str(first_line)
        .or_else(|_| serde_json::from_str(text))
        .ok()?;
    let object = value.as_object()?;
    let has = |key: &str| object.contains_key(key);
    if has("items") && has("nextCursor") {
        Some(Feed::Procuratorate)
    } else if has("JDBH") {
        Some(Feed::Enforcement)
    } else if has("nsrsbh") && has("sssq") {
        Some(Feed::Tax)
    } else if has("bgrzjhm") || (has("ah") && has("zm")) {
        Some(Feed::Convictions)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_feed_is_known_by_its_marks() {
        let page = br#"{"items":[{"id":"P-1","version":1}],"nextCursor":null}"#;
        assert_eq!(other_feed(Feed::Enforcement, page), Some(Feed::Procuratorate));
        assert_eq!(other_feed(Feed::Procuratorate, page), None);
        let enforcement = "{\"JDBH\":\"ZFJD-1\",\"BBH\":1}\n{\"JDBH\":\"ZFJD-2\",\"BBH\":1}\n";
        assert_eq!(other_feed(Feed::Tax, enforcement.as_bytes()), Some(Feed::Enforcement));
        let registry = "统一社会信用代码,企业名称,企业类型,登记状态\n";
        assert_eq!(other_feed(Feed::Social, registry.as_bytes()), Some(Feed::Registry));
        let discipline = encoding_rs::GB18030.encode("线索编号,版本,被反映人\r\n").0.into_owned();
        assert_eq!(other_feed(Feed::Social, &discipline), Some(Feed::Discipline));
        assert_eq!(other_feed(Feed::Discipline, &discipline), None);
        assert_eq!(
            other_feed(Feed::Enforcement, b"<?xml version=\"1.0\"?><JDSXPL/>"),
            Some(Feed::Congress)
        );
        // Nothing recognizable: left to the feed's own reader.
        assert_eq!(other_feed(Feed::Enforcement, b"not json at all\n"), None);
        assert_eq!(other_feed(Feed::Enforcement, b""), None);
    }
}
