//! Shared text handling: dates, parties from identifier fields, identifiers in free text.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use entities::ids::names::{normalize_org_name, normalize_person_name};
use entities::ids::text::fold_width;
use entities::ids::{CaseNumber, CreditCode, IdError, IdNumber, Phone};
use entities::{LinkKind, PartyKind, Satisfaction};

use crate::record::{PartyMention, UnifiedRecord};

/// Parses every date spelling of sources/README.md: `2022-09-27`, `20220927`, `2022/9/27`,
/// `2022年9月27日`, with or without a time, and RFC 3339 (converted to China Standard Time).
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let s: String = raw.chars().map(fold_width).collect::<String>().trim().to_string();
    if s.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(&s) {
        let cst = chrono::FixedOffset::east_opt(8 * 3600)?;
        return Some(dt.with_timezone(&cst).date_naive());
    }
    let date_part = s.split([' ', 'T']).next().unwrap_or("");
    let unified = date_part.replace(['年', '月', '/'], "-").replace('日', "");
    if unified.len() == 8 && unified.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(&unified, "%Y%m%d").ok();
    }
    NaiveDate::parse_from_str(&unified, "%Y-%m-%d").ok()
}

/// An instant: RFC 3339 with offset, or a local time in China Standard Time.
pub fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    let cst = chrono::FixedOffset::east_opt(8 * 3600)?;
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return naive.and_local_timezone(cst).single().map(|d| d.with_timezone(&Utc));
        }
    }
    None
}

/// A date field: an unparseable value is kept as a data-quality issue.
pub fn date_field(record: &mut UnifiedRecord, field: &str, raw: Option<&str>) -> Option<NaiveDate> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = parse_date(raw);
    if parsed.is_none() {
        record.issue(field, raw, "bad_date");
    }
    parsed
}

/// A satisfaction field (`满意` `基本满意` `不满意` or empty); any other value is an issue.
pub fn satisfaction_field(record: &mut UnifiedRecord, field: &str, raw: Option<&str>) -> Option<Satisfaction> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = Satisfaction::from_label(raw);
    if parsed.is_none() {
        record.issue(field, raw, "unknown_satisfaction");
    }
    parsed
}

/// A region code field (6 digits); anything else is an issue.
pub fn region_code_field(record: &mut UnifiedRecord, field: &str, raw: Option<&str>) -> Option<String> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    match entities::ids::RegionCode::parse(raw) {
        Ok(code) => Some(code.as_str().to_string()),
        Err(e) => {
            record.issue(field, raw, e.code());
            None
        }
    }
}

/// What a source says about one party.
#[derive(Debug, Default, Clone)]
pub struct PartyFields<'a> {
    pub name: &'a str,
    /// `居民身份证`, `统一社会信用代码`, `护照`, `其他`, `PERSON`, `ORG`, or nothing.
    pub document_type: Option<&'a str>,
    pub document_number: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub role: &'a str,
    /// The role or type says this is an organization.
    pub organization: bool,
    pub badge: Option<String>,
}

/// Builds a party mention; invalid or masked identifiers stay as issues, never keys.
pub fn party(record: &mut UnifiedRecord, field: &str, p: PartyFields<'_>) -> Option<PartyMention> {
    let raw_name = p.name.trim();
    if raw_name.is_empty() {
        return None;
    }
    let is_org = p.organization || p.document_type == Some("统一社会信用代码");
    let kind = if is_org {
        PartyKind::Organization
    } else {
        PartyKind::Person
    };
    let name = if is_org {
        normalize_org_name(raw_name)
    } else {
        normalize_person_name(raw_name)
    };
    let mut mention = PartyMention {
        kind,
        name,
        name_as_recorded: raw_name.to_string(),
        role: p.role.trim().to_string(),
        id_number: None,
        credit_code: None,
        phones: Vec::new(),
        badge: p.badge,
    };
    if let Some(number) = p.document_number.map(str::trim).filter(|n| !n.is_empty()) {
        match (kind, p.document_type) {
            (PartyKind::Organization, _) => match CreditCode::parse(number) {
                Ok(code) => mention.credit_code = Some(code),
                Err(e) => record.issue(&format!("{field}.ZJHM"), number, e.code()),
            },
            (PartyKind::Person, Some("居民身份证")) => match IdNumber::parse(number) {
                Ok(id) => mention.id_number = Some(id),
                Err(e) => record.issue(&format!("{field}.ZJHM"), number, e.code()),
            },
            (PartyKind::Person, None | Some("PERSON")) => match IdNumber::parse(number) {
                // Without a document type, a number that validates as an ID number is one.
                Ok(id) => mention.id_number = Some(id),
                Err(IdError::Format) => {}
                Err(e) => record.issue(&format!("{field}.ZJHM"), number, e.code()),
            },
            _ => {}
        }
    }
    if let Some(phone) = p.phone.map(str::trim).filter(|n| !n.is_empty()) {
        match Phone::parse(phone) {
            Ok(ph) => mention.phones.push(ph),
            Err(e) => record.issue(&format!("{field}.LXDH"), phone, e.code()),
        }
    }
    Some(mention)
}

