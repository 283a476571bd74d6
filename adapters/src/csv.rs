//! A CSV reader that reports where each row starts and an unterminated quote,
//! which the sources' rules need and general-purpose readers do not report.

use std::collections::HashMap;

use crate::record::{Position, Quarantined};

/// One row of fields, with the physical line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub fields: Vec<String>,
    /// The row's raw text.
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsvItem {
    Row(Row),
    /// A quote opened at `line` and never closed: the rest of the file.
    Unterminated {
        line: u64,
        raw: String,
    },
}

/// Splits decoded text into rows (`\r\n` or `\n`), honouring `"`-quoted fields.
pub fn rows(text: &str) -> Vec<CsvItem> {
    let mut out = Vec::new();
    let mut line: u64 = 1;
    let mut chars = text.char_indices().peekable();
    while chars.peek().is_some() {
        let start_line = line;
        let start = chars.peek().map(|(i, _)| *i).unwrap_or(text.len());
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut in_quotes = false;
        let mut quote_line = line;
        let mut end = text.len();
        let mut ended = false;
        while let Some((i, c)) = chars.next() {
            if in_quotes {
                match c {
                    '"' if chars.peek().map(|(_, n)| *n) == Some('"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => in_quotes = false,
                    '\n' => {
                        line += 1;
                        field.push(c);
                    }
                    _ => field.push(c),
                }
                continue;
            }
            match c {
                '"' if field.is_empty() => {
                    in_quotes = true;
                    quote_line = line;
                }
                ',' => fields.push(std::mem::take(&mut field)),
                '\r' if chars.peek().map(|(_, n)| *n) == Some('\n') => {}
                '\n' => {
                    line += 1;
                    end = i;
                    ended = true;
                    break;
                }
                _ => field.push(c),
            }
        }
        if in_quotes {
            out.push(CsvItem::Unterminated {
                line: quote_line.min(start_line).max(start_line),
                raw: text[start..].to_string(),
            });
            break;
        }
        let raw = text[start..end].trim_end_matches('\r').to_string();
        fields.push(field);
        if raw.is_empty() && fields.len() == 1 {
            if !ended {
                break;
            }
            continue;
        }
        out.push(CsvItem::Row(Row {
            line: start_line,
            fields,
            raw,
        }));
    }
    out
}

/// A data row of a header-mapped table, or a row refused for its structure.
pub enum TableItem {
    Row {
        position: Position,
        fields: Vec<String>,
        raw: String,
    },
    Quarantined(Quarantined),
}

/// A CSV export whose columns are mapped by header name (another month may reorder them).
pub struct Table {
    index: HashMap<String, usize>,
    /// `unknown columns ignored: …`, once per file.
    pub warning: Option<String>,
    pub items: Vec<TableItem>,
}

impl Table {
    /// Splits `text` into header and rows; `None` when the header lacks `key_column`.
    /// Rows with another number of fields than the header, and a quote left open at the end,
    /// are quarantined here, with their line and row numbers.
    pub fn read(text: &str, known_columns: &[&str], key_column: &str) -> Option<Table> {
        let mut items = rows(text).into_iter();
        let header = match items.next() {
            Some(CsvItem::Row(h)) if h.fields.iter().any(|f| f.trim() == key_column) => h.fields,
            _ => return None,
        };
        let index = header
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim().to_string(), i))
            .collect();
        let unknown: Vec<&str> = header
            .iter()
            .map(|h| h.trim())
            .filter(|h| !known_columns.contains(h))
            .collect();
        let warning = (!unknown.is_empty()).then(|| format!("unknown columns ignored: {}", unknown.join(", ")));
        let items = items
            .enumerate()
            .map(|(n, item)| {
                let row_no = Some(n as u64 + 1);
                match item {
                    CsvItem::Unterminated { line, raw } => TableItem::Quarantined(Quarantined {
                        position: Position {
                            line: Some(line),
                            row: row_no,
                            item: None,
                        },
                        reason: "unterminated_quote",
                        detail: "a quoted field is never closed; the rest of the file is quarantined".into(),
                        raw,
                    }),
                    CsvItem::Row(row) => {
                        let position = Position {
                            line: Some(row.line),
                            row: row_no,
                            item: None,
                        };
                        if let Some(q) = crate::record::oversized(&row.raw, &position) {
                            TableItem::Quarantined(q)
                        } else if row.fields.len() != header.len() {
                            TableItem::Quarantined(Quarantined {
                                position,
                                reason: "wrong_field_count",
                                detail: format!("{} fields, the header has {}", row.fields.len(), header.len()),
                                raw: row.raw,
                            })
                        } else {
                            TableItem::Row {
                                position,
                                fields: row.fields,
                                raw: row.raw,
                            }
                        }
                    }
                }
            })
            .collect();
        Some(Table { index, warning, items })
    }

    /// The trimmed, non-empty value of `column` in a row of this table.
    pub fn get<'a>(&self, fields: &'a [String], column: &str) -> Option<&'a str> {
        self.index
            .get(column)
            .and_then(|i| fields.get(*i))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_span_lines_and_rows_know_their_line() {
        let items = rows("a,b\r\n1,\"x,\r\ny\"\r\n2,\"say \"\"hi\"\"\"\r\n\r\n3,z");
        let rows: Vec<_> = items
            .iter()
            .map(|i| match i {
                CsvItem::Row(r) => (r.line, r.fields.clone()),
                CsvItem::Unterminated { .. } => panic!(),
            })
            .collect();
        assert_eq!(rows[1], (2, vec!["1".to_string(), "x,\r\ny".to_string()]));
        assert_eq!(rows[2], (4, vec!["2".to_string(), "say \"hi\"".to_string()]));
        assert_eq!(rows[3], (6, vec!["3".to_string(), "z".to_string()]));
    }

    #[test]
    fn an_open_quote_at_the_end_is_reported_where_its_row_starts() {
        let items = rows("a,b\n1,2\n3,\"open\nmore");
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[2], CsvItem::Unterminated { line: 3, .. }));
    }
}
