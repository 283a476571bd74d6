//! `qianchuan ingest`: files and folders in name order, counts per file.

use std::path::{Path, PathBuf};

use adapters::ingest::{ingest_file, FileReport};
use anyhow::Context;
use entities::Source;
use sea_orm::DatabaseConnection;

/// Expands folders into their files, in name order.
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
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
    line
}

/// Loads every file; returns how many were rejected whole.
pub async fn run(db: &DatabaseConnection, source: Source, paths: &[PathBuf], json: bool) -> anyhow::Result<usize> {
    let mut rejected = 0;
    let mut total = FileReport {
        file: "total".into(),
        ..Default::default()
    };
    for path in expand(paths)? {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let name = display_name(&path);
        let report = ingest_file(db, source, &name, &bytes)
            .await
            .with_context(|| format!("storing {}", path.display()))?;
        if report.rejected.is_some() {
            rejected += 1;
        }
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

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
