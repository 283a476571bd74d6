//! Organization names known from structured party fields, looked for in free text.
//! Both ways, so the keys do not depend on ingestion order: queued texts (stored or changed
//! since the last pass) against every known name, and names not scanned yet against every
//! text scanned before them.
//!
//! Memory stays bounded however many names are known: names are matched a batch at a time,
//! one Aho-Corasick automaton per batch of at most `NAME_BYTES_PER_AUTOMATON` bytes of names.

use std::collections::{BTreeSet, HashSet};

use aho_corasick::AhoCorasick;
use entities::{case, case_key, org_name_scanned, org_scan_queue, party, LinkKind, PartyKind};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::ingest_error::Result;

/// Shorter names (`某店`) match too much text to be evidence.
const MIN_NAME_CHARS: usize = 4;
/// Texts read and matched together.
const TEXTS_PER_PAGE: u64 = 5_000;
/// Party rows read per query while a batch of names is gathered.
const NAMES_PER_QUERY: u64 = 20_000;
/// Bytes of names one automaton matches. Building an automaton takes about 17 times the
/// bytes of its names (aho-corasick 1.1, measured), so a batch peaks near 70 MB.
const NAME_BYTES_PER_AUTOMATON: usize = 4 << 20;

/// A batch of organization names and the automaton that finds them.
struct Names {
    list: Vec<String>,
    automaton: AhoCorasick,
}

impl Names {
    fn new(list: Vec<String>) -> Result<Names> {
        let automaton = AhoCorasick::new(&list).map_err(|e| crate::ingest_error::IngestError::Rejected {
            file: "organization names".into(),
            reason: format!("cannot index organization names: {e}"),
        })?;
        Ok(Names { list, automaton })
    }

    /// Every name found in each text (overlapping, so a name inside a longer one counts).
    fn found_in(&self, texts: &[(i64, Option<String>)]) -> Vec<(i64, String)> {
        let mut found = Vec::new();
        for (id, text) in texts {
            let Some(text) = text else { continue };
            let names: BTreeSet<&str> = self
                .automaton
                .find_overlapping_iter(text)
                .map(|m| self.list[m.pattern().as_usize()].as_str())
                .collect();
            found.extend(names.into_iter().map(|n| (*id, n.to_string())));
        }
        found
    }
}

/// The organization names of the parties table, in batches of bounded size, read in party
/// id order (a name carried by several parties may come in more than one batch: harmless).
struct NameBatches {
    after: i64,
    /// Bytes of names per batch, about (one name more at most).
    name_bytes: usize,
    /// Only names not yet in `org_names_scanned`.
    unscanned_only: bool,
    exhausted: bool,
}

impl NameBatches {
    fn all(name_bytes: usize) -> NameBatches {
        NameBatches {
            after: 0,
            name_bytes,
            unscanned_only: false,
            exhausted: false,
        }
    }

    fn unscanned(name_bytes: usize) -> NameBatches {
        NameBatches {
            unscanned_only: true,
            ..NameBatches::all(name_bytes)
        }
    }

    async fn next<C: ConnectionTrait>(&mut self, db: &C) -> Result<Option<Names>> {
        let mut names = HashSet::new();
        let mut bytes = 0;
        while !self.exhausted && bytes < self.name_bytes {
            let mut query = party::Entity::find()
                .select_only()
                .column(party::Column::Id)
                .column(party::Column::Name)
                .filter(party::Column::Kind.eq(PartyKind::Organization))
                .filter(party::Column::Id.gt(self.after));
            if self.unscanned_only {
                query = query.filter(Expr::cust(
                    r#"NOT EXISTS (SELECT 1 FROM "org_names_scanned" s WHERE s."name" = "parties"."name")"#,
                ));
            }
            let rows: Vec<(i64, String)> = query
                .order_by_asc(party::Column::Id)
                .limit(NAMES_PER_QUERY)
                .into_tuple()
                .all(db)
                .await?;
            self.exhausted = (rows.len() as u64) < NAMES_PER_QUERY;
            for (id, name) in rows {
                if bytes >= self.name_bytes {
                    // The rest of this page starts the next batch.
                    self.exhausted = false;
                    break;
                }
                self.after = id;
                if name.chars().count() >= MIN_NAME_CHARS && !names.contains(&name) {
                    bytes += name.len();
                    names.insert(name);
                }
            }
        }
        if names.is_empty() {
            return Ok(None);
        }
        let mut list: Vec<String> = names.into_iter().collect();
        list.sort_unstable();
        Names::new(list).map(Some)
    }
}

