//! Case numbers of the three kinds that link records: court case numbers (案号),
//! procuratorate document numbers (检察文书号) and police case numbers (公安案件编号).

use super::text::fold_width;
use super::IdError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseNumberKind {
    Court,
    Procuratorate,
    Police,
}

/// A normalized case number of any kind: `(2022)浙0110民初1234号`,
/// `杭余检刑诉〔2022〕123号`, `A3301105400002022090001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseNumber {
    kind: CaseNumberKind,
    value: String,
}

impl CaseNumber {
    /// Parses a case number of any kind in any recorded spelling.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = unify(raw);
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if let Some(v) = police(&s) {
            return Ok(CaseNumber {
                kind: CaseNumberKind::Police,
                value: v,
            });
        }
        if let Some(v) = court(&s) {
            return Ok(CaseNumber {
                kind: CaseNumberKind::Court,
                value: v,
            });
        }
        if let Some(v) = procuratorate(&s) {
            return Ok(CaseNumber {
                kind: CaseNumberKind::Procuratorate,
                value: v,
            });
        }
        Err(IdError::Format)
    }

    pub fn kind(&self) -> CaseNumberKind {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl AsRef<str> for CaseNumber {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl std::fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.value)
    }
}

/// Folds width, drops blanks and turns every bracket variant into `(`…`)`.
fn unify(raw: &str) -> String {
    raw.chars()
        .map(fold_width)
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '[' | '〔' | '【' | '﹝' => '(',
            ']' | '〕' | '】' | '﹞' => ')',
            _ => c,
        })
        .collect()
}

fn police(s: &str) -> Option<String> {
    let b = s.as_bytes();
    (b.len() == 23 && (b[0] == b'A' || b[0] == b'a') && b[1..].iter().all(u8::is_ascii_digit))
        .then(|| format!("A{}", &s[1..]))
}

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// `(YYYY)` + court code (a province character and 0, 2 or 4 digits) + type + sequence + `号`.
fn court(s: &str) -> Option<String> {
    let rest = s.strip_prefix('(')?;
    let (year, rest) = take_year(rest)?;
    let rest = rest.strip_prefix(')')?;
    let mut chars = rest.chars().peekable();
    let province = chars.next().filter(|c| is_cjk(*c))?;
    let mut court_digits = String::new();
    while let Some(c) = chars.next_if(char::is_ascii_digit) {
        court_digits.push(c);
    }
    if ![0, 2, 4].contains(&court_digits.len()) {
        return None;
    }
    let mut kind = String::new();
    while let Some(c) = chars.next_if(|c| is_cjk(*c) && *c != '号') {
        kind.push(c);
    }
    if kind.is_empty() || kind.chars().count() > 3 {
        return None;
    }
    let mut seq = String::new();
    while let Some(c) = chars.next_if(char::is_ascii_digit) {
        seq.push(c);
    }
    if seq.is_empty() || chars.next() != Some('号') || chars.next().is_some() {
        return None;
    }
    Some(format!("({year}){province}{court_digits}{kind}{seq}号"))
}

/// Agency abbreviation + `检` + business abbreviation + `〔YYYY〕` + sequence + `号`.
fn procuratorate(s: &str) -> Option<String> {
    let open = s.find('(')?;
    let prefix = &s[..open];
    if prefix.chars().count() < 2 || !prefix.chars().all(is_cjk) || !prefix.contains('检') {
        return None;
    }
    let (year, rest) = take_year(&s[open + 1..])?;
    let rest = rest.strip_prefix(')')?;
    let seq = rest.strip_suffix('号')?;
    if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{prefix}〔{year}〕{seq}号"))
}

fn take_year(s: &str) -> Option<(&str, &str)> {
    let year = s.get(..4)?;
    year.bytes().all(|b| b.is_ascii_digit()).then(|| (year, &s[4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> (CaseNumberKind, String) {
        let n = CaseNumber::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        (n.kind(), n.as_str().to_string())
    }

    #[test]
    fn normalizes_court_case_numbers_in_every_spelling() {
        for raw in [
            "(2022)浙0110民初1234号",
            "（2022）浙0110民初1234号",
            "[2022]浙0110民初1234号",
            "〔2022〕浙0110民初1234号",
            "( 2022 ) 浙0110 民初 1234 号",
            "（２０２２）浙０１１０民初１２３４号",
        ] {
            assert_eq!(
                norm(raw),
                (CaseNumberKind::Court, "(2022)浙0110民初1234号".into()),
                "{raw}"
            );
        }
        assert_eq!(norm("(2022)浙01刑终77号").1, "(2022)浙01刑终77号");
        assert_eq!(norm("(2021)浙执恢3号").1, "(2021)浙执恢3号");
        assert_eq!(norm("（2022）浙0110执123号").1, "(2022)浙0110执123号");
    }

    #[test]
    fn normalizes_procuratorate_document_numbers() {
        for raw in [
            "杭余检刑诉〔2022〕123号",
            "杭余检刑诉[2022]123号",
            "杭余检刑诉（2022）123号",
            "杭余检刑诉(2022)123号",
            "杭余检刑诉 〔2022〕 123 号",
        ] {
            assert_eq!(
                norm(raw),
                (CaseNumberKind::Procuratorate, "杭余检刑诉〔2022〕123号".into()),
                "{raw}"
            );
        }
        assert_eq!(norm("永检建〔2022〕7号").1, "永检建〔2022〕7号");
    }

    #[test]
    fn normalizes_police_case_numbers() {
        for raw in [
            "A3301105400002022090001",
            "a3301105400002022090001",
            "A330110540000 202209 0001",
            "Ａ３３０１１０５４００００２０２２０９０００１",
        ] {
            assert_eq!(
                norm(raw),
                (CaseNumberKind::Police, "A3301105400002022090001".into()),
                "{raw}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_case_number() {
        for raw in [
            "",
            "2022浙0110民初1234号",
            "(2022)浙0110民初号",
            "(2022)浙011民初12号",
            "(22)浙0110民初1号",
            "A330110540000202209000",
            "余纪线〔2022〕456号",
            "(2022)浙0110民初1234",
        ] {
            assert!(CaseNumber::parse(raw).is_err(), "{raw}");
        }
    }
}
