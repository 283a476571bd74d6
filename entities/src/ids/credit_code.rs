//! Unified social credit codes (统一社会信用代码, GB 32100-2015).

use super::text::{fold_compact, is_mask_char};
use super::IdError;

const CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A valid 18-character USCC in uppercase ASCII.
///
/// Stored as its text (a sea-orm value type); only values made by `parse` are written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, sea_orm::DeriveValueType)]
#[serde(transparent)]
pub struct CreditCode(String);

impl CreditCode {
    /// Parses lowercase, full-width and spaced spellings.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = fold_compact(raw).to_ascii_uppercase();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.chars().any(is_mask_char) {
            return Err(IdError::Masked);
        }
        if s.chars().count() != 18 {
            return Err(IdError::Format);
        }
        let values: Vec<u32> = s
            .chars()
            .map(|c| CHARSET.find(c).map(|i| i as u32))
            .collect::<Option<_>>()
            .ok_or(IdError::Format)?;
        if check_value(&values[..17]) != values[17] {
            return Err(IdError::Checksum);
        }
        Ok(CreditCode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check character for 17 characters of the USCC set.
pub fn check_char(first17: &str) -> Option<char> {
    let values: Vec<u32> = first17
        .chars()
        .map(|c| CHARSET.find(c).map(|i| i as u32))
        .collect::<Option<_>>()?;
    if values.len() != 17 {
        return None;
    }
    CHARSET.chars().nth(check_value(&values) as usize)
}

fn check_value(values: &[u32]) -> u32 {
    let sum: u32 = values.iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    (31 - sum % 31) % 31
}

impl AsRef<str> for CreditCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CreditCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "91350100M000100Y43";

    #[test]
    fn accepts_a_known_valid_code_in_every_spelling() {
        for raw in [
            VALID,
            "91350100m000100y43",
            " 9135 0100 M000 100Y43",
            "９１３５０１００Ｍ０００１００Ｙ４３",
        ] {
            assert_eq!(CreditCode::parse(raw).unwrap().as_str(), VALID, "{raw}");
        }
    }

    #[test]
    fn computes_the_check_character() {
        assert_eq!(check_char(&VALID[..17]), Some('3'));
    }

    #[test]
    fn rejects_wrong_check_and_letters_outside_the_set() {
        assert_eq!(CreditCode::parse("91350100M000100Y44"), Err(IdError::Checksum));
        assert_eq!(CreditCode::parse("91350100I000100Y43"), Err(IdError::Format));
        assert_eq!(CreditCode::parse("91330110MA2XXXXXXX"), Err(IdError::Checksum));
        assert_eq!(CreditCode::parse("9135"), Err(IdError::Format));
        assert_eq!(CreditCode::parse("913501****00100Y43"), Err(IdError::Masked));
    }
}
