//! Masking of identifiers inside free text: what a masking role (`congress`) receives in
//! titles, summaries, names as recorded, task notes and subscription messages.
//!
//! The rule (API.md, "What masking masks"): any 18-character ID-shaped string (17 digits and a
//! digit or `X`), valid or not, and 15-digit legacy IDs keep their first 6 and last 4; mobiles
//! (`1[3-9]` and 9 digits, with or without `+86`/`86`) their first 3 and last 4; landlines
//! (area code and 7–8 digits) their area code and last 4 — in every spelling the interface
//! documents list: full-width digits, blanks, hyphens, dots or brackets inside.

use std::borrow::Cow;

use super::text::fold_width;

/// A maximal run of ASCII digits (after width folding), as char positions `start..end`.
#[derive(Debug, Clone, Copy)]
struct Group {
    start: usize,
    end: usize,
}

impl Group {
    fn len(&self) -> usize {
        self.end - self.start
    }
}

/// Characters that may stand between the digit groups of one spelled identifier.
fn is_joiner(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '\t' | '‐' | '—' | '–')
}

fn is_x(c: char) -> bool {
    matches!(c, 'X' | 'x')
}

/// What a run of digits is, and how it is masked.
fn masked_form(digits: &str, x_after: bool, groups: &[usize]) -> Option<(String, bool)> {
    let n = digits.len();
    let first_group = groups.first().copied().unwrap_or(n);
    // Every group of a spelled-out identifier is at least 3 digits long, but a country prefix.
    let groups_ok = |from: usize| groups[from..].iter().all(|g| *g >= 3);
    if x_after && n == 17 && groups_ok(0) {
        return Some((format!("{}********{}X", &digits[..6], &digits[14..]), true));
    }
    if n == 18 && groups_ok(0) {
        return Some((format!("{}********{}", &digits[..6], &digits[14..]), false));
    }
    if n == 15 && groups_ok(0) {
        return Some((format!("{}*****{}", &digits[..6], &digits[11..]), false));
    }
    let mobile = |d: &str| {
        let b = d.as_bytes();
        b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1])
    };
    if mobile(digits) && groups_ok(0) {
        return Some((format!("{}****{}", &digits[..3], &digits[7..]), false));
    }
    for prefix in ["0086", "86"] {
        if let Some(rest) = digits.strip_prefix(prefix) {
            let prefix_is_group = first_group == prefix.len() || first_group == n;
            if mobile(rest) && prefix_is_group && groups_ok(1.min(groups.len())) {
                return Some((format!("{prefix} {}****{}", &rest[..3], &rest[7..]), false));
            }
        }
    }
    let b = digits.as_bytes();
    if (10..=12).contains(&n) && b[0] == b'0' && b[1] != b'0' {
        let area = if b[1] == b'1' || b[1] == b'2' { 3 } else { 4 };
        // Spelled in groups, the first group is the area code.
        if (groups.len() == 1 || first_group == area) && groups_ok(0) {
            return Some((
                format!("{}{}{}", &digits[..area], "*".repeat(n - area - 4), &digits[n - 4..]),
                false,
            ));
        }
    }
    None
}

/// Masks every ID number and phone found in `text`; borrows when there is none.
pub fn mask_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| fold_width(c).is_ascii_digit()) {
        return Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let folded: Vec<char> = chars.iter().map(|c| fold_width(*c)).collect();
    let mut groups = Vec::new();
    let mut i = 0;
    while i < folded.len() {
        if folded[i].is_ascii_digit() {
            let start = i;
            while i < folded.len() && folded[i].is_ascii_digit() {
                i += 1;
            }
            groups.push(Group { start, end: i });
        } else {
            i += 1;
        }
    }
    // Whether group k and k+1 may belong to one identifier: at most two joiners between.
    let joined = |k: usize| {
        let (a, b) = (groups[k], groups[k + 1]);
        let gap = &folded[a.end..b.start];
        !gap.is_empty() && gap.len() <= 2 && gap.iter().all(|c| is_joiner(*c))
    };
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    let mut g = 0;
    while g < groups.len() {
        let mut matched = None;
        // The longest spelling first: up to four groups (`+86 138 0571 1234`).
        let mut last = g;
        while last + 1 < groups.len() && last < g + 3 && joined(last) {
            last += 1;
        }
        for end in (g..=last).rev() {
            let digits: String = groups[g..=end]
                .iter()
                .flat_map(|gr| folded[gr.start..gr.end].iter())
                .collect();
            let lens: Vec<usize> = groups[g..=end].iter().map(Group::len).collect();
            let x_after = folded.get(groups[end].end).copied().is_some_and(is_x);
            if let Some((form, took_x)) = masked_form(&digits, x_after, &lens) {
                let stop = groups[end].end + usize::from(took_x);
                matched = Some((end, (groups[g].start, stop, form)));
                break;
            }
        }
        match matched {
            Some((end, replacement)) => {
                replacements.push(replacement);
                g = end + 1;
            }
            None => g += 1,
        }
    }
    if replacements.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, stop, form) in replacements {
        out.extend(&chars[at..start]);
        out.push_str(&form);
        at = stop;
    }
    out.extend(&chars[at..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_id_numbers_in_every_spelling() {
        assert_eq!(
            mask_text("身份证（33072620020223162x）"),
            "身份证（330726********162X）"
        );
        assert_eq!(mask_text("id 330782197303202031 and"), "id 330782********2031 and");
        assert_eq!(mask_text("３３０７８２１９７３０３２０２０３１"), "330782********2031");
        assert_eq!(mask_text("330782 19730320 2031"), "330782********2031");
        // Not a valid ID (bad check digit): masked all the same.
        assert_eq!(mask_text("330782197303202039"), "330782********2039");
        assert_eq!(mask_text("旧证330782730320203"), "旧证330782*****0203");
    }

    #[test]
    fn masks_phones_in_every_spelling() {
        assert_eq!(mask_text("联系电话13172297575"), "联系电话131****7575");
        assert_eq!(
            mask_text("title with 330782197303202031 and 13912345678"),
            "title with 330782********2031 and 139****5678"
        );
        assert_eq!(mask_text("+86 138-0571-1234"), "+86 138****1234");
        assert_eq!(mask_text("86-13805711234"), "86 138****1234");
        assert_eq!(mask_text("138 0571 1234"), "138****1234");
        assert_eq!(mask_text("１３８０５７１１２３４"), "138****1234");
        assert_eq!(mask_text("电话0571-85310013"), "电话0571****0013");
        assert_eq!(mask_text("(0571)8531 0013"), "(0571****0013");
        assert_eq!(mask_text("010-12345678"), "010****5678");
    }

    #[test]
    fn leaves_dates_amounts_and_case_numbers_alone() {
        for text in [
            "2024-01-02 立案",
            "（2023）浙0106刑初123号",
            "金额 12,345.67 元",
            "JD2024000123456",
            "no digits at all",
        ] {
            assert_eq!(mask_text(text), text);
        }
        assert!(matches!(mask_text("纯文本"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_masked_text_is_left_as_it_is() {
        let once = mask_text("13912345678 与 330782197303202031").into_owned();
        assert_eq!(mask_text(&once), once);
    }
}
