//! Writing adapter output: idempotent by `(source, source key)` and content hash,
//! newer versions supersede, older ones are kept as provenance only, tombstones
//! mark a case deleted. One transaction per file: a rejected file stores nothing.
//!
//! Records are planned a chunk at a time in memory — in file order, so duplicates inside
//! a file follow the rules — and written with a handful of bulk statements per chunk.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use entities::{
    case, case_key, case_party, data_quality_issue, party, quarantine, source_record, LinkKind, LoopStage, PartyKind,
    Source,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, IdenStatic, Iterable, QueryFilter, QueryResult, QueryTrait, Set, Statement,
};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::ingest_error::{IngestError, Result};
use adapters::record::{Item, PartyMention, Quarantined, UnifiedRecord};
use adapters::AdapterError;

/// Records planned and written together.
const CHUNK: usize = 500;
/// Rows per bulk INSERT (well under both databases' parameter limits).
const ROWS_PER_INSERT: usize = 400;

/// One quarantined record in a report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuarantineEntry {
    #[serde(flatten)]
    pub position: adapters::Position,
    pub reason: String,
}

/// The counts of one file (sources/README.md, rule 4). `read` is the sum of the other five.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileReport {
    pub file: String,
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub quarantined: u64,
    /// `null`, or why the whole file was refused.
    pub rejected: Option<String>,
    pub quarantine: Vec<QuarantineEntry>,
    pub warnings: Vec<String>,
    /// The cases this file inserted, changed or deleted (for live updates; not part of the report).
    #[serde(skip)]
    pub changes: Vec<CaseChange>,
}

/// What happened to one case.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    Inserted,
    Updated,
    Deleted,
}

/// One case written by a file, with its loop stage before and after.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CaseChange {
    pub case_id: i64,
    pub kind: ChangeKind,
    pub stage_before: Option<LoopStage>,
    pub stage_after: Option<LoopStage>,
}

/// When organization names in free text are linked (`org_names::link_pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// In the file's own transaction: chains are complete as soon as the file is stored.
    Now,
    /// By the caller, once after a batch of files (much less work for a large load).
    Later,
}

/// Parses and stores one file. A file refused whole is reported in `rejected` and stores nothing.
pub async fn ingest_file(db: &DatabaseConnection, source: Source, file: &str, bytes: &[u8]) -> Result<FileReport> {
    ingest_file_with_progress(db, source, file, bytes, Link::Now, |_, _| {}).await
}

/// As `ingest_file`, calling `progress(done, total)` after every chunk.
pub async fn ingest_file_with_progress(
    db: &DatabaseConnection,
    source: Source,
    file: &str,
    bytes: &[u8],
    link: Link,
    mut progress: impl FnMut(usize, usize),
) -> Result<FileReport> {
    let mut report = FileReport {
        file: file.to_string(),
        ..Default::default()
    };
    let parsed = match adapters::parse(source, file, bytes) {
        Ok(p) => p,
        Err(AdapterError::Rejected { reason, .. }) => {
            report.rejected = Some(reason);
            return Ok(report);
        }
    };
    report.warnings = parsed.warnings;
    let total = parsed.items.len();
    let (_one_writer, txn) = crate::writer::begin_writing(db).await?;
    let mut statistics = Statistics::start(&txn, CASE_TABLES).await?;
    store_items(&txn, source, file, parsed.items, &mut report, &mut statistics, |done| {
        progress(done, total)
    })
    .await?;
    let linked = match link {
        Link::Now => crate::org_names::link_pending_in(&txn).await?,
        Link::Later => Vec::new(),
    };
    journal_changes(&txn, &report, linked).await?;
    txn.commit().await?;
    Ok(report)
}

/// How a file is streamed.
#[derive(Debug, Clone, Copy)]
pub struct Streamed {
    /// The file's size in bytes (for the progress estimate).
    pub size: u64,
    /// Bytes per segment, about.
    pub segment_bytes: usize,
}

/// Bytes a segment of a streamed file holds, about. Three segments are in memory at most (one
/// being read and parsed, one waiting, one being written), each a few times its bytes once parsed.
pub const SEGMENT_BYTES: usize = 4 << 20;

