//! Stores the reference feeds (`sources/reference.md`): one loader for all five, with the
//! promises of every feed — each row stored or quarantined with position and reason,
//! idempotent, versions decide (an earlier version arriving late is kept in
//! `reference_versions` as provenance only, as is every version a later one replaces),
//! within one file the later row of a key wins and the earlier counts `unchanged`.

use std::collections::HashMap;

use adapters::reference::{ReferenceFile, ReferenceRow};
use chrono::Utc;
use entities::Feed;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::ingest::{FileReport, QuarantineEntry};

/// Rows looked up and written per statement.
const ROWS_PER_BATCH: usize = 2_000;

/// The table of a reference feed and its typed columns (in `Fact::values` order), with their
/// PostgreSQL types.
pub fn table(feed: Feed) -> Option<(&'static str, &'static [(&'static str, &'static str)])> {
    Some(match feed {
        Feed::Registry => (
            "registry_rows",
            &[
                ("credit_code", "text"),
                ("name", "text"),
                ("name_norm", "text"),
                ("enterprise_type", "text"),
                ("legal_rep", "text"),
                ("legal_rep_id", "text"),
                ("established_on", "date"),
                ("status", "text"),
                ("address", "text"),
                ("region_code", "text"),
                ("business_scope", "text"),
            ],
        ),
        Feed::Insurance => (
            "insurance_rows",
            &[
                ("credit_code", "text"),
                ("month", "text"),
                ("employer_name", "text"),
                ("insured", "bigint"),
                ("paid_cents", "bigint"),
            ],
        ),
        Feed::Tax => (
            "tax_rows",
            &[
                ("credit_code", "text"),
                ("period", "text"),
                ("taxpayer_name", "text"),
                ("due_cents", "bigint"),
                ("paid_cents", "bigint"),
                ("declared_on", "date"),
            ],
        ),
        Feed::Practitioners => (
            "practitioner_rows",
            &[
                ("id_number", "text"),
                ("name", "text"),
                ("trade", "text"),
                ("post", "text"),
                ("certificate", "text"),
                ("employer_credit_code", "text"),
                ("employer_name", "text"),
                ("in_post", "boolean"),
                ("region_code", "text"),
            ],
        ),
        Feed::Convictions => (
            "conviction_rows",
            &[
                ("case_number", "text"),
                ("id_number", "text"),
                ("name", "text"),
                ("charges", "text"),
                ("penalty_kind", "text"),
                ("term_months", "integer"),
                ("judged_on", "date"),
                ("effective_on", "date"),
                ("released_on", "date"),
                ("ban_scope", "text"),
                ("ban_years", "integer"),
                ("court_region", "text"),
            ],
        ),
        _ => return None,
    })
}

const PROVENANCE_COLUMNS: [(&str, &str); 7] = [
    ("version", "text"),
    ("content_hash", "text"),
    ("file", "text"),
    ("position", "text"),
    ("raw", "text"),
    ("issues", "text"),
    ("loaded_at", "timestamptz"),
];

const VERSION_COLUMNS: [(&str, &str); 8] = [
    ("feed", "text"),
    ("row_key", "text"),
    ("version", "text"),
    ("content_hash", "text"),
    ("file", "text"),
    ("position", "text"),
    ("raw", "text"),
    ("kept_at", "timestamptz"),
];

/// Advisory-lock key of reference loads (one writer of the reference tables at a time).
const REFERENCE_LOCK: i64 = 0x5145_4645_5245_4e43;

fn content_hash(values: &[Value]) -> String {
    hex::encode(Sha256::digest(Value::Array(values.to_vec()).to_string().as_bytes()))
}

/// `column IN (the JSON array of texts bound as one parameter)`.
fn texts_in(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("{column} IN (SELECT json_array_elements_text($1::json))"),
        _ => format!("{column} IN (SELECT value FROM json_each(?))"),
    }
}

/// The stored version of each of `keys` in `table`.
async fn stored_versions<C: ConnectionTrait>(db: &C, table: &str, keys: &[&str]) -> Result<HashMap<String, String>> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT row_key, version FROM {table} WHERE {}",
        texts_in(backend, "row_key")
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [json!(keys).to_string().into()],
        ))
        .await?;
    let mut out = HashMap::new();
    for row in rows {
        out.insert(
            row.try_get::<String>("", "row_key")?,
            row.try_get::<String>("", "version")?,
        );
    }
    Ok(out)
}

