//! Scoped reads of the supervision models' findings and practitioner codes, and the code
//! look-ups of citizens and employers. Findings are scoped like cases (the subject's regions),
//! their evidence by the viewer's source scope, and every read is noted for the audit log.

use chrono::{NaiveDate, Utc};
use entities::{
    case, code_lookup, conviction_row, finding, finding_event, model_run, practitioner_code, practitioner_row,
    registry_row, CodeColor, FindingLevel, FindingStatus, Trade,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::page::keyset_page;
use super::{Page, ScopedStore};
use crate::error::{Error, Result};
use crate::models::codes::{code, rule_label, ConvictionFacts};
use crate::models::engine::{convictions_of, pending_matters, Evidence};
use crate::models::{Declaration, Models, Rule};
use crate::viewer::Viewer;

/// Filters of `findings`.
#[derive(Debug, Default, Clone)]
pub struct FindingQuery {
    pub levels: Option<Vec<FindingLevel>>,
    pub statuses: Option<Vec<FindingStatus>>,
    pub region_prefix: Option<String>,
    pub trade: Option<Trade>,
}

/// Filters of `practitionerCodes`.
#[derive(Debug, Default, Clone)]
pub struct CodeQuery {
    pub trade: Option<Trade>,
    pub colors: Option<Vec<CodeColor>>,
    pub region_prefix: Option<String>,
    pub id_number: Option<String>,
}

/// One bucket of finding counts (`analyst`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingCount {
    pub level: FindingLevel,
    pub region: Option<String>,
    pub month: String,
    pub count: u64,
}

/// A person's code in one trade, as a citizen is told it.
#[derive(Debug, Clone)]
pub struct OwnCode {
    pub trade: Trade,
    pub color: CodeColor,
    pub computed_at: chrono::DateTime<Utc>,
    /// The rules' names (never the judgment).
    pub rules: Vec<&'static str>,
    /// Where to appeal: the trade's regulators of the workplaces.
    pub appeal_to: Vec<String>,
}

/// Which run a list reads: the evaluation with that `asOf`, or the lifecycle (the automatic runs).
enum RunChoice {
    Lifecycle,
    Evaluation(NaiveDate),
    Nothing,
}

/// The models whose findings `scope` may read (`congress`: those about companies).
fn readable_models(scope: &crate::policy::Scope, models: &Models) -> Vec<String> {
    models
        .declarations
        .iter()
        .filter(|d| scope.reads_findings_about(d.subject))
        .map(|d| d.id.clone())
        .collect()
}

impl ScopedStore {
    fn finding_condition(&self, models: &Models) -> Result<Condition> {
        self.scope
            .subject_condition(
                self.db.get_database_backend(),
                "findings",
                Some(&readable_models(&self.scope, models)),
            )
            .ok_or(Error::Forbidden)
    }

    async fn run_choice(&self, model: &str, as_of: Option<NaiveDate>) -> Result<RunChoice> {
        let Some(as_of) = as_of else {
            return Ok(RunChoice::Lifecycle);
        };
        if crate::models::engine::latest_run_as_of(&self.db, model, as_of)
            .await?
            .is_some()
        {
            return Ok(RunChoice::Evaluation(as_of));
        }
        let automatic = crate::models::engine::latest_automatic(&self.db, model).await?;
        Ok(match automatic {
            Some(run) if run.as_of == as_of => RunChoice::Lifecycle,
            _ => RunChoice::Nothing,
        })
    }

    /// The findings of `model` this viewer may read: of the evaluation run with `as_of`, or
    /// (without it) of the automatic runs' lifecycle.
    pub async fn findings(
        &self,
        models: &Models,
        model: &Declaration,
        as_of: Option<NaiveDate>,
        q: &FindingQuery,
        first: u64,
        after: Option<i64>,
    ) -> Result<Page<finding::Model>> {
        let mut c = self
            .finding_condition(models)?
            .add(finding::Column::Model.eq(model.id.as_str()));
        match self.run_choice(&model.id, as_of).await? {
            RunChoice::Lifecycle => c = c.add(finding::Column::Automatic.eq(true)),
            RunChoice::Evaluation(d) => {
                c = c
                    .add(finding::Column::Automatic.eq(false))
                    .add(finding::Column::AsOf.eq(d))
            }
            RunChoice::Nothing => c = c.add(Expr::cust("1 = 0")),
        }
        if let Some(levels) = &q.levels {
            c = c.add(finding::Column::Level.is_in(levels.iter().copied()));
        }
        if let Some(statuses) = &q.statuses {
            c = c.add(finding::Column::Status.is_in(statuses.iter().copied()));
        }
        if let Some(trade) = q.trade {
            c = c.add(finding::Column::Trade.eq(trade));
        }
        if let Some(p) = &q.region_prefix {
            if !entities::ids::region::is_region_prefix(p) {
                return Err(Error::bad_input("regionPrefix must be 1 to 6 digits"));
            }
            c = c.add(Expr::cust(format!("\"findings\".\"regions\" LIKE '%,{p}%'")));
        }
        let page =
            keyset_page::<finding::Entity, _>(&self.db, c, finding::Column::Id, Order::Asc, first, after).await?;
        self.trail.parties(page.items.iter().map(|f| f.party_id));
        Ok(page)
    }

