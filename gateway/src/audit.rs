//! The audit log: every request that returns case or party data leaves one
//! append-only entry — who, when, which operation, a hash of the query, the
//! variables with identifiers masked, and the ids of the cases and parties returned.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use entities::ids::{id_number::mask_id_number, phone::mask_phone, IdNumber, Phone};
use entities::{audit_log, audit_subject};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set, TransactionTrait};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::Viewer;

/// What the data-access layer handed out during one request.
#[derive(Debug, Clone, Default)]
pub struct Trail(Arc<Mutex<(BTreeSet<i64>, BTreeSet<i64>)>>);

impl Trail {
    pub fn cases(&self, ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut t) = self.0.lock() {
            t.0.extend(ids);
        }
    }

    pub fn parties(&self, ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut t) = self.0.lock() {
            t.1.extend(ids);
        }
    }

    /// The case and party ids handed out since the last call (a subscription writes one
    /// entry per message it sends).
    pub fn take(&self) -> (Vec<i64>, Vec<i64>) {
        self.0
            .lock()
            .map(|mut t| {
                let (cases, parties) = std::mem::take(&mut *t);
                (cases.into_iter().collect(), parties.into_iter().collect())
            })
            .unwrap_or_default()
    }
}

/// Masks every string that reads as a resident ID number or a phone.
pub fn mask_identifiers(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            if let Ok(id) = IdNumber::parse(s) {
                Value::String(mask_id_number(id.as_str()))
            } else if let Ok(p) = Phone::parse(s) {
                Value::String(mask_phone(p.as_str()))
            } else {
                Value::String(s.clone())
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(mask_identifiers).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), mask_identifiers(v))).collect()),
        other => other.clone(),
    }
}

/// Writes the entry; an error means the response must not carry the data.
pub async fn record(
    db: &DatabaseConnection,
    viewer: &Viewer,
    operation: Option<&str>,
    query: &str,
    variables: &Value,
    trail: &Trail,
) -> Result<(), sea_orm::DbErr> {
    let (cases, parties) = trail.take();
    if cases.is_empty() && parties.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    let entry = audit_log::ActiveModel {
        at: Set(Utc::now()),
        sub: Set(viewer.sub.clone()),
        role: Set(viewer.role.as_str().into()),
        operation: Set(operation.map(str::to_string)),
        query_hash: Set(hex::encode(Sha256::digest(query.as_bytes()))),
        variables: Set(mask_identifiers(variables)),
        case_ids: Set(json!(cases)),
        party_ids: Set(json!(parties)),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let subjects: Vec<audit_subject::ActiveModel> = cases
        .iter()
        .map(|id| ("CASE", *id))
        .chain(parties.iter().map(|id| ("PARTY", *id)))
        .map(|(kind, id)| audit_subject::ActiveModel {
            audit_id: Set(entry.id),
            kind: Set(kind.into()),
            subject_id: Set(id),
            ..Default::default()
        })
        .collect();
    for batch in subjects.chunks(400) {
        audit_subject::Entity::insert_many(batch.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_in_variables_are_masked() {
        let v = json!({"f": {"identifier": "11010519491231002x", "text": "张三"}, "phones": ["138 0571 1234"], "n": 3});
        assert_eq!(
            mask_identifiers(&v),
            json!({"f": {"identifier": "110105********002X", "text": "张三"}, "phones": ["138****1234"], "n": 3})
        );
    }
}
