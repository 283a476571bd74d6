//! 平安督: inspections recorded as they happen (or loaded from offline files), each problem
//! opening a supervision task on its town, and the 平安督查指数 computed from them (MODELS.md).

pub mod index;
pub mod load;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use entities::{inspection, inspection_problem};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::policy::Scope;
use crate::store::NewTask;
use crate::viewer::Viewer;

/// How far in the future an inspection time may lie (clock skew between devices).
const CLOCK_SKEW: Duration = Duration::minutes(5);
/// Longest text a field may hold.
const MAX_TEXT_CHARS: usize = 2000;
/// Most problems one inspection may record.
pub const MAX_PROBLEMS: usize = 200;
/// Severity: 1 (minor) to 5 (grave).
pub const SEVERITIES: std::ops::RangeInclusive<i32> = 1..=5;

/// An inspection as a client or a file gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectionInput {
    pub id: Option<String>,
    pub region_code: String,
    pub town: String,
    pub point: String,
    pub point_type: String,
    pub inspected_at: DateTime<Utc>,
    pub problems: Vec<ProblemInput>,
    /// The id of an inspection this one corrects.
    pub corrects: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProblemInput {
    pub category: String,
    pub description: String,
    pub severity: i32,
}

/// A rejected field: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    pub field: String,
    pub reason: String,
}

impl InvalidField {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for InvalidField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

fn text(field: &str, value: &str) -> std::result::Result<String, InvalidField> {
    let v = value.trim();
    if v.is_empty() {
        return Err(InvalidField::new(field, "must not be empty"));
    }
    if v.chars().count() > MAX_TEXT_CHARS {
        return Err(InvalidField::new(
            field,
            format!("longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    if v.contains('\0') {
        return Err(InvalidField::new(field, "contains a NUL character"));
    }
    Ok(v.to_string())
}

impl InspectionInput {
    /// Checks every field (naming the first that is wrong) and trims the texts.
    pub fn validated(self, now: DateTime<Utc>) -> std::result::Result<InspectionInput, InvalidField> {
        let id = match self.id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(id) if id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) => {
                return Err(InvalidField::new("id", "at most 128 printable ASCII characters"));
            }
            Some(id) => Some(id.to_string()),
        };
        let region_code = self.region_code.trim().to_string();
        if entities::ids::RegionCode::parse(&region_code).is_err() {
            return Err(InvalidField::new("regionCode", "a 6-digit region code"));
        }
        let town = text("town", &self.town)?;
        let point = text("point", &self.point)?;
        let point_type = text("pointType", &self.point_type)?;
        if self.inspected_at > now + CLOCK_SKEW {
            return Err(InvalidField::new("inspectedAt", "lies in the future"));
        }
        if self.problems.len() > MAX_PROBLEMS {
            return Err(InvalidField::new("problems", format!("at most {MAX_PROBLEMS}")));
        }
        let mut problems = Vec::with_capacity(self.problems.len());
        for (n, p) in self.problems.into_iter().enumerate() {
            let category = text(&format!("problems[{n}].category"), &p.category)?;
            let description = text(&format!("problems[{n}].description"), &p.description)?;
            if !SEVERITIES.contains(&p.severity) {
                return Err(InvalidField::new(format!("problems[{n}].severity"), "from 1 to 5"));
            }
            problems.push(ProblemInput {
                category,
                description,
                severity: p.severity,
            });
        }
        let corrects = self.corrects.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
        if corrects.is_some() && corrects == id {
            return Err(InvalidField::new("corrects", "an inspection cannot correct itself"));
        }
        Ok(InspectionInput {
            id,
            corrects,
            region_code,
            town,
            point,
            point_type,
            inspected_at: self.inspected_at,
            problems,
        })
    }

    /// What tells a repeat from a conflicting record of the same id.
    pub fn content_hash(&self) -> String {
        let problems: Vec<serde_json::Value> = self
            .problems
            .iter()
            .map(|p| serde_json::json!([p.category, p.description, p.severity]))
            .collect();
        let content = serde_json::json!([
            self.region_code,
            self.town,
            self.point,
            self.point_type,
            self.inspected_at.timestamp(),
            problems,
            self.corrects
        ]);
        hex::encode(Sha256::digest(content.to_string().as_bytes()))
    }
}

/// The 平安督 settings: days a town has to fix a problem (`QIANCHUAN_INSPECTION_TASK_DAYS`)
/// and the index weights (`QIANCHUAN_INSPECTION_WEIGHTS`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub task_days: u32,
    pub weights: index::Weights,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            task_days: 15,
            weights: index::Weights::default(),
        }
    }
}

