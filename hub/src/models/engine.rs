//! Runs a model: set-based SQL over the reference tables finds the subjects, page by page
//! (no table is read whole into memory), and the outcomes are stored — as an evaluation
//! (an explicit `asOf`: replaces the evaluation of the same `asOf`, opens and resolves
//! nothing) or as the next step of each finding's lifecycle (the automatic run).

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Months, NaiveDate, Utc};
use entities::{model_run, CodeColor, FindingLevel, PartyKind, Trade};
use futures_util::TryStreamExt;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseExecutor, DatabaseTransaction, DbBackend, QueryResult, Statement,
    TransactionTrait, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::codes::{code, ConvictionFacts};
use super::declarations::{Declaration, Rule};
use super::lifecycle;
use crate::error::Result;

/// Subjects read per page.
const PAGE: usize = 2_000;

/// One fact a finding rests on: a reference row or a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Evidence {
    /// `REGISTRY`, `INSURANCE`, `TAX`, `PRACTITIONERS`, `CONVICTIONS` or `CASE`.
    pub kind: String,
    /// The row's key, or the case's id.
    pub id: String,
    /// The case's source (`CASE` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
}

/// What a run found of one subject.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub subject_key: String,
    pub kind: PartyKind,
    pub name: String,
    pub identifier: String,
    pub trade: Option<Trade>,
    pub level: FindingLevel,
    pub rules: Vec<String>,
    pub evidence: Vec<Evidence>,
    pub region_code: Option<String>,
    pub regions: Vec<String>,
    pub departments: Vec<String>,
    /// Why a subject is gone, when the registry says so (吊销 / 注销): read by the lifecycle.
    pub gone: Option<String>,
}

impl Outcome {
    /// The evidence rows' ids and versions, hashed (MODELS.md, "evidence changed").
    pub fn evidence_stamp(&self) -> String {
        let mut items: Vec<String> = self
            .evidence
            .iter()
            .map(|e| format!("{}:{}:{}", e.kind, e.id, e.version.as_deref().unwrap_or("")))
            .collect();
        items.sort();
        hex::encode(Sha256::digest(items.join("\n").as_bytes()))
    }
}

/// `a,b` → `,a,b,`: a list a `LIKE '%,x%'` or `instr` can search.
pub fn delimited(items: &[String]) -> String {
    format!(",{},", items.join(","))
}

/// The month before `as_of`'s month (M), the first month of the window of `months` ending
/// with M, and the last day a company may have been established on (MODELS.md).
pub fn evaluation_window(as_of: NaiveDate, months: u32, min_age_months: u32) -> (String, String, NaiveDate) {
    let first_of_month = as_of.with_day(1).unwrap_or(as_of);
    let m = first_of_month - Months::new(1);
    let start = m - Months::new(months.saturating_sub(1));
    let cutoff = first_of_month - Months::new(min_age_months);
    (start.format("%Y-%m").to_string(), m.format("%Y-%m").to_string(), cutoff)
}

/// A statement written with `$n` placeholders (SQLite reads them as `?n`).
fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Postgres => sql.to_string(),
        _ => sql.replace('$', "?"),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// `(the texts of the JSON array bound as $n)`.
fn list(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("(SELECT json_array_elements_text(${n}::json))"),
        _ => format!("(SELECT value FROM json_each(${n}))"),
    }
}

/// `the texts of the JSON array bound as $n` as a table `alias` with one column, `value`.
fn elements(backend: DbBackend, n: usize, alias: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("json_array_elements_text(${n}::json) AS {alias}(value)"),
        _ => format!("json_each(${n}) AS {alias}"),
    }
}

fn json_list(items: &[String]) -> Value {
    json!(items).to_string().into()
}

fn text(row: &QueryResult, column: &str) -> Result<String> {
    Ok(row.try_get::<String>("", column)?)
}

fn opt_text(row: &QueryResult, column: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>>("", column)?)
}

fn opt_date(row: &QueryResult, column: &str) -> Result<Option<NaiveDate>> {
    Ok(row.try_get::<Option<NaiveDate>>("", column)?)
}

fn reference(kind: &str, row: &QueryResult) -> Result<Evidence> {
    Ok(Evidence {
        kind: kind.into(),
        id: text(row, "row_key")?,
        source: None,
        source_key: None,
        version: Some(text(row, "version")?),
        file: Some(text(row, "file")?),
        position: Some(text(row, "position")?),
    })
}

fn case_evidence(row: &QueryResult) -> Result<Evidence> {
    Ok(Evidence {
        kind: "CASE".into(),
        id: row.try_get::<i64>("", "case_id")?.to_string(),
        source: Some(text(row, "source")?),
        source_key: Some(text(row, "source_key")?),
        version: None,
        file: None,
        position: None,
    })
}

