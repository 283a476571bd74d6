//! The 平安督查指数 per town and month, and its monthly ranking (月度晾晒), MODELS.md:
//! 点位数, 问题数, 发现率 = 问题数 ÷ 点位数, 整改率 = problems whose task was closed on or
//! before its deadline ÷ problems whose task is closed or past its deadline (1 when none is
//! due), 超期数 = problems past their deadline and not closed; index (higher = worse) =
//! problems·w₁ + overdue·w₂ + (1 − 整改率)·w₃; rank 1 = lowest index, ties share a rank.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use entities::{inspection, inspection_problem, task_event, LoopStage};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use super::day_of;
use crate::error::{Error, Result};
use crate::governance::month_start;
use crate::policy::Scope;
use crate::suppression::SMALL_CELL;

/// The weights of the index (`QIANCHUAN_INSPECTION_WEIGHTS`, `problems,overdue,unrectified`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub problems: f64,
    pub overdue: f64,
    pub unrectified: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            problems: 1.0,
            overdue: 5.0,
            unrectified: 20.0,
        }
    }
}

impl Weights {
    /// Parses `1,5,20`: three finite, non-negative numbers.
    pub fn parse(s: &str) -> std::result::Result<Weights, String> {
        let parts: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>().map_err(|_| format!("{p:?} is not a number")))
            .collect::<std::result::Result<_, _>>()?;
        match parts[..] {
            [problems, overdue, unrectified] if parts.iter().all(|w| w.is_finite() && *w >= 0.0) => Ok(Weights {
                problems,
                overdue,
                unrectified,
            }),
            _ => Err("three non-negative numbers: problems,overdue,unrectified".into()),
        }
    }
}

/// One inspection, as the index counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub region: String,
    pub town: String,
    pub day: NaiveDate,
    pub point: String,
}

/// One problem, as the index counts it: the day of its inspection and its task's course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub region: String,
    pub town: String,
    pub day: NaiveDate,
    pub deadline: NaiveDate,
    /// The day its task was closed (销号), if it was.
    pub closed_on: Option<NaiveDate>,
}

/// One town in one month.
#[derive(Debug, Clone, PartialEq)]
pub struct TownMonth {
    pub region: String,
    pub town: String,
    /// `YYYY-MM`.
    pub month: String,
    /// `None` (with every figure) when suppressed for the viewer.
    pub figures: Option<Figures>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub rank: u32,
    pub index: f64,
    /// Index minus the same town's index the month before (`None` when it had none).
    pub change: Option<f64>,
    pub places: u32,
    pub problems: u32,
    pub discovery_rate: f64,
    pub rectification_rate: f64,
    pub overdue: u32,
}

/// `YYYY-MM` of a day.
pub(crate) fn month_of(day: NaiveDate) -> String {
    format!("{:04}-{:02}", day.year(), day.month())
}

