//! 特定行业准入: the code of one person in one trade (MODELS.md, Model 2 and its precise
//! readings), a pure function of their convictions, pending matters and `asOf`.

use chrono::{Datelike, Months, NaiveDate};
use entities::{CodeColor, Trade};

use super::declarations::Declaration;

/// What a conviction row says that the rules read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvictionFacts {
    pub charges: Vec<String>,
    pub penalty_kind: Option<String>,
    pub term_months: Option<i32>,
    pub effective_on: NaiveDate,
    pub released_on: Option<NaiveDate>,
    pub ban_scope: Option<String>,
    pub ban_years: Option<i32>,
}

/// When a penalty ended: `None` while it runs (a custodial term without an end date, also a
/// suspended sentence).
pub fn penalty_end(c: &ConvictionFacts) -> Option<NaiveDate> {
    match c.penalty_kind.as_deref().map(str::trim) {
        Some("免予刑事处罚") | Some("单处罚金") => Some(c.effective_on),
        Some("管制") => c.released_on.or_else(|| {
            let months = u32::try_from(c.term_months.unwrap_or(0)).unwrap_or(0);
            c.effective_on.checked_add_months(Months::new(months))
        }),
        _ => c.released_on,
    }
}

/// `start` + `years`, same month and day (29 February → 28 February).
pub fn add_years(start: NaiveDate, years: i64) -> NaiveDate {
    let year = start.year() + i32::try_from(years).unwrap_or(i32::MAX / 2).min(9000);
    NaiveDate::from_ymd_opt(year, start.month(), start.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, start.month(), 28))
        .unwrap_or(NaiveDate::MAX)
}

/// `as_of` < `start` + `years` (the anniversary itself is outside).
fn within(start: NaiveDate, years: i64, as_of: NaiveDate) -> bool {
    as_of < add_years(start, years)
}

/// Within `years` of the penalty's end, or the penalty still runs.
fn within_after_penalty(c: &ConvictionFacts, years: i64, as_of: NaiveDate) -> bool {
    match penalty_end(c) {
        None => true,
        Some(end) => within(end, years, as_of),
    }
}

const EDUCATION_CHARGES: &[&str] = &[
    "强奸罪",
    "强制猥亵、侮辱罪",
    "猥亵儿童罪",
    "拐卖妇女、儿童罪",
    "虐待罪",
    "虐待被监护、看护人罪",
    "组织卖淫罪",
];
const FOOD_DRUG_CHARGES: &[&str] = &[
    "生产、销售不符合安全标准的食品罪",
    "生产、销售有毒、有害食品罪",
    "生产、销售、提供假药罪",
    "生产、销售、提供劣药罪",
];
const MEDICAL_CHARGES: &[&str] = &["医疗事故罪", "非法行医罪"];
const DRIVER_CHARGES: &[&str] = &["危险驾驶罪", "交通肇事罪"];
const ELDERLY_CHARGES: &[&str] = &["虐待被监护、看护人罪", "遗弃罪", "虐待罪", "诈骗罪"];

fn charged_with(c: &ConvictionFacts, list: &[&str]) -> bool {
    c.charges.iter().any(|charge| list.contains(&charge.as_str()))
}

/// The rule names, in the order they are checked, with what a citizen is told.
pub const RULES: &[(&str, &str)] = &[
    ("occupational_ban", "人民法院判决的从业禁止"),
    ("education_offence", "教育培训行业禁止录用的犯罪记录"),
    ("food_drug_offence", "食品药品行业禁止从业的犯罪记录"),
    ("medical_recent_penalty", "刑罚执行未满或执行完毕未满规定年限"),
    ("medical_offence", "医疗事故或非法行医犯罪记录"),
    ("driver_offence", "危险驾驶或交通肇事犯罪记录"),
    ("elderly_offence", "养老服务行业禁止从业的犯罪记录"),
    ("recent_conviction", "刑罚执行完毕未满规定年限的犯罪记录"),
    ("pending_matter", "尚未办结的案件"),
];

/// What a citizen is told of a rule: its name, never the judgment.
pub fn rule_label(rule: &str) -> &'static str {
    RULES
        .iter()
        .find(|(name, _)| *name == rule)
        .map(|(_, label)| *label)
        .unwrap_or("")
}

/// One person's code in one trade: the colour, the rules that fired, and which convictions
/// (by index) each rule rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub color: CodeColor,
    pub rules: Vec<&'static str>,
    pub convictions: Vec<usize>,
    pub pending: bool,
}