/// A shell company as the first pass finds it.
struct Shell {
    row_key: String,
    credit_code: String,
    name_norm: String,
    /// Whether a live case names it by a key (credit code or exact name).
    named: bool,
}

/// The registry's shells (MODELS.md) in key order: one statement, which the database runs as
/// anti-joins over the window's insurance and tax rows (paging the registry instead made it
/// probe both tables once per company, three times as long), read as a stream.
async fn shells<C: ConnectionTrait + sea_orm::StreamTrait>(
    db: &C,
    window: &(String, String, NaiveDate),
) -> Result<Vec<Shell>> {
    let backend = ConnectionTrait::get_database_backend(db);
    let (start, m, cutoff) = window;
    // Whether a live case names the company by a key: two probes of the key index per row.
    let named = "EXISTS (SELECT 1 FROM case_keys k JOIN cases c ON c.id = k.case_id \
                 WHERE c.deleted = false AND ((k.value = r.credit_code AND k.kind = 'ORG_USCC') \
                    OR (k.value = r.name_norm AND k.kind = 'ORG_NAME'))) AS named";
    let sql = format!(
        "SELECT r.row_key, r.credit_code, r.name_norm, {named} FROM registry_rows r \
         WHERE r.status IN ('存续', '在业') AND r.established_on IS NOT NULL AND r.established_on <= $1 \
           AND NOT EXISTS (SELECT 1 FROM insurance_rows i WHERE i.credit_code = r.credit_code \
               AND i.month >= $2 AND i.month <= $3 AND i.insured > 0) \
           AND NOT EXISTS (SELECT 1 FROM tax_rows t WHERE t.credit_code = r.credit_code \
               AND t.period >= $2 AND t.period <= $3 AND t.paid_cents > 0) \
         ORDER BY r.row_key"
    );
    let values: Vec<Value> = vec![(*cutoff).into(), start.clone().into(), m.clone().into()];
    let rows = sea_orm::StreamTrait::stream_raw(db, stmt(backend, &sql, values)).await?;
    let mut rows = std::pin::pin!(rows);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        out.push(Shell {
            row_key: text(&row, "row_key")?,
            credit_code: text(&row, "credit_code")?,
            name_norm: text(&row, "name_norm")?,
            named: row.try_get::<bool>("", "named")?,
        });
    }
    Ok(out)
}

/// Live cases naming the companies of a page as a key: by credit code, or by exact name.
async fn cases_by_key<C: ConnectionTrait>(
    db: &C,
    codes: &[String],
    names: &[String],
) -> Result<(HashMap<String, Vec<Evidence>>, HashMap<String, Vec<Evidence>>)> {
    let backend = db.get_database_backend();
    // One index probe per wanted key (an `OR` of two lists made PostgreSQL scan every key).
    let cases = db
        .query_all_raw(stmt(
            backend,
            &format!(
                "SELECT k.kind, k.value, c.id AS case_id, c.source, c.source_key FROM \
                 (SELECT 'ORG_USCC' AS kind, codes.value AS value FROM {} \
                  UNION ALL SELECT 'ORG_NAME', names.value FROM {}) wanted \
                 JOIN case_keys k ON k.value = wanted.value AND k.kind = wanted.kind \
                 JOIN cases c ON c.id = k.case_id WHERE c.deleted = false",
                elements(backend, 1, "codes"),
                elements(backend, 2, "names")
            ),
            vec![json_list(codes), json_list(names)],
        ))
        .await?;
    let mut by_code: HashMap<String, Vec<Evidence>> = HashMap::new();
    let mut by_name: HashMap<String, Vec<Evidence>> = HashMap::new();
    for row in &cases {
        let target = if text(row, "kind")? == "ORG_USCC" {
            &mut by_code
        } else {
            &mut by_name
        };
        target.entry(text(row, "value")?).or_default().push(case_evidence(row)?);
    }
    Ok((by_code, by_name))
}

