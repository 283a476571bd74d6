//! The governance index (一镇一指数): a weighted sum of a town's (or region's) monthly signals,
//! four colours at configurable thresholds, and escalation — RED, or ORANGE for N consecutive
//! months, raises a warning that steps from REMIND to SUPERVISE to INTERVIEW.

use entities::{WarningAction, WarningColor};
use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use crate::store::Signals;

/// Weights, thresholds and N, from configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Governance {
    pub problems: f64,
    pub overdue: f64,
    pub repeat_complaints: f64,
    pub court_disputes: f64,
    pub unclosed: f64,
    pub dissatisfied: f64,
    /// Per problem a 平安督 inspection found in the place that month.
    pub inspection_problems: f64,
    /// Lower bounds of BLUE, ORANGE and RED.
    pub thresholds: [f64; 3],
    /// Consecutive ORANGE (or worse) months that raise a warning.
    pub escalate_after: u32,
}

impl Default for Governance {
    fn default() -> Self {
        Governance {
            problems: 1.0,
            overdue: 5.0,
            repeat_complaints: 3.0,
            court_disputes: 2.0,
            unclosed: 1.0,
            dissatisfied: 3.0,
            inspection_problems: 1.0,
            thresholds: [10.0, 25.0, 50.0],
            escalate_after: 3,
        }
    }
}

impl Governance {
    /// `problems=1,overdue=5,…`, `10,25,50` and N, as configured.
    pub fn parse(weights: &str, thresholds: &str, escalate_after: u32) -> Result<Governance, String> {
        let mut g = Governance {
            escalate_after,
            ..Governance::default()
        };
        for pair in weights.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("weight {pair:?} is not name=number"))?;
            let value: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("weight {pair:?} is not a number"))?;
            match name.trim() {
                "problems" => g.problems = value,
                "overdue" => g.overdue = value,
                "repeat_complaints" => g.repeat_complaints = value,
                "court_disputes" => g.court_disputes = value,
                "unclosed" => g.unclosed = value,
                "dissatisfied" => g.dissatisfied = value,
                "inspection_problems" => g.inspection_problems = value,
                other => {
                    return Err(format!(
                        "unknown weight {other:?} (problems, overdue, repeat_complaints, court_disputes, unclosed, dissatisfied, inspection_problems)"
                    ))
                }
            }
        }
        let t: Vec<f64> = thresholds
            .split(',')
            .map(|t| t.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("thresholds {thresholds:?} are not numbers"))?;
        match t.as_slice() {
            [a, b, c] if a < b && b < c => g.thresholds = [*a, *b, *c],
            _ => {
                return Err(format!(
                    "thresholds {thresholds:?}: three increasing numbers, the lower bounds of BLUE, ORANGE and RED"
                ))
            }
        }
        if escalate_after == 0 {
            return Err("escalate_after must be at least 1".into());
        }
        Ok(g)
    }

    pub fn index(&self, s: &Signals) -> f64 {
        let v = self.problems * s.problems as f64
            + self.overdue * s.overdue as f64
            + self.repeat_complaints * s.repeat_complaints as f64
            + self.court_disputes * s.court_disputes as f64
            + self.unclosed * s.unclosed as f64
            + self.dissatisfied * s.dissatisfied as f64
            + self.inspection_problems * s.inspection_problems as f64;
        (v * 100.0).round() / 100.0
    }

    pub fn color(&self, index: f64) -> WarningColor {
        match index {
            i if i >= self.thresholds[2] => WarningColor::Red,
            i if i >= self.thresholds[1] => WarningColor::Orange,
            i if i >= self.thresholds[0] => WarningColor::Blue,
            _ => WarningColor::Green,
        }
    }
}

/// One place in one month.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub region: Option<String>,
    pub town: Option<String>,
    pub month: String,
    /// `None` when suppressed.
    pub signals: Option<Signals>,
    pub index: Option<f64>,
    pub color: Option<WarningColor>,
    pub warning: Option<WarningAction>,
    /// Consecutive months with a warning, this one included.
    pub warning_months: u32,
}