/// China Standard Time, in which inspection days and months are counted.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The day (CST) of an instant.
pub fn day_of(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&china()).date_naive()
}

/// What recording did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Stored, with a task per problem.
    Inserted(inspection::Model),
    /// The same id with the same content was stored before: nothing changed.
    Unchanged(inspection::Model),
    /// The same id was stored with other content: nothing changed (an inspection is immutable).
    Conflicting(inspection::Model),
}

/// Where a recording comes from, for provenance.
pub struct Origin<'a> {
    pub file: &'a str,
    /// The CSV row of each problem (or of the problem-less row), for a loaded inspection.
    pub positions: Vec<String>,
}

/// The town named elsewhere in the hub under another region only, or `None` when the town is
/// unknown or known in `region` (a town is kept as given, inside its county).
pub async fn town_elsewhere<C: ConnectionTrait>(db: &C, region: &str, town: &str) -> Result<Option<String>> {
    let regions: Vec<String> = entities::case::Entity::find()
        .select_only()
        .column(entities::case::Column::RegionCode)
        .filter(entities::case::Column::Town.eq(town))
        .filter(entities::case::Column::RegionCode.is_not_null())
        .distinct()
        .limit(16)
        .into_tuple::<Option<String>>()
        .all(db)
        .await?
        .into_iter()
        .flatten()
        .chain(
            inspection::Entity::find()
                .select_only()
                .column(inspection::Column::RegionCode)
                .filter(inspection::Column::Town.eq(town))
                .distinct()
                .limit(16)
                .into_tuple::<String>()
                .all(db)
                .await?,
        )
        .collect();
    if regions.is_empty() || regions.iter().any(|r| r == region) {
        return Ok(None);
    }
    Ok(regions.into_iter().next())
}

