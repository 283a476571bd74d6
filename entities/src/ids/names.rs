//! Person and organization names.

/// Strips every blank and unifies the middle dot of minority names.
pub fn normalize_person_name(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '•' | '・' | '．' | '‧' | '∙' => '·',
            _ => c,
        })
        .collect()
}

/// As person names, plus full-width parentheses turned half-width.
pub fn normalize_org_name(raw: &str) -> String {
    normalize_person_name(raw)
        .chars()
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            _ => c,
        })
        .collect()
}

/// Legal-form endings that mark a bare name as an organization's.
pub const ORG_SUFFIXES: &[&str] = &[
    "有限公司",
    "公司",
    "厂",
    "店",
    "中心",
    "医院",
    "诊所",
    "学校",
    "合作社",
    "集团",
    "事务所",
    "银行",
    "协会",
    "委员会",
    "局",
    "院",
    "所",
];

/// True when a bare name ends in a legal form (有限公司, 公司, 厂, 店, 中心, 医院, 诊所, 学校, 合作社, …).
pub fn looks_like_org_name(name: &str) -> bool {
    ORG_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// A placeholder instead of a name: anonymous or masked (`张**`).
pub fn is_placeholder_name(name: &str) -> bool {
    name.is_empty() || name == "匿名" || name.chars().any(super::text::is_mask_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_names_lose_blanks_and_unify_dots() {
        assert_eq!(normalize_person_name(" 李 四\u{3000}"), "李四");
        assert_eq!(normalize_person_name("买买提•艾力"), "买买提·艾力");
        assert_eq!(normalize_person_name("买买提・艾力"), "买买提·艾力");
        assert_eq!(normalize_person_name("买买提．艾力"), "买买提·艾力");
    }

    #[test]
    fn organization_names_also_get_half_width_parentheses() {
        assert_eq!(
            normalize_org_name("杭州某某（集团）有限公司 "),
            "杭州某某(集团)有限公司"
        );
    }

    #[test]
    fn recognises_organizations_and_placeholders() {
        assert!(looks_like_org_name("杭州某某科技有限公司"));
        assert!(looks_like_org_name("余杭区某某农业合作社"));
        assert!(!looks_like_org_name("张三"));
        assert!(is_placeholder_name("匿名") && is_placeholder_name("张**"));
    }
}
