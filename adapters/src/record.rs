//! What an adapter produces: unified records and quarantined items.

use chrono::NaiveDate;
use entities::ids::{CreditCode, IdNumber, Phone};
use entities::{LinkKind, LoopStage, PartyKind, Satisfaction, Source};

/// Where in a file an input record was found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(i) = self.item {
            parts.push(format!("item {i}"));
        }
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(r) = self.row {
            parts.push(format!("row {r}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// A party as one record names it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartyMention {
    pub kind: PartyKind,
    /// Normalized name.
    pub name: String,
    pub name_as_recorded: String,
    /// The role as recorded.
    pub role: String,
    pub id_number: Option<IdNumber>,
    pub credit_code: Option<CreditCode>,
    pub phones: Vec<Phone>,
    /// `agency code:badge` of an officer.
    pub badge: Option<String>,
}

/// A value error kept on a stored record (rule 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataIssue {
    pub field: String,
    pub raw_value: String,
    pub issue: String,
}

/// One source record in the unified shape.
#[derive(Debug, Clone, PartialEq)]
pub struct UnifiedRecord {
    pub source: Source,
    pub source_key: String,
    /// `None` for a source without versions (SOCIAL): rows are compared by content.
    pub version: Option<i32>,
    /// A tombstone: mark the stored record deleted.
    pub tombstone: bool,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub stage: Option<LoopStage>,
    pub region_code: Option<String>,
    pub town: Option<String>,
    pub agency: Option<String>,
    pub opened_on: Option<NaiveDate>,
    pub closed_on: Option<NaiveDate>,
    pub deadline_on: Option<NaiveDate>,
    /// The satisfaction a complainant (SOCIAL) or deputy (CONGRESS) recorded.
    pub satisfaction: Option<Satisfaction>,
    pub case_numbers: Vec<String>,
    pub transferred: bool,
    pub parties: Vec<PartyMention>,
    /// Keys other than the parties' own (case numbers, identifiers found in free text).
    pub keys: Vec<(LinkKind, String)>,
    /// Free text scanned for identifiers (kept for organization-name re-scans).
    pub free_text: Vec<String>,
    pub issues: Vec<DataIssue>,
    /// The raw input, verbatim.
    pub payload: String,
    pub position: Position,
}

impl UnifiedRecord {
    pub fn new(source: Source, source_key: String, payload: String, position: Position) -> Self {
        UnifiedRecord {
            source,
            source_key,
            version: Some(1),
            tombstone: false,
            title: None,
            summary: None,
            category: None,
            status: None,
            stage: None,
            region_code: None,
            town: None,
            agency: None,
            opened_on: None,
            closed_on: None,
            deadline_on: None,
            satisfaction: None,
            case_numbers: Vec::new(),
            transferred: false,
            parties: Vec::new(),
            keys: Vec::new(),
            free_text: Vec::new(),
            issues: Vec::new(),
            payload,
            position,
        }
    }

    pub fn issue(&mut self, field: &str, raw: &str, issue: &str) {
        self.issues.push(DataIssue {
            field: field.into(),
            raw_value: raw.into(),
            issue: issue.into(),
        });
    }

    /// Adds a case number (any spelling) to the record and its keys; an unparseable one is an issue.
    pub fn add_case_number(&mut self, field: &str, raw: &str) {
        if raw.trim().is_empty() {
            return;
        }
        match entities::ids::CaseNumber::parse(raw) {
            Ok(n) => {
                let v = n.as_str().to_string();
                if !self.case_numbers.contains(&v) {
                    self.case_numbers.push(v.clone());
                    self.keys.push((LinkKind::CaseNo, v));
                }
            }
            Err(e) => self.issue(field, raw, e.code()),
        }
    }
}

impl UnifiedRecord {
    /// The first field holding a NUL character, which no database text column can store.
    pub fn nul_field(&self) -> Option<&'static str> {
        let has = |s: &str| s.contains('\0');
        let opt = |s: &Option<String>| s.as_deref().is_some_and(has);
        let named: [(&'static str, bool); 10] = [
            ("source key", has(&self.source_key)),
            ("title", opt(&self.title)),
            ("summary", opt(&self.summary)),
            ("category", opt(&self.category)),
            ("status", opt(&self.status)),
            ("region", opt(&self.region_code)),
            ("town", opt(&self.town)),
            ("agency", opt(&self.agency)),
            ("case number", self.case_numbers.iter().any(|n| has(n))),
            ("free text", self.free_text.iter().any(|t| has(t))),
        ];
        if let Some((name, _)) = named.iter().find(|(_, nul)| *nul) {
            return Some(name);
        }
        let party = self
            .parties
            .iter()
            .any(|p| has(&p.name) || has(&p.name_as_recorded) || has(&p.role) || opt(&p.badge));
        if party {
            return Some("party");
        }
        if self.keys.iter().any(|(_, v)| has(v)) || self.issues.iter().any(|i| has(&i.raw_value)) || has(&self.payload)
        {
            return Some("record");
        }
        None
    }
}

/// Screens an item before it is stored: a record with a NUL character in any field is
/// quarantined (`invalid_text`) with its raw text, instead of failing its whole file.
pub fn screen(item: Item) -> Item {
    match item {
        Item::Record(r) => match r.nul_field() {
            None => Item::Record(r),
            Some(field) => Item::Quarantined(Quarantined {
                position: r.position.clone(),
                reason: "invalid_text",
                detail: format!("{field} contains a NUL character (U+0000)"),
                raw: r.payload.clone(),
            }),
        },
        quarantined => quarantined,
    }
}

/// The largest input record parsed; a longer one is quarantined (`record_too_large`) with its
/// raw text, unparsed, so that one huge line costs its own size in memory and no more.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The quarantine entry of a record longer than `MAX_RECORD_BYTES`, if `raw` is one.
pub fn oversized(raw: &str, position: &Position) -> Option<Quarantined> {
    (raw.len() > MAX_RECORD_BYTES).then(|| Quarantined {
        position: position.clone(),
        reason: "record_too_large",
        detail: format!("{} bytes; records are at most {MAX_RECORD_BYTES} bytes", raw.len()),
        raw: raw.to_string(),
    })
}

/// Raw text as it can be stored: NUL characters written as the escape `\u0000`.
pub fn storable(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains('\0') {
        std::borrow::Cow::Owned(raw.replace('\0', "\\u0000"))
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

/// An input record refused for a structural error, with its raw text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub position: Position,
    /// `invalid_json`, `missing_key`, `missing_version`, `wrong_field_count`, `unterminated_quote`,
    /// `invalid_text`, …
    pub reason: &'static str,
    pub detail: String,
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Record(Box<UnifiedRecord>),
    Quarantined(Quarantined),
}

/// What an adapter made of one file.
#[derive(Debug, Default)]
pub struct Parsed {
    pub items: Vec<Item>,
    /// Notes reported once per file (unknown columns or elements).
    pub warnings: Vec<String>,
}
