//! Pulling the procuratorate API incrementally (sources/procuratorate.md): follow
//! cursors, keep the `updatedSince` watermark in the database, honour `Retry-After`
//! on 429/503, back off on other 5xx a bounded number of times, stop at once on 401.
//! Each page is stored before the watermark moves, so a pull that fails resumes from
//! where it stopped without losing or duplicating anything.

use std::time::Duration;

use chrono::Utc;
use entities::{pull_state, Source};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};

use crate::ingest::{ingest_file_with_progress, FileReport, Link};

#[derive(Debug, Clone)]
pub struct PullConfig {
    pub base: String,
    pub token: String,
    pub limit: u32,
    /// Retries of one page after a 5xx without `Retry-After`.
    pub max_retries: u32,
    /// Waits for one page after 429/503 with `Retry-After`.
    pub max_waits: u32,
    /// First backoff; doubled each retry.
    pub backoff: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
    /// The largest page body accepted; a longer one fails the pull (nothing of it is stored).
    pub max_page_bytes: usize,
    /// The longest a whole pull may take.
    pub max_duration: Duration,
}

impl PullConfig {
    pub fn new(base: &str, token: &str) -> PullConfig {
        PullConfig {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            limit: 500,
            max_retries: 5,
            max_waits: 20,
            backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(300),
            max_page_bytes: 64 << 20,
            max_duration: Duration::from_secs(6 * 3600),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the procuratorate API refused the token (401): check --token; nothing more was stored")]
    Unauthorized,
    #[error("page {page} ({url}) failed: {reason}; what was stored stays, the next pull resumes from the watermark")]
    Page { page: u32, url: String, reason: String },
    #[error("page {page} was rejected: {reason}")]
    Rejected { page: u32, reason: String },
    #[error("storing page {page}: {source}")]
    Store {
        page: u32,
        source: crate::ingest_error::IngestError,
    },
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

/// What a pull did: one report per page, and the watermark it ended at.
#[derive(Debug, Default)]
pub struct PullReport {
    pub pages: Vec<FileReport>,
    pub watermark: Option<String>,
}

pub async fn watermark(db: &DatabaseConnection) -> Result<Option<String>, sea_orm::DbErr> {
    Ok(pull_state::Entity::find_by_id(Source::Procuratorate)
        .one(db)
        .await?
        .map(|s| s.watermark))
}

async fn save_watermark(db: &DatabaseConnection, value: &str) -> Result<(), sea_orm::DbErr> {
    let row = pull_state::ActiveModel {
        source: Set(Source::Procuratorate),
        watermark: Set(value.into()),
        updated_at: Set(Utc::now()),
    };
    if watermark(db).await?.is_some() {
        row.update(db).await?;
    } else {
        row.insert(db).await?;
    }
    Ok(())
}

fn later(a: &str, b: &str) -> bool {
    match (adapters::text::parse_instant(a), adapters::text::parse_instant(b)) {
        (Some(x), Some(y)) => x > y,
        _ => false,
    }
}

/// Pulls every page after the stored watermark and stores it; organization names in the
/// pages' free text are linked once at the end (also after a failure, for what was stored).
pub async fn pull_procuratorate(db: &DatabaseConnection, config: &PullConfig) -> Result<PullReport, PullError> {
    let pulled = pull_pages(db, config).await;
    let linked = match crate::org_names::link_pending(db).await {
        Ok(()) => entities::linkage_journal::prune(db, entities::linkage_journal::KEEP_ROWS)
            .await
            .map(|_| ())
            .map_err(crate::ingest_error::IngestError::from),
        Err(e) => Err(e),
    };
    let report = pulled?;
    linked.map_err(|source| PullError::Store {
        page: report.pages.len() as u32,
        source,
    })?;
    Ok(report)
}

async fn pull_pages(db: &DatabaseConnection, config: &PullConfig) -> Result<PullReport, PullError> {
    let started = tokio::time::Instant::now();
    let origin = reqwest::Url::parse(&config.base).map(|u| u.origin()).ok();
    // Redirects are followed only within the API's own origin (the token goes nowhere else).
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5 || Some(attempt.url().origin()) != origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .redirect(policy)
        .build()
        .map_err(|e| PullError::Page {
            page: 1,
            url: config.base.clone(),
            reason: e.to_string(),
        })?;
    let mut report = PullReport {
        watermark: watermark(db).await?,
        ..Default::default()
    };
    let since = report.watermark.clone();
    let mut cursor: Option<String> = None;
    let mut seen_cursors = std::collections::HashSet::new();
    let mut page: u32 = 0;
    loop {
        page += 1;
        if started.elapsed() > config.max_duration {
            return Err(PullError::Page {
                page,
                url: config.base.clone(),
                reason: format!(
                    "the pull took longer than {} s; the next pull resumes",
                    config.max_duration.as_secs()
                ),
            });
        }
        let mut url =
            reqwest::Url::parse(&format!("{}/api/v2/supervisions", config.base)).map_err(|e| PullError::Page {
                page,
                url: config.base.clone(),
                reason: e.to_string(),
            })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = &since {
                q.append_pair("updatedSince", s);
            }
            if let Some(c) = &cursor {
                q.append_pair("cursor", c);
            }
            q.append_pair("limit", &config.limit.to_string());
        }
        let body = fetch(&client, &url, config, page).await?;
        let parsed = adapters::procuratorate::parse_page("page", &body).map_err(|e| PullError::Rejected {
            page,
            reason: e.to_string(),
        })?;
        let items = parsed.parsed.items.len();
        if items > config.limit as usize {
            return Err(PullError::Rejected {
                page,
                reason: format!("the API sent {items} items when at most {} were asked", config.limit),
            });
        }
        let name = format!("page {page} ({})", url.query().unwrap_or(""));
        let stored = ingest_file_with_progress(db, Source::Procuratorate, &name, &body, Link::Later, |_, _| {})
            .await
            .map_err(|source| PullError::Store { page, source })?;
        if let Some(reason) = &stored.rejected {
            return Err(PullError::Rejected {
                page,
                reason: reason.clone(),
            });
        }
        report.pages.push(stored);
        if let Some(max) = parsed.max_updated_at {
            if report.watermark.as_deref().map(|w| later(&max, w)).unwrap_or(true) {
                save_watermark(db, &max).await?;
                report.watermark = Some(max);
            }
        }
        match parsed.next_cursor {
            Some(next) if !seen_cursors.insert(next.clone()) => {
                return Err(PullError::Rejected {
                    page,
                    reason: format!("the API sent cursor {next:?} a second time (the pull would never end)"),
                })
            }
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(report)
}

/// Reads a response body of at most `limit` bytes (announced or not).
async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(format!("the page is larger than {limit} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > limit {
            return Err(format!("the page is larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn fetch(
    client: &reqwest::Client,
    url: &reqwest::Url,
    config: &PullConfig,
    page: u32,
) -> Result<Vec<u8>, PullError> {
    let failed = |reason: String| PullError::Page {
        page,
        url: url.to_string(),
        reason,
    };
    let (mut retries, mut waits) = (0u32, 0u32);
    let mut backoff = config.backoff;
    loop {
        let response = client.get(url.clone()).bearer_auth(&config.token).send().await;
        let response = match response {
            Ok(r) => r,
            Err(e) if retries < config.max_retries => {
                tracing::warn!(page, error = %e, "request failed; retrying");
                retries += 1;
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                continue;
            }
            Err(e) => return Err(failed(format!("{e} (after {retries} retries)"))),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match status {
            200 if response.url().origin() != url.origin() => {
                return Err(failed(format!(
                    "redirected to another origin ({})",
                    response.url().origin().ascii_serialization()
                )))
            }
            200 => return read_bounded(response, config.max_page_bytes).await.map_err(failed),
            300..=399 => {
                return Err(failed(format!(
                    "HTTP {status}: a redirect to another origin is not followed"
                )))
            }
            401 => return Err(PullError::Unauthorized),
            429 | 503 if retry_after.is_some() && waits < config.max_waits => {
                let wait = retry_after.unwrap_or(config.backoff).min(config.max_retry_after);
                tracing::info!(
                    page,
                    status,
                    seconds = wait.as_secs(),
                    "asked to wait; retrying the same page"
                );
                waits += 1;
                tokio::time::sleep(wait).await;
            }
            500..=599 if retries < config.max_retries => {
                tracing::warn!(page, status, "server error; backing off");
                retries += 1;
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            _ => {
                return Err(failed(format!(
                    "HTTP {status} (after {retries} retries, {waits} waits)"
                )))
            }
        }
    }
}
