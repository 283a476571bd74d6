//! `auditLog`: who looked at which cases and parties, for `admin` and `auditor`.

use async_graphql::{Context, InputObject, SimpleObject, ID};
use entities::audit_log;

use super::connection::Connection;
use super::scalars::{decode_cursor, global_id, parse_id_of, DateTime, NodeKind};
use super::{limits, store};
use hub::store::AuditQuery;

/// Which audit entries to list. All given conditions must hold.
#[derive(InputObject, Default)]
pub struct AuditFilter {
    /// The token subject (`sub`) who asked.
    pub subject: Option<String>,
    pub from: Option<DateTime>,
    pub to: Option<DateTime>,
    /// Entries that returned this party: "who has looked at this person?".
    pub party_id: Option<ID>,
    /// Entries that returned this case.
    pub case_id: Option<ID>,
}

/// One request that returned case or party data.
#[derive(SimpleObject)]
pub struct AuditEntry {
    pub at: DateTime,
    pub sub: String,
    pub role: String,
    pub operation: Option<String>,
    /// SHA-256 of the query text, hex.
    pub query_hash: String,
    /// The variables, with ID numbers and phones masked.
    pub variables: super::scalars::JsonValue,
    pub case_ids: Vec<ID>,
    pub party_ids: Vec<ID>,
}

/// Audit entries, newest first (Relay connection).
pub type AuditEntryConnection = Connection<AuditEntry>;

fn ids(value: &serde_json::Value, kind: NodeKind) -> Vec<ID> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_i64())
                .map(|n| global_id(kind, n))
                .collect()
        })
        .unwrap_or_default()
}

fn entry(m: audit_log::Model) -> AuditEntry {
    AuditEntry {
        at: DateTime(m.at),
        case_ids: ids(&m.case_ids, NodeKind::Case),
        party_ids: ids(&m.party_ids, NodeKind::Party),
        sub: m.sub,
        role: m.role,
        operation: m.operation,
        query_hash: m.query_hash,
        variables: super::scalars::JsonValue(m.variables),
    }
}

pub async fn audit_log(
    ctx: &Context<'_>,
    filter: Option<AuditFilter>,
    first: i32,
    after: Option<String>,
) -> async_graphql::Result<AuditEntryConnection> {
    let (first, _) = limits(ctx)?.page(first, None)?;
    let before = after.as_deref().map(decode_cursor).transpose()?;
    let f = filter.unwrap_or_default();
    let query = AuditQuery {
        subject: f.subject,
        from: f.from.map(|d| d.0),
        to: f.to.map(|d| d.0),
        party_id: f
            .party_id
            .as_ref()
            .map(|id| parse_id_of(NodeKind::Party, id))
            .transpose()?,
        case_id: f
            .case_id
            .as_ref()
            .map(|id| parse_id_of(NodeKind::Case, id))
            .transpose()?,
    };
    let page = store(ctx)?
        .audit_entries(&query, first, before)
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(AuditEntryConnection::of_page(page, before.is_some(), |m| m.id, entry))
}
