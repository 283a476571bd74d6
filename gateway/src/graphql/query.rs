//! The query root.

use async_graphql::{Context, Object, ID};

use super::case_order::{self, CaseOrder};
pub use super::filter::CaseFilter;
use super::in_place::InPlace;
use super::scalars::{parse_global_id, parse_id_of, NodeKind};
use super::types::{Case, CaseConnection, Node, Party, Source, Viewer};
use super::{limits, readable_store, viewer};

/// What a filtered look-up over cases costs in the complexity budget, whatever it selects:
/// a text search scans every visible case, so a thousand aliased ones do not pass as cheap.
pub fn filter_cost(filter: &Option<CaseFilter>) -> usize {
    match filter {
        // Substring and name searches scan (no index serves them).
        Some(f) if f.text.is_some() || f.party_name.is_some() => 250,
        Some(f) if f.identifier.is_some() || f.case_number.is_some() || f.party_id.is_some() => 25,
        _ => 10,
    }
}

pub struct Query;

#[Object]
impl Query {
    /// Any object by its global ID; `null` when it does not exist or is outside your scope.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let store = readable_store(ctx)?;
        Ok(match parse_global_id(&id)? {
            (NodeKind::Case, n) => store
                .case_by_id(n)
                .await
                .map_err(crate::error::ApiError::from)?
                .map(|c| Node::Case(Case(c))),
            (NodeKind::Party, n) => store
                .party_by_id(n)
                .await
                .map_err(crate::error::ApiError::from)?
                .map(|p| Node::Party(Party(p))),
            (NodeKind::Task | NodeKind::Finding, _) => None,
        })
    }

    /// One case by ID; `null` when it does not exist or is outside your scope.
    async fn case(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<InPlace<Case>>> {
        let n = parse_id_of(NodeKind::Case, &id)?;
        Ok(readable_store(ctx)?
            .case_by_id(n)
            .await
            .map_err(crate::error::ApiError::from)?
            .map(|case| InPlace(Case(case))))
    }

    /// One case by its source and the key it has there (JDBH, 线索编号, SXBH, id, 工单编号).
    async fn case_by_source_key(
        &self,
        ctx: &Context<'_>,
        source: Source,
        source_key: String,
    ) -> async_graphql::Result<Option<Case>> {
        let store = readable_store(ctx)?;
        Ok(store
            .case_by_source_key(source.into(), source_key.trim())
            .await
            .map_err(crate::error::ApiError::from)?
            .map(Case::from))
    }

    /// Cases you may see, filtered, in pages.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity + filter_cost(&filter)")]
    #[allow(clippy::too_many_arguments)] // one per GraphQL argument
    async fn cases(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "The last cases before `before` (or of the whole list); `first` is then left aside.")]
        last: Option<i32>,
        #[graphql(desc = "Page backward from this cursor.")] before: Option<String>,
        #[graphql(desc = "The sort (default: by id); cursors belong to the sort they came from.")] order_by: Option<
            CaseOrder,
        >,
    ) -> async_graphql::Result<CaseConnection> {
        let store = readable_store(ctx)?;
        let (sort, order) = case_order::sort_of(order_by);
        let window = case_order::window(
            sort,
            limits(ctx)?.max_page_size,
            first,
            after.as_deref(),
            last,
            before.as_deref(),
        )?;
        let query = filter.unwrap_or_default().to_query(store.scope())?;
        let page = store
            .cases_sorted(&query, sort, order, window)
            .await
            .map_err(crate::error::ApiError::from)?;
        Ok(case_order::connection(page, sort))
    }

    /// One party by ID; `null` unless it takes part in a case you may see.
    async fn party(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Party>> {
        let n = parse_id_of(NodeKind::Party, &id)?;
        Ok(readable_store(ctx)?
            .party_by_id(n)
            .await
            .map_err(crate::error::ApiError::from)?
            .map(Party))
    }

    /// The chain one case pulls across the five systems: every case you may see tied to it
    /// through a shared person, company, official, phone or case number, with the reason for each tie.
    #[graphql(complexity = "max_nodes.unwrap_or(200).max(1) as usize * child_complexity / 4 + 1")]
    async fn case_chain(
        &self,
        ctx: &Context<'_>,
        case_id: ID,
        #[graphql(default = 3)] max_depth: Option<i32>,
        #[graphql(default = 0.5)] min_score: Option<f64>,
        #[graphql(default = 200)] max_nodes: Option<i32>,
    ) -> async_graphql::Result<InPlace<super::chain::CaseChain>> {
        let id = parse_id_of(NodeKind::Case, &case_id)?;
        let params = super::chain::walk_params(ctx, max_depth, min_score, max_nodes)?;
        Ok(InPlace(super::chain::case_chain(ctx, id, params).await?))
    }

    /// Counts of the cases you may see, grouped by any of SOURCE, REGION, MONTH, CATEGORY,
    /// STAGE (none: one total). For aggregate-only roles, buckets under 5 are suppressed, and
    /// others with them so that none can be worked out from the rest (complementary suppression).
    #[graphql(complexity = "child_complexity + 4 * filter_cost(&filter)")]
    async fn case_stats(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
        group_by: Vec<super::stats::CaseDimension>,
    ) -> async_graphql::Result<Vec<super::stats::CaseBucket>> {
        super::stats::case_stats(ctx, filter, group_by).await
    }

    /// Monthly counts from `from` to `to` (`YYYY-MM`, by `openedOn`), one series per value
    /// of `by` (or one for all), with month-over-month and year-over-year change.
    #[graphql(complexity = "child_complexity + 4 * filter_cost(&filter)")]
    async fn case_trend(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
        by: Option<super::stats::CaseDimension>,
        from: String,
        to: String,
    ) -> async_graphql::Result<Vec<super::trend::TrendSeries>> {
        super::trend::case_trend(ctx, filter, by, from, to).await
    }

    /// Supervision tasks (督办) you may see: supervisors, those in their regions; an
    /// `agency`, those assigned to its unit.
    async fn supervision_tasks(
        &self,
        ctx: &Context<'_>,
        filter: Option<super::tasks::TaskFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<super::tasks::SupervisionTaskConnection> {
        super::tasks::list(ctx, filter, first.unwrap_or(20), after).await
    }

    /// The 平安督查指数 per town and month from `from` to `to` (`YYYY-MM`), ranked per month
    /// (月度晾晒). Scoped by region; `analyst`: towns with fewer than 5 places suppressed;
    /// `agency`: its own town's rows.
    async fn inspection_index(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
        region_prefix: Option<String>,
    ) -> async_graphql::Result<Vec<super::inspections::InspectionScore>> {
        super::inspections::index(ctx, from, to, region_prefix).await
    }

    /// The supervision models declared (MODELS.md): every role that reads records or
    /// aggregates, and `agency`.
    async fn supervision_models(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::models::SupervisionModel>> {
        super::models::supervision_models(ctx).await
    }

    /// The findings of a model: of the evaluation run with `asOf`, or (without it) of the
    /// automatic runs, with their lifecycle. Scoped like cases by the subject's regions;
    /// `congress`: shell_company only, masked; `agency`: those its `unit` receives; `analyst`:
    /// `findingStats` only.
    async fn findings(
        &self,
        ctx: &Context<'_>,
        model: ID,
        as_of: Option<super::scalars::Date>,
        filter: Option<super::models::FindingFilter>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<super::models::FindingConnection> {
        super::models::findings(ctx, model, as_of, filter, first, after).await
    }

    /// One finding (`Finding:N`), if you may read it.
    async fn finding(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<super::models::Finding>> {
        super::models::finding(ctx, id).await
    }

    /// Finding counts per level, region and month of the run (roles that read aggregates;
    /// `analyst`: small cells suppressed).
    async fn finding_stats(
        &self,
        ctx: &Context<'_>,
        model: ID,
        as_of: Option<super::scalars::Date>,
    ) -> async_graphql::Result<Vec<super::models::FindingBucket>> {
        super::models::finding_stats(ctx, model, as_of).await
    }

    /// Practitioner codes of the trade_access run with `asOf` (without it: the latest automatic
    /// run): admin, plc, procurator, discipline in their regions; an `agency` that is the
    /// trade's regulator, in its regions.
    async fn practitioner_codes(
        &self,
        ctx: &Context<'_>,
        as_of: Option<super::scalars::Date>,
        filter: Option<super::models::PractitionerCodeFilter>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<super::models::PractitionerCodeConnection> {
        super::models::practitioner_codes(ctx, as_of, filter, first, after).await
    }

    /// `citizen`: your own code in each trade you work in (the ID number of your token's `idn`
    /// claim), computed now: colour, the rule's name (never the judgment), where to appeal.
    async fn my_practitioner_code(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::models::OwnCode>> {
        super::models::my_practitioner_code(ctx).await
    }

    /// `employer`: a candidate's colour in `trade`, as if in post there, and when it was
    /// computed — nothing else. Audited with the employer and the person; at most
    /// `QIANCHUAN_EMPLOYER_DAILY_LOOKUPS` (100) a day per employer, then `LIMIT_EXCEEDED`.
    async fn verify_practitioner_code(
        &self,
        ctx: &Context<'_>,
        id_number: String,
        trade: super::models::Trade,
    ) -> async_graphql::Result<super::models::CodeCheck> {
        super::models::verify_practitioner_code(ctx, id_number, trade).await
    }

    /// A recorded 平安督 inspection (`inspector` in its regions, or admin).
    async fn inspection(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<Option<super::inspections::Inspection>> {
        super::inspections::inspection(ctx, id).await
    }

    /// The governance index (一镇一指数) per region or town and month, from `from` to `to`
    /// (`YYYY-MM`), with colour and escalating warning; weights and thresholds are configured.
    async fn governance_index(
        &self,
        ctx: &Context<'_>,
        filter: Option<CaseFilter>,
        from: String,
        to: String,
        #[graphql(default_with = "Some(super::governance::GovernanceLevel::Town)")] level: Option<
            super::governance::GovernanceLevel,
        >,
    ) -> async_graphql::Result<Vec<super::governance::GovernanceScore>> {
        let level = level.unwrap_or(super::governance::GovernanceLevel::Town);
        super::governance::governance_index(ctx, filter, from, to, level).await
    }

    /// Who looked at which cases and parties, newest first (`admin` and `auditor`).
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<super::audit_log::AuditFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<super::audit_log::AuditEntryConnection> {
        super::audit_log::audit_log(ctx, filter, first.unwrap_or(20), after).await
    }

    /// Input records refused for structural errors, with raw text, file, position and
    /// reason, newest first (admin only).
    async fn quarantine(
        &self,
        ctx: &Context<'_>,
        source: Option<Source>,
        file: Option<String>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Option<super::admin::QuarantineConnection>> {
        super::admin::quarantine(ctx, source, file, first.unwrap_or(20), after)
            .await
            .map(Some)
    }

    /// The verified identity behind your token.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let v = viewer(ctx)?;
        Ok(Viewer {
            sub: v.sub.clone(),
            role: v.role.as_str().to_string(),
            regions: v.regions.clone(),
        })
    }
}
