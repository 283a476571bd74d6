//! 平安督 offline inspections: a UTF-8 CSV (a BOM is allowed) whose header names the fields
//! of `recordInspection` — `id, regionCode, town, point, pointType, inspectedAt, category,
//! description, severity` — one row per problem, rows of one inspection sharing its `id`; an
//! inspection without problems is one row with the three problem fields empty. An optional
//! column `corrects` names the inspection a row's inspection corrects.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::csv::{rows, CsvItem};
use crate::record::{oversized, Position, Quarantined};
use crate::text::parse_instant;
use crate::{AdapterError, Result};

/// The columns, in any order; all required.
pub const COLUMNS: [&str; 9] = [
    "id",
    "regionCode",
    "town",
    "point",
    "pointType",
    "inspectedAt",
    "category",
    "description",
    "severity",
];

/// One inspection read from a file, with the rows it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectionRecord {
    pub id: String,
    pub region_code: String,
    pub town: String,
    pub point: String,
    pub point_type: String,
    pub inspected_at: DateTime<Utc>,
    pub problems: Vec<ProblemRecord>,
    /// The id of the inspection this one corrects (optional column `corrects`).
    pub corrects: Option<String>,
    /// Each row's position and raw text, in file order (a problem-less inspection has one).
    pub rows: Vec<(Position, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemRecord {
    pub category: String,
    pub description: String,
    pub severity: i32,
}

/// What one inspections file holds.
#[derive(Debug, Default)]
pub struct InspectionFile {
    pub inspections: Vec<InspectionRecord>,
    pub quarantined: Vec<Quarantined>,
}

fn quarantine(position: &Position, raw: &str, reason: &'static str, detail: impl Into<String>) -> Quarantined {
    Quarantined {
        position: position.clone(),
        reason,
        detail: detail.into(),
        raw: raw.to_string(),
    }
}

/// Parses one inspections file. A file that is not UTF-8 or lacks a column is rejected whole.
pub fn parse(file: &str, bytes: &[u8]) -> Result<InspectionFile> {
    let reject = |reason: String| AdapterError::Rejected {
        file: file.to_string(),
        reason,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| reject("not UTF-8".into()))?;
    let mut items = rows(text).into_iter();
    let header = match items.next() {
        Some(CsvItem::Row(row)) => row.fields,
        _ => return Err(reject("no header row".into())),
    };
    let column: HashMap<&str, usize> = header.iter().enumerate().map(|(i, h)| (h.trim(), i)).collect();
    let mut at = [0usize; 9];
    for (slot, name) in at.iter_mut().zip(COLUMNS) {
        *slot = *column
            .get(name)
            .ok_or_else(|| reject(format!("column {name} missing (columns: {})", COLUMNS.join(", "))))?;
    }
    let corrects_at = column.get("corrects").copied();
    let mut out = InspectionFile::default();
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for (n, item) in items.enumerate() {
        let row_number = n as u64 + 1;
        let row = match item {
            CsvItem::Row(row) => row,
            CsvItem::Unterminated { line, raw } => {
                let position = Position {
                    line: Some(line),
                    row: Some(row_number),
                    ..Default::default()
                };
                out.quarantined.push(quarantine(
                    &position,
                    &raw,
                    "unterminated_quote",
                    "a quote is never closed",
                ));
                continue;
            }
        };
        let position = Position {
            line: Some(row.line),
            row: Some(row_number),
            ..Default::default()
        };
        if row.fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if let Some(q) = oversized(&row.raw, &position) {
            out.quarantined.push(q);
            continue;
        }
        if row.fields.len() != header.len() {
            out.quarantined.push(quarantine(
                &position,
                &row.raw,
                "wrong_field_count",
                format!("{} fields, the header has {}", row.fields.len(), header.len()),
            ));
            continue;
        }
        let field = |i: usize| row.fields[at[i]].trim().to_string();
        let id = field(0);
        if id.is_empty() {
            out.quarantined
                .push(quarantine(&position, &row.raw, "missing_key", "id is empty"));
            continue;
        }
        if row.raw.contains('\0') {
            out.quarantined
                .push(quarantine(&position, &row.raw, "invalid_text", "a NUL character"));
            continue;
        }
        let Some(inspected_at) = parse_instant(&field(5)) else {
            out.quarantined.push(quarantine(
                &position,
                &row.raw,
                "invalid_value",
                format!("inspectedAt {:?} is not a time", field(5)),
            ));
            continue;
        };
        let (category, description, severity) = (field(6), field(7), field(8));
        let problem = if category.is_empty() && description.is_empty() && severity.is_empty() {
            None
        } else {
            match severity.parse::<i32>() {
                Ok(severity) => Some(ProblemRecord {
                    category,
                    description,
                    severity,
                }),
                Err(_) => {
                    out.quarantined.push(quarantine(
                        &position,
                        &row.raw,
                        "invalid_value",
                        format!("severity {severity:?} is not a whole number"),
                    ));
                    continue;
                }
            }
        };
        let record = InspectionRecord {
            id: id.clone(),
            region_code: field(1),
            town: field(2),
            point: field(3),
            point_type: field(4),
            inspected_at,
            problems: problem.into_iter().collect(),
            corrects: corrects_at
                .map(|i| row.fields[i].trim().to_string())
                .filter(|c| !c.is_empty()),
            rows: vec![(position.clone(), row.raw.clone())],
        };
        match index_of.get(&id) {
            None => {
                index_of.insert(id, out.inspections.len());
                out.inspections.push(record);
            }
            Some(&i) => {
                let first = &mut out.inspections[i];
                let same_place = (
                    &first.region_code,
                    &first.town,
                    &first.point,
                    &first.point_type,
                    first.inspected_at,
                ) == (
                    &record.region_code,
                    &record.town,
                    &record.point,
                    &record.point_type,
                    record.inspected_at,
                );
                if !same_place {
                    out.quarantined.push(quarantine(
                        &position,
                        &row.raw,
                        "conflicting_content",
                        format!("inspection {id} is given another place or time on an earlier row"),
                    ));
                    continue;
                }
                first.problems.extend(record.problems);
                first.rows.extend(record.rows);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "id,regionCode,town,point,pointType,inspectedAt,category,description,severity\n";

    #[test]
    fn rows_of_one_id_make_one_inspection() {
        let text = format!(
            "\u{FEFF}{HEAD}I-1,330110,崇贤街道,农贸市场,市场,2026-03-02 10:00,消防,灭火器过期,3\n\
             I-1,330110,崇贤街道,农贸市场,市场,2026-03-02 10:00,治安,\"监控损坏, 未修\",2\n\
             I-2,330110,崇贤街道,幼儿园,学校,2026-03-03 09:00,,,\n\
             ,330110,崇贤街道,x,y,2026-03-03 09:00,a,b,1\n\
             I-3,330110,崇贤街道,x,y,yesterday,a,b,1\n\
             I-1,330110,崇贤街道,别处,市场,2026-03-02 10:00,消防,x,1\n\
             I-4,330110,崇贤街道,x,y,2026-03-03 09:00,a,b,high\n"
        );
        let f = parse("i.csv", text.as_bytes()).unwrap();
        assert_eq!(f.inspections.len(), 2);
        assert_eq!(f.inspections[0].problems.len(), 2);
        assert_eq!(f.inspections[0].problems[1].description, "监控损坏, 未修");
        assert_eq!(f.inspections[0].rows.len(), 2);
        assert!(f.inspections[1].problems.is_empty());
        let reasons: Vec<(&str, Option<u64>)> = f.quarantined.iter().map(|q| (q.reason, q.position.row)).collect();
        assert_eq!(
            reasons,
            [
                ("missing_key", Some(4)),
                ("invalid_value", Some(5)),
                ("conflicting_content", Some(6)),
                ("invalid_value", Some(7))
            ]
        );
    }

    #[test]
    fn a_missing_column_or_bad_encoding_rejects_the_file() {
        assert!(parse("i.csv", b"id,town\nI-1,x\n").is_err());
        assert!(parse("i.csv", b"\xff\xfe").is_err());
    }
}
