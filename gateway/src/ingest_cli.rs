//! `qianchuan ingest`: files and folders in name order, counts per file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use entities::{Feed, Source};
use hub::ingest::{ingest_file_with_progress, ingest_reader, FileReport, Link, Streamed, SEGMENT_BYTES};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Expands folders into their files, in name order. Every path is checked before anything
/// is loaded: a missing one stops the run with nothing stored.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    for path in paths {
        std::fs::metadata(path).with_context(|| format!("{}: cannot be read; nothing was loaded", path.display()))?;
    }
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("reading folder {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            inner.sort();
            files.extend(inner);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Loads files of 平安督 inspections or of a reference feed (read whole: reference files are
/// daily or monthly deltas); returns how many were rejected. Every path is checked before
/// anything is stored.
pub async fn run_facts(
    db: &hub::Db,
    feed: Feed,
    paths: &[PathBuf],
    json: bool,
    task_days: u32,
) -> anyhow::Result<usize> {
    let mut rejected = 0;
    let mut total = FileReport {
        file: "total".into(),
        ..Default::default()
    };
    let files = expand(paths)?;
    for path in files {
        let name = display_name(&path);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let loaded = match (feed, hub::ingest::refused_as_other_feed(feed, &name, &bytes)) {
            (_, Some(refused)) => Ok(refused),
            (Feed::Inspections, None) => hub::inspections::load::load_file(db, &name, &bytes, task_days).await,
            (_, None) => hub::reference::load_file(db, feed, &name, &bytes).await,
        };
        let report = loaded.map_err(|e| anyhow::anyhow!("storing {}: {e:?}", path.display()))?;
        rejected += usize::from(report.rejected.is_some());
        add_counts(&mut total, &report);
        if json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!("{}", summary(&report));
        }
    }
    if !json {
        println!("{}", summary(&total));
    }
    Ok(rejected)
}

/// Adds a file's counts to the run's total.
fn add_counts(total: &mut FileReport, report: &FileReport) {
    for (t, v) in [
        (&mut total.read, report.read),
        (&mut total.inserted, report.inserted),
        (&mut total.updated, report.updated),
        (&mut total.unchanged, report.unchanged),
        (&mut total.deleted, report.deleted),
        (&mut total.quarantined, report.quarantined),
    ] {
        *t += v;
    }
}

/// A one-line human summary of a file's counts.
pub fn summary(r: &FileReport) -> String {
    if let Some(reason) = &r.rejected {
        return format!("{}: REJECTED — {reason}", r.file);
    }
    let mut line = format!(
        "{}: read {}, inserted {}, updated {}, unchanged {}, deleted {}, quarantined {}",
        r.file, r.read, r.inserted, r.updated, r.unchanged, r.deleted, r.quarantined
    );
    for q in &r.quarantine {
        line.push_str(&format!("\n  quarantined at {}: {}", q.position, q.reason));
    }
    for w in &r.warnings {
        line.push_str(&format!("\n  note: {w}"));
    }
    if r.read == 0 && r.file != "total" {
        line.push_str("\n  note: the file holds no records");
    }
    line
}

/// Files larger than one segment are read in segments (all sources but the procuratorate's
/// JSON pages), so memory stays flat; smaller ones are read whole.
pub const STREAM_FROM_BYTES: u64 = SEGMENT_BYTES as u64;

/// Loads every file; returns how many were rejected whole.
/// With `announce` (a Redis URL and the events channel), running gateways are told which cases changed (for their subscriptions).
pub async fn run(
    db: &hub::Db,
    source: Source,
    paths: &[PathBuf],
    json: bool,
    announce: Option<(&str, &str)>,
) -> anyhow::Result<usize> {
    let mut rejected = 0;
    let mut total = FileReport {
        file: "total".into(),
        ..Default::default()
    };
    for path in expand(paths)? {
        let name = display_name(&path);
        let bar = progress_bar(&name);
        let on_progress = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        };
        let size = std::fs::metadata(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        let report = if let Some(refused) = refused(source.into(), &name, &path)? {
            Ok(refused)
        } else if size >= STREAM_FROM_BYTES && adapters::segment::segmentable(source) {
            let file = std::fs::File::open(&path).with_context(|| format!("reading {}", path.display()))?;
            let streamed = Streamed {
                size,
                segment_bytes: SEGMENT_BYTES,
            };
            ingest_reader(
                db,
                source,
                &name,
                std::io::BufReader::new(file),
                streamed,
                Link::Later,
                on_progress,
            )
            .await
        } else {
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            ingest_file_with_progress(db, source, &name, &bytes, Link::Later, on_progress).await
        }
        .with_context(|| format!("storing {}", path.display()))?;
        bar.finish_and_clear();
        if report.rejected.is_some() {
            rejected += 1;
        }
        if let Some((url, channel)) = announce {
            hub::events::announce_changes(Some(url), channel, report.changes.clone()).await;
        }
        add_counts(&mut total, &report);
        if json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!("{}", summary(&report));
        }
    }
    // Organization names in free text, once for the whole run (a crash before this point
    // leaves it to the next load, which completes it).
    let linking = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    linking.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    linking.set_message("linking organization names in free text");
    linking.enable_steady_tick(std::time::Duration::from_millis(250));
    hub::org_names::link_pending(db)
        .await
        .context("linking organization names in free text")?;
    linking.finish_and_clear();
    entities::linkage_journal::prune(db, entities::linkage_journal::KEEP_ROWS)
        .await
        .context("pruning the linkage journal")?;
    if !json {
        println!("{}", summary(&total));
    }
    Ok(rejected)
}

/// The report of a file refused whole because its first bytes are plainly another feed's.
fn refused(feed: Feed, name: &str, path: &Path) -> anyhow::Result<Option<FileReport>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    std::fs::File::open(path)
        .with_context(|| format!("reading {}", path.display()))?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(hub::ingest::refused_as_other_feed(feed, name, &head))
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// A file's progress on standard error, drawn only on a terminal (indicatif hides it
/// otherwise): `file  [#####.....]  12,000/50,000  8000 records/s  5s left`. The rate and time left
/// are indicatif's, smoothed over the recent chunks, so a slow start or a fast end does not
/// swing them.
fn progress_bar(file: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{prefix}  [{bar:30}]  {human_pos}/{human_len}  {rate}  {eta} left")
        .map(|s| {
            s.progress_chars("#>.")
                .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} records/s", state.per_sec());
                })
        })
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_prefix(file.to_string());
    bar
}
