//! `governanceIndex`: the 一镇一指数 with colour warnings and escalation.

use async_graphql::{Context, Enum, SimpleObject};

use super::filter::CaseFilter;
use super::store;
use crate::error::ApiError;
pub(crate) use hub::governance::Window;
use hub::governance::{Governance, Score};
use hub::store::{CaseQuery, ScopedStore};

/// What the index is computed per.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "hub::governance::Level")]
pub enum GovernanceLevel {
    /// Per county-level region code.
    Region,
    /// Per town or street (镇街) inside its region.
    Town,
}

/// The four warning colours, from the configured thresholds.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::WarningColor")]
pub enum WarningColor {
    Green,
    Blue,
    Orange,
    Red,
}

/// What a warning asks for, stepping up month after month.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::WarningAction")]
pub enum WarningAction {
    /// 提醒
    Remind,
    /// 督办
    Supervise,
    /// 约谈
    Interview,
}

/// One place in one month. Figures are `null` when suppressed.
#[derive(SimpleObject, Clone)]
pub struct GovernanceScore {
    pub region: Option<String>,
    pub town: Option<String>,
    /// `YYYY-MM`.
    pub month: String,
    /// The weighted sum of the signals below.
    pub index: Option<f64>,
    pub color: Option<WarningColor>,
    /// RED, or ORANGE for the configured number of consecutive months.
    pub warning: Option<WarningAction>,
    /// Consecutive months with a warning, this one included.
    pub warning_months: i32,
    /// Cases opened that month (problems found).
    pub problems: Option<i32>,
    /// Cases past their rectification deadline without being closed by it, and supervision
    /// tasks past their deadline and not closed.
    pub overdue: Option<i32>,
    /// Public complaints whose phone recurs in another complaint of the region.
    pub repeat_complaints: Option<i32>,
    /// Disputes that reached a court.
    pub court_disputes: Option<i32>,
    /// Cases not closed.
    pub unclosed: Option<i32>,
    /// Closed ÷ opened.
    pub closure_rate: Option<f64>,
    /// Cases whose complainant or deputy recorded being dissatisfied (不满意).
    pub dissatisfied: Option<i32>,
    /// Problems 平安督 inspections found in the place that month (问题数; for `analyst`, only
    /// from towns with at least 5 places inspected).
    pub inspection_problems: Option<i32>,
    /// Satisfied or fairly satisfied ÷ cases with a satisfaction recorded (`null`: none recorded).
    pub satisfaction_rate: Option<f64>,
    pub suppressed: bool,
}

pub async fn governance_index(
    ctx: &Context<'_>,
    filter: Option<CaseFilter>,
    from: String,
    to: String,
    level: GovernanceLevel,
) -> async_graphql::Result<Vec<GovernanceScore>> {
    let store = store(ctx)?;
    let window = Window::parse(&from, &to).map_err(ApiError::from)?;
    let query = filter.unwrap_or_default().to_query(store.scope())?;
    Ok(compute(store, ctx.data::<Governance>()?, query, window, level).await?)
}

impl From<Score> for GovernanceScore {
    fn from(s: Score) -> GovernanceScore {
        let n = |v: i64| Some(i32::try_from(v).unwrap_or(i32::MAX));
        let sig = s.signals.as_ref();
        GovernanceScore {
            region: s.region.clone(),
            town: s.town.clone(),
            month: s.month.clone(),
            index: s.index,
            color: s.color.map(WarningColor::from),
            warning: s.warning.map(WarningAction::from),
            warning_months: i32::try_from(s.warning_months).unwrap_or(i32::MAX),
            problems: sig.and_then(|x| n(x.problems)),
            overdue: sig.and_then(|x| n(x.overdue)),
            repeat_complaints: sig.and_then(|x| n(x.repeat_complaints)),
            court_disputes: sig.and_then(|x| n(x.court_disputes)),
            unclosed: sig.and_then(|x| n(x.unclosed)),
            closure_rate: sig
                .filter(|x| x.problems > 0)
                .map(|x| ((x.problems - x.unclosed) as f64 / x.problems as f64 * 1000.0).round() / 1000.0),
            dissatisfied: sig.and_then(|x| n(x.dissatisfied)),
            inspection_problems: sig.and_then(|x| n(x.inspection_problems)),
            satisfaction_rate: sig
                .filter(|x| x.rated > 0)
                .map(|x| ((x.rated - x.dissatisfied) as f64 / x.rated as f64 * 1000.0).round() / 1000.0),
            suppressed: s.signals.is_none(),
        }
    }
}

/// The index as `store` may see it, as the schema's scores.
pub(crate) async fn compute(
    store: &ScopedStore,
    g: &Governance,
    query: CaseQuery,
    window: Window,
    level: GovernanceLevel,
) -> Result<Vec<GovernanceScore>, ApiError> {
    let scores = hub::governance::compute(store, g, query, window, level.into()).await?;
    Ok(scores.into_iter().map(GovernanceScore::from).collect())
}
