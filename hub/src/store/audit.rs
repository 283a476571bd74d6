//! Reads of the audit log, for the roles that may read it.

use std::collections::HashSet;

use entities::{audit_log, audit_subject, case, case_party, SubjectKind};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QuerySelect};

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

/// Entries citing the subject `id` of `kind`, found through the index by subject: on
/// PostgreSQL the GIN index over each entry's `subject_keys` (a case as its id, a party as minus
/// its id), on SQLite the rows of `audit_subjects`.
fn returned(backend: DbBackend, kind: SubjectKind, id: i64) -> Condition {
    let cond = match backend {
        DbBackend::Postgres => {
            let key = crate::audit::subject_key(kind, id);
            // `_int8` is `bigint[]`: sea-query reads square brackets in a custom expression as
            // quoting, and numbers no parameter inside them.
            Expr::cust_with_values(
                r#""audit_log"."subject_keys" @> CAST($1 AS _int8)"#,
                [format!("{{{key}}}")],
            )
        }
        _ => audit_log::Column::Id.in_subquery(
            Query::select()
                .column(audit_subject::Column::AuditId)
                .from(audit_subject::Entity)
                .and_where(audit_subject::Column::Kind.eq(kind))
                .and_where(audit_subject::Column::SubjectId.eq(id))
                .to_owned(),
        ),
    };
    Condition::all().add(cond)
}

/// The ids of `kind` an entry cites, from its own list (`case_ids` or `party_ids`), as a
/// column `subject_id`: what an entry is checked by, one entry at a time.
fn cited(backend: DbBackend, kind: SubjectKind) -> SelectStatement {
    let list = match kind {
        SubjectKind::Case => audit_log::Column::CaseIds,
        SubjectKind::Party => audit_log::Column::PartyIds,
    };
    let (function, element) = match backend {
        DbBackend::Postgres => ("json_array_elements_text", r#"CAST("element" AS bigint)"#),
        _ => ("json_each", r#""element"."value""#),
    };
    Query::select()
        .expr_as(Expr::cust(element), audit_subject::Column::SubjectId)
        .from_function(
            Func::cust(function).arg(Expr::col((audit_log::Entity, list))),
            Alias::new("element"),
        )
        .to_owned()
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
        let backend = sea_orm::ConnectionTrait::get_database_backend(&self.db);
        if let Some(id) = q.party_id {
            c = c.add(returned(backend, SubjectKind::Party, id));
        }
        if let Some(id) = q.case_id {
            c = c.add(returned(backend, SubjectKind::Case, id));
        }
        // A subject an auditor may not see finds nothing: its id is withheld from the entries
        // that cite it, so filtering by it would tell which of them do.
        if let Some(regions) = self.scope.region_condition() {
            let cases: Vec<i64> = q.case_id.into_iter().collect();
            let parties: Vec<i64> = q.party_id.into_iter().collect();
            let (cases_in, parties_in) = self.subjects_in_regions(regions, &cases, &parties).await?;
            if cases.len() > cases_in.len() || parties.len() > parties_in.len() {
                c = c.add(Expr::cust("1 = 0"));
            }
        }
        if let Some(in_regions) = self.auditor_condition(backend) {
            c = c.add(in_regions);
        }
        let mut page =
            keyset_page::<audit_log::Entity, _>(&self.db, c, audit_log::Column::Id, Order::Desc, first, before).await?;
        self.withhold_outside_regions(&mut page.items).await?;
        Ok(page)
    }

    /// For an `auditor` (API.md): the entries citing a case in its regions, or a party of such
    /// a case; entries citing nothing (refused look-ups, citizens' and employers') only with
    /// the prefix `33`. `None` for admin. Each entry is checked from its own lists, so a page of
    /// the newest entries reads those entries, not every subject in the regions. `OFFSET 0`
    /// (with the `LIMIT` SQLite needs before it) keeps PostgreSQL from hashing a subquery over
    /// every case in the regions instead (it chooses so for a whole scan of the log, not seeing
    /// that a page stops after a few entries).
    fn auditor_condition(&self, backend: DbBackend) -> Option<Condition> {
        let regions = self.scope.region_condition()?;
        let subject = || Alias::new("cited");
        let case_in_regions = Query::select()
            .expr(Expr::val(1))
            .from_subquery(cited(backend, SubjectKind::Case), subject())
            .inner_join(
                case::Entity,
                Expr::col((case::Entity, case::Column::Id)).equals((subject(), audit_subject::Column::SubjectId)),
            )
            .cond_where(regions.clone())
            .limit(1)
            .offset(0)
            .to_owned();
        let party_of_a_case_in_regions = Query::select()
            .expr(Expr::val(1))
            .from_subquery(cited(backend, SubjectKind::Party), subject())
            .inner_join(
                case_party::Entity,
                Expr::col((case_party::Entity, case_party::Column::PartyId))
                    .equals((subject(), audit_subject::Column::SubjectId)),
            )
            .inner_join(
                case::Entity,
                Expr::col((case::Entity, case::Column::Id)).equals((case_party::Entity, case_party::Column::CaseId)),
            )
            .cond_where(regions)
            .limit(1)
            .offset(0)
            .to_owned();
        let mut visible = Condition::any()
            .add(Expr::exists(case_in_regions))
            .add(Expr::exists(party_of_a_case_in_regions));
        if self.scope.region_prefixes().is_some_and(crate::policy::sees_regionless) {
            visible = visible.add(
                Condition::all()
                    .add(Expr::exists(cited(backend, SubjectKind::Case)).not())
                    .add(Expr::exists(cited(backend, SubjectKind::Party)).not()),
            );
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
        let cited_cases: Vec<i64> = entries.iter().flat_map(|e| listed(&e.case_ids)).collect();
        let cited_parties: Vec<i64> = entries.iter().flat_map(|e| listed(&e.party_ids)).collect();
        let (cases_in, parties_in) = self.subjects_in_regions(regions, &cited_cases, &cited_parties).await?;
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

    /// Which of `cases` lie in `regions`, and which of `parties` take part in a case there.
    async fn subjects_in_regions(
        &self,
        regions: Condition,
        cases: &[i64],
        parties: &[i64],
    ) -> Result<(HashSet<i64>, HashSet<i64>)> {
        if cases.is_empty() && parties.is_empty() {
            return Ok((HashSet::new(), HashSet::new()));
        }
        let backend = sea_orm::ConnectionTrait::get_database_backend(&self.db);
        let cases_in: HashSet<i64> = case::Entity::find()
            .select_only()
            .column(case::Column::Id)
            .filter(crate::sql::ids_in(backend, r#""cases"."id""#, cases))
            .filter(regions.clone())
            .into_tuple::<i64>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        let parties_in: HashSet<i64> = case_party::Entity::find()
            .select_only()
            .column(case_party::Column::PartyId)
            .filter(crate::sql::ids_in(backend, r#""case_parties"."party_id""#, parties))
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
        Ok((cases_in, parties_in))
    }
}