const OPEN: &[char] = &['(', '[', '〔', '【', '﹝'];
const CLOSE: &[char] = &[')', ']', '〕', '】', '﹞'];

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// Abbreviations procuratorates use before `检`: county-level units, alone or after their city.
const AGENCY_PARTS: &[&str] = &[
    "上", "拱", "西", "滨", "萧", "余", "富", "临", "平", "钱", "桐", "淳", "建", "婺", "金东", "东", "武", "浦", "磐",
    "兰", "义", "永",
];
const CITIES: &[&str] = &["杭", "金", "浙"];

fn is_known_agency(s: &str) -> bool {
    AGENCY_PARTS.contains(&s)
        || CITIES.contains(&s)
        || CITIES.iter().any(|c| {
            s.strip_prefix(c)
                .map(|rest| AGENCY_PARTS.contains(&rest))
                .unwrap_or(false)
        })
}

/// Scans a record's free text for exact identifiers and adds them as keys (case numbers also
/// as the record's case numbers); keeps the text for organization-name linking.
pub fn scan_free_text(record: &mut UnifiedRecord, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    for (kind, value) in scan_identifiers(text) {
        if kind == LinkKind::CaseNo && !record.case_numbers.contains(&value) {
            record.case_numbers.push(value.clone());
        }
        if !record.keys.contains(&(kind, value.clone())) {
            record.keys.push((kind, value));
        }
    }
    record.free_text.push(text.to_string());
}

/// Exact identifiers in free text, each taken only as a whole token (sources/README.md).
pub fn scan_identifiers(text: &str) -> Vec<(LinkKind, String)> {
    let cs: Vec<char> = text.chars().map(fold_width).collect();
    let mut found: Vec<(LinkKind, String)> = Vec::new();
    let mut push = |kind: LinkKind, value: String| {
        if !found.iter().any(|(k, v)| *k == kind && *v == value) {
            found.push((kind, value));
        }
    };
    scan_bracketed_numbers(&cs, &mut push);
    scan_tokens(&cs, &mut push);
    found
}

/// Court case numbers and procuratorate document numbers: both carry a bracketed year.
fn scan_bracketed_numbers(cs: &[char], push: &mut impl FnMut(LinkKind, String)) {
    let skip_spaces = |mut i: usize| {
        while i < cs.len() && cs[i] == ' ' {
            i += 1;
        }
        i
    };
    for open in 0..cs.len() {
        if !OPEN.contains(&cs[open]) {
            continue;
        }
        let mut i = skip_spaces(open + 1);
        if i + 4 > cs.len() || !cs[i..i + 4].iter().all(char::is_ascii_digit) {
            continue;
        }
        i = skip_spaces(i + 4);
        if i >= cs.len() || !CLOSE.contains(&cs[i]) {
            continue;
        }
        let after_close = i + 1;
        // Court: the bracket starts the number; take up to the next 号.
        if let Some(end) = (after_close..cs.len().min(after_close + 24)).find(|&j| cs[j] == '号') {
            let candidate: String = cs[open..=end].iter().collect();
            if let Ok(n) = CaseNumber::parse(&candidate) {
                if n.kind() == entities::ids::CaseNumberKind::Court {
                    push(LinkKind::CaseNo, n.as_str().to_string());
                    continue;
                }
            }
            // Procuratorate: agency + 检 + business before the bracket.
            let mut start = open;
            while start > 0 && cs[start - 1] == ' ' {
                start -= 1;
            }
            let mut j = start;
            while j > 0 && is_cjk(cs[j - 1]) && start - j < 4 && cs[j - 1] != '检' {
                j -= 1;
            }
            if j == 0 || cs[j - 1] != '检' || j == start {
                continue;
            }
            let jian = j - 1;
            // The longest known agency abbreviation wins; otherwise take what a delimiter bounds.
            let known = (1..=3)
                .rev()
                .find(|&len| jian >= len && is_known_agency(&cs[jian - len..jian].iter().collect::<String>()));
            let bounded = || {
                (1..=3).rev().find(|&len| {
                    jian >= len
                        && cs[jian - len..jian].iter().all(|c| is_cjk(*c))
                        && (jian == len || !is_cjk(cs[jian - len - 1]))
                })
            };
            let agency_start = known.or_else(bounded).map(|len| jian - len);
            let Some(agency_start) = agency_start else { continue };
            let candidate: String = cs[agency_start..=end].iter().collect();
            if let Ok(n) = CaseNumber::parse(&candidate) {
                push(LinkKind::CaseNo, n.as_str().to_string());
            }
        }
    }
}

