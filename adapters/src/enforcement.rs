//! ENFORCEMENT — 政法委执法监督平台: NDJSON, UTF-8 (sources/enforcement.md).

use entities::{LinkKind, LoopStage, Source};
use serde_json::Value;

use crate::json_fields::{list, string, version};
use crate::record::{Item, Parsed, Position, Quarantined, UnifiedRecord};
use crate::text::{date_field, party, region_code_field, PartyFields};
use crate::{AdapterError, Result};

pub fn stage(label: &str) -> Option<LoopStage> {
    match label {
        "发现" => Some(LoopStage::Discovered),
        "督办" => Some(LoopStage::Notified),
        "整改" => Some(LoopStage::Rectifying),
        "回访" => Some(LoopStage::Revisited),
        "销号" => Some(LoopStage::Closed),
        _ => None,
    }
}

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed> {
    let text = std::str::from_utf8(bytes).map_err(|e| AdapterError::Rejected {
        file: file.into(),
        reason: format!(
            "not UTF-8 (byte {}): enforcement exports are UTF-8 NDJSON",
            e.valid_up_to()
        ),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parsed = Parsed::default();
    for (index, raw_line) in text.split('\n').enumerate() {
        let raw = raw_line.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        let position = Position {
            line: Some(index as u64 + 1),
            ..Default::default()
        };
        if let Some(q) = crate::record::oversized(raw, &position) {
            parsed.items.push(Item::Quarantined(q));
            continue;
        }
        parsed.items.push(match record(raw, position.clone()) {
            Ok(r) => Item::Record(Box::new(r)),
            Err((reason, detail)) => Item::Quarantined(Quarantined {
                position,
                reason,
                detail,
                raw: raw.to_string(),
            }),
        });
    }
    Ok(parsed)
}

fn record(raw: &str, position: Position) -> std::result::Result<UnifiedRecord, (&'static str, String)> {
    let v: Value = serde_json::from_str(raw).map_err(|e| ("invalid_json", e.to_string()))?;
    if !v.is_object() {
        return Err(("invalid_json", "a line must hold a JSON object".into()));
    }
    let key = string(&v, "JDBH").ok_or(("missing_key", "JDBH is missing or empty".to_string()))?;
    let version = match version(&v, "BBH") {
        Ok(Some(n)) => n,
        Ok(None) => return Err(("missing_version", "BBH is missing".into())),
        Err(()) => return Err(("invalid_version", "BBH is not a positive integer".into())),
    };
    let mut r = UnifiedRecord::new(Source::Enforcement, key, raw.to_string(), position);
    r.version = Some(version);
    r.title = string(&v, "AJMC");
    r.summary = string(&v, "WTMS");
    r.category = string(&v, "WTLX");
    r.status = string(&v, "JDZT");
    r.stage = r.status.as_deref().and_then(stage);
    if let Some(label) = r.status.clone().filter(|_| r.stage.is_none()) {
        r.issue("JDZT", &label, "unknown_stage");
    }
    r.region_code = region_code_field(&mut r, "XZQH", string(&v, "XZQH").as_deref());
    r.town = string(&v, "XZJD");
    r.agency = string(&v, "BLDW");
    r.opened_on = date_field(&mut r, "FXRQ", string(&v, "FXRQ").as_deref());
    r.deadline_on = date_field(&mut r, "ZGQX", string(&v, "ZGQX").as_deref());
    r.closed_on = date_field(&mut r, "XHRQ", string(&v, "XHRQ").as_deref());
    if let Some(number) = string(&v, "AJBH") {
        r.add_case_number("AJBH", &number);
    }
    if let Some(text) = r.summary.clone() {
        crate::text::scan_free_text(&mut r, &text);
    }
    let agency_code = string(&v, "BLDWDM");
    for (i, officer) in list(&v, "BLR").into_iter().enumerate() {
        let name = string(officer, "XM").unwrap_or_default();
        let badge = match (&agency_code, string(officer, "JH")) {
            (Some(code), Some(jh)) => Some(format!("{code}:{jh}")),
            _ => None,
        };
        let fields = PartyFields {
            name: &name,
            role: "handling official",
            badge,
            ..Default::default()
        };
        if let Some(p) = party(&mut r, &format!("BLR[{i}]"), fields) {
            if let Some(b) = &p.badge {
                r.keys.push((LinkKind::Badge, b.clone()));
            }
            r.parties.push(p);
        }
    }
    for (i, d) in list(&v, "DSR").into_iter().enumerate() {
        let name = string(d, "XM").unwrap_or_default();
        let (doc_type, number, phone, role) =
            (string(d, "ZJLX"), string(d, "ZJHM"), string(d, "LXDH"), string(d, "JS"));
        let role = role.unwrap_or_default();
        let fields = PartyFields {
            name: &name,
            document_type: doc_type.as_deref(),
            document_number: number.as_deref(),
            phone: phone.as_deref(),
            role: &role,
            organization: role == "单位",
            badge: None,
        };
        if let Some(p) = party(&mut r, &format!("DSR[{i}]"), fields) {
            r.parties.push(p);
        }
    }
    Ok(r)
}