    /// One finding, if this viewer may read it.
    pub async fn finding(&self, models: &Models, id: i64) -> Result<Option<finding::Model>> {
        let found = finding::Entity::find_by_id(id)
            .filter(self.finding_condition(models)?)
            .one(&self.db)
            .await?;
        self.trail.parties(found.iter().map(|f| f.party_id));
        Ok(found)
    }

    /// The evidence of `f` this viewer may see: cases it can read (noted for the audit log),
    /// reference rows, and conviction rows only for the roles that read convictions.
    pub async fn finding_evidence(&self, f: &finding::Model) -> Result<Vec<Evidence>> {
        let all: Vec<Evidence> = serde_json::from_str(&f.evidence).unwrap_or_default();
        let case_ids: Vec<i64> = all
            .iter()
            .filter(|e| e.kind == "CASE")
            .filter_map(|e| e.id.parse().ok())
            .collect();
        let visible: Vec<i64> = if case_ids.is_empty() || !self.scope.records {
            Vec::new()
        } else {
            case::Entity::find()
                .select_only()
                .column(case::Column::Id)
                .filter(case::Column::Id.is_in(case_ids))
                .filter(self.scope.case_condition())
                .into_tuple()
                .all(&self.db)
                .await?
        };
        self.trail.cases(visible.iter().copied());
        Ok(all
            .into_iter()
            .filter(|e| match e.kind.as_str() {
                "CASE" => e.id.parse().is_ok_and(|id: i64| visible.contains(&id)),
                "CONVICTIONS" => self.scope.reads_convictions(),
                _ => true,
            })
            .collect())
    }

    /// The subject of a finding the viewer may read, as the reference data describe it: its
    /// name, and its credit code or ID number (no phones: those come from cases).
    pub async fn finding_subject(&self, f: &finding::Model) -> Result<entities::party::Model> {
        let identifier = f.subject_key.split('|').next().unwrap_or_default().to_string();
        let name = match f.subject_kind {
            entities::PartyKind::Organization => self.registration(&identifier).await?.map(|r| r.name),
            entities::PartyKind::Person => self.practices(&identifier).await?.into_iter().next().map(|p| p.name),
        };
        let stored = entities::party::Entity::find_by_id(f.party_id).one(&self.db).await?;
        let (id_number, credit_code) = match f.subject_kind {
            entities::PartyKind::Person => (entities::ids::IdNumber::parse(&identifier).ok(), None),
            entities::PartyKind::Organization => (None, entities::ids::CreditCode::parse(&identifier).ok()),
        };
        self.trail.parties([f.party_id]);
        Ok(entities::party::Model {
            id: f.party_id,
            kind: f.subject_kind,
            name: name
                .or_else(|| stored.as_ref().map(|p| p.name.clone()))
                .unwrap_or_else(|| identifier.clone()),
            id_number,
            credit_code,
            phones: serde_json::json!([]),
            identity: stored.map(|p| p.identity).unwrap_or_default(),
            updated_at: f.updated_at,
        })
    }

