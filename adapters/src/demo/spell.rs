//! The spellings of identifiers, dates and names that the interface documents list.

use super::rng::Rng;

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

pub fn id_number(rng: &mut Rng, id: &str) -> String {
    match rng.below(10) {
        0 if id.ends_with('X') => id.to_lowercase(),
        1 => format!("{} {} {}", &id[..6], &id[6..14], &id[14..]),
        2 => full_width(id),
        _ => id.to_string(),
    }
}

pub fn phone(rng: &mut Rng, p: &str) -> String {
    match rng.below(8) {
        0 => format!("+86 {}-{}-{}", &p[..3], &p[3..7], &p[7..]),
        1 => format!("86-{p}"),
        2 => format!("{} {} {}", &p[..3], &p[3..7], &p[7..]),
        3 => full_width(p),
        _ => p.to_string(),
    }
}

pub fn masked_phone(p: &str) -> String {
    format!("{}****{}", &p[..3], &p[7..])
}

/// `(2022)浙0110民初12号` in one of its spellings.
pub fn court_no(rng: &mut Rng, n: &str) -> String {
    match rng.below(8) {
        0 => n.replacen('(', "（", 1).replacen(')', "）", 1),
        1 => n.replacen('(', "[", 1).replacen(')', "]", 1),
        2 => n.replacen('(', "〔", 1).replacen(')', "〕", 1),
        3 => full_width(&n[..6]) + &n[6..],
        4 => n.replacen(')', ") ", 1),
        _ => n.to_string(),
    }
}

pub fn police_no(rng: &mut Rng, n: &str) -> String {
    match rng.below(8) {
        0 => n.to_lowercase(),
        1 => format!("{} {} {}", &n[..13], &n[13..19], &n[19..]),
        _ => n.to_string(),
    }
}

pub fn proc_no(rng: &mut Rng, n: &str) -> String {
    match rng.below(6) {
        0 => n.replace('〔', "[").replace('〕', "]"),
        1 => n.replace('〔', "（").replace('〕', "）"),
        2 => n.replace('〔', "(").replace('〕', ")"),
        _ => n.to_string(),
    }
}

pub fn date_compact_or_dashed(rng: &mut Rng, y: u32, m: u32, d: u32) -> String {
    if rng.percent(50) {
        format!("{y}{m:02}{d:02}")
    } else {
        format!("{y}-{m:02}-{d:02}")
    }
}

pub fn date_chinese_styles(rng: &mut Rng, y: u32, m: u32, d: u32) -> String {
    match rng.below(3) {
        0 => format!("{y}年{m}月{d}日"),
        1 => format!("{y}/{m}/{d}"),
        _ => format!("{y}-{m:02}-{d:02}"),
    }
}

/// Breaks the check character of an ID number.
pub fn corrupt_id(id: &str) -> String {
    let last = if id.ends_with('1') { '2' } else { '1' };
    format!("{}{last}", &id[..17])
}

pub fn spaced_name(rng: &mut Rng, name: &str) -> String {
    if rng.percent(5) && name.chars().count() == 2 {
        let mut chars = name.chars();
        let (a, b) = (chars.next().unwrap_or(' '), chars.next().unwrap_or(' '));
        format!("{a} {b}")
    } else {
        name.to_string()
    }
}
