//! The five reference feeds of `sources/reference.md` — facts about parties that other
//! departments share: `registry` (CSV), `insurance` (CSV, monthly, corrections by file-name
//! suffix), `tax` (NDJSON), `practitioners` (CSV with BOM), `convictions` (NDJSON).
//!
//! Each row becomes a `ReferenceRow` (its key, a version that sorts as text, and its typed
//! fact) or a quarantined item with its position and reason (MODELS.md, "Quarantine reasons
//! per feed"): a missing or invalid key field → `missing_key` (a trade outside the five:
//! `invalid_value`); a missing or unparseable version → `missing_version`; negative amounts
//! or head counts → `invalid_value`; a NUL character → `invalid_text`. Invalid identifiers
//! outside the key and unknown regions are kept as data-quality issues of the row.

use chrono::NaiveDate;
use entities::ids::names::{normalize_org_name, normalize_person_name};
use entities::ids::region::REGIONS;
use entities::ids::{CaseNumber, CreditCode, IdNumber, RegionCode};
use entities::{Feed, Trade};
use serde_json::{json, Value};

use crate::csv::{Table, TableItem};
use crate::json_fields::string;
use crate::record::{oversized, DataIssue, Position, Quarantined};
use crate::text::{parse_date, parse_instant};
use crate::{AdapterError, Result};

/// One stored fact with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceRow {
    /// The feed's key fields joined with `|`.
    pub key: String,
    /// Sorts like the feed's version (instants as UTC RFC 3339, dates as `YYYY-MM-DD`,
    /// insurance file suffixes zero-padded).
    pub version: String,
    pub position: Position,
    pub raw: String,
    pub issues: Vec<DataIssue>,
    pub fact: Fact,
}