    /// A supervisor marks a finding a false alarm.
    pub async fn exempt_finding(
        &self,
        viewer: &Viewer,
        models: &Models,
        id: i64,
        reason: &str,
    ) -> Result<finding::Model> {
        if !self.scope.runs_models() {
            return Err(Error::Forbidden);
        }
        let f = self.finding(models, id).await?.ok_or(Error::NotFound("finding"))?;
        let txn = self.begin_write().await?;
        let updated = crate::models::lifecycle::exempt(&txn, viewer, &f, reason).await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// A supervisor opens the task(s) of a NEW finding.
    pub async fn open_finding_task(
        &self,
        viewer: &Viewer,
        models: &Models,
        id: i64,
        department: Option<String>,
        deadline: Option<NaiveDate>,
    ) -> Result<finding::Model> {
        if !self.scope.runs_models() {
            return Err(Error::Forbidden);
        }
        let f = self.finding(models, id).await?.ok_or(Error::NotFound("finding"))?;
        let model = models.get(&f.model).ok_or(Error::NotFound("supervision model"))?;
        if !f.automatic {
            return Err(Error::bad_input(
                "an evaluation's finding (a run with asOf) opens no task: use the automatic run's finding",
            ));
        }
        if f.status != FindingStatus::New {
            return Err(Error::bad_input(format!(
                "the finding is {}: only a NEW finding is tasked",
                f.status
            )));
        }
        let department = department.map(|d| d.trim().to_string());
        if department.as_deref() == Some("") {
            return Err(Error::bad_input("department must not be empty"));
        }
        let today = models.today();
        let deadline = deadline.unwrap_or(today + chrono::Duration::days(i64::from(models.task_days)));
        if deadline < today {
            return Err(Error::bad_input("deadline lies in the past"));
        }
        let subject = self.finding_subject(&f).await?;
        let txn = self.begin_write().await?;
        let updated =
            crate::models::lifecycle::open_tasks(&txn, viewer, model, &f, department, deadline, &subject.name).await?;
        txn.commit().await?;
        Ok(updated)
    }

    pub async fn finding_history(&self, finding_id: i64) -> Result<Vec<finding_event::Model>> {
        Ok(finding_event::Entity::find()
            .filter(finding_event::Column::FindingId.eq(finding_id))
            .order_by_asc(finding_event::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// The tasks a finding opened, if this viewer may read tasks.
    pub async fn finding_tasks(&self, finding_id: i64) -> Result<Vec<entities::supervision_task::Model>> {
        if self.scope.reads_tasks() {
            let mut page = self
                .tasks(
                    &super::TaskQuery {
                        finding_id: Some(finding_id),
                        ..Default::default()
                    },
                    50,
                    None,
                )
                .await?;
            return Ok(std::mem::take(&mut page.items));
        }
        Ok(Vec::new())
    }

    /// Finding counts per level, region and month of the run (`analyst`: small cells are
    /// suppressed by the caller).
    pub async fn finding_counts(&self, model: &Declaration, as_of: Option<NaiveDate>) -> Result<Vec<FindingCount>> {
        if !self.scope.aggregates || !self.scope.reads_findings_about(model.subject) {
            return Err(Error::Forbidden);
        }
        let mut c = Condition::all().add(finding::Column::Model.eq(model.id.as_str()));
        if let Some(prefixes) = self.scope.region_prefixes() {
            let mut regions = Condition::any().add(Expr::cust("1 = 0"));
            for p in prefixes {
                regions = regions.add(Expr::cust(format!("\"findings\".\"regions\" LIKE '%,{p}%'")));
            }
            c = c.add(regions);
        }
        match self.run_choice(&model.id, as_of).await? {
            RunChoice::Lifecycle => c = c.add(finding::Column::Automatic.eq(true)),
            RunChoice::Evaluation(d) => {
                c = c
                    .add(finding::Column::Automatic.eq(false))
                    .add(finding::Column::AsOf.eq(d))
            }
            RunChoice::Nothing => return Ok(Vec::new()),
        }
        let rows: Vec<(FindingLevel, Option<String>, NaiveDate, i64)> = finding::Entity::find()
            .select_only()
            .column(finding::Column::Level)
            .column(finding::Column::RegionCode)
            .column(finding::Column::AsOf)
            .column_as(finding::Column::Id.count(), "n")
            .filter(c)
            .group_by(finding::Column::Level)
            .group_by(finding::Column::RegionCode)
            .group_by(finding::Column::AsOf)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut out: Vec<FindingCount> = Vec::new();
        for (level, region, as_of, n) in rows {
            let month = as_of.format("%Y-%m").to_string();
            match out
                .iter_mut()
                .find(|b| b.level == level && b.region == region && b.month == month)
            {
                Some(b) => b.count += n as u64,
                None => out.push(FindingCount {
                    level,
                    region,
                    month,
                    count: n as u64,
                }),
            }
        }
        Ok(out)
    }

    /// The registry row of an enterprise (a party's facts).
    pub async fn registration(&self, credit_code: &str) -> Result<Option<registry_row::Model>> {
        Ok(registry_row::Entity::find()
            .filter(registry_row::Column::CreditCode.eq(credit_code))
            .one(&self.db)
            .await?)
    }

    /// A person's practitioner rows (a party's facts).
    pub async fn practices(&self, id_number: &str) -> Result<Vec<practitioner_row::Model>> {
        Ok(practitioner_row::Entity::find()
            .filter(practitioner_row::Column::IdNumber.eq(id_number))
            .order_by_asc(practitioner_row::Column::RowKey)
            .all(&self.db)
            .await?)
    }

    /// A person's convictions: `FORBIDDEN` for roles that do not read them.
    pub async fn convictions(&self, id_number: &str) -> Result<Vec<conviction_row::Model>> {
        if !self.scope.reads_convictions() {
            return Err(Error::Forbidden);
        }
        Ok(conviction_row::Entity::find()
            .filter(conviction_row::Column::IdNumber.eq(id_number))
            .order_by_asc(conviction_row::Column::RowKey)
            .all(&self.db)
            .await?)
    }

    /// Conviction rows whose case number is `case_number` (a judgment linked to its cases).
    pub async fn convictions_by_case_number(&self, case_number: &str) -> Result<Vec<conviction_row::Model>> {
        if !self.scope.reads_convictions() {
            return Err(Error::Forbidden);
        }
        Ok(conviction_row::Entity::find()
            .filter(conviction_row::Column::CaseNumber.eq(case_number))
            .order_by_asc(conviction_row::Column::RowKey)
            .all(&self.db)
            .await?)
    }

    /// Practitioner codes of the trade_access run with `as_of` (without it: the latest
    /// automatic run) this viewer may read.
    pub async fn practitioner_codes(
        &self,
        model: &Declaration,
        as_of: Option<NaiveDate>,
        q: &CodeQuery,
        first: u64,
        after: Option<i64>,
    ) -> Result<Page<practitioner_code::Model>> {
        if !self.scope.reads_practitioner_codes() {
            return Err(Error::Forbidden);
        }
        let mut c = self
            .scope
            .subject_condition(self.db.get_database_backend(), "practitioner_codes", None)
            .ok_or(Error::Forbidden)?;
        let run = match as_of {
            Some(d) => match crate::models::engine::latest_run_as_of(&self.db, &model.id, d).await? {
                Some(run) => Some(run),
                None => crate::models::engine::latest_automatic(&self.db, &model.id)
                    .await?
                    .filter(|r| r.as_of == d),
            },
            None => crate::models::engine::latest_automatic(&self.db, &model.id).await?,
        };
        c = c.add(practitioner_code::Column::RunId.eq(run.map(|r| r.id).unwrap_or(-1)));
        if let Some(trade) = q.trade {
            c = c.add(practitioner_code::Column::Trade.eq(trade));
        }
        if let Some(colors) = &q.colors {
            c = c.add(practitioner_code::Column::Color.is_in(colors.iter().copied()));
        }
        if let Some(p) = &q.region_prefix {
            if !entities::ids::region::is_region_prefix(p) {
                return Err(Error::bad_input("regionPrefix must be 1 to 6 digits"));
            }
            c = c.add(Expr::cust(format!("\"practitioner_codes\".\"regions\" LIKE '%,{p}%'")));
        }
        if let Some(id) = &q.id_number {
            let id = entities::ids::IdNumber::parse(id)
                .map_err(|_| Error::bad_input("idNumber is not a valid ID number"))?;
            c = c.add(practitioner_code::Column::IdNumber.eq(id.as_str()));
        }
        keyset_page::<practitioner_code::Entity, _>(
            &self.db,
            c,
            practitioner_code::Column::Id,
            Order::Asc,
            first,
            after,
        )
        .await
    }

    /// The latest runs of each model (for `supervisionModels`).
    pub async fn latest_run(&self, model: &str) -> Result<Option<model_run::Model>> {
        if !self.scope.reads_models() {
            return Err(Error::Forbidden);
        }
        crate::models::engine::latest_automatic(&self.db, model).await
    }

    /// A citizen's own codes, computed now: one per trade they are in post in.
    pub async fn my_codes(&self, viewer: &Viewer, models: &Models) -> Result<Vec<OwnCode>> {
        if !self.scope.looks_up_own_code() {
            return Err(Error::Forbidden);
        }
        let Some(id) = viewer.own_id.as_deref() else {
            return Err(Error::Forbidden);
        };
        self.trail.looked_up();
        let Some(model) = models.declarations.iter().find(|d| d.rule == Rule::TradeAccess) else {
            return Ok(Vec::new());
        };
        let posts: Vec<practitioner_row::Model> = practitioner_row::Entity::find()
            .filter(practitioner_row::Column::IdNumber.eq(id))
            .filter(practitioner_row::Column::InPost.eq(true))
            .all(&self.pool)
            .await?;
        let people = vec![id.to_string()];
        let facts = facts_of(&self.pool, &people).await?;
        let pending = !pending_matters(&self.pool, &people).await?.is_empty();
        let today = models.today();
        let now = Utc::now();
        let mut out = Vec::new();
        for trade in Trade::ALL {
            let in_trade: Vec<&practitioner_row::Model> = posts.iter().filter(|p| p.trade == *trade).collect();
            if in_trade.is_empty() {
                continue;
            }
            let driver = in_trade
                .iter()
                .any(|p| p.post.as_deref().is_some_and(|p| p.contains("驾驶员")));
            let found = code(model, *trade, driver, &facts, pending, today);
            let mut appeal_to: Vec<String> = in_trade
                .iter()
                .filter_map(|p| model.department(p.region_code.as_deref(), Some(*trade)))
                .collect();
            appeal_to.sort();
            appeal_to.dedup();
            out.push(OwnCode {
                trade: *trade,
                color: found.color,
                computed_at: now,
                rules: found.rules,
                appeal_to,
            });
        }
        Ok(out)
    }

    /// An employer verifies a candidate's code in `trade`, as if in post in it (a driver in
    /// ROAD_TRANSPORT): the colour only. Every look-up is recorded with the employer and the
    /// person; beyond the daily limit per employer (a calendar day in Asia/Shanghai, counted in
    /// the database) the answer is `LIMIT_EXCEEDED`.
    pub async fn verify_code(
        &self,
        viewer: &Viewer,
        models: &Models,
        id_number: &str,
        trade: Trade,
    ) -> Result<(CodeColor, chrono::DateTime<Utc>)> {
        if !self.scope.verifies_codes() {
            return Err(Error::Forbidden);
        }
        let Some(employer) = viewer.own_id.as_deref() else {
            return Err(Error::Forbidden);
        };
        let id = entities::ids::IdNumber::parse(id_number)
            .map_err(|_| Error::bad_input("idNumber is not a valid resident ID number"))?;
        self.trail.looked_up();
        let Some(model) = models.declarations.iter().find(|d| d.rule == Rule::TradeAccess) else {
            return Err(Error::NotFound("the trade_access model"));
        };
        let now = Utc::now();
        let day = crate::inspections::day_of(now).format("%Y-%m-%d").to_string();
        let txn = self.begin_write().await?;
        // One look-up of an employer at a time, so the limit holds under concurrent requests.
        entities::sql::lock_until_commit(&txn, crate::sql::lock_key(&format!("employer:{employer}"))).await?;
        let used = code_lookup::Entity::find()
            .filter(code_lookup::Column::Employer.eq(employer))
            .filter(code_lookup::Column::Day.eq(day.as_str()))
            .count(&txn)
            .await?;
        if used >= u64::from(models.employer_daily_limit) {
            return Err(Error::LimitExceeded(format!(
                "at most {} look-ups per employer and day",
                models.employer_daily_limit
            )));
        }
        let people = vec![id.as_str().to_string()];
        let facts = facts_of(&txn, &people).await?;
        let pending = !pending_matters(&txn, &people).await?.is_empty();
        let found = code(
            model,
            trade,
            trade == Trade::RoadTransport,
            &facts,
            pending,
            models.today(),
        );
        code_lookup::ActiveModel {
            employer: Set(employer.to_string()),
            sub: Set(viewer.sub.clone()),
            id_number: Set(id.as_str().to_string()),
            trade: Set(trade),
            day: Set(day),
            at: Set(now),
            color: Set(Some(found.color)),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok((found.color, now))
    }
}

async fn facts_of<C: ConnectionTrait>(db: &C, people: &[String]) -> Result<Vec<ConvictionFacts>> {
    Ok(convictions_of(db, people)
        .await?
        .into_values()
        .flatten()
        .map(|(f, _)| f)
        .collect())
}

/// What a citizen is told of each rule.
pub fn rule_labels(rules: &[&'static str]) -> Vec<&'static str> {
    rules.iter().map(|r| rule_label(r)).collect()
}