fn months(from: NaiveDate, to: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let (mut y, mut m) = (from.year(), from.month());
    while (y, m) <= (to.year(), to.month()) {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// Signals by month, by (region, town).
type ByPlace<'a> = BTreeMap<(Option<String>, Option<String>), BTreeMap<String, &'a Signals>>;

/// Scores every place that has cases, for every month from `from` to `to`; a month without
/// cases is GREEN and breaks a streak. `suppress`: places with fewer than `small_cell`
/// problems in a month answer no figures (and count as GREEN for escalation), and so do the
/// places hidden to protect them (`crate::suppression`: complementary suppression over
/// region × town × month).
pub fn score(g: &Governance, signals: &[Signals], from: NaiveDate, to: NaiveDate, suppress: Option<u64>) -> Vec<Score> {
    let hidden_cells: std::collections::BTreeSet<(Option<String>, Option<String>, String)> = match suppress {
        None => Default::default(),
        Some(limit) => {
            let cells: Vec<(Vec<Option<String>>, u64)> = signals
                .iter()
                .filter_map(|s| {
                    let month = s.month.clone()?;
                    Some((
                        vec![s.region.clone(), s.town.clone(), Some(month)],
                        s.problems.max(0) as u64,
                    ))
                })
                .collect();
            let flags = crate::suppression::suppressed(&cells, limit);
            cells
                .into_iter()
                .zip(flags)
                .filter(|(_, hidden)| *hidden)
                .map(|((key, _), _)| (key[0].clone(), key[1].clone(), key[2].clone().unwrap_or_default()))
                .collect()
        }
    };
    let mut by_place: ByPlace = BTreeMap::new();
    for s in signals {
        if let Some(month) = &s.month {
            by_place
                .entry((s.region.clone(), s.town.clone()))
                .or_default()
                .insert(month.clone(), s);
        }
    }
    let mut out = Vec::new();
    for ((region, town), by_month) in by_place {
        let (mut hot, mut warned) = (0u32, 0u32);
        for month in months(from, to) {
            let found = by_month.get(&month).copied();
            let hidden = found.is_some() && hidden_cells.contains(&(region.clone(), town.clone(), month.clone()));
            let index = if hidden {
                0.0
            } else {
                found.map(|s| g.index(s)).unwrap_or(0.0)
            };
            let color = g.color(index);
            hot = if matches!(color, WarningColor::Orange | WarningColor::Red) {
                hot + 1
            } else {
                0
            };
            let warning_now = color == WarningColor::Red || (color == WarningColor::Orange && hot >= g.escalate_after);
            warned = if warning_now { warned + 1 } else { 0 };
            let warning = match warned {
                0 => None,
                1 => Some(WarningAction::Remind),
                2 => Some(WarningAction::Supervise),
                _ => Some(WarningAction::Interview),
            };
            out.push(Score {
                region: region.clone(),
                town: town.clone(),
                month,
                signals: if hidden {
                    None
                } else {
                    Some(found.cloned().unwrap_or(Signals {
                        region: region.clone(),
                        town: town.clone(),
                        month: None,
                        ..Signals::default()
                    }))
                },
                index: (!hidden).then_some(index),
                color: (!hidden).then_some(color),
                warning: if hidden { None } else { warning },
                warning_months: warned,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(month: &str, problems: i64, overdue: i64, repeat: i64, court: i64, unclosed: i64) -> Signals {
        Signals {
            region: Some("330110".into()),
            town: Some("仓前街道".into()),
            month: Some(month.into()),
            problems,
            overdue,
            repeat_complaints: repeat,
            court_disputes: court,
            unclosed,
            ..Signals::default()
        }
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn index_and_colour_of_hand_checked_months() {
        let g = Governance::default();
        // 4 + 5×1 + 3×0 + 2×1 + 1×2 = 13 → BLUE (10 ≤ 13 < 25).
        assert_eq!(g.index(&s("2022-01", 4, 1, 0, 1, 2)), 13.0);
        assert_eq!(g.color(13.0), WarningColor::Blue);
        // 10 + 5×4 + 3×2 + 2×3 + 1×8 = 50 → RED.
        assert_eq!(g.index(&s("2022-01", 10, 4, 2, 3, 8)), 50.0);
        assert_eq!(
            (g.color(9.99), g.color(25.0), g.color(50.0)),
            (WarningColor::Green, WarningColor::Orange, WarningColor::Red)
        );
    }

    #[test]
    fn orange_escalates_after_n_months_and_red_at_once() {
        let g = Governance::default();
        let orange = |m| s(m, 10, 3, 0, 0, 0); // 25 → ORANGE
        let signals = vec![
            orange("2022-01"),
            orange("2022-02"),
            orange("2022-03"),
            orange("2022-04"),
            orange("2022-05"),
            s("2022-07", 10, 8, 0, 0, 0),
        ];
        let scores = score(&g, &signals, d("2022-01-01"), d("2022-07-31"), None);
        let w: Vec<Option<WarningAction>> = scores.iter().map(|x| x.warning).collect();
        assert_eq!(
            w,
            vec![
                None,
                None,
                Some(WarningAction::Remind),
                Some(WarningAction::Supervise),
                Some(WarningAction::Interview),
                None,
                Some(WarningAction::Remind)
            ],
            "three ORANGE months warn; the streak steps up; a quiet June resets it; RED warns at once"
        );
        assert_eq!(scores[5].color, Some(WarningColor::Green));
    }

    #[test]
    fn configuration_is_checked() {
        assert!(Governance::parse("problems=2,overdue=1", "5,10,20", 2).is_ok());
        assert!(Governance::parse("probelms=2", "5,10,20", 2).is_err());
        assert!(Governance::parse("", "5,10", 2).is_err());
        assert!(Governance::parse("", "20,10,5", 2).is_err());
        assert!(Governance::parse("", "5,10,20", 0).is_err());
    }

    #[test]
    fn small_places_are_suppressed() {
        let g = Governance::default();
        let scores = score(
            &g,
            &[s("2022-01", 3, 3, 0, 0, 0)],
            d("2022-01-01"),
            d("2022-01-31"),
            Some(5),
        );
        assert_eq!(
            (scores[0].index, scores[0].color, scores[0].signals.is_none()),
            (None, None, true)
        );
    }
}

/// What the index is computed per.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Per county-level region code.
    Region,
    /// Per town or street (镇街) inside its region.
    Town,
}

/// The first day of month `YYYY-MM`.
pub(crate) fn month_start(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok()
}

/// The months an index is computed over.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    from: NaiveDate,
    to: NaiveDate,
}

impl Window {
    /// From the month of `from` to the month of `to` (first days of months).
    pub fn between(from: NaiveDate, to: NaiveDate) -> Window {
        Window { from, to }
    }

    pub fn parse(from: &str, to: &str) -> crate::Result<Window> {
        let (Some(from_m), Some(to_m)) = (month_start(from), month_start(to)) else {
            return Err(crate::Error::bad_input("from and to are months, YYYY-MM"));
        };
        if from_m > to_m || from_m + chrono::Duration::days(3700) < to_m {
            return Err(crate::Error::bad_input(
                "from must not be after to, and the range is at most 10 years",
            ));
        }
        Ok(Window { from: from_m, to: to_m })
    }
}

/// The index as `store` may see it (`Forbidden` for roles without aggregates); places are
/// suppressed below `SMALL_CELL` problems for roles that see aggregates only.
pub async fn compute(
    store: &crate::store::ScopedStore,
    g: &Governance,
    mut query: crate::store::CaseQuery,
    window: Window,
    level: Level,
) -> crate::Result<Vec<Score>> {
    let aggregates = store.aggregates()?;
    let (from_m, to_m) = (window.from, window.to);
    let end = to_m
        .checked_add_months(chrono::Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(to_m);
    query.opened_from = Some(query.opened_from.map_or(from_m, |f| f.max(from_m)));
    query.opened_to = Some(query.opened_to.map_or(end, |t| t.min(end)));
    let by_town = level == Level::Town;
    let mut signals = aggregates.governance_signals(&query, by_town).await?;
    // Overdue supervision tasks count as overdue rectifications of their place and month.
    for (region, town, month) in aggregates.overdue_tasks(from_m, end).await? {
        let town = if by_town { town } else { None };
        match signals
            .iter_mut()
            .find(|s| s.region == region && s.town == town && s.month.as_deref() == Some(month.as_str()))
        {
            Some(s) => s.overdue += 1,
            None => signals.push(Signals {
                region,
                town,
                month: Some(month),
                overdue: 1,
                ..Default::default()
            }),
        }
    }
    // The problems 平安督 inspections found (the inspection index feeds this one, MODELS.md),
    // as the viewer may see them: a town suppressed there (analyst, < 5 places) adds nothing.
    let month = crate::inspections::index::month_of;
    let inspections = store
        .inspection_index(
            &month(from_m),
            &month(to_m),
            query.region_prefix.as_deref(),
            crate::inspections::day_of(chrono::Utc::now()),
            crate::inspections::index::Weights::default(),
        )
        .await?;
    for row in inspections {
        let Some(found) = row.figures.map(|f| i64::from(f.problems)).filter(|n| *n > 0) else {
            continue;
        };
        let (region, town) = (Some(row.region), if by_town { Some(row.town) } else { None });
        match signals
            .iter_mut()
            .find(|s| s.region == region && s.town == town && s.month.as_deref() == Some(row.month.as_str()))
        {
            Some(s) => s.inspection_problems += found,
            None => signals.push(Signals {
                region,
                town,
                month: Some(row.month),
                inspection_problems: found,
                ..Default::default()
            }),
        }
    }
    let suppress = store
        .scope()
        .suppresses_small_cells()
        .then_some(crate::suppression::SMALL_CELL);
    Ok(score(g, &signals, from_m, to_m, suppress))
}
