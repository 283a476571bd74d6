//! Reads of the audit log, for the roles that may read it.

use entities::{audit_log, audit_subject};
use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Page, ScopedStore};
use crate::auth::Role;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub subject: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub party_id: Option<i64>,
    pub case_id: Option<i64>,
}

fn returned(kind: &str, id: i64) -> Condition {
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
    ) -> ApiResult<Page<audit_log::Model>> {
        if !matches!(self.scope.role, Role::Admin | Role::Auditor) {
            return Err(ApiError::Forbidden);
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
            c = c.add(returned("PARTY", id));
        }
        if let Some(id) = q.case_id {
            c = c.add(returned("CASE", id));
        }
        let total = audit_log::Entity::find().filter(c.clone()).count(&self.db).await?;
        let mut select = audit_log::Entity::find().filter(c).order_by_desc(audit_log::Column::Id);
        if let Some(before) = before {
            select = select.filter(audit_log::Column::Id.lt(before));
        }
        let mut items = select.limit(first + 1).all(&self.db).await?;
        let has_next = items.len() as u64 > first;
        items.truncate(first as usize);
        Ok(Page { items, has_next, total })
    }
}
