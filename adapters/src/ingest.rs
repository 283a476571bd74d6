//! Writing adapter output: idempotent by `(source, source key)` and content hash,
//! newer versions supersede, older ones are kept as provenance only, tombstones
//! mark a case deleted. One transaction per file: a rejected file stores nothing.

use std::collections::BTreeMap;

use chrono::Utc;
use entities::{
    case, case_key, case_party, data_quality_issue, party, quarantine, source_record, LinkKind, PartyKind, Source,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::record::{Item, PartyMention, Quarantined, UnifiedRecord};
use crate::{AdapterError, Result};

/// One quarantined record in a report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QuarantineEntry {
    #[serde(flatten)]
    pub position: crate::Position,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Inserted,
    Updated,
    Unchanged,
    Deleted,
}

/// Parses and stores one file. A file refused whole is reported in `rejected` and stores nothing.
pub async fn ingest_file(db: &DatabaseConnection, source: Source, file: &str, bytes: &[u8]) -> Result<FileReport> {
    let mut report = FileReport {
        file: file.to_string(),
        ..Default::default()
    };
    let parsed = match crate::parse(source, file, bytes) {
        Ok(p) => p,
        Err(AdapterError::Rejected { reason, .. }) => {
            report.rejected = Some(reason);
            return Ok(report);
        }
        Err(e) => return Err(e),
    };
    report.warnings = parsed.warnings;
    let txn = db.begin().await?;
    let names_before = crate::org_names::known_org_names(&txn).await?;
    let mut touched: Vec<i64> = Vec::new();
    for item in parsed.items {
        report.read += 1;
        match item {
            Item::Quarantined(q) => {
                store_quarantine(&txn, source, file, &q).await?;
                report.quarantined += 1;
                report.quarantine.push(QuarantineEntry {
                    position: q.position,
                    reason: q.reason.to_string(),
                });
            }
            Item::Record(record) => match apply(&txn, file, &record).await? {
                (Outcome::Inserted, id) => {
                    report.inserted += 1;
                    touched.push(id);
                }
                (Outcome::Updated, id) => {
                    report.updated += 1;
                    touched.push(id);
                }
                (Outcome::Unchanged, _) => report.unchanged += 1,
                (Outcome::Deleted, _) => report.deleted += 1,
            },
        }
    }
    crate::org_names::link_org_names(&txn, &names_before, &touched).await?;
    txn.commit().await?;
    Ok(report)
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

async fn store_quarantine<C: ConnectionTrait>(db: &C, source: Source, file: &str, q: &Quarantined) -> Result<()> {
    let position = q.position.to_string();
    let exists = quarantine::Entity::find()
        .filter(quarantine::Column::Source.eq(source.as_str()))
        .filter(quarantine::Column::File.eq(file))
        .filter(quarantine::Column::Position.eq(position.as_str()))
        .filter(quarantine::Column::Reason.eq(q.reason))
        .one(db)
        .await?;
    if exists.is_none() {
        quarantine::ActiveModel {
            source: Set(source.as_str().into()),
            file: Set(file.into()),
            position: Set(position),
            reason: Set(q.reason.into()),
            detail: Set(Some(q.detail.clone())),
            raw_text: Set(q.raw.clone()),
            ingested_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// Keeps every version verbatim once; returns the provenance row's id.
async fn store_provenance<C: ConnectionTrait>(
    db: &C,
    file: &str,
    r: &UnifiedRecord,
    version: i32,
    hash: &str,
) -> Result<i64> {
    let existing = source_record::Entity::find()
        .filter(source_record::Column::Source.eq(r.source.as_str()))
        .filter(source_record::Column::SourceKey.eq(r.source_key.as_str()))
        .filter(source_record::Column::ContentHash.eq(hash))
        .one(db)
        .await?;
    if let Some(row) = existing {
        return Ok(row.id);
    }
    let row = source_record::ActiveModel {
        source: Set(r.source.as_str().into()),
        source_key: Set(r.source_key.clone()),
        version: Set(version),
        content_hash: Set(hash.into()),
        file: Set(file.into()),
        position: Set(r.position.to_string()),
        payload: Set(r.payload.clone()),
        ingested_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

async fn apply<C: ConnectionTrait>(db: &C, file: &str, r: &UnifiedRecord) -> Result<(Outcome, i64)> {
    let hash = sha256(&r.payload);
    let existing = case::Entity::find()
        .filter(case::Column::Source.eq(r.source.as_str()))
        .filter(case::Column::SourceKey.eq(r.source_key.as_str()))
        .one(db)
        .await?;
    let Some(current) = existing else {
        let version = r.version.unwrap_or(1);
        let record_id = store_provenance(db, file, r, version, &hash).await?;
        if r.tombstone {
            return Ok((Outcome::Unchanged, 0));
        }
        let model = case_model(r, version, record_id).insert(db).await?;
        write_children(db, model.id, r).await?;
        return Ok((Outcome::Inserted, model.id));
    };
    let (newer, version) = match r.version {
        Some(v) => (v > current.version, v),
        None => {
            // Without versions, content already seen for this key is not new: reloading an
            // older export must not bring old content back.
            let seen = source_record::Entity::find()
                .filter(source_record::Column::Source.eq(r.source.as_str()))
                .filter(source_record::Column::SourceKey.eq(r.source_key.as_str()))
                .filter(source_record::Column::ContentHash.eq(hash.as_str()))
                .one(db)
                .await?;
            (seen.is_none(), current.version + 1)
        }
    };
    if r.tombstone {
        store_provenance(db, file, r, version, &hash).await?;
        if current.deleted || version < current.version {
            return Ok((Outcome::Unchanged, current.id));
        }
        let mut active: case::ActiveModel = current.into();
        active.deleted = Set(true);
        active.version = Set(version);
        active.updated_at = Set(Utc::now());
        let id = active.update(db).await?.id;
        return Ok((Outcome::Deleted, id));
    }
    if !newer {
        if r.version.is_some() && version < current.version {
            store_provenance(db, file, r, version, &hash).await?;
        }
        return Ok((Outcome::Unchanged, current.id));
    }
    let record_id = store_provenance(db, file, r, version, &hash).await?;
    let mut active = case_model(r, version, record_id);
    active.id = Set(current.id);
    active.update(db).await?;
    clear_children(db, current.id).await?;
    write_children(db, current.id, r).await?;
    Ok((Outcome::Updated, current.id))
}

fn case_model(r: &UnifiedRecord, version: i32, record_id: i64) -> case::ActiveModel {
    case::ActiveModel {
        source: Set(r.source.as_str().into()),
        source_key: Set(r.source_key.clone()),
        version: Set(version),
        title: Set(r.title.clone()),
        summary: Set(r.summary.clone()),
        category: Set(r.category.clone()),
        status: Set(r.status.clone()),
        stage: Set(r.stage.map(|s| s.as_str().to_string())),
        region_code: Set(r.region_code.clone()),
        town: Set(r.town.clone()),
        agency: Set(r.agency.clone()),
        opened_on: Set(r.opened_on),
        closed_on: Set(r.closed_on),
        deadline_on: Set(r.deadline_on),
        case_numbers: Set(json!(r.case_numbers)),
        transferred: Set(r.transferred),
        deleted: Set(false),
        record_id: Set(Some(record_id)),
        updated_at: Set(Utc::now()),
        // Stored normalized as organization names are, so a name matches however it was spelled.
        free_text: Set(
            (!r.free_text.is_empty()).then(|| entities::ids::names::normalize_org_name(&r.free_text.join("\n")))
        ),
        ..Default::default()
    }
}

async fn clear_children<C: ConnectionTrait>(db: &C, case_id: i64) -> Result<()> {
    case_party::Entity::delete_many()
        .filter(case_party::Column::CaseId.eq(case_id))
        .exec(db)
        .await?;
    case_key::Entity::delete_many()
        .filter(case_key::Column::CaseId.eq(case_id))
        .exec(db)
        .await?;
    data_quality_issue::Entity::delete_many()
        .filter(data_quality_issue::Column::CaseId.eq(case_id))
        .exec(db)
        .await?;
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

async fn resolve_party<C: ConnectionTrait>(db: &C, identity: String, p: &PartyMention) -> Result<i64> {
    if let Some(existing) = party::Entity::find()
        .filter(party::Column::Identity.eq(identity.as_str()))
        .one(db)
        .await?
    {
        let mut phones = existing.phone_list();
        let mut changed = false;
        for ph in &p.phones {
            if !phones.contains(ph) {
                phones.push(ph.clone());
                changed = true;
            }
        }
        if changed || existing.name != p.name {
            let id = existing.id;
            let mut active: party::ActiveModel = existing.into();
            active.phones = Set(json!(phones));
            active.name = Set(p.name.clone());
            active.updated_at = Set(Utc::now());
            active.update(db).await?;
            return Ok(id);
        }
        return Ok(existing.id);
    }
    let model = party::ActiveModel {
        kind: Set(p.kind.as_str().into()),
        name: Set(p.name.clone()),
        id_number: Set(p.id_number.clone()),
        credit_code: Set(p.credit_code.clone()),
        phones: Set(json!(p.phones)),
        identity: Set(identity),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(model.id)
}

async fn write_children<C: ConnectionTrait>(db: &C, case_id: i64, r: &UnifiedRecord) -> Result<()> {
    let mut keys: BTreeMap<(LinkKind, String), ()> = r.keys.iter().cloned().map(|k| (k, ())).collect();
    for (i, p) in r.parties.iter().enumerate() {
        let party_id = resolve_party(db, identity(r, i, p), p).await?;
        case_party::ActiveModel {
            case_id: Set(case_id),
            party_id: Set(party_id),
            role: Set(p.role.clone()),
            name_as_recorded: Set(p.name_as_recorded.clone()),
            position: Set(i as i32),
            ..Default::default()
        }
        .insert(db)
        .await?;
        if let Some(id) = &p.id_number {
            keys.insert((LinkKind::PersonId, id.clone()), ());
        }
        if let Some(code) = &p.credit_code {
            keys.insert((LinkKind::OrgUscc, code.clone()), ());
        }
        if let Some(b) = &p.badge {
            keys.insert((LinkKind::Badge, b.clone()), ());
        }
        for ph in &p.phones {
            keys.insert((LinkKind::Phone, ph.clone()), ());
        }
        let name_kind = if p.kind == PartyKind::Organization {
            LinkKind::OrgName
        } else {
            LinkKind::PersonName
        };
        keys.insert((name_kind, p.name.clone()), ());
    }
    for ((kind, value), ()) in keys {
        case_key::ActiveModel {
            case_id: Set(case_id),
            kind: Set(kind.as_str().into()),
            value: Set(value),
            score: Set(kind.score()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    for issue in &r.issues {
        data_quality_issue::ActiveModel {
            source: Set(r.source.as_str().into()),
            source_key: Set(r.source_key.clone()),
            case_id: Set(Some(case_id)),
            field: Set(issue.field.clone()),
            raw_value: Set(issue.raw_value.clone()),
            issue: Set(issue.issue.clone()),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(())
}