/// Model 1: 空壳公司. One statement finds the shells (their keys only), one pass over the
/// live cases' texts finds which of those no key names a text names, and then each page of
/// shells is read back by key, its outcomes built and handed to `sink` (in `txn`): memory
/// holds the shells' keys and two pages, not the run.
async fn shell_companies(
    txn: &DatabaseTransaction,
    pool: &DatabaseConnection,
    model: &Declaration,
    as_of: NaiveDate,
    sink: &mut lifecycle::Sink,
) -> Result<()> {
    let months = u32::try_from(model.parameter("months").max(1)).unwrap_or(6);
    let min_age = u32::try_from(model.parameter("min_age_months")).unwrap_or(6);
    let window = evaluation_window(as_of, months, min_age);
    let started = std::time::Instant::now();
    let shells = shells(txn, &window).await?;
    tracing::debug!(
        shells = shells.len(),
        seconds = started.elapsed().as_secs_f64(),
        "shell_company: shells found"
    );
    let unnamed: Vec<(&str, &str)> = shells
        .iter()
        .filter(|s| !s.named)
        .map(|s| (s.credit_code.as_str(), s.name_norm.as_str()))
        .collect();
    let mut in_texts = named_in_texts(txn, &unnamed).await?;
    tracing::debug!(
        named = in_texts.len(),
        seconds = started.elapsed().as_secs_f64(),
        "shell_company: texts scanned"
    );
    drop(unnamed);
    // A page's facts are read while the previous page is written: on PostgreSQL over another
    // connection of the pool (the run writes none of the rows it reads), on SQLite in turn.
    let reads: DatabaseExecutor<'_> = if ConnectionTrait::get_database_backend(txn) == DbBackend::Postgres {
        pool.into()
    } else {
        txn.into()
    };
    let (pages, mut read) = tokio::sync::mpsc::channel::<ShellPage>(1);
    let reader = async {
        for page in shells.chunks(PAGE) {
            let facts = shell_page_facts(&reads, &window, page).await?;
            if pages.send(facts).await.is_err() {
                break;
            }
        }
        drop(pages);
        Ok::<(), crate::Error>(())
    };
    let writer = async {
        let mut done = 0;
        while let Some(mut facts) = read.recv().await {
            let page = &shells[done..done + facts.count];
            done += facts.count;
            let mut outcomes = Vec::with_capacity(page.len());
            for shell in page {
                let Some(row) = facts.registry.get(&shell.row_key) else {
                    continue;
                };
                let code = &shell.credit_code;
                let mut items = vec![reference("REGISTRY", row)?];
                items.extend(facts.evidence.remove(code).unwrap_or_default());
                let mut in_cases: Vec<Evidence> = facts.by_code.get(code).cloned().unwrap_or_default();
                in_cases.extend(facts.by_name.get(&shell.name_norm).cloned().unwrap_or_default());
                in_cases.extend(in_texts.remove(code).unwrap_or_default());
                in_cases.sort();
                in_cases.dedup();
                let high = !in_cases.is_empty();
                items.extend(in_cases);
                let region = opt_text(row, "region_code")?;
                let mut rules = vec!["no_insurance".to_string(), "no_tax".to_string()];
                if high {
                    rules.push("in_cases".into());
                }
                outcomes.push(Outcome {
                    subject_key: code.clone(),
                    kind: PartyKind::Organization,
                    name: text(row, "name")?,
                    identifier: code.clone(),
                    trade: None,
                    level: if high { FindingLevel::High } else { FindingLevel::Medium },
                    rules,
                    evidence: items,
                    region_code: region.clone(),
                    regions: region.iter().cloned().collect(),
                    departments: model.department(region.as_deref(), None).into_iter().collect(),
                    gone: None,
                });
            }
            sink.page(txn, model, outcomes).await?;
        }
        Ok::<(), crate::Error>(())
    };
    // The writer's error first: a reader stopped by a failed writer only sees a closed channel.
    let (read_result, write_result) = tokio::join!(reader, writer);
    write_result?;
    read_result?;
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "shell_company: outcomes written"
    );
    Ok(())
}

/// What the outcomes of a page of shells rest on.
struct ShellPage {
    /// How many shells the page holds.
    count: usize,
    /// Their registry rows, by key.
    registry: HashMap<String, QueryResult>,
    /// Their insurance and tax rows of the window, by credit code.
    evidence: HashMap<String, Vec<Evidence>>,
    /// The live cases naming them by credit code, and by exact name.
    by_code: HashMap<String, Vec<Evidence>>,
    by_name: HashMap<String, Vec<Evidence>>,
}

