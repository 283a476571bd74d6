//! Supervision models as declarations (MODELS.md, "Declared, not buried"): a TOML file of
//! `[[model]]` tables, each naming a built-in rule with its parameters, receiving departments
//! and the levels that open tasks by themselves. Validated at start; an error names the line.

use std::collections::BTreeMap;

use entities::{FindingLevel, PartyKind, Trade};
use serde::Deserialize;
use toml::Spanned;

/// The declarations shipped with the hub (`hub/models.toml`).
pub const SHIPPED: &str = include_str!("../../models.toml");

/// The rules the hub implements; a new kind of rule is code (MODELS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    ShellCompany,
    TradeAccess,
}

impl Rule {
    fn parse(s: &str) -> Option<Rule> {
        match s {
            "shell_company" => Some(Rule::ShellCompany),
            "trade_access" => Some(Rule::TradeAccess),
            _ => None,
        }
    }

    /// Parameters and their defaults.
    pub fn parameters(self) -> &'static [(&'static str, i64)] {
        match self {
            Rule::ShellCompany => &[("months", 6), ("min_age_months", 6)],
            Rule::TradeAccess => &[
                ("medical_penalty_years", 2),
                ("medical_offence_years", 5),
                ("driver_years", 5),
                ("elderly_years", 5),
                ("review_years", 5),
            ],
        }
    }

    pub fn subject(self) -> PartyKind {
        match self {
            Rule::ShellCompany => PartyKind::Organization,
            Rule::TradeAccess => PartyKind::Person,
        }
    }

    pub fn levels(self) -> &'static [FindingLevel] {
        match self {
            Rule::ShellCompany => &[FindingLevel::High, FindingLevel::Medium],
            Rule::TradeAccess => &[FindingLevel::Red, FindingLevel::Yellow],
        }
    }

    /// The keys of `departments`: `ALL`, or one per trade.
    fn department_keys(self) -> Vec<&'static str> {
        match self {
            Rule::ShellCompany => vec!["ALL"],
            Rule::TradeAccess => Trade::ALL.iter().map(|t| t.as_str()).collect(),
        }
    }

    /// The dispositions (处置结果) a task of this rule's findings is closed with; the last
    /// says the subject was found in order (it is not raised again until its evidence changes).
    pub fn disposals(self) -> &'static [&'static str] {
        match self {
            Rule::ShellCompany => &["已吊销", "已注销", "已责令整改", "核实正常经营"],
            Rule::TradeAccess => &["注销执业资格", "调离岗位", "核实无误"],
        }
    }

    /// The disposal that clears the subject.
    pub fn clearing_disposal(self) -> &'static str {
        match self {
            Rule::ShellCompany => "核实正常经营",
            Rule::TradeAccess => "核实无误",
        }
    }
}

/// Departments a model may hand its findings to (MODELS.md, "Departments"); the region's
/// name is put before them.
pub const DEPARTMENTS: &[&str] = &["市场监督管理局", "卫生健康局", "交通运输局", "教育局", "民政局"];

/// One validated model.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    pub id: String,
    pub rule: Rule,
    pub name: String,
    pub description: String,
    pub subject: PartyKind,
    /// Every parameter of the rule, declared or default.
    pub parameters: BTreeMap<String, i64>,
    /// `ALL` or a trade's name → department.
    pub departments: BTreeMap<String, String>,
    pub auto_task: Vec<FindingLevel>,
}

impl Declaration {
    pub fn parameter(&self, name: &str) -> i64 {
        self.parameters.get(name).copied().unwrap_or(0)
    }