/// The typed content of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    Registry(Registration),
    Insurance(Contribution),
    Tax(Declaration),
    Practitioner(Practice),
    Conviction(Conviction),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub credit_code: String,
    pub name: String,
    pub name_norm: String,
    pub enterprise_type: Option<String>,
    pub legal_rep: Option<String>,
    pub legal_rep_id: Option<String>,
    pub established_on: Option<NaiveDate>,
    pub status: String,
    pub address: Option<String>,
    pub region_code: Option<String>,
    pub business_scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub credit_code: String,
    /// `YYYY-MM`.
    pub month: String,
    pub employer_name: Option<String>,
    pub insured: i64,
    pub paid_cents: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    pub credit_code: String,
    /// `YYYY-MM`.
    pub period: String,
    pub taxpayer_name: Option<String>,
    pub due_cents: i64,
    pub paid_cents: i64,
    pub declared_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Practice {
    pub id_number: String,
    pub name: String,
    pub trade: Trade,
    pub post: Option<String>,
    pub certificate: Option<String>,
    pub employer_credit_code: String,
    pub employer_name: Option<String>,
    pub in_post: bool,
    pub region_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conviction {
    pub case_number: String,
    pub id_number: String,
    pub name: Option<String>,
    /// Current charge names (former names mapped).
    pub charges: Vec<String>,
    pub penalty_kind: Option<String>,
    pub term_months: Option<i32>,
    pub judged_on: Option<NaiveDate>,
    pub effective_on: NaiveDate,
    pub released_on: Option<NaiveDate>,
    /// 从业禁止: a trade's Chinese name or 全部.
    pub ban_scope: Option<String>,
    pub ban_years: Option<i32>,
    pub court_region: Option<String>,
}

fn date_text(d: Option<NaiveDate>) -> Value {
    d.map(|d| json!(d.format("%Y-%m-%d").to_string()))
        .unwrap_or(Value::Null)
}

impl Fact {
    /// The typed columns of the fact's table, in the order `hub::reference` names them.
    pub fn values(&self) -> Vec<Value> {
        match self {
            Fact::Registry(r) => vec![
                json!(r.credit_code),
                json!(r.name),
                json!(r.name_norm),
                json!(r.enterprise_type),
                json!(r.legal_rep),
                json!(r.legal_rep_id),
                date_text(r.established_on),
                json!(r.status),
                json!(r.address),
                json!(r.region_code),
                json!(r.business_scope),
            ],
            Fact::Insurance(c) => vec![
                json!(c.credit_code),
                json!(c.month),
                json!(c.employer_name),
                json!(c.insured),
                json!(c.paid_cents),
            ],
            Fact::Tax(t) => vec![
                json!(t.credit_code),
                json!(t.period),
                json!(t.taxpayer_name),
                json!(t.due_cents),
                json!(t.paid_cents),
                date_text(Some(t.declared_on)),
            ],
            Fact::Practitioner(p) => vec![
                json!(p.id_number),
                json!(p.name),
                json!(p.trade.as_str()),
                json!(p.post),
                json!(p.certificate),
                json!(p.employer_credit_code),
                json!(p.employer_name),
                json!(p.in_post),
                json!(p.region_code),
            ],
            Fact::Conviction(c) => vec![
                json!(c.case_number),
                json!(c.id_number),
                json!(c.name),
                json!(serde_json::to_string(&c.charges).unwrap_or_else(|_| "[]".into())),
                json!(c.penalty_kind),
                json!(c.term_months),
                date_text(c.judged_on),
                date_text(Some(c.effective_on)),
                date_text(c.released_on),
                json!(c.ban_scope),
                json!(c.ban_years),
                json!(c.court_region),
            ],
        }
    }
}

/// What one reference file holds.
#[derive(Debug, Default)]
pub struct ReferenceFile {
    pub rows: Vec<ReferenceRow>,
    pub quarantined: Vec<Quarantined>,
    pub warnings: Vec<String>,
}

type RowResult = std::result::Result<(String, String, Fact), (&'static str, String)>;

/// Collects a row's data-quality issues while it is read.
#[derive(Default)]
struct Issues(Vec<DataIssue>);

impl Issues {
    fn add(&mut self, field: &str, raw: &str, issue: &str) {
        self.0.push(DataIssue {
            field: field.into(),
            raw_value: raw.into(),
            issue: issue.into(),
        });
    }

    /// A region code: a 6-digit code is kept (an unknown one with an issue), anything else
    /// is an issue and no region.
    fn region(&mut self, field: &str, raw: Option<&str>) -> Option<String> {
        let raw = raw?;
        match RegionCode::parse(raw) {
            Ok(code) => {
                if !REGIONS.iter().any(|(c, _)| *c == code.as_str()) {
                    self.add(field, raw, "unknown_region");
                }
                Some(code.as_str().to_string())
            }
            Err(e) => {
                self.add(field, raw, e.code());
                None
            }
        }
    }

    fn date(&mut self, field: &str, raw: Option<&str>) -> Option<NaiveDate> {
        let raw = raw?;
        let parsed = parse_date(raw);
        if parsed.is_none() {
            self.add(field, raw, "bad_date");
        }
        parsed
    }
}

/// Parses one file of a reference feed. A file that does not decode as its document says, or
/// whose header lacks the key columns, is rejected whole.
pub fn parse(feed: Feed, file: &str, bytes: &[u8]) -> Result<ReferenceFile> {
    let reject = |reason: String| AdapterError::Rejected {
        file: file.to_string(),
        reason,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        reject(format!(
            "not UTF-8 (byte {}): {} files are UTF-8",
            e.valid_up_to(),
            feed.slug()
        ))
    })?;
    match feed {
        Feed::Registry => csv(text, file, &REGISTRY_COLUMNS, "统一社会信用代码", registry),
        Feed::Insurance => {
            let version = insurance_version(file);
            csv(text, file, &INSURANCE_COLUMNS, "统一社会信用代码", |t, f, i| {
                insurance(t, f, i, version)
            })
        }
        Feed::Practitioners => csv(text, file, &PRACTITIONER_COLUMNS, "证件号码", practitioner),
        Feed::Tax => Ok(ndjson(text, tax)),
        Feed::Convictions => Ok(ndjson(text, conviction)),
        other => Err(reject(format!("{} is not a reference feed", other.slug()))),
    }
}

fn has_nul(raw: &str) -> bool {
    raw.contains('\0')
}

fn csv(
    text: &str,
    file: &str,
    columns: &[&str],
    key_column: &str,
    read: impl Fn(&Table, &[String], &mut Issues) -> RowResult,
) -> Result<ReferenceFile> {
    let table = Table::read(text, columns, key_column).ok_or_else(|| AdapterError::Rejected {
        file: file.to_string(),
        reason: format!(
            "the header has no column {key_column} (columns: {})",
            columns.join(", ")
        ),
    })?;
    let mut out = ReferenceFile::default();
    out.warnings.extend(table.warning.clone());
    for item in &table.items {
        match item {
            TableItem::Quarantined(q) => out.quarantined.push(q.clone()),
            TableItem::Row { position, fields, raw } => {
                if has_nul(raw) {
                    out.quarantined.push(Quarantined {
                        position: position.clone(),
                        reason: "invalid_text",
                        detail: "a field holds a NUL character".into(),
                        raw: raw.clone(),
                    });
                    continue;
                }
                let mut issues = Issues::default();
                match read(&table, fields, &mut issues) {
                    Ok((key, version, fact)) => out.rows.push(ReferenceRow {
                        key,
                        version,
                        position: position.clone(),
                        raw: raw.clone(),
                        issues: issues.0,
                        fact,
                    }),
                    Err((reason, detail)) => out.quarantined.push(Quarantined {
                        position: position.clone(),
                        reason,
                        detail,
                        raw: raw.clone(),
                    }),
                }
            }
        }
    }
    Ok(out)
}

fn ndjson(text: &str, read: impl Fn(&Value, &mut Issues) -> RowResult) -> ReferenceFile {
    let mut out = ReferenceFile::default();
    for (index, line) in text.split('\n').enumerate() {
        let raw = line.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        let position = Position {
            line: Some(index as u64 + 1),
            ..Default::default()
        };
        let quarantine = |reason: &'static str, detail: String| Quarantined {
            position: position.clone(),
            reason,
            detail,
            raw: raw.to_string(),
        };
        if let Some(q) = oversized(raw, &position) {
            out.quarantined.push(q);
            continue;
        }
        let value: Value = match serde_json::from_str(raw) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                out.quarantined
                    .push(quarantine("invalid_json", "a line must hold a JSON object".into()));
                continue;
            }
            Err(e) => {
                out.quarantined.push(quarantine("invalid_json", e.to_string()));
                continue;
            }
        };
        if has_nul(raw) || value.to_string().contains("\\u0000") {
            out.quarantined
                .push(quarantine("invalid_text", "a field holds a NUL character".into()));
            continue;
        }
        let mut issues = Issues::default();
        match read(&value, &mut issues) {
            Ok((key, version, fact)) => out.rows.push(ReferenceRow {
                key,
                version,
                position: position.clone(),
                raw: raw.to_string(),
                issues: issues.0,
                fact,
            }),
            Err((reason, detail)) => out.quarantined.push(quarantine(reason, detail)),
        }
    }
    out
}

