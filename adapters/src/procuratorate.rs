//! PROCURATORATE — 检察院法律监督: JSON pages, pulled or saved as files (sources/procuratorate.md).

use entities::Source;
use serde_json::Value;

use crate::json_fields::{list, string, version};
use crate::record::{Item, Parsed, Position, Quarantined, UnifiedRecord};
use crate::text::{parse_date, party, region_code_field, PartyFields};
use crate::{AdapterError, Result};

/// A page: its items and the cursor of the next page.
pub struct Page {
    pub parsed: Parsed,
    pub next_cursor: Option<String>,
    /// The largest `updatedAt` among the page's items (RFC 3339), for the pull watermark.
    pub max_updated_at: Option<String>,
}

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed> {
    parse_page(file, bytes).map(|p| p.parsed)
}

pub fn parse_page(file: &str, bytes: &[u8]) -> Result<Page> {
    let reject = |reason: String| AdapterError::Rejected {
        file: file.into(),
        reason,
    };
    let body: Value = serde_json::from_slice(bytes).map_err(|e| reject(format!("not a JSON page: {e}")))?;
    let items = body
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| reject("a page is an object with an `items` array".into()))?;
    let next_cursor = string(&body, "nextCursor");
    let mut parsed = Parsed::default();
    let mut max_updated_at: Option<(chrono::DateTime<chrono::Utc>, String)> = None;
    for (i, item) in items.iter().enumerate() {
        let position = Position {
            item: Some(i as u64 + 1),
            ..Default::default()
        };
        let raw = item.to_string();
        if let Some(updated) = string(item, "updatedAt") {
            if let Some(at) = crate::text::parse_instant(&updated) {
                if max_updated_at.as_ref().map(|(m, _)| at > *m).unwrap_or(true) {
                    max_updated_at = Some((at, updated));
                }
            }
        }
        parsed.items.push(match record(item, raw.clone(), position.clone()) {
            Ok(r) => Item::Record(Box::new(r)),
            Err((reason, detail)) => Item::Quarantined(Quarantined {
                position,
                reason,
                detail,
                raw,
            }),
        });
    }
    Ok(Page {
        parsed,
        next_cursor,
        max_updated_at: max_updated_at.map(|(_, s)| s),
    })
}

fn record(v: &Value, raw: String, position: Position) -> std::result::Result<UnifiedRecord, (&'static str, String)> {
    if !v.is_object() {
        return Err(("invalid_json", "an item must be a JSON object".into()));
    }
    let key = string(v, "id").ok_or(("missing_key", "id is missing".to_string()))?;
    let version = match version(v, "version") {
        Ok(Some(n)) => n,
        Ok(None) => return Err(("missing_version", "version is missing".into())),
        Err(()) => return Err(("invalid_version", "version is not a positive integer".into())),
    };
    let mut r = UnifiedRecord::new(Source::Procuratorate, key, raw, position);
    r.version = Some(version);
    if v.get("deleted").and_then(Value::as_bool) == Some(true) {
        r.tombstone = true;
        return Ok(r);
    }
    r.title = string(v, "title");
    r.summary = string(v, "summary");
    r.category = string(v, "kind");
    r.status = string(v, "status");
    r.agency = string(v, "targetAgency");
    let region = string(v, "regionCode").or_else(|| v.get("procuratorate").and_then(|p| string(p, "regionCode")));
    r.region_code = region_code_field(&mut r, "regionCode", region.as_deref());
    for (field, target) in [("filedAt", 0), ("closedAt", 1)] {
        if let Some(raw) = string(v, field) {
            match parse_date(&raw) {
                Some(d) if target == 0 => r.opened_on = Some(d),
                Some(d) => r.closed_on = Some(d),
                None => r.issue(field, &raw, "bad_date"),
            }
        }
    }
    if let Some(doc) = string(v, "docNo") {
        r.add_case_number("docNo", &doc);
    }
    for related in list(v, "relatedCases") {
        if let Some(no) = string(related, "caseNo") {
            r.add_case_number("relatedCases.caseNo", &no);
        }
    }
    if let Some(text) = r.summary.clone() {
        crate::text::scan_free_text(&mut r, &text);
    }
    for (i, p) in list(v, "procurators").into_iter().enumerate() {
        let name = string(p, "name").unwrap_or_default();
        if let Some(m) = party(
            &mut r,
            &format!("procurators[{i}]"),
            PartyFields {
                name: &name,
                role: "PROCURATOR",
                ..Default::default()
            },
        ) {
            r.parties.push(m);
        }
    }
    for (i, s) in list(v, "subjects").into_iter().enumerate() {
        let name = string(s, "name").unwrap_or_default();
        let kind = string(s, "type");
        let organization = kind.as_deref() == Some("ORG") || string(s, "role").as_deref() == Some("RESPONDENT_AGENCY");
        let (id_no, phone, role) = (
            string(s, "idNo"),
            string(s, "phone"),
            string(s, "role").unwrap_or_default(),
        );
        let fields = PartyFields {
            name: &name,
            document_type: if organization {
                Some("统一社会信用代码")
            } else {
                Some("居民身份证")
            },
            document_number: id_no.as_deref(),
            phone: phone.as_deref(),
            role: &role,
            organization,
            badge: None,
        };
        if let Some(m) = party(&mut r, &format!("subjects[{i}]"), fields) {
            r.parties.push(m);
        }
    }
    Ok(r)
}
