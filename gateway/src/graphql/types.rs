//! The object types of the schema. Values leave through here, so masking happens here.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, Interface, Object, SimpleObject, ID};
use entities::ids::phone::mask_phone;
use entities::{case, party};

use super::connection::Connection;
use super::loaders::PartiesByCase;
use super::scalars::{global_id, Date, NodeKind};
use super::{limits, readable_store, store};

/// The five source systems.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::Source")]
pub enum Source {
    /// 政法委执法监督平台: law-enforcement supervision.
    Enforcement,
    /// 纪委监委执纪监督: discipline inspection and supervision.
    Discipline,
    /// 人大司法监督: people's congress judicial oversight.
    Congress,
    /// 检察院法律监督: procuratorial legal oversight.
    Procuratorate,
    /// 社会监督: public reporting (12345, petitions, media).
    Social,
}

/// The supervision loop: 发现 → 督办 → 整改 → 回访 → 销号.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::LoopStage")]
pub enum LoopStage {
    /// 发现问题: a problem was found.
    Discovered,
    /// 督办通报: a supervision notice was issued.
    Notified,
    /// 整改落实: the agency is rectifying.
    Rectifying,
    /// 回访: the supervisor revisited.
    Revisited,
    /// 销号: closed.
    Closed,
}

/// The satisfaction (满意度) a complainant or deputy recorded.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::Satisfaction")]
pub enum Satisfaction {
    /// 满意
    Satisfied,
    /// 基本满意
    FairlySatisfied,
    /// 不满意
    Dissatisfied,
}

/// A person or an organization.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entities::PartyKind")]
pub enum PartyKind {
    Person,
    Organization,
}

/// Anything with a global ID.
// One short-lived value per `node` answer: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub enum Node {
    Case(Case),
    Party(Party),
}

/// One record of one source system, in the unified shape.
pub struct Case(pub std::sync::Arc<case::Model>);

impl From<case::Model> for Case {
    fn from(model: case::Model) -> Case {
        Case(model.into())
    }
}

#[Object]
impl Case {
    async fn id(&self) -> ID {
        global_id(NodeKind::Case, self.0.id)
    }
    /// The system the record comes from.
    async fn source(&self) -> Source {
        self.0.source.into()
    }
    /// The record's key in its source: JDBH, 线索编号, SXBH, id or 工单编号.
    async fn source_key(&self) -> &str {
        &self.0.source_key
    }
    /// The source's version of the record shown.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// The source's own category label (问题类型, 问题类别, SXLX, kind, 诉求类型).
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    /// The source's own status label.
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    /// The loop stage, normalized where the source has a loop.
    async fn stage(&self) -> Option<LoopStage> {
        self.0.stage.map(LoopStage::from)
    }
    /// The satisfaction the complainant (SOCIAL 满意度) or deputy (CONGRESS) recorded.
    async fn satisfaction(&self) -> Option<Satisfaction> {
        self.0.satisfaction.map(Satisfaction::from)
    }
    /// The 6-digit region code (GB/T 2260).
    async fn region_code(&self) -> Option<&str> {
        self.0.region_code.as_deref()
    }
    /// Town or street (镇街), as given.
    async fn town(&self) -> Option<&str> {
        self.0.town.as_deref()
    }
    /// The handling or supervised agency.
    async fn agency(&self) -> Option<&str> {
        self.0.agency.as_deref()
    }
    async fn opened_on(&self) -> Option<Date> {
        self.0.opened_on.map(Date)
    }
    async fn closed_on(&self) -> Option<Date> {
        self.0.closed_on.map(Date)
    }
    /// When the hub last stored a change to this case (a new version, a deletion, a stage).
    async fn updated_at(&self) -> super::scalars::DateTime {
        super::scalars::DateTime(self.0.updated_at)
    }
    /// Normalized case numbers the record carries or cites.
    async fn case_numbers(&self) -> Vec<String> {
        self.0.case_number_list()
    }
    /// The chain this case pulls (as `caseChain` with this case as the root).
    #[graphql(complexity = "max_nodes.unwrap_or(200).max(1) as usize * child_complexity / 4 + 1")]
    async fn chain(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 3)] max_depth: Option<i32>,
        #[graphql(default = 0.5)] min_score: Option<f64>,
        #[graphql(default = 200)] max_nodes: Option<i32>,
    ) -> async_graphql::Result<super::chain::CaseChain> {
        let params = super::chain::walk_params(ctx, max_depth, min_score, max_nodes)?;
        super::chain::case_chain(ctx, self.0.id, params).await
    }
    /// Every stored version of the source record, verbatim, newest first (admin only).
    async fn provenance(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<super::admin::SourceRecord>>> {
        let rows = store(ctx)?
            .provenance(self.0.source, &self.0.source_key)
            .await
            .map_err(crate::error::ApiError::from)?;
        Ok(Some(rows.into_iter().map(Into::into).collect()))
    }
    /// The people and organizations taking part, with their roles as recorded.
    /// The effective criminal judgments carrying one of this case's case numbers (reference
    /// feed `convictions`): admin, plc, procurator and discipline only (others: `FORBIDDEN`).
    async fn convictions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::models::Conviction>> {
        let store = store(ctx)?;
        if !store.scope().reads_convictions() {
            return Err(crate::error::ApiError::Forbidden.into());
        }
        let numbers = self.0.case_number_list();
        let mut out = Vec::new();
        for number in numbers {
            out.extend(
                store
                    .convictions_by_case_number(&number)
                    .await
                    .map_err(crate::error::ApiError::from)?
                    .into_iter()
                    .map(Into::into),
            );
        }
        Ok(out)
    }
    async fn parties(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CaseParty>> {
        // Kept in memory: answered at once (the loader waits a moment to batch its reads).
        let remembered = readable_store(ctx)?
            .remembered_parties_of_cases(&[self.0.id])
            .await
            .map(|mut found| found.remove(&self.0.id));
        let parties = match remembered {
            Some(parties) => parties,
            None => ctx.data::<DataLoader<PartiesByCase>>()?.load_one(self.0.id).await?,
        };
        Ok(parties
            .unwrap_or_default()
            .into_iter()
            .map(|(link, party)| CaseParty {
                party: Party(party),
                role: link.role,
                name_as_recorded: link.name_as_recorded,
            })
            .collect())
    }
}

impl super::in_place::MayWait for Case {
    /// Those that read from the database, a loader or the linkage index.
    const FIELDS: &'static [&'static str] = &["provenance", "convictions", "parties", "chain"];
}