fn missing_key(detail: impl Into<String>) -> (&'static str, String) {
    ("missing_key", detail.into())
}

fn credit_code_key(field: &str, raw: Option<&str>) -> std::result::Result<String, (&'static str, String)> {
    let raw = raw.ok_or_else(|| missing_key(format!("{field} is missing")))?;
    CreditCode::parse(raw)
        .map(|c| c.as_str().to_string())
        .map_err(|e| missing_key(format!("{field} {raw:?}: {e}")))
}

fn id_number_key(field: &str, raw: Option<&str>) -> std::result::Result<String, (&'static str, String)> {
    let raw = raw.ok_or_else(|| missing_key(format!("{field} is missing")))?;
    IdNumber::parse(raw)
        .map(|c| c.as_str().to_string())
        .map_err(|e| missing_key(format!("{field} {raw:?}: {e}")))
}

/// A month `YYYYMM` or `YYYY-MM` (full-width digits allowed) as `YYYY-MM`.
pub fn parse_month(raw: &str) -> Option<String> {
    let s: String = raw
        .chars()
        .map(entities::ids::text::fold_width)
        .filter(|c| !c.is_whitespace())
        .collect();
    let digits: String = s.replace(['-', '/'], "");
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) || (s.len() != 6 && s.len() != 7) {
        return None;
    }
    let month: u32 = digits[4..].parse().ok()?;
    (1..=12)
        .contains(&month)
        .then(|| format!("{}-{}", &digits[..4], &digits[4..]))
}