/// As `ingest_file_with_progress`, reading a line-based export (`segment::segmentable`) from
/// `reader` a segment at a time, so memory stays flat whatever the file's size. The next
/// segment is read and parsed on another thread while one is written. Still one transaction:
/// a segment that cannot be read as declared rolls the whole file back.
/// `progress(records done, records expected)` is called after every chunk of records stored;
/// the expected count is estimated from the records per byte of the segments parsed so far.
pub async fn ingest_reader(
    db: &DatabaseConnection,
    source: Source,
    file: &str,
    reader: impl std::io::BufRead + Send + 'static,
    streamed: Streamed,
    link: Link,
    mut progress: impl FnMut(usize, usize),
) -> Result<FileReport> {
    let Streamed { size, segment_bytes } = streamed;
    let mut report = FileReport {
        file: file.to_string(),
        ..Default::default()
    };
    let (mut segments, reading) = parse_ahead(source, file, reader, segment_bytes);
    let (_one_writer, txn) = crate::writer::begin_writing(db).await?;
    let mut statistics = Statistics::start(&txn, CASE_TABLES).await?;
    let (mut rows_before, mut bytes_read, mut done, mut parsed_items) = (0u64, 0u64, 0usize, 0usize);
    while let Some(parsed) = segments.recv().await {
        let parsed = match parsed {
            Ok(ok) => ok,
            Err(AdapterError::Rejected { reason, .. }) => {
                txn.rollback().await?;
                return Ok(FileReport {
                    file: file.to_string(),
                    rejected: Some(reason),
                    ..Default::default()
                });
            }
        };
        let (segment, mut parsed) = parsed;
        bytes_read += segment.bytes.len() as u64;
        let mut last_row = 0;
        for item in &mut parsed.items {
            segment.shift(item, rows_before);
            let row = match item {
                Item::Record(r) => r.position.row,
                Item::Quarantined(q) => q.position.row,
            };
            last_row = last_row.max(row.unwrap_or(0));
        }
        rows_before = rows_before.max(last_row);
        for w in parsed.warnings {
            if !report.warnings.contains(&w) {
                report.warnings.push(w);
            }
        }
        // Records expected in the whole file, from the records per byte of what was parsed so far.
        parsed_items += parsed.items.len();
        let expected = (parsed_items as f64 * size as f64 / bytes_read.max(1) as f64) as usize;
        let before = done;
        store_items(&txn, source, file, parsed.items, &mut report, &mut statistics, |n| {
            done = before + n;
            progress(done, expected.max(done));
        })
        .await?;
    }
    // The segments ended: the whole file, or the reader failed (the transaction is then rolled back).
    reading.await.map_err(|e| IngestError::Rejected {
        file: file.into(),
        reason: format!("reading stopped: {e}"),
    })?;
    let linked = match link {
        Link::Now => crate::org_names::link_pending_in(&txn).await?,
        Link::Later => Vec::new(),
    };
    journal_changes(&txn, &report, linked).await?;
    txn.commit().await?;
    Ok(report)
}

type ParsedSegment = adapters::Result<(adapters::segment::Segment, adapters::Parsed)>;

/// Reads and parses `reader` a segment at a time on a blocking thread, one segment ahead of
/// the writer. Stops after the first segment that cannot be read as declared, or when the
/// receiver is dropped (the writer gave up). The handle tells whether it ended normally.
fn parse_ahead(
    source: Source,
    file: &str,
    reader: impl std::io::BufRead + Send + 'static,
    segment_bytes: usize,
) -> (tokio::sync::mpsc::Receiver<ParsedSegment>, tokio::task::JoinHandle<()>) {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    let file = file.to_string();
    let reading = tokio::task::spawn_blocking(move || {
        for segment in adapters::segment::Segments::new(reader, source, segment_bytes) {
            let parsed = segment
                .map_err(|e| AdapterError::Rejected {
                    file: file.clone(),
                    reason: format!("cannot be read: {e}"),
                })
                .and_then(|seg| adapters::parse(source, &file, &seg.bytes).map(|p| (seg, p)));
            let last = parsed.is_err();
            if sender.blocking_send(parsed).is_err() || last {
                break;
            }
        }
    });
    (receiver, reading)
}

/// Notes the file's changed cases — stored, and given organization-name keys (`linked`) — in
/// the linkage journal, last, just before the commit: its lock is held only from here on.
async fn journal_changes(txn: &DatabaseTransaction, report: &FileReport, mut linked: Vec<i64>) -> Result<()> {
    linked.extend(report.changes.iter().map(|c| c.case_id));
    linked.sort_unstable();
    linked.dedup();
    Ok(entities::linkage_journal::record(txn, &linked).await?)
}

/// Stores parsed items a chunk at a time; `done(n)` after each chunk with the items so far.
async fn store_items<C: ConnectionTrait>(
    txn: &C,
    source: Source,
    file: &str,
    items: Vec<Item>,
    report: &mut FileReport,
    statistics: &mut Statistics,
    mut done: impl FnMut(usize),
) -> Result<()> {
    let mut count = 0;
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let chunk: Vec<Item> = items.by_ref().take(CHUNK).collect();
        count += chunk.len();
        let mut records = Vec::new();
        for item in chunk {
            report.read += 1;
            match adapters::record::screen(item) {
                Item::Quarantined(q) => {
                    store_quarantine(txn, source, file, &q).await?;
                    report.quarantined += 1;
                    report.quarantine.push(QuarantineEntry {
                        position: q.position,
                        reason: q.reason.to_string(),
                    });
                }
                Item::Record(r) => records.push(*r),
            }
        }
        let inserted_before = report.inserted;
        write_chunk(txn, source, file, &records, report).await?;
        statistics.grew(txn, report.inserted - inserted_before).await?;
        done(count);
    }
    Ok(())
}