/// A party's part in one case.
#[derive(SimpleObject)]
pub struct CaseParty {
    pub party: Party,
    /// The role as the source recorded it (`犯罪嫌疑人`, `SUSPECT`, `被反映人`, …).
    pub role: String,
    /// The name exactly as the source wrote it.
    pub name_as_recorded: String,
}

/// One real person or organization, resolved across sources.
pub struct Party(pub party::Model);

#[Object]
impl Party {
    async fn id(&self) -> ID {
        global_id(NodeKind::Party, self.0.id)
    }
    async fn kind(&self) -> PartyKind {
        self.0.kind.into()
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Resident ID number; masked (`330106********1234`) for masking roles.
    async fn id_number(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let masked = store(ctx)?.scope().masked;
        Ok(self
            .0
            .id_number
            .as_ref()
            .map(|v| if masked { v.masked() } else { v.to_string() }))
    }
    /// Unified social credit code.
    async fn credit_code(&self) -> Option<&str> {
        self.0.credit_code.as_ref().map(|c| c.as_str())
    }
    /// Full phone numbers; masked (`138****1234`) for masking roles.
    async fn phones(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        let masked = store(ctx)?.scope().masked;
        Ok(self
            .0
            .phone_list()
            .into_iter()
            .map(|p| if masked { mask_phone(&p) } else { p })
            .collect())
    }
    /// What the market-regulation registry says of this enterprise (reference feed `registry`).
    async fn registration(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<super::models::Registration>> {
        let Some(code) = &self.0.credit_code else {
            return Ok(None);
        };
        Ok(store(ctx)?
            .registration(code.as_str())
            .await
            .map_err(crate::error::ApiError::from)?
            .map(super::models::Registration))
    }
    /// Where this person works in the five regulated trades (reference feed `practitioners`).
    async fn practices(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::models::Practice>> {
        let Some(id) = &self.0.id_number else {
            return Ok(Vec::new());
        };
        Ok(store(ctx)?
            .practices(id.as_str())
            .await
            .map_err(crate::error::ApiError::from)?
            .into_iter()
            .map(Into::into)
            .collect())
    }
    /// This person's effective criminal judgments (reference feed `convictions`): admin, plc,
    /// procurator and discipline only (others: `FORBIDDEN`).
    async fn convictions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<super::models::Conviction>> {
        let store = store(ctx)?;
        if !store.scope().reads_convictions() {
            return Err(crate::error::ApiError::Forbidden.into());
        }
        let Some(id) = &self.0.id_number else {
            return Ok(Vec::new());
        };
        Ok(store
            .convictions(id.as_str())
            .await
            .map_err(crate::error::ApiError::from)?
            .into_iter()
            .map(Into::into)
            .collect())
    }
    /// The cases the viewer may see that this party takes part in.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn cases(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<CaseConnection> {
        let (first, after) = limits(ctx)?.page(first.unwrap_or(20), after.as_deref())?;
        let page = readable_store(ctx)?
            .cases_of_party(self.0.id, first, after)
            .await
            .map_err(crate::error::ApiError::from)?;
        Ok(CaseConnection::of_page(page, false, |c| c.id, Case::from))
    }
}

/// A page of cases (Relay connection).
pub type CaseConnection = Connection<Case>;

/// Who the token says you are.
#[derive(SimpleObject)]
pub struct Viewer {
    pub sub: String,
    pub role: String,
    /// Region-code prefixes the token grants (empty for `admin`: every region).
    pub regions: Vec<String>,
}