async fn shell_page_facts<C: ConnectionTrait>(
    db: &C,
    window: &(String, String, NaiveDate),
    page: &[Shell],
) -> Result<ShellPage> {
    let backend = db.get_database_backend();
    let (start, m, _) = window;
    let keys: Vec<String> = page.iter().map(|s| s.row_key.clone()).collect();
    let codes: Vec<String> = page.iter().map(|s| s.credit_code.clone()).collect();
    let registry: HashMap<String, QueryResult> = db
        .query_all_raw(stmt(
            backend,
            &format!(
                "SELECT r.row_key, r.name, r.region_code, r.version, r.file, r.position FROM {} \
                 JOIN registry_rows r ON r.row_key = wanted.value",
                elements(backend, 1, "wanted")
            ),
            vec![json_list(&keys)],
        ))
        .await?
        .into_iter()
        .map(|row| Ok((text(&row, "row_key")?, row)))
        .collect::<Result<_>>()?;
    let mut evidence: HashMap<String, Vec<Evidence>> = HashMap::new();
    for (table, kind, period) in [("insurance_rows", "INSURANCE", "month"), ("tax_rows", "TAX", "period")] {
        let rows = db
            .query_all_raw(stmt(
                backend,
                &format!(
                    "SELECT row_key, credit_code, version, file, position FROM {table} \
                     WHERE credit_code IN {} AND {period} >= $2 AND {period} <= $3",
                    list(backend, 1)
                ),
                vec![json_list(&codes), start.clone().into(), m.clone().into()],
            ))
            .await?;
        for row in rows {
            evidence
                .entry(text(&row, "credit_code")?)
                .or_default()
                .push(reference(kind, &row)?);
        }
    }
    // The cases themselves, for the companies a key names.
    let (named_codes, named_names): (Vec<String>, Vec<String>) = page
        .iter()
        .filter(|s| s.named)
        .map(|s| (s.credit_code.clone(), s.name_norm.clone()))
        .unzip();
    let (by_code, by_name) = if named_codes.is_empty() {
        Default::default()
    } else {
        cases_by_key(db, &named_codes, &named_names).await?
    };
    Ok(ShellPage {
        count: page.len(),
        registry,
        evidence,
        by_code,
        by_name,
    })
}

/// Live cases read per page by the text pass.
const TEXTS_PER_PAGE: u64 = 5_000;

/// Bytes of names one automaton matches (building one takes about 17 times the bytes of its
/// names, as for linkage's organization names): more names mean more passes, not more memory.
const NAME_BYTES_PER_PASS: usize = 4 << 20;

/// Which of `companies` (credit code, normalized name) the free text of a live case names,
/// with those cases. Names shorter than 4 characters match too much text to be evidence.
async fn named_in_texts<C: ConnectionTrait>(
    db: &C,
    companies: &[(&str, &str)],
) -> Result<HashMap<String, Vec<Evidence>>> {
    let candidates: Vec<&(&str, &str)> = companies.iter().filter(|(_, n)| n.chars().count() >= 4).collect();
    let mut found: HashMap<String, Vec<Evidence>> = HashMap::new();
    let mut batch_start = 0;
    while batch_start < candidates.len() {
        let mut bytes = 0;
        let mut batch_end = batch_start;
        while batch_end < candidates.len() && bytes < NAME_BYTES_PER_PASS {
            bytes += candidates[batch_end].1.len();
            batch_end += 1;
        }
        let batch = &candidates[batch_start..batch_end];
        batch_start = batch_end;
        let names: Vec<&str> = batch.iter().map(|(_, n)| *n).collect();
        let automaton = aho_corasick::AhoCorasick::new(&names).map_err(|e| crate::Error::Internal(e.into()))?;
        scan_texts(db, &automaton, |hit, evidence| {
            found.entry(batch[hit].0.to_string()).or_default().push(evidence);
        })
        .await?;
    }
    Ok(found)
}

/// Every live case's free text against `automaton`, page by page; `on_hit(pattern, case)`.
async fn scan_texts<C: ConnectionTrait>(
    db: &C,
    automaton: &aho_corasick::AhoCorasick,
    mut on_hit: impl FnMut(usize, Evidence),
) -> Result<()> {
    use entities::case;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut after = 0i64;
    loop {
        let texts: Vec<(i64, entities::Source, String, Option<String>)> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .column(case::Column::Source)
            .column(case::Column::SourceKey)
            .column(case::Column::FreeText)
            .filter(case::Column::Id.gt(after))
            .filter(case::Column::Deleted.eq(false))
            .filter(case::Column::FreeText.is_not_null())
            .order_by_asc(case::Column::Id)
            .limit(TEXTS_PER_PAGE)
            .into_tuple()
            .all(db)
            .await?;
        let Some(last) = texts.last() else { break };
        after = last.0;
        for (id, source, source_key, text) in &texts {
            let Some(text) = text else { continue };
            let mut hits: Vec<usize> = automaton
                .find_overlapping_iter(text)
                .map(|m| m.pattern().as_usize())
                .collect();
            hits.sort_unstable();
            hits.dedup();
            for hit in hits {
                on_hit(
                    hit,
                    Evidence {
                        kind: "CASE".into(),
                        id: id.to_string(),
                        source: Some(source.as_str().to_string()),
                        source_key: Some(source_key.clone()),
                        version: None,
                        file: None,
                        position: None,
                    },
                );
            }
        }
        if (texts.len() as u64) < TEXTS_PER_PAGE {
            break;
        }
    }
    Ok(())
}