/// An instant version (`更新时间`) as UTC RFC 3339 text, which sorts in time order.
fn instant_version(field: &str, raw: Option<&str>) -> std::result::Result<String, (&'static str, String)> {
    let raw = raw.ok_or(("missing_version", format!("{field} is missing")))?;
    parse_instant(raw)
        .or_else(|| {
            parse_date(raw)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .ok_or(("missing_version", format!("{field} {raw:?} is not a time")))
}

fn date_version(field: &str, raw: Option<&str>) -> std::result::Result<NaiveDate, (&'static str, String)> {
    let raw = raw.ok_or(("missing_version", format!("{field} is missing")))?;
    parse_date(raw).ok_or(("missing_version", format!("{field} {raw:?} is not a date")))
}

/// Yuan with up to two decimals (a string or a number) as cents; negative → `invalid_value`.
fn cents(field: &str, raw: Option<&str>) -> std::result::Result<i64, (&'static str, String)> {
    let Some(raw) = raw else { return Ok(0) };
    let text: String = raw
        .chars()
        .map(entities::ids::text::fold_width)
        .filter(|c| *c != ',')
        .collect();
    let text = text.trim();
    let invalid = || ("invalid_value", format!("{field} {raw:?} is not an amount"));
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || fraction.len() > 2 || !whole.bytes().chain(fraction.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let whole: i64 = whole.parse().map_err(|_| invalid())?;
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    let value = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(invalid)?;
    if negative && value > 0 {
        return Err(("invalid_value", format!("{field} {raw:?} is negative")));
    }
    Ok(value)
}

const REGISTRY_COLUMNS: [&str; 11] = [
    "统一社会信用代码",
    "企业名称",
    "企业类型",
    "法定代表人",
    "法定代表人证件号码",
    "成立日期",
    "登记状态",
    "注册地址",
    "所属区划",
    "经营范围",
    "更新时间",
];

fn registry(t: &Table, f: &[String], issues: &mut Issues) -> RowResult {
    let code = credit_code_key("统一社会信用代码", t.get(f, "统一社会信用代码"))?;
    let version = instant_version("更新时间", t.get(f, "更新时间"))?;
    let name = t.get(f, "企业名称").unwrap_or_default().to_string();
    let legal_rep_id = t
        .get(f, "法定代表人证件号码")
        .and_then(|raw| match IdNumber::parse(raw) {
            Ok(id) => Some(id.as_str().to_string()),
            Err(e) => {
                issues.add("法定代表人证件号码", raw, e.code());
                None
            }
        });
    let status = t.get(f, "登记状态").unwrap_or_default().to_string();
    if !["存续", "在业", "吊销", "注销", "迁出"].contains(&status.as_str()) {
        issues.add("登记状态", &status, "unknown_status");
    }
    Ok((
        code.clone(),
        version,
        Fact::Registry(Registration {
            credit_code: code,
            name_norm: normalize_org_name(&name),
            name,
            enterprise_type: t.get(f, "企业类型").map(str::to_string),
            legal_rep: t.get(f, "法定代表人").map(normalize_person_name),
            legal_rep_id,
            established_on: issues.date("成立日期", t.get(f, "成立日期")),
            status,
            address: t.get(f, "注册地址").map(str::to_string),
            region_code: issues.region("所属区划", t.get(f, "所属区划")),
            business_scope: t.get(f, "经营范围").map(str::to_string),
        }),
    ))
}

const INSURANCE_COLUMNS: [&str; 5] = ["统一社会信用代码", "单位名称", "费款所属期", "参保人数", "实缴金额"];

/// The version of an insurance file: its name's numeric suffix (`sbjf_202303_2.csv` = 2),
/// 1 without one.
pub fn insurance_version(file: &str) -> u32 {
    let stem = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = stem.split('.').next().unwrap_or(stem);
    let parts: Vec<&str> = stem.split('_').collect();
    match parts.as_slice() {
        [_, _, suffix, ..] => suffix.parse().unwrap_or(1),
        _ => 1,
    }
}

fn insurance(t: &Table, f: &[String], _issues: &mut Issues, version: u32) -> RowResult {
    let code = credit_code_key("统一社会信用代码", t.get(f, "统一社会信用代码"))?;
    let raw_month = t
        .get(f, "费款所属期")
        .ok_or_else(|| missing_key("费款所属期 is missing"))?;
    let month =
        parse_month(raw_month).ok_or_else(|| missing_key(format!("费款所属期 {raw_month:?} is not a month")))?;
    let insured = match t.get(f, "参保人数") {
        None => 0,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if n >= 0 => n,
            Ok(_) => return Err(("invalid_value", format!("参保人数 {raw:?} is negative"))),
            Err(_) => return Err(("invalid_value", format!("参保人数 {raw:?} is not a whole number"))),
        },
    };
    let paid_cents = cents("实缴金额", t.get(f, "实缴金额"))?;
    Ok((
        format!("{code}|{month}"),
        format!("{version:010}"),
        Fact::Insurance(Contribution {
            credit_code: code,
            month,
            employer_name: t.get(f, "单位名称").map(str::to_string),
            insured,
            paid_cents,
        }),
    ))
}

fn tax(v: &Value, _issues: &mut Issues) -> RowResult {
    let code = credit_code_key("nsrsbh", string(v, "nsrsbh").as_deref())?;
    let raw_period = string(v, "sssq").ok_or_else(|| missing_key("sssq is missing"))?;
    let period = parse_month(&raw_period).ok_or_else(|| missing_key(format!("sssq {raw_period:?} is not a month")))?;
    let declared_on = date_version("sbrq", string(v, "sbrq").as_deref())?;
    Ok((
        format!("{code}|{period}"),
        declared_on.format("%Y-%m-%d").to_string(),
        Fact::Tax(Declaration {
            credit_code: code,
            period,
            taxpayer_name: string(v, "nsrmc"),
            due_cents: cents("ynse", string(v, "ynse").as_deref())?,
            paid_cents: cents("sjse", string(v, "sjse").as_deref())?,
            declared_on,
        }),
    ))
}

const PRACTITIONER_COLUMNS: [&str; 10] = [
    "证件号码",
    "姓名",
    "行业",
    "岗位",
    "资格证书编号",
    "用人单位统一社会信用代码",
    "用人单位名称",
    "从业状态",
    "所属区划",
    "更新时间",
];

fn practitioner(t: &Table, f: &[String], issues: &mut Issues) -> RowResult {
    let id = id_number_key("证件号码", t.get(f, "证件号码"))?;
    let raw_trade = t.get(f, "行业").ok_or_else(|| missing_key("行业 is missing"))?;
    let trade = Trade::from_chinese(raw_trade).ok_or_else(|| {
        (
            "invalid_value",
            format!("行业 {raw_trade:?} is not one of the five trades"),
        )
    })?;
    let employer = credit_code_key("用人单位统一社会信用代码", t.get(f, "用人单位统一社会信用代码"))?;
    let version = instant_version("更新时间", t.get(f, "更新时间"))?;
    let status = t.get(f, "从业状态").unwrap_or_default();
    if !["在岗", "离岗"].contains(&status) {
        issues.add("从业状态", status, "unknown_status");
    }
    Ok((
        format!("{id}|{}|{employer}", trade.as_str()),
        version,
        Fact::Practitioner(Practice {
            id_number: id,
            name: t.get(f, "姓名").map(normalize_person_name).unwrap_or_default(),
            trade,
            post: t.get(f, "岗位").map(str::to_string),
            certificate: t.get(f, "资格证书编号").map(str::to_string),
            employer_credit_code: employer,
            employer_name: t.get(f, "用人单位名称").map(str::to_string),
            in_post: status == "在岗",
            region_code: issues.region("所属区划", t.get(f, "所属区划")),
        }),
    ))
}

/// Former charge names count as their current ones (MODELS.md).
pub fn current_charge(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    match name.as_str() {
        "生产、销售假药罪" => "生产、销售、提供假药罪".into(),
        "生产、销售劣药罪" => "生产、销售、提供劣药罪".into(),
        _ => name,
    }
}

fn conviction(v: &Value, issues: &mut Issues) -> RowResult {
    let raw_ah = string(v, "ah").ok_or_else(|| missing_key("ah is missing"))?;
    let case_number = CaseNumber::parse(&raw_ah)
        .map(|c| c.as_str().to_string())
        .map_err(|e| missing_key(format!("ah {raw_ah:?}: {e}")))?;
    let id = id_number_key("bgrzjhm", string(v, "bgrzjhm").as_deref())?;
    let effective_on = date_version("sxrq", string(v, "sxrq").as_deref())?;
    let charges: Vec<String> = match v.get("zm") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(current_charge).collect(),
        Some(Value::String(s)) => s.split(['、', ',', '，', ';', '；']).map(current_charge).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|c| !c.is_empty())
    .collect();
    let term_months = match v.get("xqys") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()).filter(|n| *n >= 0),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => s.trim().parse::<i32>().ok().filter(|n| *n >= 0),
        Some(_) => None,
    };
    if term_months.is_none() && v.get("xqys").is_some_and(|x| !x.is_null() && x.as_str() != Some("")) {
        return Err(("invalid_value", "xqys is not a number of months ≥ 0".into()));
    }
    let (ban_scope, ban_years) = match v.get("cyjz") {
        Some(ban @ Value::Object(_)) => {
            let scope = string(ban, "fw");
            if let Some(s) = &scope {
                if s != "全部" && Trade::from_chinese(s).is_none() {
                    issues.add("cyjz.fw", s, "unknown_trade");
                }
            }
            let years = match ban.get("nx") {
                Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            };
            if years.is_some_and(|y| y < 0) {
                return Err(("invalid_value", "cyjz.nx is negative".into()));
            }
            (scope, years)
        }
        _ => (None, None),
    };
    Ok((
        format!("{case_number}|{id}"),
        effective_on.format("%Y-%m-%d").to_string(),
        Fact::Conviction(Conviction {
            case_number,
            id_number: id,
            name: string(v, "bgrxm").map(|n| normalize_person_name(&n)),
            charges,
            penalty_kind: string(v, "xqlx"),
            term_months,
            judged_on: issues.date("pjrq", string(v, "pjrq").as_deref()),
            effective_on,
            released_on: issues.date("xmjsrq", string(v, "xmjsrq").as_deref()),
            ban_scope,
            ban_years,
            court_region: issues.region("fyqh", string(v, "fyqh").as_deref()),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_amounts() {
        assert_eq!(parse_month("202303").as_deref(), Some("2023-03"));
        assert_eq!(parse_month("2023-03").as_deref(), Some("2023-03"));
        assert_eq!(parse_month("2023-13"), None);
        assert_eq!(parse_month("2023-3"), None);
        assert_eq!(cents("x", Some("12.5")), Ok(1250));
        assert_eq!(cents("x", Some("0.00")), Ok(0));
        assert_eq!(cents("x", Some("-0.00")), Ok(0));
        assert!(matches!(cents("x", Some("-1.00")), Err(("invalid_value", _))));
        assert!(matches!(cents("x", Some("1.234")), Err(("invalid_value", _))));
    }

    #[test]
    fn insurance_versions_come_from_the_file_name() {
        assert_eq!(insurance_version("sbjf_202303.csv"), 1);
        assert_eq!(insurance_version("sbjf_202303_2.csv"), 2);
        assert_eq!(insurance_version("dir/sbjf_202303_10.csv"), 10);
        assert!(format!("{:010}", 10) > format!("{:010}", 2));
    }

    #[test]
    fn registry_rows_and_their_refusals() {
        let text = "统一社会信用代码,企业名称,企业类型,法定代表人,法定代表人证件号码,成立日期,登记状态,注册地址,所属区划,经营范围,更新时间\n\
            91330110MA2H3K4L5F,杭州某某（贸易）有限公司,有限责任公司,张 三,330106********1234,2020/01/02,存续,地址,330110,批发,2023-01-01 10:00:00\n\
            91330110MA2H3K4L5X,坏,有限责任公司,,,2020-01-02,存续,,330110,,2023-01-01 10:00:00\n\
            91330110MA2H3K4L5F,杭州某某贸易有限公司,,,,2020-01-02,吊销,,339999,,\n";
        let file = parse(Feed::Registry, "scztdj_20230101.csv", text.as_bytes()).unwrap();
        assert_eq!(file.rows.len(), 1, "{:?}", file.quarantined);
        let row = &file.rows[0];
        let Fact::Registry(r) = &row.fact else { panic!() };
        assert_eq!(r.name_norm, "杭州某某(贸易)有限公司");
        assert_eq!(r.established_on, NaiveDate::from_ymd_opt(2020, 1, 2));
        assert_eq!(row.version, "2023-01-01T02:00:00Z");
        assert_eq!(row.issues[0].issue, "masked");
        let reasons: Vec<&str> = file.quarantined.iter().map(|q| q.reason).collect();
        assert_eq!(reasons, ["missing_key", "missing_version"]);
    }

    #[test]
    fn convictions_map_former_charges_and_bans() {
        let line = r#"{"ah":"（2021）浙0110刑初456号","bgrzjhm":"11010519491231002X","bgrxm":"胡某某","zm":["生产、销售假药罪"],"xqlx":"有期徒刑","xqys":36,"pjrq":"2021-06-01","sxrq":"2021/06/12","xmjsrq":null,"cyjz":{"fw":"全部","nx":5},"fyqh":"330110"}"#;
        let file = parse(Feed::Convictions, "xspj_20210612.ndjson", line.as_bytes()).unwrap();
        let Fact::Conviction(c) = &file.rows[0].fact else {
            panic!("{:?}", file.quarantined)
        };
        assert_eq!(c.case_number, "(2021)浙0110刑初456号");
        assert_eq!(c.charges, ["生产、销售、提供假药罪"]);
        assert_eq!(c.ban_scope.as_deref(), Some("全部"));
        assert_eq!(c.released_on, None);
        assert_eq!(file.rows[0].version, "2021-06-12");
        let missing = parse(
            Feed::Convictions,
            "x.ndjson",
            r#"{"ah":"(2021)浙0110刑初1号","sxrq":"2021-01-01"}"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(missing.quarantined[0].reason, "missing_key");
    }

    #[test]
    fn practitioners_refuse_other_trades_and_read_without_bom() {
        let text =
            "证件号码,姓名,行业,岗位,资格证书编号,用人单位统一社会信用代码,用人单位名称,从业状态,所属区划,更新时间\r\n\
            11010519491231002X,李四,医疗卫生,执业医师,,91330110MA2H3K4L5F,某医院,在岗,330110,2023-01-01 00:00:00\r\n\
            11010519491231002X,李四,餐饮,厨师,,91330110MA2H3K4L5F,某店,在岗,330110,2023-01-01 00:00:00\r\n";
        for bytes in [
            text.as_bytes().to_vec(),
            [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        ] {
            let file = parse(Feed::Practitioners, "cyry_ylws_20230101.csv", &bytes).unwrap();
            assert_eq!(file.rows.len(), 1);
            assert_eq!(file.quarantined[0].reason, "invalid_value");
            assert_eq!(file.rows[0].key, "11010519491231002X|MEDICAL|91330110MA2H3K4L5F");
        }
    }
}
