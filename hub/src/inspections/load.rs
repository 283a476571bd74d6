//! `qianchuan ingest inspections FILE` and `POST /ingest/inspections`: offline inspections
//! recorded as if by the mutation, with the promises of every feed — each row stored or
//! quarantined with position and reason, idempotent by the inspection's own id.

use adapters::inspections::InspectionRecord;
use adapters::record::Quarantined;
use chrono::Utc;
use entities::Feed;
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::{record, town_elsewhere, InspectionInput, Origin, ProblemInput, Recorded};
use crate::error::{Error, Result};
use crate::ingest::{FileReport, QuarantineEntry};
use crate::viewer::{Role, Viewer};

/// Who a loaded inspection is recorded by.
fn loader() -> Viewer {
    Viewer {
        sub: "ingest".into(),
        role: Role::Admin,
        regions: Vec::new(),
        unit: None,
        own_id: None,
    }
}

fn all_rows(r: &InspectionRecord, reason: &'static str, detail: &str) -> Vec<Quarantined> {
    r.rows
        .iter()
        .map(|(position, raw)| Quarantined {
            position: position.clone(),
            reason,
            detail: detail.to_string(),
            raw: raw.clone(),
        })
        .collect()
}

/// Loads one inspections file; counts are per row. A file that cannot be read is reported
/// `rejected` with nothing stored.
pub async fn load_file(db: &DatabaseConnection, file: &str, bytes: &[u8], task_days: u32) -> Result<FileReport> {
    let mut report = FileReport {
        file: file.to_string(),
        ..Default::default()
    };
    let parsed = match adapters::inspections::parse(file, bytes) {
        Ok(parsed) => parsed,
        Err(adapters::AdapterError::Rejected { reason, .. }) => {
            report.rejected = Some(reason);
            return Ok(report);
        }
    };
    let mut quarantined = parsed.quarantined;
    let now = Utc::now();
    let viewer = loader();
    // Where each (region, town) of the file lies, asked once per pair, not once per inspection.
    let mut elsewhere: std::collections::HashMap<(String, String), Option<String>> = Default::default();
    for r in &parsed.inspections {
        let rows = r.rows.len() as u64;
        let input = InspectionInput {
            id: Some(r.id.clone()),
            region_code: r.region_code.clone(),
            town: r.town.clone(),
            point: r.point.clone(),
            point_type: r.point_type.clone(),
            inspected_at: r.inspected_at,
            corrects: r.corrects.clone(),
            problems: r
                .problems
                .iter()
                .map(|p| ProblemInput {
                    category: p.category.clone(),
                    description: p.description.clone(),
                    severity: p.severity,
                })
                .collect(),
        };
        let input = match input.validated(now) {
            Ok(input) => input,
            Err(invalid) => {
                quarantined.extend(all_rows(r, "invalid_value", &invalid.to_string()));
                continue;
            }
        };
        let place = (input.region_code.clone(), input.town.clone());
        let other = match elsewhere.get(&place) {
            Some(known) => known.clone(),
            None => {
                let found = town_elsewhere(db, &input.region_code, &input.town).await?;
                elsewhere.insert(place, found.clone());
                found
            }
        };
        if let Some(other) = other {
            let detail = format!("town {} lies in region {other}, not {}", input.town, input.region_code);
            quarantined.extend(all_rows(r, "invalid_value", &detail));
            continue;
        }
        let origin = Origin {
            file,
            positions: r.rows.iter().map(|(p, _)| p.to_string()).collect(),
        };
        match record(db.begin().await?, &viewer, &input, origin, task_days).await? {
            Recorded::Inserted(_) => report.inserted += rows,
            Recorded::Unchanged(_) => report.unchanged += rows,
            Recorded::Conflicting(existing) => {
                let detail = format!(
                    "inspection {} was recorded before with other content (from {}); a correction is a new inspection with its own id",
                    existing.id, existing.file
                );
                quarantined.extend(all_rows(r, "conflicting_content", &detail));
            }
        }
    }
    for q in &quarantined {
        crate::ingest::store_quarantine(db, Feed::Inspections, file, q)
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        report.quarantine.push(QuarantineEntry {
            position: q.position.clone(),
            reason: q.reason.to_string(),
        });
    }
    report.quarantined = quarantined.len() as u64;
    report.read = report.inserted + report.unchanged + report.quarantined;
    Ok(report)
}