/// Why a company whose finding is open is no longer one, if the registry says 吊销 / 注销.
pub async fn registry_disposals<C: ConnectionTrait>(db: &C, codes: &[String]) -> Result<HashMap<String, String>> {
    let backend = db.get_database_backend();
    let mut out = HashMap::new();
    for chunk in codes.chunks(PAGE) {
        let rows = db
            .query_all_raw(stmt(
                backend,
                &format!(
                    "SELECT credit_code, status FROM registry_rows WHERE credit_code IN {} AND status IN ('吊销', '注销')",
                    list(backend, 1)
                ),
                vec![json_list(chunk)],
            ))
            .await?;
        for row in rows {
            let status = text(&row, "status")?;
            out.insert(text(&row, "credit_code")?, format!("已{status}"));
        }
    }
    Ok(out)
}

/// One in-post practitioner row, as the codes read it.
struct Post {
    row: Evidence,
    name: String,
    trade: Trade,
    driver: bool,
    region: Option<String>,
    employer: (String, Option<String>),
}

/// What every code row of one run shares.
struct CodeRun<'a> {
    run_id: i64,
    model: &'a Declaration,
    computed_at: String,
}

impl CodeRun<'_> {
    /// A code row to store (`CODE_COLUMNS`).
    fn row(
        &self,
        id_number: &str,
        trade: Trade,
        color: CodeColor,
        rules: &[String],
        posts: &[&Post],
    ) -> serde_json::Value {
        let mut regions: Vec<String> = posts.iter().filter_map(|p| p.region.clone()).collect();
        regions.sort();
        regions.dedup();
        let departments: Vec<String> = regions
            .iter()
            .filter_map(|r| self.model.department(Some(r), Some(trade)))
            .collect();
        let mut employers: Vec<serde_json::Value> = Vec::new();
        for p in posts {
            let e = json!({"creditCode": p.employer.0, "name": p.employer.1});
            if !employers.contains(&e) {
                employers.push(e);
            }
        }
        let name = posts.first().map(|p| p.name.as_str()).unwrap_or_default();
        json!([
            self.run_id,
            id_number,
            name,
            trade.as_str(),
            color.as_str(),
            json!(rules).to_string(),
            regions.first(),
            delimited(&regions),
            delimited(&departments),
            json!(employers).to_string(),
            self.computed_at
        ])
    }
}

const CODE_COLUMNS: [(&str, &str); 11] = [
    ("run_id", "bigint"),
    ("id_number", "text"),
    ("name", "text"),
    ("trade", "text"),
    ("color", "text"),
    ("rules", "text"),
    ("region_code", "text"),
    ("regions", "text"),
    ("departments", "text"),
    ("employers", "text"),
    ("computed_at", "timestamptz"),
];

/// The convictions of `people`, by ID number, with their evidence.
pub async fn convictions_of<C: ConnectionTrait>(
    db: &C,
    people: &[String],
) -> Result<HashMap<String, Vec<(ConvictionFacts, Evidence)>>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(stmt(
            backend,
            &format!(
                "SELECT row_key, id_number, charges, penalty_kind, term_months, effective_on, released_on, ban_scope, \
                 ban_years, version, file, position FROM conviction_rows WHERE id_number IN {} ORDER BY row_key",
                list(backend, 1)
            ),
            vec![json_list(people)],
        ))
        .await?;
    let mut out: HashMap<String, Vec<(ConvictionFacts, Evidence)>> = HashMap::new();
    for row in rows {
        let facts = ConvictionFacts {
            charges: serde_json::from_str(&text(&row, "charges")?).unwrap_or_default(),
            penalty_kind: opt_text(&row, "penalty_kind")?,
            term_months: row.try_get::<Option<i32>>("", "term_months")?,
            effective_on: opt_date(&row, "effective_on")?.unwrap_or(NaiveDate::MIN),
            released_on: opt_date(&row, "released_on")?,
            ban_scope: opt_text(&row, "ban_scope")?,
            ban_years: row.try_get::<Option<i32>>("", "ban_years")?,
        };
        out.entry(text(&row, "id_number")?)
            .or_default()
            .push((facts, reference("CONVICTIONS", &row)?));
    }
    Ok(out)
}

