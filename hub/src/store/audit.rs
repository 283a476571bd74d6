//! Reads of the audit log, for the roles that may read it.

use std::collections::HashSet;

use entities::{audit_log, audit_subject, case, case_party, SubjectKind};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};

use super::page::keyset_page;
use super::{Page, ScopedStore};
use crate::error::{Error, Result};
use sea_orm::Order;

#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub subject: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub party_id: Option<i64>,
    pub case_id: Option<i64>,
}

fn returned(kind: SubjectKind, id: i64) -> Condition {
    Condition::all().add(
        audit_log::Column::Id.in_subquery(
            Query::select()
                .column(audit_subject::Column::AuditId)
                .from(audit_subject::Entity)
                .and_where(audit_subject::Column::Kind.eq(kind))
                .and_where(audit_subject::Column::SubjectId.eq(id))
                .to_owned(),
        ),
    )
}

impl ScopedStore {
    /// Audit entries, newest first; `admin` and `auditor` only.
    pub async fn audit_entries(
        &self,
        q: &AuditQuery,
        first: u64,
        before: Option<i64>,
    ) -> Result<Page<audit_log::Model>> {
        if !self.scope.reads_audit_log() {
            return Err(Error::Forbidden);
        }
        let mut c = Condition::all();
        if let Some(sub) = &q.subject {
            c = c.add(audit_log::Column::Sub.eq(sub.as_str()));
        }
        if let Some(from) = q.from {
            c = c.add(audit_log::Column::At.gte(from));
        }
        if let Some(to) = q.to {
            c = c.add(audit_log::Column::At.lte(to));
        }
        if let Some(id) = q.party_id {
            c = c.add(returned(SubjectKind::Party, id));
        }
        if let Some(id) = q.case_id {
            c = c.add(returned(SubjectKind::Case, id));
        }
        if let Some(in_regions) = self.auditor_condition() {
            c = c.add(in_regions);
        }
        let mut page =
            keyset_page::<audit_log::Entity, _>(&self.db, c, audit_log::Column::Id, Order::Desc, first, before).await?;
        self.withhold_outside_regions(&mut page.items).await?;
        Ok(page)
    }

    /// For an `auditor` (API.md): the entries citing a case in its regions, or a party of such
    /// a case; entries citing nothing (refused look-ups, citizens' and employers') only with
    /// the prefix `33`. `None` for admin.
    fn auditor_condition(&self) -> Option<Condition> {
        let regions = self.scope.region_condition()?;
        let cases_in_regions = Query::select()
            .column(case::Column::Id)
            .from(case::Entity)
            .cond_where(regions)
            .to_owned();
        let parties_in_regions = Query::select()
            .column(case_party::Column::PartyId)
            .from(case_party::Entity)
            .and_where(case_party::Column::CaseId.in_subquery(cases_in_regions.clone()))
            .to_owned();
        let citing = |kind: SubjectKind, subjects: sea_orm::sea_query::SelectStatement| {
            audit_log::Column::Id.in_subquery(
                Query::select()
                    .column(audit_subject::Column::AuditId)
                    .from(audit_subject::Entity)
                    .and_where(audit_subject::Column::Kind.eq(kind))
                    .and_where(audit_subject::Column::SubjectId.in_subquery(subjects))
                    .to_owned(),
            )
        };
        let mut visible = Condition::any()
            .add(citing(SubjectKind::Case, cases_in_regions))
            .add(citing(SubjectKind::Party, parties_in_regions));
        if self.scope.region_prefixes().is_some_and(crate::policy::sees_regionless) {
            visible = visible.add(Expr::cust(
                r#"NOT EXISTS (SELECT 1 FROM "audit_subjects" WHERE "audit_subjects"."audit_id" = "audit_log"."id")"#,
            ));
        }
        Some(visible)
    }

    /// Takes out of `entries` the ids of cited cases (and parties) outside an auditor's regions.
    async fn withhold_outside_regions(&self, entries: &mut [audit_log::Model]) -> Result<()> {
        let Some(regions) = self.scope.region_condition() else {
            return Ok(());
        };
        let listed = |v: &serde_json::Value| -> Vec<i64> {
            v.as_array()
                .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
                .unwrap_or_default()
        };
        let backend = sea_orm::ConnectionTrait::get_database_backend(&self.db);
        let cited: Vec<i64> = entries.iter().flat_map(|e| listed(&e.case_ids)).collect();
        let cited_parties: Vec<i64> = entries.iter().flat_map(|e| listed(&e.party_ids)).collect();
        let cases_in: HashSet<i64> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .filter(crate::sql::ids_in(backend, r#""cases"."id""#, &cited))
            .filter(regions.clone())
            .into_tuple::<i64>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        let parties_in: HashSet<i64> = case_party::Entity::find()
            .select_only()
            .column(case_party::Column::PartyId)
            .filter(crate::sql::ids_in(
                backend,
                r#""case_parties"."party_id""#,
                &cited_parties,
            ))
            .filter(
                case_party::Column::CaseId.in_subquery(
                    Query::select()
                        .column(case::Column::Id)
                        .from(case::Entity)
                        .cond_where(regions)
                        .to_owned(),
                ),
            )
            .into_tuple::<i64>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        for e in entries {
            let keep_cases: Vec<i64> = listed(&e.case_ids)
                .into_iter()
                .filter(|id| cases_in.contains(id))
                .collect();
            let keep_parties: Vec<i64> = listed(&e.party_ids)
                .into_iter()
                .filter(|id| parties_in.contains(id))
                .collect();
            e.case_ids = serde_json::json!(keep_cases);
            e.party_ids = serde_json::json!(keep_parties);
        }
        Ok(())
    }
}
