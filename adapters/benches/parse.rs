//! `cargo bench -p adapters`: parse-and-map throughput of each source, in records per
//! second on one core, over a generated world in every delivery format.
//! Target (ARCHITECTURE.md): at least 50,000 records/s per core for every source.

use std::time::Instant;

use entities::Source;

fn main() {
    let scale: u64 = std::env::var("QIANCHUAN_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let dir = std::env::temp_dir().join(format!("qianchuan-bench-{}", std::process::id()));
    let summary = match adapters::demo::generate(&dir, scale, 42) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot write the bench world: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "parse and map, one core, a world of {} records (QIANCHUAN_BENCH_SCALE={scale})",
        summary.records()
    );
    println!(
        "{:<14} {:>10} {:>12} {:>14} {:>8}",
        "source", "records", "MB", "records/s", "target"
    );
    let mut all_ok = true;
    for source in Source::ALL {
        let files: Vec<Vec<u8>> = summary
            .files
            .iter()
            .filter(|f| {
                f.parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n == source.slug())
                    .unwrap_or(false)
            })
            .filter_map(|f| std::fs::read(f).ok())
            .collect();
        let bytes: usize = files.iter().map(Vec::len).sum();
        let mut best = f64::MAX;
        let mut records = 0;
        for _ in 0..3 {
            let started = Instant::now();
            records = 0;
            for f in &files {
                match adapters::parse(*source, "bench", f) {
                    Ok(parsed) => records += parsed.items.len(),
                    Err(e) => {
                        eprintln!("{source}: {e}");
                        std::process::exit(1);
                    }
                }
            }
            best = best.min(started.elapsed().as_secs_f64());
        }
        let rate = records as f64 / best;
        let ok = rate >= 50_000.0;
        all_ok &= ok;
        println!(
            "{:<14} {:>10} {:>12.1} {:>14.0} {:>8}",
            source.slug(),
            records,
            bytes as f64 / 1e6,
            rate,
            if ok { "met" } else { "MISSED" }
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{}",
        if all_ok {
            "all sources meet 50,000 records/s"
        } else {
            "some sources miss 50,000 records/s"
        }
    );
}