/// The pending matters of `people` (MODELS.md): live, not closed PROCURATORATE or ENFORCEMENT
/// cases of which they are a party, in any role.
pub async fn pending_matters<C: ConnectionTrait>(db: &C, people: &[String]) -> Result<HashMap<String, Vec<Evidence>>> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(stmt(
            backend,
            &format!(
                "SELECT DISTINCT p.id_number, c.id AS case_id, c.source, c.source_key FROM parties p \
                 JOIN case_parties cp ON cp.party_id = p.id JOIN cases c ON c.id = cp.case_id \
                 WHERE p.identity IN {} AND c.deleted = false AND c.source IN ('PROCURATORATE', 'ENFORCEMENT') \
                   AND NOT ((c.source = 'ENFORCEMENT' AND c.stage IS NOT NULL AND c.stage = 'CLOSED') \
                        OR (c.source = 'PROCURATORATE' AND c.status IS NOT NULL AND c.status = 'CLOSED'))",
                list(backend, 1)
            ),
            // A person's party is found by its identity (unique, indexed).
            vec![json_list(
                &people.iter().map(|id| format!("PERSON_ID:{id}")).collect::<Vec<_>>(),
            )],
        ))
        .await?;
    let mut out: HashMap<String, Vec<Evidence>> = HashMap::new();
    for row in rows {
        out.entry(text(&row, "id_number")?)
            .or_default()
            .push(case_evidence(&row)?);
    }
    Ok(out)
}

/// Model 2: 特定行业准入. Writes every in-post person's code per trade for `run_id` and
/// returns the RED and YELLOW ones as outcomes, and the number of codes.
async fn trade_access<C: ConnectionTrait>(
    db: &C,
    model: &Declaration,
    as_of: NaiveDate,
    run_id: i64,
    sink: &mut lifecycle::Sink,
) -> Result<i64> {
    let backend = db.get_database_backend();
    let coder = CodeRun {
        run_id,
        model,
        computed_at: Utc::now().to_rfc3339(),
    };
    let mut count = 0i64;
    let mut after = String::new();
    loop {
        let mut out = Vec::new();
        let people: Vec<String> = db
            .query_all_raw(stmt(
                backend,
                &format!(
                    "SELECT DISTINCT id_number FROM practitioner_rows WHERE in_post = true AND id_number > $1 \
                     ORDER BY id_number LIMIT {PAGE}"
                ),
                vec![after.clone().into()],
            ))
            .await?
            .iter()
            .map(|r| text(r, "id_number"))
            .collect::<Result<_>>()?;
        let Some(last) = people.last() else { break };
        after = last.clone();
        let rows = db
            .query_all_raw(stmt(
                backend,
                &format!(
                    "SELECT row_key, id_number, name, trade, post, employer_credit_code, employer_name, region_code, \
                     version, file, position FROM practitioner_rows WHERE in_post = true AND id_number IN {} \
                     ORDER BY row_key",
                    list(backend, 1)
                ),
                vec![json_list(&people)],
            ))
            .await?;
        let mut posts: BTreeMap<String, Vec<Post>> = BTreeMap::new();
        for row in &rows {
            let Some(trade) = Trade::parse(&text(row, "trade")?) else {
                continue;
            };
            posts.entry(text(row, "id_number")?).or_default().push(Post {
                row: reference("PRACTITIONERS", row)?,
                name: text(row, "name")?,
                trade,
                driver: opt_text(row, "post")?.is_some_and(|p| p.contains("驾驶员")),
                region: opt_text(row, "region_code")?,
                employer: (text(row, "employer_credit_code")?, opt_text(row, "employer_name")?),
            });
        }
        let convictions = convictions_of(db, &people).await?;
        let pending = pending_matters(db, &people).await?;
        let mut codes = Vec::new();
        for (person, person_posts) in &posts {
            let record: &[(ConvictionFacts, Evidence)] = convictions.get(person).map(Vec::as_slice).unwrap_or(&[]);
            let facts: Vec<ConvictionFacts> = record.iter().map(|(f, _)| f.clone()).collect();
            let matters = pending.get(person);
            for trade in Trade::ALL {
                let in_trade: Vec<&Post> = person_posts.iter().filter(|p| p.trade == *trade).collect();
                let Some(first) = in_trade.first() else { continue };
                let driver = in_trade.iter().any(|p| p.driver);
                let found = code(model, *trade, driver, &facts, matters.is_some(), as_of);
                let rules: Vec<String> = found.rules.iter().map(|r| r.to_string()).collect();
                codes.push(coder.row(person, *trade, found.color, &rules, &in_trade));
                count += 1;
                let level = match found.color {
                    CodeColor::Red => FindingLevel::Red,
                    CodeColor::Yellow => FindingLevel::Yellow,
                    CodeColor::Blue => continue,
                };
                let mut evidence: Vec<Evidence> = in_trade.iter().map(|p| p.row.clone()).collect();
                evidence.extend(
                    found
                        .convictions
                        .iter()
                        .filter_map(|i| record.get(*i))
                        .map(|(_, e)| e.clone()),
                );
                if found.pending {
                    evidence.extend(matters.cloned().unwrap_or_default());
                }
                let mut regions: Vec<String> = in_trade.iter().filter_map(|p| p.region.clone()).collect();
                regions.sort();
                regions.dedup();
                out.push(Outcome {
                    subject_key: format!("{person}|{}", trade.as_str()),
                    kind: PartyKind::Person,
                    name: first.name.clone(),
                    identifier: person.clone(),
                    trade: Some(*trade),
                    level,
                    rules,
                    evidence,
                    region_code: regions.first().cloned(),
                    departments: regions
                        .iter()
                        .filter_map(|r| model.department(Some(r), Some(*trade)))
                        .collect(),
                    regions,
                    gone: None,
                });
            }
        }
        entities::sql::insert_json(db, "practitioner_codes", &CODE_COLUMNS, &codes).await?;
        sink.page(db, model, out).await?;
        if people.len() < PAGE {
            break;
        }
    }
    Ok(count)
}

