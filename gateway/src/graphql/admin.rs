//! Admin-only types: provenance and quarantine.

use async_graphql::{Context, SimpleObject};
use entities::{quarantine, source_record};

use super::audit_log::DateTime;
use super::scalars::{decode_cursor, encode_cursor};
use super::types::{PageInfo, Source};
use super::{limits, store};

/// One stored version of a source record, verbatim (admin only).
#[derive(SimpleObject)]
pub struct SourceRecord {
    pub version: i32,
    /// The raw input exactly as received (a JSON line, a CSV row, an XML item).
    pub payload: String,
    /// SHA-256 of the payload, hex.
    pub content_hash: String,
    pub file: String,
    /// `line 12`, `row 4`, `item 6`.
    pub position: String,
    pub ingested_at: DateTime,
}

impl From<source_record::Model> for SourceRecord {
    fn from(m: source_record::Model) -> Self {
        SourceRecord {
            version: m.version,
            payload: m.payload,
            content_hash: m.content_hash,
            file: m.file,
            position: m.position,
            ingested_at: DateTime(m.ingested_at),
        }
    }
}

/// An input record refused for a structural error (admin only).
#[derive(SimpleObject)]
pub struct QuarantinedRecord {
    pub source: Option<Source>,
    pub file: String,
    pub position: String,
    /// `invalid_json`, `missing_key`, `missing_version`, `wrong_field_count`, `unterminated_quote`, …
    pub reason: String,
    pub detail: Option<String>,
    pub raw_text: String,
    pub ingested_at: DateTime,
}

#[derive(SimpleObject)]
pub struct QuarantineEdge {
    pub cursor: String,
    pub node: QuarantinedRecord,
}

#[derive(SimpleObject)]
pub struct QuarantineConnection {
    pub edges: Vec<QuarantineEdge>,
    pub page_info: PageInfo,
    pub total_count: i64,
}

fn record(m: quarantine::Model) -> QuarantinedRecord {
    QuarantinedRecord {
        source: entities::Source::parse(&m.source).map(Source::from),
        file: m.file,
        position: m.position,
        reason: m.reason,
        detail: m.detail,
        raw_text: m.raw_text,
        ingested_at: DateTime(m.ingested_at),
    }
}

pub async fn quarantine(
    ctx: &Context<'_>,
    source: Option<Source>,
    file: Option<String>,
    first: i32,
    after: Option<String>,
) -> async_graphql::Result<QuarantineConnection> {
    let (first, _) = limits(ctx)?.page(first, None)?;
    let before = after.as_deref().map(decode_cursor).transpose()?;
    let source = source.map(|s| entities::Source::from(s).as_str());
    let page = store(ctx)?
        .quarantined(source, file.as_deref(), first, before)
        .await
        .map_err(crate::error::ApiError::from)?;
    let edges: Vec<QuarantineEdge> = page
        .items
        .into_iter()
        .map(|m| QuarantineEdge {
            cursor: encode_cursor(m.id),
            node: record(m),
        })
        .collect();
    Ok(QuarantineConnection {
        page_info: PageInfo::of(
            &edges.iter().map(|e| &e.cursor).collect::<Vec<_>>(),
            page.has_next,
            before.is_some(),
        ),
        edges,
        total_count: page.total as i64,
    })
}
