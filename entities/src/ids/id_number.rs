//! Resident identity numbers (居民身份证号码, GB 11643-1999).

use super::text::{fold_compact, is_mask_char};
use super::IdError;
use chrono::NaiveDate;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// A valid 18-character resident ID number: ASCII digits and an uppercase `X` check character.
///
/// Stored as its text (a sea-orm value type); only values made by `parse` are written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, sea_orm::DeriveValueType)]
#[serde(transparent)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses any recorded spelling: full-width digits, lowercase `x`, blanks, legacy 15 digits.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = fold_compact(raw).to_ascii_uppercase();
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.chars().any(is_mask_char) {
            return Err(IdError::Masked);
        }
        let bytes = s.as_bytes();
        match bytes.len() {
            15 if bytes.iter().all(u8::is_ascii_digit) => {
                let body = format!("{}19{}", &s[..6], &s[6..]);
                check_birth_date(&body[6..14])?;
                let check = check_char(&body);
                Ok(IdNumber(format!("{body}{check}")))
            }
            18 if bytes[..17].iter().all(u8::is_ascii_digit) && (bytes[17].is_ascii_digit() || bytes[17] == b'X') => {
                check_birth_date(&s[6..14])?;
                if check_char(&s[..17]) != bytes[17] as char {
                    return Err(IdError::Checksum);
                }
                Ok(IdNumber(s))
            }
            _ => Err(IdError::Format),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked spelling shown to masking roles.
    pub fn masked(&self) -> String {
        mask_id_number(&self.0)
    }

    pub fn birth_date(&self) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").ok()
    }
}

impl AsRef<str> for IdNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The check character for the first 17 digits (which must be ASCII digits).
pub fn check_char(first17: &str) -> char {
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    CHECK[(sum % 11) as usize] as char
}

fn check_birth_date(yyyymmdd: &str) -> Result<(), IdError> {
    NaiveDate::parse_from_str(yyyymmdd, "%Y%m%d")
        .map(|_| ())
        .map_err(|_| IdError::BirthDate)
}

/// Masks an ID number for roles that may not read it in clear: first 6, last 4.
pub fn mask_id_number(value: &str) -> String {
    super::mask_middle(value, 6, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 11010519491231002X is the standard's own example.
    #[test]
    fn accepts_the_standard_example_in_every_spelling() {
        for raw in [
            "11010519491231002X",
            "11010519491231002x",
            " 110105 19491231 002X ",
            "１１０１０５１９４９１２３１００２Ｘ",
            "１１０１０５１９４９１２３１００２ｘ",
        ] {
            assert_eq!(IdNumber::parse(raw).unwrap().as_str(), "11010519491231002X", "{raw}");
        }
    }

    #[test]
    fn converts_legacy_fifteen_digit_numbers() {
        // 110105491231002 -> 110105 19 491231 002 + check.
        let id = IdNumber::parse("110105491231002").unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31));
    }

    #[test]
    fn rejects_a_wrong_check_character() {
        assert_eq!(IdNumber::parse("110105194912310021"), Err(IdError::Checksum));
    }

    #[test]
    fn rejects_impossible_birth_dates() {
        let body = "11010519490230002";
        let raw = format!("{body}{}", check_char(body));
        assert_eq!(IdNumber::parse(&raw), Err(IdError::BirthDate));
        assert_eq!(IdNumber::parse("110105491331002"), Err(IdError::BirthDate));
    }

    #[test]
    fn recognises_masked_values_as_partial() {
        assert_eq!(IdNumber::parse("330106********1234"), Err(IdError::Masked));
        assert_eq!(IdNumber::parse("330106＊＊＊＊＊＊＊＊1234"), Err(IdError::Masked));
    }

    #[test]
    fn rejects_wrong_lengths_and_letters() {
        for raw in [
            "",
            "1234",
            "11010519491231002XX",
            "1101051949123100AX",
            "X1010519491231002",
        ] {
            assert!(IdNumber::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn masks_first_six_and_last_four() {
        assert_eq!(mask_id_number("330106199001011234"), "330106********1234");
    }
}