/// A finished run and the findings it raised (automatic runs only).
#[derive(Debug, Clone)]
pub struct Ran {
    pub run: model_run::Model,
    pub raised: Vec<i64>,
}

/// Runs `model` as of `as_of` (an evaluation) or as of `today` (the automatic run, which
/// drives the findings' lifecycle).
pub async fn run(
    db: &DatabaseConnection,
    model: &Declaration,
    as_of: Option<NaiveDate>,
    today: NaiveDate,
    task_days: u32,
) -> Result<Ran> {
    match execute(db, model, as_of, today, task_days, false).await? {
        Some(ran) => Ok(ran),
        None => Err(crate::Error::Internal(anyhow::anyhow!("a forced run did not run"))),
    }
}

/// Runs `model`; with `only_if_stale`, an automatic run only when no automatic run of the
/// same day saw the same inputs — checked under the model's lock, so of two processes
/// noticing the same change, one runs.
async fn execute(
    db: &DatabaseConnection,
    model: &Declaration,
    as_of: Option<NaiveDate>,
    today: NaiveDate,
    task_days: u32,
    only_if_stale: bool,
) -> Result<Option<Ran>> {
    let automatic = as_of.is_none();
    let as_of = as_of.unwrap_or(today);
    let started = Utc::now();
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        // A run is thousands of mid-sized statements: compiling each (PostgreSQL's JIT, on for
        // plans it guesses costly) took longer than running it.
        txn.execute_unprepared("SET LOCAL jit = off").await?;
    }
    // One run of a model at a time, whichever process starts it.
    entities::sql::lock_until_commit(&txn, crate::sql::lock_key(&format!("model:{}", model.id))).await?;
    let stamp = crate::reference::stamp(&txn).await?;
    if only_if_stale && automatic {
        if let Some(last) = latest_automatic(&txn, &model.id).await? {
            if last.input_stamp == stamp && last.as_of == as_of {
                txn.commit().await?;
                return Ok(None);
            }
        }
    }
    let run = model_run::ActiveModel {
        model: sea_orm::Set(model.id.clone()),
        as_of: sea_orm::Set(as_of),
        automatic: sea_orm::Set(automatic),
        input_stamp: sea_orm::Set(stamp),
        parameters: sea_orm::Set(json!(model.parameters).to_string()),
        started_at: sea_orm::Set(started),
        finished_at: sea_orm::Set(started),
        finding_count: sea_orm::Set(0),
        code_count: sea_orm::Set(0),
        ..Default::default()
    };
    let run = sea_orm::ActiveModelTrait::insert(run, &txn).await?;
    let mut sink = if automatic {
        lifecycle::Sink::lifecycle(&txn, model, &run, task_days).await?
    } else {
        lifecycle::Sink::evaluation(&txn, model, &run).await?
    };
    let codes = match model.rule {
        Rule::ShellCompany => {
            shell_companies(&txn, db, model, as_of, &mut sink).await?;
            0
        }
        Rule::TradeAccess => trade_access(&txn, model, as_of, run.id, &mut sink).await?,
    };
    let (findings, raised) = sink.finish(&txn, model).await?;
    // Keep the codes of the latest run per kind (automatic, or this evaluation's asOf).
    let superseded = format!(
        "DELETE FROM practitioner_codes WHERE run_id IN (SELECT id FROM model_runs WHERE model = $1 AND automatic = $2 \
         AND id <> $3 {})",
        if automatic { "" } else { "AND as_of = $4" }
    );
    let mut values: Vec<Value> = vec![model.id.clone().into(), automatic.into(), run.id.into()];
    if !automatic {
        values.push(as_of.into());
    }
    txn.execute_raw(stmt(txn.get_database_backend(), &superseded, values))
        .await?;
    let mut done: model_run::ActiveModel = run.into();
    done.finished_at = sea_orm::Set(Utc::now());
    done.finding_count = sea_orm::Set(findings);
    done.code_count = sea_orm::Set(codes);
    let done = sea_orm::ActiveModelTrait::update(done, &txn).await?;
    txn.commit().await?;
    Ok(Some(Ran { run: done, raised }))
}