    /// The department receiving a finding in `region` (and `trade`): the region's name and the
    /// declared department, e.g. `余杭区市场监督管理局`.
    pub fn department(&self, region: Option<&str>, trade: Option<Trade>) -> Option<String> {
        let key = trade.map(|t| t.as_str()).unwrap_or("ALL");
        let department = self.departments.get(key).or_else(|| self.departments.get("ALL"))?;
        let region_name = entities::ids::region::REGIONS
            .iter()
            .find(|(code, _)| Some(*code) == region)
            .map(|(_, name)| *name)?;
        Some(format!("{region_name}{department}"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    model: Vec<Spanned<Raw>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: String,
    rule: String,
    name: String,
    #[serde(default)]
    description: String,
    subject: String,
    #[serde(default)]
    parameters: BTreeMap<String, i64>,
    #[serde(default)]
    departments: BTreeMap<String, String>,
    #[serde(default)]
    auto_task: Vec<String>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses and validates declarations; an error says which model, at which line, and why.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Declaration>, String> {
    let file: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        format!("{origin}, line {line}: {}", e.message())
    })?;
    let mut out: Vec<Declaration> = Vec::new();
    for spanned in file.model {
        let line = line_of(text, spanned.span().start);
        let raw = spanned.into_inner();
        let fail = |why: String| format!("{origin}, line {line}: model {:?}: {why}", raw.id);
        let rule = Rule::parse(&raw.rule)
            .ok_or_else(|| fail(format!("unknown rule {:?} (shell_company or trade_access)", raw.rule)))?;
        if raw.id.trim().is_empty() || !raw.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(fail("id must be letters, digits and _".into()));
        }
        if out.iter().any(|d| d.id == raw.id) {
            return Err(fail("declared twice".into()));
        }
        let subject = PartyKind::parse(&raw.subject)
            .filter(|s| *s == rule.subject())
            .ok_or_else(|| {
                fail(format!(
                    "subject {:?}: rule {} finds {}",
                    raw.subject,
                    raw.rule,
                    rule.subject()
                ))
            })?;
        let mut parameters: BTreeMap<String, i64> =
            rule.parameters().iter().map(|(k, v)| (k.to_string(), *v)).collect();
        for (name, value) in &raw.parameters {
            if !parameters.contains_key(name) {
                let known: Vec<&str> = rule.parameters().iter().map(|(k, _)| *k).collect();
                return Err(fail(format!(
                    "unknown parameter {name:?} (known: {})",
                    known.join(", ")
                )));
            }
            if !(0..=1200).contains(value) {
                return Err(fail(format!("parameter {name} = {value} is out of range 0..=1200")));
            }
            parameters.insert(name.clone(), *value);
        }
        let keys = rule.department_keys();
        for (key, department) in &raw.departments {
            if !keys.contains(&key.as_str()) {
                return Err(fail(format!(
                    "departments: unknown key {key:?} (known: {})",
                    keys.join(", ")
                )));
            }
            if !DEPARTMENTS.contains(&department.as_str()) {
                return Err(fail(format!(
                    "unknown department {department:?} (known: {})",
                    DEPARTMENTS.join(", ")
                )));
            }
        }
        if !raw.departments.contains_key("ALL") && keys.iter().any(|k| !raw.departments.contains_key(*k)) {
            return Err(fail(format!(
                "departments must name one for each of: {}",
                keys.join(", ")
            )));
        }
        let mut auto_task = Vec::new();
        for level in &raw.auto_task {
            match FindingLevel::parse(level).filter(|l| rule.levels().contains(l)) {
                Some(l) => auto_task.push(l),
                None => {
                    return Err(fail(format!(
                        "auto_task: {level:?} is not a level of rule {}",
                        raw.rule
                    )))
                }
            }
        }
        out.push(Declaration {
            id: raw.id,
            rule,
            name: raw.name,
            description: raw.description,
            subject,
            parameters,
            departments: raw.departments,
            auto_task,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_models_are_valid() {
        let models = parse(SHIPPED, "models.toml").unwrap();
        let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["shell_company", "trade_access"]);
        assert_eq!(models[0].parameter("months"), 6);
        assert_eq!(models[1].auto_task, [FindingLevel::Red]);
        assert_eq!(
            models[0].department(Some("330110"), None).as_deref(),
            Some("余杭区市场监督管理局")
        );
        assert_eq!(
            models[1].department(Some("330782"), Some(Trade::Medical)).as_deref(),
            Some("义乌市卫生健康局")
        );
    }

    #[test]
    fn errors_name_the_line_and_what_is_wrong() {
        let text = "[[model]]\nid = \"a\"\nrule = \"shell_company\"\nname = \"x\"\nsubject = \"ORGANIZATION\"\n\
                    departments = { ALL = \"市场监督管理局\" }\n\n[[model]]\nid = \"b\"\nrule = \"shell_company\"\n\
                    name = \"y\"\nsubject = \"ORGANIZATION\"\nparameters = { month = 3 }\ndepartments = { ALL = \"市场监督管理局\" }\n";
        let e = parse(text, "m.toml").unwrap_err();
        assert!(e.contains("line 8") && e.contains("unknown parameter \"month\""), "{e}");
        let e = parse(
            &text
                .replace("month = 3", "months = 3")
                .replace("{ ALL = \"市场监督管理局\" }\n\n", "{ ALL = \"税务局\" }\n\n"),
            "m.toml",
        )
        .unwrap_err();
        assert!(
            e.contains("line 1") && e.contains("unknown department \"税务局\""),
            "{e}"
        );
        let e = parse(
            "[[model]]\nid = \"a\"\nrule = \"x\"\nname = \"n\"\nsubject = \"PERSON\"\nextra = 1\n",
            "m.toml",
        )
        .unwrap_err();
        assert!(e.contains("line 6"), "{e}");
    }
}
