//! Admin-only types: provenance and quarantine.

use async_graphql::{Context, SimpleObject};
use entities::{quarantine, source_record};

use super::connection::Connection;
use super::scalars::decode_cursor;
use super::scalars::DateTime;
use super::types::Source;
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
    /// The source system (`null` for a feed that is not one, such as `inspections`).
    pub source: Option<Source>,
    /// The feed the file was loaded as: `enforcement` … `social`, or `inspections`.
    pub feed: String,
    pub file: String,
    pub position: String,
    /// `invalid_json`, `missing_key`, `missing_version`, `wrong_field_count`, `unterminated_quote`, …
    pub reason: String,
    pub detail: Option<String>,
    pub raw_text: String,
    pub ingested_at: DateTime,
}

/// Quarantined records, newest first (Relay connection).
pub type QuarantineConnection = Connection<QuarantinedRecord>;

fn record(m: quarantine::Model) -> QuarantinedRecord {
    QuarantinedRecord {
        source: m.source.source().map(Source::from),
        feed: m.source.slug(),
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
    let source = source.map(|s| entities::Feed::from(entities::Source::from(s)));
    let page = store(ctx)?
        .quarantined(source, file.as_deref(), first, before)
        .await
        .map_err(crate::error::ApiError::from)?;
    Ok(QuarantineConnection::of_page(page, before.is_some(), |m| m.id, record))
}