/// ID numbers, credit codes, police case numbers and phones: whole ASCII-alphanumeric tokens,
/// and phones written with separators.
fn scan_tokens(cs: &[char], push: &mut impl FnMut(LinkKind, String)) {
    let is_alnum = |c: char| c.is_ascii_alphanumeric();
    let mut i = 0;
    while i < cs.len() {
        // A phone with separators: digits, spaces, dashes, parentheses, a leading +.
        if cs[i].is_ascii_digit() || cs[i] == '+' || cs[i] == '(' {
            let before_ok = i == 0 || !is_alnum(cs[i - 1]);
            let mut j = i;
            while j < cs.len() && (cs[j].is_ascii_digit() || matches!(cs[j], ' ' | '-' | '(' | ')' | '+')) {
                j += 1;
            }
            let mut end = j;
            while end > i && !cs[end - 1].is_ascii_digit() {
                end -= 1;
            }
            let candidate: String = cs[i..end].iter().collect();
            let has_separator = candidate.chars().any(|c| !c.is_ascii_digit());
            let after_ok = end >= cs.len() || !is_alnum(cs[end]);
            if before_ok && after_ok && has_separator && candidate.chars().filter(char::is_ascii_digit).count() >= 10 {
                if let Ok(phone) = Phone::parse(&candidate) {
                    push(LinkKind::Phone, phone.as_str().to_string());
                    i = end;
                    continue;
                }
            }
        }
        if !is_alnum(cs[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < cs.len() && is_alnum(cs[i]) {
            i += 1;
        }
        // A masked value touching the token makes the whole token partial.
        let masked_neighbour = (start > 0 && entities::ids::text::is_mask_char(cs[start - 1]))
            || (i < cs.len() && entities::ids::text::is_mask_char(cs[i]));
        if masked_neighbour {
            continue;
        }
        let token: String = cs[start..i].iter().collect();
        classify_token(&token, push);
    }
}

fn classify_token(token: &str, push: &mut impl FnMut(LinkKind, String)) {
    match token.len() {
        23 if token.starts_with(['A', 'a']) => {
            if let Ok(n) = CaseNumber::parse(token) {
                push(LinkKind::CaseNo, n.as_str().to_string());
            }
        }
        18 => {
            if let Ok(id) = IdNumber::parse(token) {
                push(LinkKind::PersonId, id.as_str().to_string());
            } else if let Ok(code) = CreditCode::parse(token) {
                push(LinkKind::OrgUscc, code.as_str().to_string());
            }
        }
        11 | 12 if token.bytes().all(|b| b.is_ascii_digit()) => {
            if let Ok(phone) = Phone::parse(token) {
                push(LinkKind::Phone, phone.as_str().to_string());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<(LinkKind, String)> {
        scan_identifiers(text)
    }

    #[test]
    fn parses_every_date_spelling() {
        let d = NaiveDate::from_ymd_opt(2022, 9, 27);
        for raw in [
            "2022-09-27",
            "20220927",
            "2022/9/27",
            "2022年9月27日",
            "2022-09-27 10:15:00",
            "2022/9/27 10:15",
            "2022-09-27T10:15:00+08:00",
        ] {
            assert_eq!(parse_date(raw), d, "{raw}");
        }
        assert_eq!(
            parse_date("2022-09-26T20:15:00Z"),
            NaiveDate::from_ymd_opt(2022, 9, 27),
            "UTC evening is the next CST day"
        );
        assert_eq!(parse_date("2022年13月1日"), None);
        assert_eq!(parse_date(""), None);
        assert!(parse_instant("2022-09-01 10:15:00").is_some());
    }

    #[test]
    fn finds_court_procuratorate_and_police_numbers_in_text() {
        let found = keys("群众多次报案未立案，关联（２０２２）浙0110 民初1234号；其在“磐检行监〔2021〕29号”中，另见针对A3301105400002022090001号案件");
        assert!(
            found.contains(&(LinkKind::CaseNo, "(2022)浙0110民初1234号".into())),
            "{found:?}"
        );
        assert!(
            found.contains(&(LinkKind::CaseNo, "磐检行监〔2021〕29号".into())),
            "{found:?}"
        );
        assert!(
            found.contains(&(LinkKind::CaseNo, "A3301105400002022090001".into())),
            "{found:?}"
        );
        let found = keys("针对杭余检刑监（2022）12号开展监督");
        assert_eq!(found, vec![(LinkKind::CaseNo, "杭余检刑监〔2022〕12号".into())]);
        let found = keys("向金东检刑抗[2021]55号");
        assert_eq!(found, vec![(LinkKind::CaseNo, "金东检刑抗〔2021〕55号".into())]);
    }

    #[test]
    fn finds_ids_codes_and_phones_as_whole_tokens_only() {
        let found = keys(
            "身份证（11010519491231002x）被冒用，电话138 0571 1234，座机(0571)8531 0013，公司代码91350100M000100Y43。",
        );
        assert!(
            found.contains(&(LinkKind::PersonId, "11010519491231002X".into())),
            "{found:?}"
        );
        assert!(found.contains(&(LinkKind::Phone, "13805711234".into())), "{found:?}");
        assert!(found.contains(&(LinkKind::Phone, "057185310013".into())), "{found:?}");
        assert!(
            found.contains(&(LinkKind::OrgUscc, "91350100M000100Y43".into())),
            "{found:?}"
        );
        // No phone out of the middle of an ID number or a police case number.
        let found = keys("号码11010519491231002X与A3301105400002022090001");
        assert!(found.iter().all(|(k, _)| *k != LinkKind::Phone), "{found:?}");
        // Masked values are never keys.
        assert!(keys("电话138****1234，身份证330106********1234").is_empty());
    }
}
