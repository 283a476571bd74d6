//! 平安督 inspections of the demo world: a year (2023) of offline inspections of each demo
//! town, as the `inspections` CSV — some towns clean, some with problems that recur month after
//! month (their tasks, never closed in the files, are overdue).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::rng::Rng;
use super::world::REGIONS;

const POINTS: &[(&str, &str)] = &[
    ("农贸市场", "市场"),
    ("中心小学", "学校"),
    ("建筑工地", "工地"),
    ("养老院", "养老机构"),
    ("出租房", "出租房"),
    ("加油站", "危化品"),
    ("网吧", "娱乐场所"),
];

const PROBLEMS: &[(&str, &str)] = &[
    ("消防", "灭火器过期"),
    ("消防", "疏散通道堵塞"),
    ("治安", "监控设备损坏"),
    ("安全生产", "未落实安全员"),
    ("食品安全", "食品留样缺失"),
    ("交通", "车辆乱停影响通行"),
];

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes `inspections/pad_2023.csv` under `out`; returns its path.
pub fn write(out: &Path, seed: u64) -> std::io::Result<PathBuf> {
    let dir = out.join("inspections");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("pad_2023.csv");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(file, "{}", crate::inspections::COLUMNS.join(","))?;
    let mut rng = Rng::new(seed.wrapping_add(7));
    for (t, (code, _, town)) in REGIONS.iter().enumerate() {
        // A third of the towns are clean; the others find problems, some of them recurring.
        let clean = t % 3 == 0;
        let recurring = PROBLEMS[t % PROBLEMS.len()];
        for month in 1..=12u32 {
            let visits = 3 + rng.below(5) as usize;
            for v in 0..visits {
                let (point, kind) = POINTS[(t + v) % POINTS.len()];
                let day = 1 + rng.below(27);
                let id = format!("PAD-{code}-2023{month:02}-{v:02}");
                let at = format!("2023-{month:02}-{day:02} {:02}:{:02}", 8 + rng.below(9), rng.below(60));
                let head = format!("{id},{code},{town},{},{kind},{at}", field(&format!("{town}{point}")));
                let found = if clean { 0 } else { rng.below(3) as usize };
                if found == 0 {
                    writeln!(file, "{head},,,")?;
                }
                for n in 0..found {
                    let (category, description) = if n == 0 && t % 2 == 1 {
                        recurring
                    } else {
                        *rng.pick(PROBLEMS)
                    };
                    writeln!(file, "{head},{category},{description},{}", 1 + rng.below(5))?;
                }
            }
        }
    }
    file.flush()?;
    Ok(path)
}
