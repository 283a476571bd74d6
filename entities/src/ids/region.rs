//! Region codes (GB/T 2260) of the areas the five systems cover.

use super::text::fold_compact;
use super::IdError;

/// The county-level units the sources use, by code and name.
pub const REGIONS: &[(&str, &str)] = &[
    ("330100", "杭州市"),
    ("330102", "上城区"),
    ("330105", "拱墅区"),
    ("330106", "西湖区"),
    ("330108", "滨江区"),
    ("330109", "萧山区"),
    ("330110", "余杭区"),
    ("330111", "富阳区"),
    ("330112", "临安区"),
    ("330113", "临平区"),
    ("330114", "钱塘区"),
    ("330122", "桐庐县"),
    ("330127", "淳安县"),
    ("330182", "建德市"),
    ("330700", "金华市"),
    ("330702", "婺城区"),
    ("330703", "金东区"),
    ("330723", "武义县"),
    ("330726", "浦江县"),
    ("330727", "磐安县"),
    ("330781", "兰溪市"),
    ("330782", "义乌市"),
    ("330783", "东阳市"),
    ("330784", "永康市"),
];

/// A 6-digit region code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegionCode(String);

impl RegionCode {
    /// Parses a 6-digit code (full-width digits and blanks allowed).
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = fold_compact(raw);
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(RegionCode(s))
        } else {
            Err(IdError::Format)
        }
    }

    /// Maps a region name to its code: `余杭区`, `杭州市余杭区`, `浙江省杭州市余杭区`, `杭州市`.
    pub fn from_name(raw: &str) -> Result<Self, IdError> {
        let name = fold_compact(raw);
        if name.is_empty() {
            return Err(IdError::Empty);
        }
        if let Some((code, _)) = REGIONS.iter().find(|(_, n)| *n == name) {
            return Ok(RegionCode((*code).to_string()));
        }
        // A qualified name ends with the county's own name; city-level names are whole names only.
        REGIONS
            .iter()
            .filter(|(code, _)| !code.ends_with("00"))
            .find(|(_, n)| name.ends_with(n))
            .map(|(code, _)| RegionCode((*code).to_string()))
            .ok_or(IdError::UnknownRegion)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn name(&self) -> Option<&'static str> {
        REGIONS.iter().find(|(c, _)| *c == self.0).map(|(_, n)| *n)
    }
}

impl AsRef<str> for RegionCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A region prefix as held in a token or filter: 1 to 6 ASCII digits.
pub fn is_region_prefix(p: &str) -> bool {
    (1..=6).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_names_to_codes() {
        assert_eq!(RegionCode::from_name("余杭区").unwrap().as_str(), "330110");
        assert_eq!(RegionCode::from_name(" 永康市 ").unwrap().as_str(), "330784");
        assert_eq!(RegionCode::from_name("杭州市余杭区").unwrap().as_str(), "330110");
        assert_eq!(RegionCode::from_name("杭州市").unwrap().as_str(), "330100");
        assert_eq!(RegionCode::from_name("海曙区"), Err(IdError::UnknownRegion));
    }

    #[test]
    fn parses_codes_and_prefixes() {
        assert_eq!(RegionCode::parse("３３０１１０").unwrap().as_str(), "330110");
        assert!(RegionCode::parse("33011").is_err());
        assert!(is_region_prefix("3301") && is_region_prefix("33"));
        assert!(!is_region_prefix("") && !is_region_prefix("33%") && !is_region_prefix("3301100"));
        assert_eq!(RegionCode::parse("330110").unwrap().name(), Some("余杭区"));
    }
}
