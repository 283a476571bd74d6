//! Mobile and landline phone numbers.

use super::text::{fold_width, is_mask_char};
use super::IdError;

/// A full phone number as digits only, without a country prefix:
/// `13805711234` (mobile) or `057185310013` (landline with area code).
///
/// Stored as its text (a sea-orm value type); only values made by `parse` are written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, sea_orm::DeriveValueType)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Parses `+86 138-0571-1234`, `86-13805711234`, `138 0571 1234`, `0571-85310013`,
    /// `(0571)8531 0013`, `057185310013` and their full-width spellings.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let folded: String = raw.chars().map(fold_width).collect();
        let trimmed = folded.trim();
        if trimmed.is_empty() {
            return Err(IdError::Empty);
        }
        if trimmed.chars().any(is_mask_char) {
            return Err(IdError::Masked);
        }
        let mut international = false;
        let mut digits = String::with_capacity(trimmed.len());
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => international = true,
                ' ' | '-' | '(' | ')' | '.' | '\t' => {}
                _ => return Err(IdError::Format),
            }
        }
        let national = if let Some(rest) = digits.strip_prefix("0086") {
            rest.to_string()
        } else if let Some(rest) = digits.strip_prefix("86").filter(|r| international || is_mobile(r)) {
            rest.to_string()
        } else if international {
            return Err(IdError::Format);
        } else {
            digits
        };
        if is_mobile(&national) {
            return Ok(Phone(national));
        }
        let landline = if international && !national.starts_with('0') {
            format!("0{national}")
        } else {
            national
        };
        if is_landline(&landline) {
            Ok(Phone(landline))
        } else {
            Err(IdError::Format)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked spelling shown to masking roles.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }

    pub fn is_mobile(&self) -> bool {
        is_mobile(&self.0)
    }
}

fn is_mobile(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
}

/// Area code (`010`, `0571`, …) plus a 7- or 8-digit subscriber number.
fn is_landline(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() >= 10 && b.len() <= 12 && b[0] == b'0' && b[1] != b'0' && b.iter().all(u8::is_ascii_digit)
}

impl AsRef<str> for Phone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Masks a phone for roles that may not read it in clear: first 3, last 4.
pub fn mask_phone(value: &str) -> String {
    super::mask_middle(value, 3, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_every_mobile_spelling() {
        for raw in [
            "13805711234",
            "+86 138-0571-1234",
            "86-13805711234",
            "138 0571 1234",
            "+8613805711234",
            "008613805711234",
            "１３８０５７１１２３４",
            "１３８－０５７１－１２３４",
        ] {
            assert_eq!(Phone::parse(raw).unwrap().as_str(), "13805711234", "{raw}");
        }
    }

    #[test]
    fn normalizes_every_landline_spelling() {
        for raw in [
            "0571-85310013",
            "(0571)8531 0013",
            "057185310013",
            "（０５７１）８５３１００１３",
            "+86 571 8531 0013",
        ] {
            assert_eq!(Phone::parse(raw).unwrap().as_str(), "057185310013", "{raw}");
        }
        assert_eq!(Phone::parse("0579-8231001").unwrap().as_str(), "05798231001");
    }

    #[test]
    fn recognises_masked_phones() {
        assert_eq!(Phone::parse("138****1234"), Err(IdError::Masked));
        assert_eq!(Phone::parse("138＊＊＊＊1234"), Err(IdError::Masked));
    }

    #[test]
    fn rejects_invalid_numbers() {
        for raw in [
            "",
            "12805711234",
            "1380571123",
            "138057112345",
            "85310013",
            "abc",
            "0571-8531001x",
            "+1 2025550100",
        ] {
            assert!(Phone::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn masks_first_three_and_last_four() {
        assert_eq!(mask_phone("13805711234"), "138****1234");
        assert_eq!(mask_phone("057185310013"), "057*****0013");
    }
}