/// Loads one file of a reference feed; a file that cannot be read is reported `rejected`
/// with nothing stored.
pub async fn load_file(db: &DatabaseConnection, feed: Feed, file: &str, bytes: &[u8]) -> Result<FileReport> {
    let mut report = FileReport {
        file: file.to_string(),
        ..Default::default()
    };
    let Some((table, columns)) = table(feed) else {
        return Err(Error::bad_input(format!("{} is not a reference feed", feed.slug())));
    };
    let parsed = match adapters::reference::parse(feed, file, bytes) {
        Ok(parsed) => parsed,
        Err(adapters::AdapterError::Rejected { reason, .. }) => {
            report.rejected = Some(reason);
            return Ok(report);
        }
    };
    let ReferenceFile {
        rows,
        quarantined,
        warnings,
    } = parsed;
    report.warnings = warnings;
    let issues: usize = rows.iter().map(|r| r.issues.len()).sum();
    if issues > 0 {
        report
            .warnings
            .push(format!("{issues} data-quality issues kept on their rows"));
    }
    // Within one file the later row of a key wins, whatever its version.
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        last.insert(row.key.as_str(), i);
    }
    let winners: Vec<&ReferenceRow> = rows
        .iter()
        .enumerate()
        .filter(|(i, row)| last.get(row.key.as_str()) == Some(i))
        .map(|(_, row)| row)
        .collect();
    report.unchanged += (rows.len() - winners.len()) as u64;

    let now = Utc::now().to_rfc3339();
    let file_text = adapters::record::storable(file).into_owned();
    let txn = db.begin().await?;
    entities::sql::lock_until_commit(&txn, REFERENCE_LOCK).await?;
    let backend = txn.get_database_backend();
    let mut all_columns: Vec<(&str, &str)> = vec![("row_key", "text")];
    all_columns.extend_from_slice(columns);
    all_columns.extend_from_slice(&PROVENANCE_COLUMNS);
    let mut changed = 0u64;
    let mut statistics = crate::ingest::Statistics::start(&txn, &[table]).await?;
    for batch in winners.chunks(ROWS_PER_BATCH) {
        let keys: Vec<&str> = batch.iter().map(|r| r.key.as_str()).collect();
        let stored = stored_versions(&txn, table, &keys).await?;
        let mut fresh = Vec::new();
        let mut replaced: Vec<&str> = Vec::new();
        let mut older = Vec::new();
        for row in batch {
            let values = row.fact.values();
            let hash = content_hash(&values);
            let raw = adapters::record::storable(&row.raw).into_owned();
            let position = row.position.to_string();
            match stored.get(&row.key) {
                Some(version) if *version >= row.version => {
                    report.unchanged += 1;
                    if *version > row.version {
                        older.push(json!([
                            feed.as_str(),
                            row.key,
                            row.version,
                            hash,
                            file_text,
                            position,
                            raw,
                            now
                        ]));
                    }
                    continue;
                }
                Some(_) => {
                    report.updated += 1;
                    replaced.push(row.key.as_str());
                }
                None => report.inserted += 1,
            }
            let issues = serde_json::to_string(
                &row.issues
                    .iter()
                    .map(|i| json!({"field": i.field, "raw_value": i.raw_value, "issue": i.issue}))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_else(|_| "[]".into());
            let mut line = vec![json!(row.key)];
            line.extend(values);
            line.extend([
                json!(row.version),
                json!(hash),
                json!(file_text),
                json!(position),
                json!(raw),
                json!(issues),
                json!(now),
            ]);
            fresh.push(Value::Array(line));
        }
        if !replaced.is_empty() {
            // The replaced versions stay as provenance.
            let keep = format!(
                "INSERT INTO reference_versions (feed, row_key, version, content_hash, file, position, raw, kept_at) \
                 SELECT '{}', row_key, version, content_hash, file, position, raw, loaded_at FROM {table} WHERE {}",
                feed.as_str(),
                texts_in(backend, "row_key")
            );
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                keep,
                [json!(replaced).to_string().into()],
            ))
            .await?;
            let delete = format!("DELETE FROM {table} WHERE {}", texts_in(backend, "row_key"));
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                delete,
                [json!(replaced).to_string().into()],
            ))
            .await?;
        }
        changed += fresh.len() as u64;
        entities::sql::insert_json(&txn, table, &all_columns, &fresh).await?;
        statistics.grew(&txn, fresh.len() as u64).await?;
        entities::sql::insert_json(&txn, "reference_versions", &VERSION_COLUMNS, &older).await?;
    }
    if changed > 0 {
        bump_stamp(&txn, "reference").await?;
    }
    for q in &quarantined {
        crate::ingest::store_quarantine(&txn, feed, file, q)
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        report.quarantine.push(QuarantineEntry {
            position: q.position.clone(),
            reason: q.reason.to_string(),
        });
    }
    txn.commit().await?;
    report.quarantined = quarantined.len() as u64;
    report.read = report.inserted + report.updated + report.unchanged + report.quarantined;
    Ok(report)
}

/// Counts a change of the data named `name` (read by `stamp`), in the writer's transaction.
pub async fn bump_stamp<C: ConnectionTrait>(db: &C, name: &str) -> Result<()> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "INSERT INTO data_stamps (name, value) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET value = data_stamps.value + 1"
        }
        _ => "INSERT INTO data_stamps (name, value) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET value = data_stamps.value + 1",
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, [name.into()]))
        .await?;
    Ok(())
}

/// The state of everything the supervision models read: the reference feeds' change count,
/// the linkage journal's last row (every case writer notes its cases there), and the tasks'
/// last change. Equal stamps mean equal inputs.
pub async fn stamp<C: ConnectionTrait>(db: &C) -> Result<String> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT (SELECT COALESCE(MAX(value), 0) FROM data_stamps WHERE name = 'reference') AS r, \
             (SELECT COALESCE(MAX(seq), 0) FROM linkage_journal) AS j",
        ))
        .await?;
    let (r, j) = match row {
        Some(row) => (row.try_get::<i64>("", "r")?, row.try_get::<i64>("", "j")?),
        None => (0, 0),
    };
    Ok(format!("reference:{r}/cases:{j}"))
}
