//! CONGRESS — 人大司法监督: namespaced XML, CDATA, attributes (sources/congress.md).

use quick_xml::events::Event;
use quick_xml::Reader;

use entities::Source;

use crate::record::{Item, Parsed, Position, Quarantined, UnifiedRecord};
use crate::text::{date_field, party, region_code_field, PartyFields};
use crate::{AdapterError, Result};

const ELEMENTS: &[&str] = &[
    "JDSXPL", "JDSX", "SXBH", "BBH", "SXLX", "BT", "NR", "JDDX", "SJAJ", "AH", "DBXX", "DB", "XM", "DBTMC", "SJHM",
    "DSR", "BLZT", "JBRQ", "DFRQ", "XZQH",
];

#[derive(Default)]
struct Deputy {
    name: String,
    phone: Option<String>,
}

#[derive(Default)]
struct Named {
    attrs: Vec<(String, String)>,
    name: String,
}

#[derive(Default)]
struct ItemBuilder {
    start: usize,
    fields: Vec<(String, String)>,
    case_numbers: Vec<String>,
    deputies: Vec<Deputy>,
    parties: Vec<Named>,
}

impl ItemBuilder {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Line numbers of increasing offsets, counted once (items come in file order).
struct Lines<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            text,
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            return line_col(self.text, offset).0;
        }
        self.line += self.text.as_bytes()[self.offset..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

fn resolve_entity(name: &str) -> Option<String> {
    Some(match name {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        _ => {
            let code = name.strip_prefix('#')?;
            let n = match code.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => code.parse().ok()?,
            };
            char::from_u32(n)?.to_string()
        }
    })
}

pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed> {
    let text = std::str::from_utf8(bytes).map_err(|e| AdapterError::Rejected {
        file: file.into(),
        reason: format!("not UTF-8 (byte {}): congress exports are UTF-8 XML", e.valid_up_to()),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let reject = |offset: usize, what: String| {
        let (line, col) = line_col(text, offset);
        AdapterError::Rejected {
            file: file.into(),
            reason: format!("malformed XML at line {line}, column {col}: {what}"),
        }
    };
    let mut reader = Reader::from_str(text);
    let mut lines = Lines::new(text);
    let mut parsed = Parsed::default();
    let mut unknown: Vec<String> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut current: Option<ItemBuilder> = None;
    let mut buffer = String::new();
    let mut item_no: u64 = 0;
    let mut saw_root = false;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| reject(reader.error_position() as usize, e.to_string()))?;
        match event {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    saw_root = true;
                }
                if !ELEMENTS.contains(&name.as_str()) && !unknown.contains(&name) {
                    unknown.push(name.clone());
                }
                if name == "JDSX" && path.len() == 1 {
                    item_no += 1;
                    current = Some(ItemBuilder {
                        start: before,
                        ..Default::default()
                    });
                } else if let Some(item) = current.as_mut() {
                    match name.as_str() {
                        "DB" => item.deputies.push(Deputy::default()),
                        "DSR" => {
                            let mut named = Named::default();
                            for attr in e.attributes().flatten() {
                                let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned();
                                let value = attr.unescape_value().map(|v| v.into_owned()).unwrap_or_default();
                                named.attrs.push((key, value));
                            }
                            item.parties.push(named);
                        }
                        _ => {}
                    }
                }
                path.push(name);
                buffer.clear();
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if !ELEMENTS.contains(&name.as_str()) && !unknown.contains(&name) {
                    unknown.push(name);
                }
            }
            Event::Text(t) => buffer.push_str(&t.decode().map_err(|e| reject(before, e.to_string()))?),
            Event::CData(c) => buffer.push_str(&String::from_utf8_lossy(&c.into_inner())),
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(&r.into_inner()).into_owned();
                let resolved =
                    resolve_entity(&name).ok_or_else(|| reject(before, format!("unknown entity &{name};")))?;
                buffer.push_str(&resolved);
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let text_value = std::mem::take(&mut buffer);
                if name == "JDSX" && path.len() == 1 {
                    if let Some(item) = current.take() {
                        let end = reader.buffer_position() as usize;
                        let raw = text.get(item.start..end).unwrap_or("").trim().to_string();
                        let tag = item.start + (text[item.start..].len() - text[item.start..].trim_start().len());
                        let line = lines.line_at(tag);
                        let position = Position {
                            item: Some(item_no),
                            line: Some(line as u64),
                            row: None,
                        };
                        parsed.items.push(build(item, raw, position));
                    }
                } else if let Some(item) = current.as_mut() {
                    let parent = path.last().map(String::as_str);
                    match (parent, name.as_str()) {
                        (Some("SJAJ"), "AH") => item.case_numbers.push(text_value),
                        (Some("DB"), "XM") => {
                            if let Some(d) = item.deputies.last_mut() {
                                d.name = text_value;
                            }
                        }
                        (Some("DB"), "SJHM") => {
                            if let Some(d) = item.deputies.last_mut() {
                                d.phone = Some(text_value);
                            }
                        }
                        (Some("JDSX"), "DSR") => {
                            if let Some(p) = item.parties.last_mut() {
                                p.name = text_value;
                            }
                        }
                        (Some("JDSX"), field) => item.fields.push((field.to_string(), text_value)),
                        _ => {}
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(reject(text.len(), "no root element".into()));
    }
    if !path.is_empty() {
        return Err(reject(
            text.len(),
            format!("element <{}> is never closed", path.join("/")),
        ));
    }
    if !unknown.is_empty() {
        parsed
            .warnings
            .push(format!("unknown elements ignored: {}", unknown.join(", ")));
    }
    Ok(parsed)
}

fn build(item: ItemBuilder, raw: String, position: Position) -> Item {
    let Some(key) = item.get("SXBH").map(str::to_string) else {
        return Item::Quarantined(Quarantined {
            position,
            reason: "missing_key",
            detail: "SXBH is missing".into(),
            raw,
        });
    };
    let version = match item.get("BBH") {
        None => 1,
        Some(v) => match v.parse::<i32>().ok().filter(|v| *v >= 1) {
            Some(v) => v,
            None => {
                return Item::Quarantined(Quarantined {
                    position,
                    reason: "invalid_version",
                    detail: format!("BBH {v:?}"),
                    raw,
                })
            }
        },
    };
    let mut r = UnifiedRecord::new(Source::Congress, key, raw, position);
    r.version = Some(version);
    r.title = item.get("BT").map(str::to_string);
    r.summary = item.get("NR").map(str::to_string);
    r.category = item.get("SXLX").map(str::to_string);
    r.status = item.get("BLZT").map(str::to_string);
    // The deputy's assessment, when BLZT is one, is the case's satisfaction.
    r.satisfaction = r.status.as_deref().and_then(entities::Satisfaction::from_label);
    r.agency = item.get("JDDX").map(str::to_string);
    r.region_code = region_code_field(&mut r, "XZQH", item.get("XZQH"));
    r.opened_on = date_field(&mut r, "JBRQ", item.get("JBRQ"));
    r.closed_on = date_field(&mut r, "DFRQ", item.get("DFRQ"));
    for number in &item.case_numbers {
        r.add_case_number("SJAJ/AH", number);
    }
    if let Some(text) = r.summary.clone() {
        crate::text::scan_free_text(&mut r, &text);
    }
    for (i, d) in item.deputies.iter().enumerate() {
        let fields = PartyFields {
            name: &d.name,
            phone: d.phone.as_deref(),
            role: "人大代表",
            ..Default::default()
        };
        if let Some(p) = party(&mut r, &format!("DBXX/DB[{i}]"), fields) {
            r.parties.push(p);
        }
    }
    for (i, named) in item.parties.iter().enumerate() {
        let attr = |k: &str| {
            named
                .attrs
                .iter()
                .find(|(a, _)| a == k)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        let role = attr("JS").unwrap_or_default();
        let fields = PartyFields {
            name: &named.name,
            document_type: attr("ZJLX"),
            document_number: attr("ZJHM"),
            phone: attr("LXDH"),
            role,
            organization: role == "单位",
            badge: None,
        };
        if let Some(p) = party(&mut r, &format!("DSR[{i}]"), fields) {
            r.parties.push(p);
        }
    }
    Item::Record(Box::new(r))
}
