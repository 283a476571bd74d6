//! DISCIPLINE — 纪委监委执纪监督: CSV in GB18030, header-mapped (sources/discipline.md).

use entities::ids::RegionCode;
use entities::Source;

use crate::csv::{Table, TableItem};
use crate::record::{Item, Parsed, Position, Quarantined, UnifiedRecord};
use crate::text::{date_field, party, PartyFields};
use crate::{AdapterError, Result};

pub const COLUMNS: &[&str] = &[
    "线索编号",
    "版本",
    "被反映人",
    "身份证号",
    "工作单位",
    "职务",
    "职级",
    "政治面貌",
    "问题线索",
    "问题类别",
    "线索来源",
    "处置方式",
    "受理日期",
    "立案日期",
    "办结日期",
    "处分结果",
    "涉案金额（万元）",
    "关联案号",
    "承办部门",
    "所属地区",
];

/// The clue number as the case's key: `〔〕` brackets, no blanks.
pub fn normalize_clue_number(raw: &str) -> String {
    raw.chars()
        .map(entities::ids::text::fold_width)
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '[' | '(' | '【' => '〔',
            ']' | ')' | '】' => '〕',
            _ => c,
        })
        .collect()
}

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed> {
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    let first_line = text.lines().next().unwrap_or("");
    if had_errors || !first_line.contains("线索编号") {
        let utf8 = std::str::from_utf8(bytes).ok();
        let reason = if utf8
            .map(|t| t.trim_start_matches('\u{feff}').starts_with("线索编号") || t.contains("线索编号"))
            .unwrap_or(false)
        {
            "the header does not decode from GB18030 to the known column names; the file looks like UTF-8 — discipline exports must be GB18030".to_string()
        } else {
            "the header does not decode from GB18030 to the known column names (线索编号 …)".to_string()
        };
        return Err(AdapterError::Rejected {
            file: file.into(),
            reason,
        });
    }
    let table = Table::read(&text, COLUMNS, "线索编号").ok_or_else(|| AdapterError::Rejected {
        file: file.into(),
        reason: "no header row".into(),
    })?;
    let mut parsed = Parsed {
        warnings: table.warning.iter().cloned().collect(),
        ..Default::default()
    };
    for item in &table.items {
        parsed.items.push(match item {
            TableItem::Quarantined(q) => Item::Quarantined(q.clone()),
            TableItem::Row { position, fields, raw } => {
                let get = |name: &str| table.get(fields, name);
                match record(&get, raw, position.clone()) {
                    Ok(r) => Item::Record(Box::new(r)),
                    Err((reason, detail)) => Item::Quarantined(Quarantined {
                        position: position.clone(),
                        reason,
                        detail,
                        raw: raw.clone(),
                    }),
                }
            }
        });
    }
    Ok(parsed)
}

fn record<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    raw: &str,
    position: Position,
) -> std::result::Result<UnifiedRecord, (&'static str, String)> {
    let key = get("线索编号").ok_or(("missing_key", "线索编号 is empty".to_string()))?;
    let version = match get("版本") {
        None => 1,
        Some(v) => v
            .parse::<i32>()
            .ok()
            .filter(|v| *v >= 1)
            .ok_or(("invalid_version", format!("版本 {v:?}")))?,
    };
    let mut r = UnifiedRecord::new(
        Source::Discipline,
        normalize_clue_number(key),
        raw.to_string(),
        position,
    );
    r.version = Some(version);
    r.summary = get("问题线索").map(str::to_string);
    r.category = get("问题类别").map(str::to_string);
    r.status = get("处置方式").map(str::to_string);
    r.agency = get("工作单位").map(str::to_string);
    r.transferred = get("线索来源") == Some("司法机关移送") || get("处分结果") == Some("移送检察机关");
    if let Some(name) = get("所属地区") {
        match RegionCode::from_name(name) {
            Ok(code) => r.region_code = Some(code.as_str().to_string()),
            Err(e) => r.issue("所属地区", name, e.code()),
        }
    }
    r.opened_on = date_field(&mut r, "受理日期", get("受理日期"));
    let _filed = date_field(&mut r, "立案日期", get("立案日期"));
    r.closed_on = date_field(&mut r, "办结日期", get("办结日期"));
    if let Some(amount) = get("涉案金额（万元）") {
        if amount.replace(',', "").parse::<f64>().is_err() {
            r.issue("涉案金额（万元）", amount, "bad_amount");
        }
    }
    if let Some(list) = get("关联案号") {
        for number in list
            .split(['；', ';', '、', ',', '，'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            r.add_case_number("关联案号", number);
        }
    }
    if let Some(text) = r.summary.clone() {
        crate::text::scan_free_text(&mut r, &text);
    }
    let name = get("被反映人").unwrap_or_default();
    let fields = PartyFields {
        name,
        document_type: Some("居民身份证"),
        document_number: get("身份证号"),
        role: "被反映人",
        ..Default::default()
    };
    if let Some(p) = party(&mut r, "被反映人", fields) {
        r.parties.push(p);
    }
    Ok(r)
}