/// Computes the index of every town and month in `visits` and `problems` as of `today`;
/// towns with fewer than `SMALL_CELL` places in a month are suppressed when `suppress`
/// (and then neither ranked nor used for a change).
pub fn compute(
    visits: &[Visit],
    problems: &[Problem],
    today: NaiveDate,
    weights: Weights,
    suppress: bool,
) -> Vec<TownMonth> {
    #[derive(Default)]
    struct Tally {
        points: BTreeSet<String>,
        problems: u32,
        due: u32,
        in_time: u32,
        overdue: u32,
    }
    let mut tallies: BTreeMap<(String, String, String), Tally> = BTreeMap::new();
    for v in visits {
        let t = tallies
            .entry((month_of(v.day), v.region.clone(), v.town.clone()))
            .or_default();
        t.points.insert(v.point.clone());
    }
    for p in problems {
        let t = tallies
            .entry((month_of(p.day), p.region.clone(), p.town.clone()))
            .or_default();
        t.problems += 1;
        match p.closed_on {
            Some(closed) => {
                t.due += 1;
                t.in_time += u32::from(closed <= p.deadline);
            }
            None if today > p.deadline => {
                t.due += 1;
                t.overdue += 1;
            }
            None => {}
        }
    }
    let mut index_of: BTreeMap<(String, String, String), Option<f64>> = BTreeMap::new();
    let mut rows: Vec<TownMonth> = Vec::new();
    for ((month, region, town), t) in &tallies {
        let places = t.points.len() as u32;
        let rectification_rate = if t.due == 0 {
            1.0
        } else {
            f64::from(t.in_time) / f64::from(t.due)
        };
        let index = f64::from(t.problems) * weights.problems
            + f64::from(t.overdue) * weights.overdue
            + (1.0 - rectification_rate) * weights.unrectified;
        let hidden = suppress && u64::from(places) < SMALL_CELL;
        index_of.insert(
            (month.clone(), region.clone(), town.clone()),
            (!hidden).then_some(index),
        );
        rows.push(TownMonth {
            region: region.clone(),
            town: town.clone(),
            month: month.clone(),
            figures: (!hidden).then(|| Figures {
                rank: 0,
                index,
                change: None,
                places,
                problems: t.problems,
                discovery_rate: if places == 0 {
                    0.0
                } else {
                    f64::from(t.problems) / f64::from(places)
                },
                rectification_rate,
                overdue: t.overdue,
            }),
        });
    }
    // Ranks within each month: 1 for the lowest index, ties share a rank (1, 1, 3).
    let mut by_month: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &rows {
        if let Some(f) = &r.figures {
            by_month.entry(r.month.clone()).or_default().push(f.index);
        }
    }
    for r in &mut rows {
        let previous = previous_month(&r.month);
        if let Some(f) = &mut r.figures {
            let indexes = &by_month[&r.month];
            f.rank = 1 + indexes.iter().filter(|i| **i < f.index).count() as u32;
            f.change = previous
                .and_then(|m| index_of.get(&(m, r.region.clone(), r.town.clone())).copied().flatten())
                .map(|before| f.index - before);
        }
    }
    rows
}

fn previous_month(month: &str) -> Option<String> {
    month_start(month)?.pred_opt().map(month_of)
}

/// The months `from`..=`to` (`YYYY-MM`), as days: the first of `from` (and of the month before,
/// for the change) and the last of `to`. At most 60 months.
pub fn window(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate)> {
    let parse = |s: &str, name: &str| {
        month_start(s).ok_or_else(|| Error::bad_input(format!("{name} must be a month, YYYY-MM")))
    };
    let (start, end) = (parse(from, "from")?, parse(to, "to")?);
    if end < start {
        return Err(Error::bad_input("to is before from"));
    }
    let months = (end.year() - start.year()) * 12 + end.month() as i32 - start.month() as i32;
    if months >= 60 {
        return Err(Error::LimitExceeded("at most 60 months".into()));
    }
    let before = start.pred_opt().map(|d| d.with_day(1).unwrap_or(d)).unwrap_or(start);
    let after_end = end.checked_add_months(chrono::Months::new(1)).unwrap_or(end);
    Ok((before, after_end))
}

