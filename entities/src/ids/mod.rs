//! Identifier newtypes: parse any recorded spelling, normalize, validate.
//! This is the one implementation; adapters, filters and linkage all call it.

pub mod case_number;
pub mod credit_code;
pub mod id_number;
pub mod mask_text;
pub mod names;
pub mod phone;
pub mod region;
pub mod text;

pub use case_number::{CaseNumber, CaseNumberKind};
pub use credit_code::CreditCode;
pub use id_number::IdNumber;
pub use mask_text::mask_text;
pub use phone::Phone;
pub use region::RegionCode;

use crate::vocab::LinkKind;

/// Why a value is not a usable identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("empty value")]
    Empty,
    #[error("masked value (a partial key, never an exact one)")]
    Masked,
    #[error("not in the identifier's format")]
    Format,
    #[error("wrong check character")]
    Checksum,
    #[error("birth date is not a real date")]
    BirthDate,
    #[error("region name not in the table")]
    UnknownRegion,
}

impl IdError {
    /// A stable snake_case code for data-quality records.
    pub fn code(self) -> &'static str {
        match self {
            IdError::Empty => "empty",
            IdError::Masked => "masked",
            IdError::Format => "bad_format",
            IdError::Checksum => "bad_checksum",
            IdError::BirthDate => "bad_birth_date",
            IdError::UnknownRegion => "unknown_region",
        }
    }
}

/// Keeps the first `head` and last `tail` characters and stars the rest.
pub fn mask_middle(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Every exact-key reading of a value typed by a user: an ID number, a USCC,
/// a phone or a case number in any spelling. Used by the `identifier` filter.
pub fn exact_keys(raw: &str) -> Vec<(LinkKind, String)> {
    let mut keys = Vec::new();
    if let Ok(v) = IdNumber::parse(raw) {
        keys.push((LinkKind::PersonId, v.as_str().to_string()));
    }
    if let Ok(v) = CreditCode::parse(raw) {
        keys.push((LinkKind::OrgUscc, v.as_str().to_string()));
    }
    if let Ok(v) = CaseNumber::parse(raw) {
        keys.push((LinkKind::CaseNo, v.as_str().to_string()));
    }
    if let Ok(v) = Phone::parse(raw) {
        keys.push((LinkKind::Phone, v.as_str().to_string()));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_head_and_tail() {
        assert_eq!(mask_middle("abcdefgh", 2, 2), "ab****gh");
        assert_eq!(mask_middle("abc", 2, 2), "***");
    }

    #[test]
    fn exact_keys_reads_every_kind() {
        assert_eq!(
            exact_keys("138 0571 1234"),
            vec![(LinkKind::Phone, "13805711234".to_string())]
        );
        assert_eq!(
            exact_keys("１１０１０５１９４９１２３１００２ｘ"),
            vec![(LinkKind::PersonId, "11010519491231002X".to_string())]
        );
        assert_eq!(
            exact_keys("（2022）浙0110民初1234号"),
            vec![(LinkKind::CaseNo, "(2022)浙0110民初1234号".to_string())]
        );
        assert!(exact_keys("张三").is_empty());
    }
}
