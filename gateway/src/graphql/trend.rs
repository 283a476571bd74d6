//! `caseTrend`: monthly series with month-over-month and year-over-year change,
//! computed from the same scoped aggregate as `caseStats`.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::{Context, SimpleObject};
use chrono::{Datelike, NaiveDate};

use super::aggregates;
use super::filter::CaseFilter;
use super::stats::{CaseDimension, SMALL_CELL};
use crate::error::ApiError;
use hub::store::{Bucket, Dimension};

/// One month of a series.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// `YYYY-MM`.
    pub month: String,
    /// `null` when suppressed.
    pub count: Option<i32>,
    pub suppressed: bool,
    /// The month before (`null` when suppressed).
    pub previous_month: Option<i32>,
    /// Relative change against the month before: 0.117 is +11.7%; `null` when that month had none or was suppressed.
    pub month_over_month: Option<f64>,
    /// The same month a year before.
    pub last_year: Option<i32>,
    /// Relative change against the same month a year before.
    pub year_over_year: Option<f64>,
}

/// The monthly series of one value of the dimension (or of all cases).
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct TrendSeries {
    /// The dimension's value (a source, region code, category or stage); `null` for the total.
    pub key: Option<String>,
    pub points: Vec<TrendPoint>,
}

fn parse_month(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok()
}

fn shift(month: NaiveDate, months: i32) -> NaiveDate {
    let total = month.year() * 12 + month.month0() as i32 + months;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap_or(month)
}

fn label(month: NaiveDate) -> String {
    month.format("%Y-%m").to_string()
}

fn change(now: Option<u64>, before: Option<u64>) -> Option<f64> {
    match (now, before) {
        (Some(n), Some(b)) if b > 0 => Some(((n as f64 - b as f64) / b as f64 * 1000.0).round() / 1000.0),
        _ => None,
    }
}

/// Builds the series from month buckets; `suppress` hides counts under the small-cell limit.
pub fn series(
    buckets: &[Bucket],
    by: Option<Dimension>,
    from: NaiveDate,
    to: NaiveDate,
    suppress: bool,
) -> Vec<TrendSeries> {
    let key_of = |b: &Bucket| match by {
        Some(Dimension::Source) => b.source.clone(),
        Some(Dimension::Region) => b.region.clone(),
        Some(Dimension::Category) => b.category.clone(),
        Some(Dimension::Stage) => b.stage.clone(),
        Some(Dimension::Month) | None => None,
    };
    let mut counts: BTreeMap<(Option<String>, String), u64> = BTreeMap::new();
    let mut keys: BTreeSet<Option<String>> = BTreeSet::new();
    for b in buckets {
        let Some(month) = &b.month else { continue };
        let key = key_of(b);
        keys.insert(key.clone());
        *counts.entry((key, month.clone())).or_default() += b.count;
    }
    if keys.is_empty() && by.is_none() {
        keys.insert(None);
    }
    // Complementary suppression over the (series, month) cells, as for `caseStats`.
    let hidden: BTreeSet<(Option<String>, String)> = if suppress {
        let cells: Vec<(Vec<Option<String>>, u64)> = counts
            .iter()
            .map(|((key, month), n)| {
                let mut values = vec![Some(month.clone())];
                if by.is_some() {
                    values.push(key.clone());
                }
                (values, *n)
            })
            .collect();
        counts
            .keys()
            .zip(hub::suppression::suppressed(&cells, SMALL_CELL))
            .filter(|(_, hidden)| *hidden)
            .map(|(cell, _)| cell.clone())
            .collect()
    } else {
        BTreeSet::new()
    };
    let as_i32 = |n: Option<u64>| n.map(|n| i32::try_from(n).unwrap_or(i32::MAX));
    keys.into_iter()
        .map(|key| {
            let visible = |m: NaiveDate, n: u64| {
                let small = suppress && (n < SMALL_CELL || hidden.contains(&(key.clone(), label(m))));
                (!small).then_some(n)
            };
            let count = |m: NaiveDate| visible(m, counts.get(&(key.clone(), label(m))).copied().unwrap_or(0));
            let mut points = Vec::new();
            let mut m = from;
            while m <= to {
                let (now, prev, year) = (count(m), count(shift(m, -1)), count(shift(m, -12)));
                points.push(TrendPoint {
                    month: label(m),
                    count: as_i32(now),
                    suppressed: now.is_none(),
                    previous_month: as_i32(prev),
                    month_over_month: change(now, prev),
                    last_year: as_i32(year),
                    year_over_year: change(now, year),
                });
                m = shift(m, 1);
            }
            TrendSeries { key, points }
        })
        .collect()
}