/// The index for `scope` over months `from`..=`to`, in `region_prefix` (and the viewer's
/// regions); an `agency` gets its own town's rows only, `analyst` gets small towns suppressed.
pub async fn for_viewer<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    from: &str,
    to: &str,
    region_prefix: Option<&str>,
    today: NaiveDate,
    weights: Weights,
) -> Result<Vec<TownMonth>> {
    if !scope.reads_inspection_index() {
        return Err(Error::Forbidden);
    }
    let (start, end) = window(from, to)?;
    let china = super::china();
    let start_at = start
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(china).single());
    let end_at = end
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(china).single());
    let (Some(start_at), Some(end_at)) = (start_at, end_at) else {
        return Err(Error::bad_input("months out of range"));
    };
    let mut place = Condition::all()
        .add(inspection::Column::InspectedAt.gte(start_at.with_timezone(&chrono::Utc)))
        .add(inspection::Column::InspectedAt.lt(end_at.with_timezone(&chrono::Utc)));
    if let Some(prefix) = region_prefix {
        if prefix.is_empty() || prefix.len() > 6 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::bad_input("regionPrefix must be 1 to 6 digits"));
        }
        place = place.add(inspection::Column::RegionCode.starts_with(prefix));
    }
    if let Some(prefixes) = scope.region_prefixes() {
        let mut any = Condition::any();
        for p in prefixes {
            any = any.add(inspection::Column::RegionCode.starts_with(p.as_str()));
        }
        place = place.add(any);
    }
    if let Some(unit) = scope.agency_unit() {
        place = place.add(inspection::Column::Town.eq(unit));
    }
    // A corrected inspection stays as history but counts no more: its correction does.
    place = place.add(
        inspection::Column::Id.not_in_subquery(
            Query::select()
                .column(inspection::Column::Corrects)
                .from(inspection::Entity)
                .and_where(inspection::Column::Corrects.is_not_null())
                .to_owned(),
        ),
    );
    let inspections: Vec<(String, String, String, String, chrono::DateTime<chrono::Utc>)> = inspection::Entity::find()
        .select_only()
        .column(inspection::Column::Id)
        .column(inspection::Column::RegionCode)
        .column(inspection::Column::Town)
        .column(inspection::Column::Point)
        .column(inspection::Column::InspectedAt)
        .filter(place.clone())
        .into_tuple()
        .all(db)
        .await?;
    let visits: Vec<Visit> = inspections
        .iter()
        .map(|(_, region, town, point, at)| Visit {
            region: region.clone(),
            town: town.clone(),
            day: day_of(*at),
            point: point.clone(),
        })
        .collect();
    let of_inspections = Query::select()
        .column(inspection::Column::Id)
        .from(inspection::Entity)
        .cond_where(place)
        .to_owned();
    let rows: Vec<(String, Option<i64>)> = inspection_problem::Entity::find()
        .select_only()
        .column(inspection_problem::Column::InspectionId)
        .column(inspection_problem::Column::TaskId)
        .filter(inspection_problem::Column::InspectionId.in_subquery(of_inspections))
        .into_tuple()
        .all(db)
        .await?;
    let task_ids: Vec<i64> = rows.iter().filter_map(|(_, t)| *t).collect();
    let mut deadlines: BTreeMap<i64, NaiveDate> = BTreeMap::new();
    let mut closed: BTreeMap<i64, NaiveDate> = BTreeMap::new();
    for chunk in task_ids.chunks(500) {
        let tasks: Vec<(i64, NaiveDate)> = entities::supervision_task::Entity::find()
            .select_only()
            .column(entities::supervision_task::Column::Id)
            .column(entities::supervision_task::Column::Deadline)
            .filter(entities::supervision_task::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        deadlines.extend(tasks);
        // The last close of a task that is closed now (a task returned after closing is not).
        let closes: Vec<(i64, chrono::DateTime<chrono::Utc>)> = task_event::Entity::find()
            .select_only()
            .column(task_event::Column::TaskId)
            .column_as(task_event::Column::At.max(), "at")
            .filter(task_event::Column::TaskId.is_in(chunk.iter().copied()))
            .filter(task_event::Column::ToStage.eq(LoopStage::Closed))
            .filter(
                task_event::Column::TaskId.in_subquery(
                    Query::select()
                        .column(entities::supervision_task::Column::Id)
                        .from(entities::supervision_task::Entity)
                        .and_where(entities::supervision_task::Column::Stage.eq(LoopStage::Closed))
                        .to_owned(),
                ),
            )
            .group_by(task_event::Column::TaskId)
            .into_tuple()
            .all(db)
            .await?;
        closed.extend(closes.into_iter().map(|(id, at)| (id, day_of(at))));
    }
    let place_of: BTreeMap<&str, &(String, String, String, String, chrono::DateTime<chrono::Utc>)> =
        inspections.iter().map(|i| (i.0.as_str(), i)).collect();
    let problems: Vec<Problem> = rows
        .iter()
        .filter_map(|(inspection_id, task)| {
            let (_, region, town, _, at) = place_of.get(inspection_id.as_str())?;
            let task = (*task)?;
            Some(Problem {
                region: region.clone(),
                town: town.clone(),
                day: day_of(*at),
                deadline: *deadlines.get(&task)?,
                closed_on: closed.get(&task).copied(),
            })
        })
        .collect();
    let first = month_start(from)
        .map(month_of)
        .ok_or_else(|| Error::bad_input("from must be a month, YYYY-MM"))?;
    Ok(
        compute(&visits, &problems, today, weights, scope.suppresses_small_cells())
            .into_iter()
            .filter(|r| r.month.as_str() >= first.as_str())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn visit(town: &str, day: &str, point: &str) -> Visit {
        Visit {
            region: "330110".into(),
            town: town.into(),
            day: d(day),
            point: point.into(),
        }
    }

    fn problem(town: &str, day: &str, deadline: &str, closed: Option<&str>) -> Problem {
        Problem {
            region: "330110".into(),
            town: town.into(),
            day: d(day),
            deadline: d(deadline),
            closed_on: closed.map(d),
        }
    }

    #[test]
    fn hand_checked_months() {
        let visits = vec![
            visit("A镇", "2026-03-02", "p1"),
            visit("A镇", "2026-03-05", "p2"),
            visit("A镇", "2026-03-09", "p1"),
            visit("B镇", "2026-03-03", "q1"),
            visit("C镇", "2026-03-04", "r1"),
            visit("A镇", "2026-04-02", "p1"),
        ];
        let problems = vec![
            // A镇, March: closed in time, closed one day late, overdue.
            problem("A镇", "2026-03-02", "2026-03-17", Some("2026-03-17")),
            problem("A镇", "2026-03-05", "2026-03-20", Some("2026-03-21")),
            problem("A镇", "2026-03-09", "2026-03-24", None),
            // A镇, April: not yet due.
            problem("A镇", "2026-04-02", "2026-04-17", None),
        ];
        let rows = compute(&visits, &problems, d("2026-04-10"), Weights::default(), false);
        let get = |town: &str, month: &str| {
            rows.iter()
                .find(|r| r.town == town && r.month == month)
                .and_then(|r| r.figures.clone())
                .unwrap()
        };
        let a = get("A镇", "2026-03");
        assert_eq!((a.places, a.problems, a.overdue), (2, 3, 1));
        assert!((a.discovery_rate - 1.5).abs() < 1e-9);
        assert!((a.rectification_rate - 1.0 / 3.0).abs() < 1e-9);
        assert!((a.index - (3.0 + 5.0 + 20.0 * 2.0 / 3.0)).abs() < 1e-9);
        assert_eq!(a.rank, 3);
        // B镇 and C镇 tie at 0: both rank 1.
        assert_eq!((get("B镇", "2026-03").rank, get("C镇", "2026-03").rank), (1, 1));
        assert_eq!(get("B镇", "2026-03").change, None);
        let april = get("A镇", "2026-04");
        assert!((april.rectification_rate - 1.0).abs() < 1e-9, "nothing due: 1");
        assert!((april.change.unwrap() - (1.0 - a.index)).abs() < 1e-9);
        assert!(!rows.iter().any(|r| r.month == "2026-02"), "no inspections, no row");
    }

    #[test]
    fn small_towns_are_suppressed_and_not_ranked() {
        let mut visits: Vec<Visit> = (0..5).map(|n| visit("A镇", "2026-03-02", &format!("p{n}"))).collect();
        visits.push(visit("B镇", "2026-03-02", "q"));
        let rows = compute(&visits, &[], d("2026-04-01"), Weights::default(), true);
        let b = rows.iter().find(|r| r.town == "B镇").unwrap();
        assert!(b.figures.is_none());
        let a = rows.iter().find(|r| r.town == "A镇").unwrap();
        assert_eq!(a.figures.as_ref().unwrap().rank, 1);
    }

    #[test]
    fn weights_parse() {
        assert_eq!(Weights::parse("1,5,20"), Ok(Weights::default()));
        assert!(Weights::parse("1,5").is_err());
        assert!(Weights::parse("1,-5,20").is_err());
        assert!(Weights::parse("1,x,20").is_err());
    }
}
