//! Character-level folding shared by every identifier and name rule.

/// Maps full-width ASCII variants (U+FF01..U+FF5E) to ASCII and the
/// ideographic space U+3000 to an ASCII space; other characters pass through.
pub fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Folds full-width characters and drops every blank (ASCII, ideographic, tabs, line breaks).
pub fn fold_compact(raw: &str) -> String {
    raw.chars().map(fold_width).filter(|c| !c.is_whitespace()).collect()
}

/// A character that stands for a hidden digit in a masked identifier.
pub fn is_mask_char(c: char) -> bool {
    matches!(c, '*' | '＊' | '×' | '•' | '●')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_full_width_digits_letters_and_spaces() {
        assert_eq!(fold_compact("３３０１ ０６\u{3000}ｘ"), "330106x");
        assert_eq!(fold_compact("（2022）"), "(2022)");
    }
}