/// The code of a person in `trade` (`driver`: some in-post row in the trade is a 驾驶员 post).
pub fn code(
    model: &Declaration,
    trade: Trade,
    driver: bool,
    convictions: &[ConvictionFacts],
    pending: bool,
    as_of: NaiveDate,
) -> Code {
    let years = |name: &str| model.parameter(name);
    let mut red: Vec<(&'static str, usize)> = Vec::new();
    for (i, c) in convictions.iter().enumerate() {
        let ban = c
            .ban_scope
            .as_deref()
            .is_some_and(|scope| scope == "全部" || scope == trade.chinese());
        if ban {
            let active = match (penalty_end(c), c.ban_years) {
                // Not started, but already covering the trade.
                (None, _) => true,
                (Some(start), Some(n)) => within(start, i64::from(n), as_of),
                (Some(_), None) => false,
            };
            if active {
                red.push(("occupational_ban", i));
            }
        }
        let fired = match trade {
            Trade::Education => charged_with(c, EDUCATION_CHARGES).then_some("education_offence"),
            Trade::FoodDrug => charged_with(c, FOOD_DRUG_CHARGES).then_some("food_drug_offence"),
            Trade::Medical => {
                if charged_with(c, MEDICAL_CHARGES) && within_after_penalty(c, years("medical_offence_years"), as_of) {
                    red.push(("medical_offence", i));
                }
                (c.penalty_kind.as_deref() != Some("免予刑事处罚")
                    && within_after_penalty(c, years("medical_penalty_years"), as_of))
                .then_some("medical_recent_penalty")
            }
            Trade::RoadTransport => {
                (driver && charged_with(c, DRIVER_CHARGES) && within(c.effective_on, years("driver_years"), as_of))
                    .then_some("driver_offence")
            }
            Trade::ElderlyCare => (charged_with(c, ELDERLY_CHARGES)
                && within_after_penalty(c, years("elderly_years"), as_of))
            .then_some("elderly_offence"),
        };
        if let Some(rule) = fired {
            red.push((rule, i));
        }
    }
    if !red.is_empty() {
        return finish(CodeColor::Red, red, false);
    }
    let mut yellow: Vec<(&'static str, usize)> = convictions
        .iter()
        .enumerate()
        .filter(|(_, c)| within_after_penalty(c, years("review_years"), as_of))
        .map(|(i, _)| ("recent_conviction", i))
        .collect();
    if pending {
        yellow.push(("pending_matter", usize::MAX));
    }
    if yellow.is_empty() {
        return finish(CodeColor::Blue, Vec::new(), false);
    }
    finish(CodeColor::Yellow, yellow, pending)
}

fn finish(color: CodeColor, fired: Vec<(&'static str, usize)>, pending: bool) -> Code {
    let mut rules: Vec<&'static str> = Vec::new();
    let mut convictions: Vec<usize> = Vec::new();
    for (rule, i) in fired {
        if !rules.contains(&rule) {
            rules.push(rule);
        }
        if i != usize::MAX && !convictions.contains(&i) {
            convictions.push(i);
        }
    }
    // The order of RULES, whatever the order of the convictions.
    rules.sort_by_key(|r| RULES.iter().position(|(name, _)| name == r));
    Code {
        color,
        rules,
        convictions,
        pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::declarations::{parse, SHIPPED};

    fn model() -> Declaration {
        parse(SHIPPED, "models.toml").unwrap().remove(1)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn conviction(charge: &str, kind: &str, effective: &str, released: Option<&str>) -> ConvictionFacts {
        ConvictionFacts {
            charges: vec![charge.into()],
            penalty_kind: Some(kind.into()),
            term_months: Some(12),
            effective_on: d(effective),
            released_on: released.map(d),
            ban_scope: None,
            ban_years: None,
        }
    }

    fn color(trade: Trade, driver: bool, c: &[ConvictionFacts], pending: bool, as_of: &str) -> CodeColor {
        code(&model(), trade, driver, c, pending, d(as_of)).color
    }

    #[test]
    fn lifelong_bars_in_education_and_food() {
        let c = [conviction("猥亵儿童罪", "有期徒刑", "2000-01-01", Some("2003-01-01"))];
        assert_eq!(color(Trade::Education, false, &c, false, "2030-01-01"), CodeColor::Red);
        // Another trade: only a review while recent, then nothing.
        assert_eq!(color(Trade::Medical, false, &c, false, "2030-01-01"), CodeColor::Blue);
        let c = [conviction("生产、销售、提供假药罪", "单处罚金", "2010-05-05", None)];
        assert_eq!(color(Trade::FoodDrug, false, &c, false, "2040-01-01"), CodeColor::Red);
    }

    #[test]
    fn medical_counts_two_years_after_the_penalty_and_the_anniversary_is_outside() {
        let c = [conviction("盗窃罪", "有期徒刑", "2020-01-01", Some("2022-03-10"))];
        assert_eq!(color(Trade::Medical, false, &c, false, "2024-03-09"), CodeColor::Red);
        assert_eq!(color(Trade::Medical, false, &c, false, "2024-03-10"), CodeColor::Yellow);
        // Five years after the end: nothing.
        assert_eq!(color(Trade::Medical, false, &c, false, "2027-03-09"), CodeColor::Yellow);
        assert_eq!(color(Trade::Medical, false, &c, false, "2027-03-10"), CodeColor::Blue);
        // A suspended sentence (no end) is still running.
        let c = [conviction("盗窃罪", "有期徒刑", "2020-01-01", None)];
        assert_eq!(color(Trade::Medical, false, &c, false, "2035-01-01"), CodeColor::Red);
        // 免予刑事处罚 is not a penalty that runs: a review while recent.
        let c = [conviction("盗窃罪", "免予刑事处罚", "2023-01-01", None)];
        assert_eq!(color(Trade::Medical, false, &c, false, "2023-06-01"), CodeColor::Yellow);
        let c = [conviction("非法行医罪", "拘役", "2019-01-01", Some("2019-07-01"))];
        assert_eq!(color(Trade::Medical, false, &c, false, "2024-06-30"), CodeColor::Red);
        assert_eq!(color(Trade::Medical, false, &c, false, "2024-07-01"), CodeColor::Blue);
    }

    #[test]
    fn drivers_count_from_the_judgment_taking_effect() {
        let c = [conviction("危险驾驶罪", "拘役", "2020-02-29", Some("2020-06-01"))];
        assert_eq!(
            color(Trade::RoadTransport, true, &c, false, "2025-02-27"),
            CodeColor::Red
        );
        // 29 February + 5 years → 28 February, which is outside.
        assert_eq!(
            color(Trade::RoadTransport, true, &c, false, "2025-02-28"),
            CodeColor::Yellow
        );
        assert_eq!(
            color(Trade::RoadTransport, false, &c, false, "2025-02-27"),
            CodeColor::Yellow
        );
    }

    #[test]
    fn bans_cover_their_trade_or_all_and_run_from_the_penalty_end() {
        let mut c = conviction("盗窃罪", "有期徒刑", "2015-01-01", Some("2016-01-01"));
        c.ban_scope = Some("全部".into());
        c.ban_years = Some(10);
        for trade in Trade::ALL {
            assert_eq!(color(*trade, false, &[c.clone()], false, "2025-12-31"), CodeColor::Red);
            assert_eq!(color(*trade, false, &[c.clone()], false, "2026-01-01"), CodeColor::Blue);
        }
        c.ban_scope = Some("养老服务".into());
        assert_eq!(
            color(Trade::ElderlyCare, false, &[c.clone()], false, "2025-12-31"),
            CodeColor::Red
        );
        assert_eq!(
            color(Trade::Education, false, &[c.clone()], false, "2020-12-31"),
            CodeColor::Yellow
        );
        // A ban whose penalty is still running already covers the trade.
        c.released_on = None;
        assert_eq!(
            color(Trade::ElderlyCare, false, &[c], false, "2040-01-01"),
            CodeColor::Red
        );
    }

    #[test]
    fn elderly_care_fraud_and_pending_matters() {
        let c = [conviction("诈骗罪", "管制", "2020-01-01", None)];
        // 管制 without an end: sxrq + 12 months = 2021-01-01; five years after: 2026-01-01.
        assert_eq!(
            color(Trade::ElderlyCare, false, &c, false, "2025-12-31"),
            CodeColor::Red
        );
        assert_eq!(
            color(Trade::ElderlyCare, false, &c, false, "2026-01-01"),
            CodeColor::Blue
        );
        let found = code(&model(), Trade::Education, false, &[], true, d("2024-01-01"));
        assert_eq!((found.color, found.rules), (CodeColor::Yellow, vec!["pending_matter"]));
    }
}