/// Records one validated inspection for `viewer`, opening a task per problem on the town's
/// own unit with deadline = inspection day + `task_days`, in `txn` (committed here). The caller
/// checked the scope.
pub async fn record(
    txn: sea_orm::DatabaseTransaction,
    viewer: &Viewer,
    input: &InspectionInput,
    origin: Origin<'_>,
    task_days: u32,
) -> Result<Recorded> {
    let hash = input.content_hash();
    let id = match &input.id {
        Some(id) => id.clone(),
        None => format!(
            "INS-{}",
            &hex::encode(Sha256::digest(
                format!(
                    "{}:{}:{hash}",
                    viewer.sub,
                    Utc::now().timestamp_nanos_opt().unwrap_or_default()
                )
                .as_bytes()
            ))[..20]
        ),
    };
    if let Some(corrected) = &input.corrects {
        let known = inspection::Entity::find_by_id(corrected.clone()).one(&txn).await?;
        if known.is_none_or(|k| k.region_code != input.region_code) {
            return Err(Error::bad_input(format!(
                "corrects: no inspection {corrected} in region {}",
                input.region_code
            )));
        }
    }
    if let Some(existing) = inspection::Entity::find_by_id(id.clone()).one(&txn).await? {
        return Ok(if existing.content_hash == hash {
            Recorded::Unchanged(existing)
        } else {
            Recorded::Conflicting(existing)
        });
    }
    let now = Utc::now();
    let stored = inspection::ActiveModel {
        id: Set(id.clone()),
        region_code: Set(input.region_code.clone()),
        town: Set(input.town.clone()),
        point: Set(input.point.clone()),
        point_type: Set(input.point_type.clone()),
        inspected_at: Set(input.inspected_at),
        recorded_by: Set(viewer.sub.clone()),
        unit: Set(viewer.unit.clone()),
        recorded_at: Set(now),
        file: Set(origin.file.to_string()),
        content_hash: Set(hash),
        corrects: Set(input.corrects.clone()),
    }
    .insert(&txn)
    .await?;
    let deadline = day_of(input.inspected_at) + Duration::days(i64::from(task_days));
    for (n, p) in input.problems.iter().enumerate() {
        let task = crate::store::insert_task(
            &txn,
            viewer,
            Some(input.region_code.clone()),
            Some(input.town.clone()),
            NewTask {
                case_id: None,
                region_code: Some(input.region_code.clone()),
                town: Some(input.town.clone()),
                department: input.town.clone(),
                title: format!("平安督 {} {}：{}", input.town, input.point, p.category),
                deadline,
                note: Some(format!("{}（严重程度 {}，检查 {id}）", p.description, p.severity)),
            },
        )
        .await?;
        inspection_problem::ActiveModel {
            inspection_id: Set(id.clone()),
            seq: Set(n as i32 + 1),
            category: Set(p.category.clone()),
            description: Set(p.description.clone()),
            severity: Set(p.severity),
            task_id: Set(Some(task.id)),
            position: Set(origin.positions.get(n).cloned()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(Recorded::Inserted(stored))
}

/// One stored inspection with its problems, for a viewer that may read it.
pub struct InspectionView {
    pub inspection: inspection::Model,
    pub problems: Vec<inspection_problem::Model>,
    /// The inspections that correct this one.
    pub corrected_by: Vec<String>,
}

/// The inspection `id` if `scope` may read it (inspection readers, in their regions).
pub async fn read<C: ConnectionTrait>(db: &C, scope: &Scope, id: &str) -> Result<Option<InspectionView>> {
    if !scope.reads_inspections() {
        return Err(Error::Forbidden);
    }
    let Some(inspection) = inspection::Entity::find_by_id(id.to_string()).one(db).await? else {
        return Ok(None);
    };
    if !scope.holds_region(&inspection.region_code) {
        return Ok(None);
    }
    let problems = inspection_problem::Entity::find()
        .filter(inspection_problem::Column::InspectionId.eq(id))
        .order_by_asc(inspection_problem::Column::Seq)
        .all(db)
        .await?;
    let corrected_by = inspection::Entity::find()
        .select_only()
        .column(inspection::Column::Id)
        .filter(inspection::Column::Corrects.eq(id))
        .into_tuple::<String>()
        .all(db)
        .await?;
    Ok(Some(InspectionView {
        inspection,
        problems,
        corrected_by,
    }))
}

/// The ids of the tasks inspections opened, as a subquery (the governance index leaves them out).
pub fn task_ids() -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(inspection_problem::Column::TaskId)
        .from(inspection_problem::Entity)
        .and_where(inspection_problem::Column::TaskId.is_not_null())
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> InspectionInput {
        InspectionInput {
            id: None,
            region_code: "330110".into(),
            town: " 崇贤街道 ".into(),
            point: "崇贤农贸市场".into(),
            point_type: "市场".into(),
            inspected_at: Utc::now() - Duration::hours(1),
            corrects: None,
            problems: vec![ProblemInput {
                category: "消防".into(),
                description: "灭火器过期".into(),
                severity: 3,
            }],
        }
    }

    #[test]
    fn validation_names_the_field() {
        let now = Utc::now();
        assert_eq!(input().validated(now).map(|i| i.town), Ok("崇贤街道".to_string()));
        let mut i = input();
        i.problems[0].category = "  ".into();
        assert_eq!(i.validated(now).unwrap_err().field, "problems[0].category");
        let mut i = input();
        i.problems[0].severity = 9;
        assert_eq!(i.validated(now).unwrap_err().field, "problems[0].severity");
        let mut i = input();
        i.inspected_at = now + Duration::hours(2);
        assert_eq!(i.validated(now).unwrap_err().field, "inspectedAt");
        let mut i = input();
        i.region_code = "3301".into();
        assert_eq!(i.validated(now).unwrap_err().field, "regionCode");
    }

    #[test]
    fn the_hash_ignores_the_id_and_sees_every_problem() {
        let a = input();
        let mut b = input();
        b.id = Some("X-1".into());
        b.inspected_at = a.inspected_at;
        assert_eq!(a.content_hash(), b.content_hash());
        b.problems[0].severity = 4;
        assert_ne!(a.content_hash(), b.content_hash());
    }

    #[test]
    fn days_are_counted_in_china() {
        let at = DateTime::parse_from_rfc3339("2026-03-31T17:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(day_of(at), NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
    }
}
