//! SOCIAL — 社会监督: CSV, UTF-8 with a byte-order mark, free text (sources/social.md).

use entities::ids::names::{is_placeholder_name, looks_like_org_name};
use entities::Source;

use crate::csv::{Table, TableItem};
use crate::record::{Item, Parsed, Quarantined, UnifiedRecord};
use crate::text::{date_field, party, region_code_field, satisfaction_field, PartyFields};
use crate::{AdapterError, Result};

pub const COLUMNS: &[&str] = &[
    "工单编号",
    "渠道",
    "来电时间",
    "诉求人",
    "诉求人电话",
    "诉求类型",
    "诉求内容",
    "被反映对象",
    "事发地址",
    "所属区县",
    "所属镇街",
    "承办单位",
    "办理状态",
    "办结时间",
    "满意度",
];

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed> {
    let text = std::str::from_utf8(bytes).map_err(|e| AdapterError::Rejected {
        file: file.into(),
        reason: format!(
            "not UTF-8 (byte {}): social exports are UTF-8 with a byte-order mark",
            e.valid_up_to()
        ),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let table = Table::read(text, COLUMNS, "工单编号").ok_or_else(|| AdapterError::Rejected {
        file: file.into(),
        reason: "the header lacks 工单编号".into(),
    })?;
    let mut parsed = Parsed {
        warnings: table.warning.iter().cloned().collect(),
        ..Default::default()
    };
    for item in &table.items {
        let (position, fields, raw) = match item {
            TableItem::Quarantined(q) => {
                parsed.items.push(Item::Quarantined(q.clone()));
                continue;
            }
            TableItem::Row { position, fields, raw } => (position.clone(), fields, raw),
        };
        let get = |name: &str| table.get(fields, name);
        let Some(key) = get("工单编号") else {
            parsed.items.push(Item::Quarantined(Quarantined {
                position,
                reason: "missing_key",
                detail: "工单编号 is empty".into(),
                raw: raw.clone(),
            }));
            continue;
        };
        let mut r = UnifiedRecord::new(Source::Social, key.to_string(), raw.clone(), position);
        r.version = None;
        r.summary = get("诉求内容").map(str::to_string);
        r.category = get("诉求类型").map(str::to_string);
        r.status = get("办理状态").map(str::to_string);
        r.town = get("所属镇街").map(str::to_string);
        r.agency = get("承办单位").map(str::to_string);
        r.region_code = region_code_field(&mut r, "所属区县", get("所属区县"));
        r.opened_on = date_field(&mut r, "来电时间", get("来电时间"));
        r.closed_on = date_field(&mut r, "办结时间", get("办结时间"));
        r.satisfaction = satisfaction_field(&mut r, "满意度", get("满意度"));
        if let Some(text) = r.summary.clone() {
            crate::text::scan_free_text(&mut r, &text);
        }
        if let Some(name) = get("诉求人").filter(|n| !is_placeholder_name(n)) {
            let fields = PartyFields {
                name,
                phone: get("诉求人电话"),
                role: "诉求人",
                ..Default::default()
            };
            if let Some(p) = party(&mut r, "诉求人", fields) {
                r.parties.push(p);
            }
        } else if let Some(phone) = get("诉求人电话") {
            match entities::ids::Phone::parse(phone) {
                Ok(p) => r.keys.push((entities::LinkKind::Phone, p.as_str().to_string())),
                Err(e) => r.issue("诉求人电话", phone, e.code()),
            }
        }
        if let Some(subject) = get("被反映对象") {
            crate::text::scan_free_text(&mut r, subject);
            if !is_placeholder_name(subject) {
                let organization = looks_like_org_name(subject);
                let fields = PartyFields {
                    name: subject,
                    role: "被反映对象",
                    organization,
                    ..Default::default()
                };
                if let Some(p) = party(&mut r, "被反映对象", fields) {
                    r.parties.push(p);
                }
            }
        }
        parsed.items.push(Item::Record(Box::new(r)));
    }
    Ok(parsed)
}