/// Adds the ORG_NAME keys a case lacks; returns the cases that got one.
async fn add_keys<C: ConnectionTrait>(db: &C, found: Vec<(i64, String)>) -> Result<Vec<i64>> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = found
        .iter()
        .map(|(id, _)| *id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut have: HashSet<(i64, String)> = HashSet::new();
    for chunk in ids.chunks(400) {
        let rows: Vec<(i64, String)> = case_key::Entity::find()
            .select_only()
            .column(case_key::Column::CaseId)
            .column(case_key::Column::Value)
            .filter(case_key::Column::Kind.eq(LinkKind::OrgName))
            .filter(case_key::Column::CaseId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        have.extend(rows);
    }
    let new: Vec<(i64, String)> = found.into_iter().filter(|k| have.insert(k.clone())).collect();
    let changed: Vec<i64> = new
        .iter()
        .map(|(id, _)| *id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rows: Vec<case_key::ActiveModel> = new
        .into_iter()
        .map(|(case_id, value)| case_key::ActiveModel {
            case_id: Set(case_id),
            kind: Set(LinkKind::OrgName),
            value: Set(value),
            score: Set(LinkKind::OrgName.score()),
            ..Default::default()
        })
        .collect();
    for batch in rows.chunks(400) {
        case_key::Entity::insert_many(batch.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(changed)
}

/// Queues the texts of these cases for the next pass.
pub async fn enqueue<C: ConnectionTrait>(db: &C, case_ids: &[i64]) -> Result<()> {
    for chunk in case_ids.chunks(1_000) {
        let rows = chunk.iter().map(|id| org_scan_queue::ActiveModel { case_id: Set(*id) });
        org_scan_queue::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(org_scan_queue::Column::CaseId)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Links organization names in free text, whatever the order texts and names arrived in:
/// names new since the last pass against every text scanned before, then the queued texts
/// (stored or changed since) against every known name. Idempotent; a load may run it after
/// every file or once at its end. One transaction, taken as a file's is (files wait while it
/// runs), so a crash leaves the queue to the next pass and no file changes the queue under it.
pub async fn link_pending(db: &DatabaseConnection) -> Result<()> {
    link_pending_batched(db, NAME_BYTES_PER_AUTOMATON).await
}

/// As `link_pending`, with at most about `name_bytes` bytes of names per automaton (the
/// tests use small batches to check that batching changes nothing).
pub async fn link_pending_batched(db: &DatabaseConnection, name_bytes: usize) -> Result<()> {
    let (_one_writer, txn) = crate::writer::begin_writing(db).await?;
    let linked = link_pending_in_batches(&txn, name_bytes).await?;
    entities::linkage_journal::record(&txn, &linked).await?;
    Ok(txn.commit().await?)
}

/// As `link_pending`, inside the caller's writing transaction; returns the cases given new
/// keys, for the caller to note in the linkage journal.
pub async fn link_pending_in<C: ConnectionTrait>(db: &C) -> Result<Vec<i64>> {
    link_pending_in_batches(db, NAME_BYTES_PER_AUTOMATON).await
}

async fn link_pending_in_batches<C: ConnectionTrait>(db: &C, name_bytes: usize) -> Result<Vec<i64>> {
    let mut linked = Vec::new();
    let mut new_names = NameBatches::unscanned(name_bytes);
    while let Some(names) = new_names.next(db).await? {
        linked.extend(scan_stored(db, &names).await?);
        mark_scanned(db, &names.list).await?;
    }
    let mut all_names = NameBatches::all(name_bytes);
    while let Some(names) = all_names.next(db).await? {
        linked.extend(scan_queued(db, &names).await?);
    }
    // The whole queue was matched against every name; no file can have added to it since
    // (this runs as a writer).
    org_scan_queue::Entity::delete_many().exec(db).await?;
    linked.sort_unstable();
    linked.dedup();
    Ok(linked)
}

async fn mark_scanned<C: ConnectionTrait>(db: &C, names: &[String]) -> Result<()> {
    for batch in names.chunks(400) {
        let rows = batch.iter().map(|name| org_name_scanned::ActiveModel {
            name: Set(name.clone()),
        });
        org_name_scanned::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(org_name_scanned::Column::Name)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Texts scanned before (not in the queue) against `names`, page by page.
async fn scan_stored<C: ConnectionTrait>(db: &C, names: &Names) -> Result<Vec<i64>> {
    // An anti-join, however long the queue (NOT IN over a large subquery is not).
    let unqueued = Expr::cust(r#"NOT EXISTS (SELECT 1 FROM "org_scan_queue" q WHERE q."case_id" = "cases"."id")"#);
    let mut linked = Vec::new();
    let mut after = 0i64;
    loop {
        let texts: Vec<(i64, Option<String>)> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .column(case::Column::FreeText)
            .filter(case::Column::Id.gt(after))
            .filter(case::Column::FreeText.is_not_null())
            .filter(unqueued.clone())
            .order_by_asc(case::Column::Id)
            .limit(TEXTS_PER_PAGE)
            .into_tuple()
            .all(db)
            .await?;
        let Some((last, _)) = texts.last() else { break };
        after = *last;
        linked.extend(add_keys(db, names.found_in(&texts)).await?);
    }
    Ok(linked)
}

/// The queued texts against `names`, page by page (the queue is emptied by the caller).
async fn scan_queued<C: ConnectionTrait>(db: &C, names: &Names) -> Result<Vec<i64>> {
    let mut linked = Vec::new();
    let mut after = 0i64;
    loop {
        let texts: Vec<(i64, Option<String>)> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .column(case::Column::FreeText)
            .filter(Expr::cust(
                r#"EXISTS (SELECT 1 FROM "org_scan_queue" q WHERE q."case_id" = "cases"."id")"#,
            ))
            .filter(case::Column::Id.gt(after))
            .order_by_asc(case::Column::Id)
            .limit(TEXTS_PER_PAGE)
            .into_tuple()
            .all(db)
            .await?;
        let Some((last, _)) = texts.last() else { break };
        after = *last;
        linked.extend(add_keys(db, names.found_in(&texts)).await?);
    }
    Ok(linked)
}