pub async fn case_trend(
    ctx: &Context<'_>,
    filter: Option<CaseFilter>,
    by: Option<CaseDimension>,
    from: String,
    to: String,
) -> async_graphql::Result<Vec<TrendSeries>> {
    let store = aggregates(ctx)?;
    let (Some(from_m), Some(to_m)) = (parse_month(&from), parse_month(&to)) else {
        return Err(ApiError::bad_input("from and to are months, YYYY-MM").into());
    };
    if from_m > to_m || shift(from_m, 120) < to_m {
        return Err(ApiError::bad_input("from must not be after to, and the range is at most 10 years").into());
    }
    let by: Option<Dimension> = by.map(Into::into).filter(|d| *d != Dimension::Month);
    let mut dims = vec![Dimension::Month];
    dims.extend(by);
    let mut query = filter.unwrap_or_default().to_query(store.scope())?;
    // The year before `from` feeds the first points' changes.
    let earliest = shift(from_m, -12);
    query.opened_from = Some(query.opened_from.map_or(earliest, |f| f.max(earliest)));
    let end = shift(to_m, 1).pred_opt().unwrap_or(to_m);
    query.opened_to = Some(query.opened_to.map_or(end, |t| t.min(end)));
    let buckets = store
        .case_stats(&query, &dims)
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(series(
        &buckets,
        by,
        from_m,
        to_m,
        store.scope().suppresses_small_cells(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(month: &str, category: &str, count: u64) -> Bucket {
        Bucket {
            source: None,
            region: None,
            month: Some(month.into()),
            category: Some(category.into()),
            stage: None,
            count,
        }
    }

    #[test]
    fn changes_against_last_month_and_last_year() {
        let buckets = vec![
            bucket("2021-03", "村集体", 100),
            bucket("2022-02", "村集体", 50),
            bucket("2022-03", "村集体", 112),
        ];
        let m = |s| parse_month(s).unwrap();
        let s = series(&buckets, Some(Dimension::Category), m("2022-03"), m("2022-04"), false);
        assert_eq!(s.len(), 1);
        let march = &s[0].points[0];
        assert_eq!(
            (march.count, march.previous_month, march.last_year),
            (Some(112), Some(50), Some(100))
        );
        assert_eq!(march.year_over_year, Some(0.12));
        assert_eq!(march.month_over_month, Some(1.24));
        let april = &s[0].points[1];
        assert_eq!(
            (april.count, april.month_over_month, april.year_over_year),
            (Some(0), Some(-1.0), None)
        );
    }

    #[test]
    fn small_cells_are_suppressed_with_their_changes() {
        let buckets = vec![
            bucket("2022-02", "x", 3),
            bucket("2022-03", "x", 9),
            bucket("2022-04", "x", 11),
        ];
        let m = |s| parse_month(s).unwrap();
        let s = series(&buckets, None, m("2022-02"), m("2022-04"), true);
        assert_eq!(s[0].points[0].count, None);
        assert!(s[0].points[0].suppressed);
        // March is hidden too: the range's total less April would give February away.
        assert!(s[0].points[1].suppressed);
        assert_eq!(
            (s[0].points[2].count, s[0].points[2].month_over_month),
            (Some(11), None)
        );
        assert_eq!(shift(m("2022-01"), -1), m("2021-12"));
    }
}
