//! Organization names known from structured party fields, looked for in free text.
//! Run after every file, both ways, so the keys do not depend on ingestion order:
//! the file's new and updated records against every known name, and names that became
//! known in this file against every stored text. One Aho-Corasick automaton per pass.

use std::collections::{BTreeSet, HashSet};

use aho_corasick::AhoCorasick;
use entities::{case, case_key, party, LinkKind, PartyKind};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

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

/// Adds the ORG_NAME keys a case lacks.
async fn add_keys<C: ConnectionTrait>(db: &C, found: Vec<(i64, String)>) -> Result<()> {
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
    let rows: Vec<case_key::ActiveModel> = found
        .into_iter()
        .filter(|k| have.insert(k.clone()))
        .map(|(case_id, value)| case_key::ActiveModel {
            case_id: Set(case_id),
            kind: Set(LinkKind::OrgName.as_str().into()),
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
    Ok(())
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

pub async fn link_org_names<C: ConnectionTrait>(db: &C, before: &BTreeSet<String>, touched: &[i64]) -> Result<()> {
    let now = known_org_names(db).await?;
    // The file's records against every known name.
    let all: Vec<String> = now.iter().cloned().collect();
    if let Some(ac) = automaton(&all)? {
        let mut found = Vec::new();
        for chunk in touched.chunks(400) {
            let rows: Vec<(i64, Option<String>)> = case::Entity::find()
                .select_only()
                .column(case::Column::Id)
                .column(case::Column::FreeText)
                .filter(case::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(db)
                .await?;
            for (id, text) in rows {
                if let Some(text) = text {
                    found.extend(names_in(&ac, &all, &text).into_iter().map(|n| (id, n.to_string())));
                }
            }
        }
        add_keys(db, found).await?;
    }
    // Names new in this file against every stored text, one pass.
    let new: Vec<String> = now.difference(before).cloned().collect();
    if let Some(ac) = automaton(&new)? {
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, Option<String>)> = case::Entity::find()
                .select_only()
                .column(case::Column::Id)
                .column(case::Column::FreeText)
                .filter(case::Column::Id.gt(after))
                .filter(case::Column::FreeText.is_not_null())
                .order_by_asc(case::Column::Id)
                .limit(PAGE)
                .into_tuple()
                .all(db)
                .await?;
            let Some((last, _)) = rows.last() else { break };
            after = *last;
            let mut found = Vec::new();
            for (id, text) in rows {
                if let Some(text) = text {
                    found.extend(names_in(&ac, &new, &text).into_iter().map(|n| (id, n.to_string())));
                }
            }
            add_keys(db, found).await?;
        }
    }
    Ok(())
}