/// Keeps PostgreSQL's planner statistics in step with tables that a load makes grow: without
/// it the planner keeps the plans of the empty tables (sequential scans) for the whole load,
/// and after it. Statistics are refreshed, inside the writer's transaction, each time the
/// leading table has doubled since they were last taken — a handful of times over any load.
pub(crate) struct Statistics {
    enabled: bool,
    /// The table whose growth is counted, then the others refreshed with it.
    tables: Vec<&'static str>,
    rows: f64,
    added: u64,
}

/// The tables a source file's load makes grow, the cases first.
const CASE_TABLES: &[&str] = &["cases", "source_records", "case_keys", "parties", "case_parties"];

impl Statistics {
    pub(crate) async fn start<C: ConnectionTrait>(
        db: &C,
        tables: &[&'static str],
    ) -> std::result::Result<Statistics, DbErr> {
        let mut stats = Statistics {
            enabled: db.get_database_backend() == DbBackend::Postgres && !tables.is_empty(),
            tables: tables.to_vec(),
            rows: 0.0,
            added: 0,
        };
        if stats.enabled {
            let sql = format!(
                "SELECT GREATEST(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = '{}'::regclass",
                tables[0]
            );
            if let Some(row) = db
                .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
                .await?
            {
                stats.rows = row.try_get::<f64>("", "n")?;
            }
        }
        Ok(stats)
    }

    pub(crate) async fn grew<C: ConnectionTrait>(&mut self, db: &C, inserted: u64) -> std::result::Result<(), DbErr> {
        self.added += inserted;
        if self.enabled && self.added as f64 > self.rows.max(1_000.0) {
            db.execute_unprepared(&format!("ANALYZE {}", self.tables.join(", ")))
                .await?;
            self.rows += self.added as f64;
            self.added = 0;
        }
        Ok(())
    }
}

const CASE_PARTY_COLUMNS: &[(&str, &str)] = &[
    ("case_id", "bigint"),
    ("party_id", "bigint"),
    ("role", "text"),
    ("name_as_recorded", "text"),
    ("position", "integer"),
    ("name", "text"),
    ("id_number", "text"),
    ("credit_code", "text"),
    ("phones", "json"),
];
const PARTY_COLUMNS: &[(&str, &str)] = &[
    ("kind", "text"),
    ("name", "text"),
    ("id_number", "text"),
    ("credit_code", "text"),
    ("phones", "json"),
    ("identity", "text"),
    ("updated_at", "timestamptz"),
];
const CASE_KEY_COLUMNS: &[(&str, &str)] = &[
    ("case_id", "bigint"),
    ("kind", "text"),
    ("value", "text"),
    ("score", "float8"),
];

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The report of a file refused whole because it is plainly another feed's (`adapters::sniff`):
/// nothing of it is read as `feed`. `head`: its first bytes (64 KiB are enough).
pub fn refused_as_other_feed(feed: entities::Feed, file: &str, head: &[u8]) -> Option<FileReport> {
    let found = adapters::sniff::other_feed(feed, head)?;
    Some(FileReport {
        file: file.to_string(),
        rejected: Some(format!(
            "this is not a {} file: it looks like a {} file (load it with `qianchuan ingest {}`)",
            feed.slug(),
            found.slug(),
            found.slug()
        )),
        ..Default::default()
    })
}

pub(crate) async fn store_quarantine<C: ConnectionTrait>(
    db: &C,
    feed: impl Into<entities::Feed>,
    file: &str,
    q: &Quarantined,
) -> Result<()> {
    let source: entities::Feed = feed.into();
    let position = q.position.to_string();
    let file = adapters::record::storable(file);
    let file = file.as_ref();
    let exists = quarantine::Entity::find()
        .filter(quarantine::Column::Source.eq(source))
        .filter(quarantine::Column::File.eq(file))
        .filter(quarantine::Column::Position.eq(position.as_str()))
        .filter(quarantine::Column::Reason.eq(q.reason))
        .one(db)
        .await?;
    if exists.is_none() {
        quarantine::ActiveModel {
            source: Set(source),
            file: Set(file.into()),
            position: Set(position),
            reason: Set(q.reason.into()),
            detail: Set(Some(q.detail.clone())),
            raw_text: Set(adapters::record::storable(&q.raw).into_owned()),
            ingested_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

impl CaseChange {
    /// A stored case updated or deleted, now showing `stage_after`.
    fn of_stored(case_id: i64, state: &KeyState, stage_after: Option<LoopStage>) -> CaseChange {
        CaseChange {
            case_id,
            kind: if state.deleted {
                ChangeKind::Deleted
            } else {
                ChangeKind::Updated
            },
            stage_before: state.stage,
            stage_after,
        }
    }
}

/// What is known of one key while a chunk is planned.
#[derive(Default)]
struct KeyState {
    /// The stored case, if any.
    case_id: Option<i64>,
    version: i32,
    deleted: bool,
    /// The stored loop stage.
    stage: Option<LoopStage>,
    /// Content hashes already kept as provenance.
    hashes: HashSet<String>,
    /// The record whose content the case will show, when it changes in this chunk.
    content: Option<usize>,
    /// The provenance row (by hash) the case will point at.
    shown_hash: Option<String>,
    changed: bool,
}

/// What one chunk's records do to their keys, decided from the keys' stored states alone
/// (no database): which contents become new provenance, which cases are inserted, updated,
/// deleted or left unchanged (counted in `report`), and the changed keys in order.
struct Plan {
    provenance: Vec<NewProvenance>,
    order: Vec<String>,
}

fn plan(records: &[UnifiedRecord], states: &mut HashMap<String, KeyState>, report: &mut FileReport) -> Plan {
    let mut provenance: Vec<NewProvenance> = Vec::new();
    let mut order: Vec<String> = Vec::new();

    for (i, r) in records.iter().enumerate() {
        let hash = sha256(&r.payload);
        let state = states.entry(r.source_key.clone()).or_default();
        let exists = state.case_id.is_some() || state.content.is_some();
        let unseen = !state.hashes.contains(&hash);
        let (newer, version) = match r.version {
            Some(v) => (v > state.version, v),
            // Without versions, content already seen for this key is not new: reloading an
            // older export must not bring old content back.
            None => (unseen, state.version + 1),
        };
        let keep_provenance = |state: &mut KeyState, provenance: &mut Vec<NewProvenance>| {
            if state.hashes.insert(hash.clone()) {
                provenance.push(NewProvenance {
                    record: i,
                    version,
                    hash: hash.clone(),
                });
            }
        };
        if r.tombstone {
            keep_provenance(state, &mut provenance);
            if !exists || state.deleted || version < state.version {
                report.unchanged += 1;
            } else {
                state.deleted = true;
                state.version = version;
                state.changed = true;
                report.deleted += 1;
            }
        } else if !exists {
            keep_provenance(state, &mut provenance);
            state.version = version;
            state.content = Some(i);
            state.shown_hash = Some(hash.clone());
            state.changed = true;
            report.inserted += 1;
        } else if newer {
            keep_provenance(state, &mut provenance);
            state.version = version;
            state.deleted = false;
            state.content = Some(i);
            state.shown_hash = Some(hash.clone());
            state.changed = true;
            report.updated += 1;
        } else {
            if r.version.is_some() && version < state.version {
                keep_provenance(state, &mut provenance);
            }
            report.unchanged += 1;
        }
        if state.changed && !order.contains(&r.source_key) {
            order.push(r.source_key.clone());
        }
    }

    Plan { provenance, order }
}

/// A provenance row to write.
#[derive(Debug, PartialEq)]
struct NewProvenance {
    record: usize,
    version: i32,
    hash: String,
}

/// The rows of `table` whose `key_column` is one of `keys` (and whose `source` is `source`,
/// when given), with `columns`: one index probe per key, whatever the planner's statistics
/// say. (A bulk load makes them stale; with an `IN` list the planner then read every row of
/// the source for each chunk — 26–99 ms a chunk, half the time of some loads — and even with
/// fresh statistics a bitmap scan of an `IN` list of 400 keys takes half as long again.)
fn rows_with_keys(
    backend: DbBackend,
    table: &str,
    columns: &[&str],
    key_column: &str,
    source: Option<Source>,
    keys: &[&str],
) -> Statement {
    let json = serde_json::Value::from(keys.to_vec()).to_string();
    let columns: Vec<String> = columns.iter().map(|c| format!(r#"t."{c}""#)).collect();
    let columns = columns.join(", ");
    let mut values: Vec<sea_orm::Value> = vec![json.into()];
    let of_source = |placeholder: &str| match source {
        Some(_) => format!(r#"t."source" = {placeholder} AND "#),
        None => String::new(),
    };
    let sql = match backend {
        DbBackend::Postgres => format!(
            // OFFSET 0 keeps the subquery a per-key probe (the planner may not flatten it).
            r#"SELECT t.* FROM json_array_elements_text($1::json) AS k(key) CROSS JOIN LATERAL
               (SELECT {columns} FROM "{table}" AS t WHERE {}t."{key_column}" = k.key OFFSET 0) AS t"#,
            of_source("$2")
        ),
        _ => format!(
            r#"SELECT {columns} FROM json_each(?) AS k JOIN "{table}" AS t ON {}t."{key_column}" = k.value"#,
            of_source("?")
        ),
    };
    values.extend(source.map(|s| s.as_str().into()));
    Statement::from_sql_and_values(backend, sql, values)
}

async fn load_states<C: ConnectionTrait>(db: &C, source: Source, keys: &[&str]) -> Result<HashMap<String, KeyState>> {
    let backend = db.get_database_backend();
    let mut states = HashMap::new();
    let columns = ["id", "source_key", "version", "deleted", "stage"];
    for row in db
        .query_all_raw(rows_with_keys(
            backend,
            "cases",
            &columns,
            "source_key",
            Some(source),
            keys,
        ))
        .await?
    {
        let stage: Option<LoopStage> = row.try_get("", "stage")?;
        states.insert(
            row.try_get::<String>("", "source_key")?,
            KeyState {
                case_id: Some(row.try_get("", "id")?),
                version: row.try_get("", "version")?,
                deleted: row.try_get("", "deleted")?,
                stage,
                ..Default::default()
            },
        );
    }
    // Provenance of a key never shown as a case (e.g. a tombstone seen first) gets a state too.
    let columns = ["source_key", "content_hash"];
    for row in db
        .query_all_raw(rows_with_keys(
            backend,
            "source_records",
            &columns,
            "source_key",
            Some(source),
            keys,
        ))
        .await?
    {
        states
            .entry(row.try_get::<String>("", "source_key")?)
            .or_default()
            .hashes
            .insert(row.try_get("", "content_hash")?);
    }
    Ok(states)
}

/// Plans and writes one chunk; what it did goes into `report`.
async fn write_chunk<C: ConnectionTrait>(
    db: &C,
    source: Source,
    file: &str,
    records: &[UnifiedRecord],
    report: &mut FileReport,
) -> Result<()> {
    let keys: Vec<&str> = records.iter().map(|r| r.source_key.as_str()).collect();
    let mut states = load_states(db, source, &keys).await?;
    let Plan { provenance, order } = plan(records, &mut states, report);

    // Provenance, with the ids the cases will point at.
    let now = Utc::now();
    let mut provenance_ids: HashMap<(String, String), i64> = HashMap::new();
    for batch in provenance.chunks(ROWS_PER_INSERT) {
        let rows = batch.iter().map(|p| {
            let r = &records[p.record];
            source_record::ActiveModel {
                source: Set(source),
                source_key: Set(r.source_key.clone()),
                version: Set(p.version),
                content_hash: Set(p.hash.clone()),
                file: Set(file.into()),
                position: Set(r.position.to_string()),
                payload: Set(r.payload.clone()),
                ingested_at: Set(now),
                ..Default::default()
            }
        });
        let columns = [
            source_record::Column::Id,
            source_record::Column::SourceKey,
            source_record::Column::ContentHash,
        ];
        for row in insert_returning(db, rows, columns).await? {
            provenance_ids.insert(
                (row.try_get("", "source_key")?, row.try_get("", "content_hash")?),
                row.try_get("", "id")?,
            );
        }
    }
    let record_id = |key: &str, hash: &Option<String>| {
        hash.as_ref()
            .and_then(|h| provenance_ids.get(&(key.to_string(), h.clone())).copied())
    };

    // Cases: bulk insert the new ones, update the changed ones.
    let mut new_cases = Vec::new();
    let mut touched: Vec<(i64, usize)> = Vec::new();
    let mut changed_cases = Vec::new();
    for key in &order {
        let Some(state) = states.get(key) else { continue };
        match (state.case_id, state.content) {
            (None, Some(i)) => new_cases.push((key.clone(), i, state.version, state.deleted)),
            (Some(id), Some(i)) => {
                let mut active = case_model(&records[i], state.version, record_id(key, &state.shown_hash));
                active.deleted = Set(state.deleted);
                changed_cases.push(active);
                touched.push((id, i));
                report.changes.push(CaseChange::of_stored(id, state, records[i].stage));
            }
            (Some(id), None) => {
                report.changes.push(CaseChange::of_stored(id, state, state.stage));
                // Deleted (or undeleted) without new content.
                case::Entity::update_many()
                    .col_expr(case::Column::Deleted, sea_orm::sea_query::Expr::value(state.deleted))
                    .col_expr(case::Column::Version, sea_orm::sea_query::Expr::value(state.version))
                    .col_expr(case::Column::UpdatedAt, sea_orm::sea_query::Expr::value(now))
                    .filter(case::Column::Id.eq(id))
                    .exec(db)
                    .await?;
            }
            (None, None) => {}
        }
    }
    update_cases(db, changed_cases).await?;
    let updated_ids: Vec<i64> = touched.iter().map(|(id, _)| *id).collect();
    clear_children(db, &updated_ids).await?;
    for batch in new_cases.chunks(ROWS_PER_INSERT / 4) {
        let rows = batch.iter().map(|(key, i, version, deleted)| {
            let mut m = case_model(
                &records[*i],
                *version,
                record_id(key, &states.get(key).and_then(|s| s.shown_hash.clone())),
            );
            m.deleted = Set(*deleted);
            m
        });
        let mut by_key: HashMap<String, i64> = HashMap::new();
        for row in insert_returning(db, rows, [case::Column::Id, case::Column::SourceKey]).await? {
            by_key.insert(row.try_get("", "source_key")?, row.try_get("", "id")?);
        }
        for (key, i, _, deleted) in batch {
            if let Some(id) = by_key.get(key) {
                touched.push((*id, *i));
                if !deleted {
                    report.changes.push(CaseChange {
                        case_id: *id,
                        kind: ChangeKind::Inserted,
                        stage_before: None,
                        stage_after: records[*i].stage,
                    });
                }
            }
        }
    }
    write_children(db, records, &touched).await?;
    // Stored or changed texts, to be matched against organization names.
    let texts: Vec<i64> = touched
        .iter()
        .filter(|(_, i)| !records[*i].free_text.is_empty())
        .map(|(id, _)| *id)
        .collect();
    crate::org_names::enqueue(db, &texts).await
}

/// Writes new content into stored cases (found by source and key; ids unchanged), every column
/// the models set, a few hundred cases per statement.
async fn update_cases<C: ConnectionTrait>(db: &C, changed: Vec<case::ActiveModel>) -> Result<()> {
    use sea_orm::sea_query::OnConflict;
    let Some(first) = changed.first() else {
        return Ok(());
    };
    let columns: Vec<case::Column> = case::Column::iter()
        .filter(|c| {
            !matches!(c, case::Column::Id | case::Column::Source | case::Column::SourceKey) && first.get(*c).is_set()
        })
        .collect();
    let mut changed = changed.into_iter().peekable();
    while changed.peek().is_some() {
        let batch: Vec<case::ActiveModel> = changed.by_ref().take(ROWS_PER_INSERT / 4).collect();
        case::Entity::insert_many(batch)
            .on_conflict(
                OnConflict::columns([case::Column::Source, case::Column::SourceKey])
                    .update_columns(columns.iter().copied())
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Inserts `rows` (at least one), returning only `columns`: the whole rows back would carry
/// every payload and text over the wire a second time.
async fn insert_returning<C, A, const N: usize>(
    db: &C,
    rows: impl IntoIterator<Item = A>,
    columns: [<A::Entity as EntityTrait>::Column; N],
) -> Result<Vec<QueryResult>>
where
    C: ConnectionTrait,
    A: ActiveModelTrait,
{
    let mut insert = <A::Entity as EntityTrait>::insert_many(rows).into_query();
    insert.returning(sea_orm::sea_query::Query::returning().columns(columns));
    let statement = db.get_database_backend().build(&insert);
    Ok(db.query_all_raw(statement).await?)
}

fn case_model(r: &UnifiedRecord, version: i32, record_id: Option<i64>) -> case::ActiveModel {
    case::ActiveModel {
        source: Set(r.source),
        source_key: Set(r.source_key.clone()),
        version: Set(version),
        title: Set(r.title.clone()),
        summary: Set(r.summary.clone()),
        masked_text: Set(case::masked_text(r.title.as_deref(), r.summary.as_deref())),
        category: Set(r.category.clone()),
        status: Set(r.status.clone()),
        stage: Set(r.stage),
        region_code: Set(r.region_code.clone()),
        town: Set(r.town.clone()),
        agency: Set(r.agency.clone()),
        opened_on: Set(r.opened_on),
        closed_on: Set(r.closed_on),
        deadline_on: Set(r.deadline_on),
        satisfaction: Set(r.satisfaction),
        case_numbers: Set(json!(r.case_numbers)),
        transferred: Set(r.transferred),
        deleted: Set(false),
        record_id: Set(record_id),
        updated_at: Set(Utc::now()),
        // Stored normalized as organization names are, so a name matches however it was spelled.
        free_text: Set(
            (!r.free_text.is_empty()).then(|| entities::ids::names::normalize_org_name(&r.free_text.join("\n")))
        ),
        ..Default::default()
    }
}

async fn clear_children<C: ConnectionTrait>(db: &C, case_ids: &[i64]) -> Result<()> {
    for ids in case_ids.chunks(ROWS_PER_INSERT) {
        let ids = ids.to_vec();
        case_party::Entity::delete_many()
            .filter(case_party::Column::CaseId.is_in(ids.clone()))
            .exec(db)
            .await?;
        case_key::Entity::delete_many()
            .filter(case_key::Column::CaseId.is_in(ids.clone()))
            .exec(db)
            .await?;
        data_quality_issue::Entity::delete_many()
            .filter(data_quality_issue::Column::CaseId.is_in(ids))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The exact identity a party is resolved on; name-only mentions never merge.
fn identity(r: &UnifiedRecord, index: usize, p: &PartyMention) -> String {
    if let Some(id) = &p.id_number {
        format!("PERSON_ID:{id}")
    } else if let Some(code) = &p.credit_code {
        format!("ORG_USCC:{code}")
    } else if let Some(badge) = &p.badge {
        format!("BADGE:{badge}")
    } else {
        format!("MENTION:{}:{}:{index}", r.source.as_str(), r.source_key)
    }
}

/// Finds or creates the parties of the mentions (two bulk statements), merging phones.
async fn resolve_parties<C: ConnectionTrait>(
    db: &C,
    mentions: &[(String, &PartyMention)],
) -> Result<HashMap<String, i64>> {
    let identities: Vec<&str> = mentions.iter().map(|(i, _)| i.as_str()).collect();
    let mut existing: HashMap<String, party::Model> = HashMap::new();
    for ids in identities.chunks(ROWS_PER_INSERT) {
        let columns: Vec<&str> = party::Column::iter().map(|c| c.as_str()).collect();
        let probe = rows_with_keys(db.get_database_backend(), "parties", &columns, "identity", None, ids);
        for p in party::Entity::find().from_raw_sql(probe).all(db).await? {
            existing.insert(p.identity.clone(), p);
        }
    }
    let mut out: HashMap<String, i64> = HashMap::new();
    let mut new: BTreeMap<String, &PartyMention> = BTreeMap::new();
    let mut merged_phones: HashMap<String, Vec<String>> = HashMap::new();
    for (identity, m) in mentions {
        match existing.get(identity) {
            Some(p) => {
                out.insert(identity.clone(), p.id);
                let phones = merged_phones.entry(identity.clone()).or_insert_with(|| p.phone_list());
                for ph in &m.phones {
                    if !phones.iter().any(|x| x == ph.as_str()) {
                        phones.push(ph.as_str().to_string());
                    }
                }
            }
            None => {
                new.entry(identity.clone()).or_insert(m);
                let phones = merged_phones.entry(identity.clone()).or_default();
                for ph in &m.phones {
                    if !phones.iter().any(|x| x == ph.as_str()) {
                        phones.push(ph.as_str().to_string());
                    }
                }
            }
        }
    }
    for (identity, phones) in &merged_phones {
        if let Some(p) = existing.get(identity) {
            if *phones != p.phone_list() {
                party::Entity::update_many()
                    .col_expr(party::Column::Phones, sea_orm::sea_query::Expr::value(json!(phones)))
                    .filter(party::Column::Id.eq(p.id))
                    .exec(db)
                    .await?;
            }
        }
    }
    let now = Utc::now();
    let new: Vec<(String, &PartyMention)> = new.into_iter().collect();
    let rows: Vec<serde_json::Value> = new
        .iter()
        .map(|(identity, m)| {
            json!([
                m.kind.as_str(),
                m.name,
                m.id_number.as_ref().map(|n| n.as_str()),
                m.credit_code.as_ref().map(|c| c.as_str()),
                json!(merged_phones.get(identity).cloned().unwrap_or_default()).to_string(),
                identity,
                now.to_rfc3339(),
            ])
        })
        .collect();
    for row in entities::sql::insert_json_returning(db, "parties", PARTY_COLUMNS, &rows, "id, identity").await? {
        out.insert(row.try_get("", "identity")?, row.try_get("", "id")?);
    }
    Ok(out)
}

/// Parties, participations, keys and data-quality issues of the written cases.
async fn write_children<C: ConnectionTrait>(db: &C, records: &[UnifiedRecord], cases: &[(i64, usize)]) -> Result<()> {
    let mut mentions: Vec<(String, &PartyMention)> = Vec::new();
    for (_, i) in cases {
        let r = &records[*i];
        for (n, p) in r.parties.iter().enumerate() {
            mentions.push((identity(r, n, p), p));
        }
    }
    let party_ids = resolve_parties(db, &mentions).await?;
    let now = Utc::now();
    let mut links = Vec::new();
    let mut keys = Vec::new();
    let mut issues = Vec::new();
    for (case_id, i) in cases {
        let r = &records[*i];
        let mut case_keys: BTreeMap<(LinkKind, String), ()> = r.keys.iter().cloned().map(|k| (k, ())).collect();
        for (n, p) in r.parties.iter().enumerate() {
            if let Some(party_id) = party_ids.get(&identity(r, n, p)) {
                links.push((*case_id, *party_id, n as i32, p));
            }
            if let Some(id) = &p.id_number {
                case_keys.insert((LinkKind::PersonId, id.as_str().to_string()), ());
            }
            if let Some(code) = &p.credit_code {
                case_keys.insert((LinkKind::OrgUscc, code.as_str().to_string()), ());
            }
            if let Some(b) = &p.badge {
                case_keys.insert((LinkKind::Badge, b.clone()), ());
            }
            for ph in &p.phones {
                case_keys.insert((LinkKind::Phone, ph.as_str().to_string()), ());
            }
            let name_kind = if p.kind == PartyKind::Organization {
                LinkKind::OrgName
            } else {
                LinkKind::PersonName
            };
            case_keys.insert((name_kind, p.name.clone()), ());
        }
        for ((kind, value), ()) in case_keys {
            keys.push((*case_id, kind, value));
        }
        for issue in &r.issues {
            issues.push(data_quality_issue::ActiveModel {
                source: Set(r.source),
                source_key: Set(r.source_key.clone()),
                case_id: Set(Some(*case_id)),
                field: Set(issue.field.clone()),
                raw_value: Set(issue.raw_value.clone()),
                issue: Set(issue.issue.clone()),
                created_at: Set(now),
                ..Default::default()
            });
        }
    }
    // One statement per 5,000 rows on both databases (entities::sql::insert_json).
    let links: Vec<serde_json::Value> = links
        .iter()
        .map(|(case, party, position, p)| {
            json!([
                case,
                party,
                p.role,
                p.name_as_recorded,
                position,
                p.name,
                p.id_number,
                p.credit_code,
                json!(p.phones).to_string()
            ])
        })
        .collect();
    entities::sql::insert_json(db, "case_parties", CASE_PARTY_COLUMNS, &links).await?;
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|(case, kind, value)| json!([case, kind.as_str(), value, kind.score()]))
        .collect();
    entities::sql::insert_json(db, "case_keys", CASE_KEY_COLUMNS, &keys).await?;
    for batch in issues.chunks(ROWS_PER_INSERT / 2) {
        data_quality_issue::Entity::insert_many(batch.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod plan_tests {
    //! Ingestion planning on in-memory states: the rules of sources/README.md for versions,
    //! duplicates, unversioned content and tombstones, without a database.
    use super::*;

    fn record(key: &str, version: Option<i32>, payload: &str) -> UnifiedRecord {
        let mut r = UnifiedRecord::new(Source::Enforcement, key.into(), payload.into(), Default::default());
        r.version = version;
        r
    }

    fn tombstone(key: &str, version: i32) -> UnifiedRecord {
        let mut r = record(key, Some(version), &format!("deleted {version}"));
        r.tombstone = true;
        r
    }

    fn stored(version: i32, payload: &str) -> KeyState {
        KeyState {
            case_id: Some(7),
            version,
            hashes: HashSet::from([sha256(payload)]),
            ..KeyState::default()
        }
    }

    fn counts(r: &FileReport) -> (u64, u64, u64, u64) {
        (r.inserted, r.updated, r.unchanged, r.deleted)
    }

    #[test]
    fn a_new_key_is_inserted_once_even_when_a_chunk_repeats_it() {
        let mut states = HashMap::new();
        let mut report = FileReport::default();
        let records = [record("A", Some(1), "a1"), record("A", Some(1), "a1")];
        let p = plan(&records, &mut states, &mut report);
        assert_eq!(counts(&report), (1, 0, 1, 0));
        assert_eq!(p.order, vec!["A".to_string()]);
        assert_eq!(p.provenance.len(), 1);
    }

    #[test]
    fn a_higher_version_updates_a_lower_one_is_kept_as_provenance_only() {
        let mut states = HashMap::from([("A".to_string(), stored(2, "a2"))]);
        let mut report = FileReport::default();
        let p = plan(
            &[record("A", Some(1), "a1"), record("A", Some(3), "a3")],
            &mut states,
            &mut report,
        );
        assert_eq!(counts(&report), (0, 1, 1, 0));
        assert_eq!(p.provenance.iter().map(|n| n.version).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(states["A"].version, 3);
        assert_eq!(states["A"].content, Some(1));
    }

    #[test]
    fn unversioned_content_seen_before_is_not_new() {
        let mut states = HashMap::from([("A".to_string(), stored(1, "old"))]);
        let mut report = FileReport::default();
        let p = plan(&[record("A", None, "old")], &mut states, &mut report);
        assert_eq!(counts(&report), (0, 0, 1, 0));
        assert!(p.order.is_empty());
        let p = plan(&[record("A", None, "new")], &mut states, &mut report);
        assert_eq!(counts(&report), (0, 1, 1, 0));
        assert_eq!(p.provenance[0].version, 2);
    }

    #[test]
    fn a_tombstone_deletes_a_stored_case_and_nothing_else() {
        let mut states = HashMap::from([("A".to_string(), stored(1, "a1"))]);
        let mut report = FileReport::default();
        plan(&[tombstone("A", 2), tombstone("B", 1)], &mut states, &mut report);
        assert_eq!(counts(&report), (0, 0, 1, 1));
        assert!(states["A"].deleted);
        let mut again = FileReport::default();
        plan(&[tombstone("A", 1)], &mut states, &mut again);
        assert_eq!(counts(&again), (0, 0, 1, 0), "an older tombstone changes nothing");
    }
}
