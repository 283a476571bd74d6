//! Organization names known from structured party fields, looked for in free text.
//! Both ways, so the keys do not depend on ingestion order: queued texts (stored or changed
//! since the last pass) against every known name, and names not scanned yet against every
//! text scanned before them.
//! One Aho-Corasick automaton per pass.

use std::collections::{BTreeSet, HashSet};

use aho_corasick::AhoCorasick;
use entities::{case, case_key, org_name_scanned, org_scan_queue, party, LinkKind, PartyKind};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionSession,
    TransactionTrait,
};

use crate::Result;

/// Shorter names (`某店`) match too much text to be evidence.
const MIN_NAME_CHARS: usize = 4;
const PAGE: u64 = 5_000;

pub async fn known_org_names<C: ConnectionTrait>(db: &C) -> Result<BTreeSet<String>> {
    let names: Vec<String> = party::Entity::find()
        .select_only()
        .column(party::Column::Name)
        .filter(party::Column::Kind.eq(PartyKind::Organization.as_str()))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    Ok(names
        .into_iter()
        .filter(|n| n.chars().count() >= MIN_NAME_CHARS)
        .collect())
}

/// Every name the automaton finds in `text` (overlapping, so a name inside a longer one counts).
fn names_in<'a>(automaton: &AhoCorasick, names: &'a [String], text: &str) -> BTreeSet<&'a str> {
    automaton
        .find_overlapping_iter(text)
        .map(|m| names[m.pattern().as_usize()].as_str())
        .collect()
}

/// Where the cases that got new keys are noted in the linkage journal.
pub enum Journal<'a> {
    /// With each page of keys, in one transaction (a pass on its own).
    EachPage,
    /// By the caller, last in its transaction (a pass inside a file's transaction: the
    /// journal's lock is then taken only just before that transaction commits).
    Collect(&'a mut Vec<i64>),
}

/// Adds the ORG_NAME keys a case lacks.
async fn add_keys<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    found: Vec<(i64, String)>,
    journal: &mut Journal<'_>,
) -> Result<()> {
    if found.is_empty() {
        return Ok(());
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
            .filter(case_key::Column::Kind.eq(LinkKind::OrgName.as_str()))
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
            kind: Set(LinkKind::OrgName.as_str().into()),
            value: Set(value),
            score: Set(LinkKind::OrgName.score()),
            ..Default::default()
        })
        .collect();
    let txn = db.begin().await?;
    for batch in rows.chunks(400) {
        case_key::Entity::insert_many(batch.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    match journal {
        Journal::EachPage => entities::linkage_journal::record(&txn, &changed).await?,
        Journal::Collect(ids) => ids.extend(changed),
    }
    Ok(txn.commit().await?)
}

fn automaton(names: &[String]) -> Result<Option<AhoCorasick>> {
    if names.is_empty() {
        return Ok(None);
    }
    AhoCorasick::new(names)
        .map(Some)
        .map_err(|e| crate::AdapterError::Rejected {
            file: "organization names".into(),
            reason: format!("cannot index organization names: {e}"),
        })
}

/// Stored names not yet matched against the texts scanned before them.
async fn unscanned_names<C: ConnectionTrait>(db: &C, known: &BTreeSet<String>) -> Result<Vec<String>> {
    let scanned: Vec<String> = org_name_scanned::Entity::find()
        .select_only()
        .column(org_name_scanned::Column::Name)
        .into_tuple()
        .all(db)
        .await?;
    let scanned: HashSet<String> = scanned.into_iter().collect();
    Ok(known.iter().filter(|n| !scanned.contains(*n)).cloned().collect())
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
/// every file or once at its end, and a pass interrupted by a crash is completed by the next.
pub async fn link_pending<C: ConnectionTrait + TransactionTrait>(db: &C) -> Result<()> {
    link_pending_noting(db, &mut Journal::EachPage).await
}

/// As `link_pending`, noting the cases that got new keys as `journal` says.
pub async fn link_pending_noting<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    journal: &mut Journal<'_>,
) -> Result<()> {
    let known = known_org_names(db).await?;
    let new = unscanned_names(db, &known).await?;
    if let Some(ac) = automaton(&new)? {
        scan_stored(db, &ac, &new, journal).await?;
    }
    let all: Vec<String> = known.into_iter().collect();
    scan_queued(db, automaton(&all)?.as_ref(), &all, journal).await?;
    for batch in new.chunks(400) {
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
async fn scan_stored<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    ac: &AhoCorasick,
    names: &[String],
    journal: &mut Journal<'_>,
) -> Result<()> {
    // An anti-join, however long the queue (NOT IN over a large subquery is not).
    let unqueued = Expr::cust(r#"NOT EXISTS (SELECT 1 FROM "org_scan_queue" q WHERE q."case_id" = "cases"."id")"#);
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, Option<String>)> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .column(case::Column::FreeText)
            .filter(case::Column::Id.gt(after))
            .filter(case::Column::FreeText.is_not_null())
            .filter(unqueued.clone())
            .order_by_asc(case::Column::Id)
            .limit(PAGE)
            .into_tuple()
            .all(db)
            .await?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        add_keys(db, found_in(ac, names, &rows), journal).await?;
    }
    Ok(())
}

/// The queued texts against every known name (`None`: no names yet), emptying the queue.
async fn scan_queued<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    ac: Option<&AhoCorasick>,
    names: &[String],
    journal: &mut Journal<'_>,
) -> Result<()> {
    loop {
        let ids: Vec<i64> = org_scan_queue::Entity::find()
            .select_only()
            .column(org_scan_queue::Column::CaseId)
            .order_by_asc(org_scan_queue::Column::CaseId)
            .limit(PAGE)
            .into_tuple()
            .all(db)
            .await?;
        if ids.is_empty() {
            break;
        }
        if let Some(ac) = ac {
            let rows: Vec<(i64, Option<String>)> = case::Entity::find()
                .select_only()
                .column(case::Column::Id)
                .column(case::Column::FreeText)
                .filter(case::Column::Id.is_in(ids.iter().copied()))
                .into_tuple()
                .all(db)
                .await?;
            add_keys(db, found_in(ac, names, &rows), journal).await?;
        }
        org_scan_queue::Entity::delete_many()
            .filter(org_scan_queue::Column::CaseId.is_in(ids.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

fn found_in(ac: &AhoCorasick, names: &[String], rows: &[(i64, Option<String>)]) -> Vec<(i64, String)> {
    let mut found = Vec::new();
    for (id, text) in rows {
        if let Some(text) = text {
            found.extend(names_in(ac, names, text).into_iter().map(|n| (*id, n.to_string())));
        }
    }
    found
}