/// Runs every model whose inputs changed since its last automatic run (as of `today`);
/// returns the runs made. What `qianchuan ingest` calls after a load, and gateways every
/// minute, so findings follow the database whichever process wrote it.
pub async fn refresh(
    db: &DatabaseConnection,
    models: &[Declaration],
    today: NaiveDate,
    task_days: u32,
) -> Result<Vec<Ran>> {
    let stamp = crate::reference::stamp(db).await?;
    let mut stale = Vec::new();
    for model in models {
        let last = latest_automatic(db, &model.id).await?;
        if last.is_none_or(|run| run.input_stamp != stamp || run.as_of != today) {
            stale.push(model);
        }
    }
    let runs = side_by_side(db, &stale, |model| execute(db, model, None, today, task_days, true)).await;
    Ok(runs
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect())
}

/// Runs `models` (each in its own transaction) as of `as_of` or as the automatic run; the
/// outcomes in the order of `models`.
pub async fn run_all(
    db: &DatabaseConnection,
    models: &[&Declaration],
    as_of: Option<NaiveDate>,
    today: NaiveDate,
    task_days: u32,
) -> Vec<Result<Ran>> {
    side_by_side(db, models, |model| run(db, model, as_of, today, task_days)).await
}

/// `job` for each model: at the same time on PostgreSQL (the models read and write disjoint
/// rows, and a run waits on the database half its time), one after the other on SQLite (one
/// writer at a time).
async fn side_by_side<'a, T, F>(
    db: &DatabaseConnection,
    models: &[&'a Declaration],
    job: impl Fn(&'a Declaration) -> F,
) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    if db.get_database_backend() == DbBackend::Postgres {
        futures_util::future::join_all(models.iter().map(|m| job(m))).await
    } else {
        let mut out = Vec::with_capacity(models.len());
        for model in models {
            out.push(job(model).await);
        }
        out
    }
}

/// A gateway's follower: every `period`, runs the models whose inputs changed (whichever
/// process wrote them) and tells subscribers of the findings raised.
pub async fn follow(
    db: DatabaseConnection,
    models: std::sync::Arc<super::Models>,
    bus: crate::events::EventBus,
    period: std::time::Duration,
) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match refresh(&db, &models.declarations, models.today(), models.task_days).await {
            Ok(runs) => {
                for ran in runs {
                    tracing::info!(model = %ran.run.model, findings = ran.run.finding_count, raised = ran.raised.len(), "supervision model ran");
                    if !ran.raised.is_empty() {
                        bus.publish(crate::events::Event::FindingsRaised {
                            model: ran.run.model.clone(),
                            finding_ids: ran.raised,
                        })
                        .await;
                    }
                }
            }
            Err(e) => tracing::error!(error = ?e, "running the supervision models failed"),
        }
    }
}

pub async fn latest_automatic<C: ConnectionTrait>(db: &C, model: &str) -> Result<Option<model_run::Model>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    Ok(model_run::Entity::find()
        .filter(model_run::Column::Model.eq(model))
        .filter(model_run::Column::Automatic.eq(true))
        .order_by_desc(model_run::Column::Id)
        .one(db)
        .await?)
}

/// The latest run of `model` with `as_of` (an evaluation, or the automatic run of that day).
pub async fn latest_run_as_of<C: ConnectionTrait>(
    db: &C,
    model: &str,
    as_of: NaiveDate,
) -> Result<Option<model_run::Model>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    Ok(model_run::Entity::find()
        .filter(model_run::Column::Model.eq(model))
        .filter(model_run::Column::AsOf.eq(as_of))
        .filter(model_run::Column::Automatic.eq(false))
        .order_by_desc(model_run::Column::Id)
        .one(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_evaluation_month_and_age_follow_models_md() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        for as_of in ["2024-06-01", "2024-06-20", "2024-06-30"] {
            let (start, m, cutoff) = evaluation_window(d(as_of), 6, 6);
            assert_eq!((start.as_str(), m.as_str()), ("2023-12", "2024-05"));
            assert_eq!(cutoff, d("2023-12-01"));
        }
        let (start, m, _) = evaluation_window(d("2024-01-15"), 6, 6);
        assert_eq!((start.as_str(), m.as_str()), ("2023-07", "2023-12"));
    }
}
