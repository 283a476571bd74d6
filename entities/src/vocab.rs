//! The domain vocabulary shared by every crate. Each is a sea-orm active enum stored as its
//! `as_str()` text (a `TEXT` column on both databases), so entities carry the enum itself and a
//! stored value that is not in the vocabulary is a read error, never silently dropped.

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
            sea_orm::EnumIter, sea_orm::DeriveActiveEnum,
        )]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name { $($(#[$vmeta])* #[sea_orm(string_value = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored spelling (also accepts lowercase).
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// The five source systems.
    Source {
        Enforcement = "ENFORCEMENT",
        Discipline = "DISCIPLINE",
        Congress = "CONGRESS",
        Procuratorate = "PROCURATORATE",
        Social = "SOCIAL",
    }
}

vocabulary! {
    /// Every feed files are loaded from: the five sources, and 平安督 inspections. Quarantined
    /// rows name their feed.
    Feed {
        Enforcement = "ENFORCEMENT",
        Discipline = "DISCIPLINE",
        Congress = "CONGRESS",
        Procuratorate = "PROCURATORATE",
        Social = "SOCIAL",
        Inspections = "INSPECTIONS",
        /// 市场主体登记 (reference feed).
        Registry = "REGISTRY",
        /// 社会保险参保缴费 (reference feed).
        Insurance = "INSURANCE",
        /// 纳税申报 (reference feed).
        Tax = "TAX",
        /// 特定行业从业人员 (reference feed).
        Practitioners = "PRACTITIONERS",
        /// 生效刑事裁判 (reference feed).
        Convictions = "CONVICTIONS",
    }
}

impl From<Source> for Feed {
    fn from(s: Source) -> Feed {
        match s {
            Source::Enforcement => Feed::Enforcement,
            Source::Discipline => Feed::Discipline,
            Source::Congress => Feed::Congress,
            Source::Procuratorate => Feed::Procuratorate,
            Source::Social => Feed::Social,
        }
    }
}

impl Feed {
    /// The source system a feed is, if it is one.
    pub fn source(self) -> Option<Source> {
        Source::ALL.iter().copied().find(|s| Feed::from(*s) == self)
    }

    /// The lowercase name used on the command line and in `/ingest/{feed}`.
    pub fn slug(self) -> String {
        self.as_str().to_ascii_lowercase()
    }

    /// The reference feeds of `sources/reference.md`: facts about parties, not cases.
    pub const REFERENCE: &'static [Feed] = &[
        Feed::Registry,
        Feed::Insurance,
        Feed::Tax,
        Feed::Practitioners,
        Feed::Convictions,
    ];

    pub fn is_reference(self) -> bool {
        Feed::REFERENCE.contains(&self)
    }
}

vocabulary! {
    /// The five regulated trades of the 特定行业准入 model.
    Trade {
        /// 医疗卫生
        Medical = "MEDICAL",
        /// 食品药品
        FoodDrug = "FOOD_DRUG",
        /// 道路运输
        RoadTransport = "ROAD_TRANSPORT",
        /// 教育培训
        Education = "EDUCATION",
        /// 养老服务
        ElderlyCare = "ELDERLY_CARE",
    }
}

impl Trade {
    /// The trade's name as the feeds write it.
    pub fn chinese(self) -> &'static str {
        match self {
            Trade::Medical => "医疗卫生",
            Trade::FoodDrug => "食品药品",
            Trade::RoadTransport => "道路运输",
            Trade::Education => "教育培训",
            Trade::ElderlyCare => "养老服务",
        }
    }

    pub fn from_chinese(name: &str) -> Option<Trade> {
        Trade::ALL.iter().copied().find(|t| t.chinese() == name.trim())
    }

    /// The `hy` of a practitioners file name (`cyry_ylws_20230101.csv`).
    pub fn file_code(self) -> &'static str {
        match self {
            Trade::Medical => "ylws",
            Trade::FoodDrug => "spyp",
            Trade::RoadTransport => "dlys",
            Trade::Education => "jypx",
            Trade::ElderlyCare => "ylfw",
        }
    }
}

vocabulary! {
    /// The code a practitioner gets per trade: barred, to be reviewed, nothing found.
    CodeColor {
        Red = "RED",
        Yellow = "YELLOW",
        Blue = "BLUE",
    }
}

vocabulary! {
    /// How serious a supervision model's finding is.
    FindingLevel {
        High = "HIGH",
        Medium = "MEDIUM",
        Red = "RED",
        Yellow = "YELLOW",
    }
}

vocabulary! {
    /// Where a finding stands in the closed loop.
    FindingStatus {
        New = "NEW",
        Tasked = "TASKED",
        Resolved = "RESOLVED",
        Exempt = "EXEMPT",
    }
}

vocabulary! {
    /// The supervision loop: 发现 → 督办 → 整改 → 回访 → 销号.
    LoopStage {
        Discovered = "DISCOVERED",
        Notified = "NOTIFIED",
        Rectifying = "RECTIFYING",
        Revisited = "REVISITED",
        Closed = "CLOSED",
    }
}

vocabulary! {
    /// The satisfaction (满意度) a complainant or deputy recorded.
    Satisfaction {
        Satisfied = "SATISFIED",
        FairlySatisfied = "FAIRLY_SATISFIED",
        Dissatisfied = "DISSATISFIED",
    }
}

impl Satisfaction {
    /// From the sources' labels: `满意`, `基本满意`, `不满意`.
    pub fn from_label(label: &str) -> Option<Satisfaction> {
        match label.trim() {
            "满意" => Some(Satisfaction::Satisfied),
            "基本满意" => Some(Satisfaction::FairlySatisfied),
            "不满意" => Some(Satisfaction::Dissatisfied),
            _ => None,
        }
    }
}

vocabulary! {
    PartyKind {
        Person = "PERSON",
        Organization = "ORGANIZATION",
    }
}

vocabulary! {
    /// What kind of key ties two cases together.
    LinkKind {
        PersonId = "PERSON_ID",
        OrgUscc = "ORG_USCC",
        CaseNo = "CASE_NO",
        Phone = "PHONE",
        Badge = "BADGE",
        OrgName = "ORG_NAME",
        PersonName = "PERSON_NAME",
    }
}

vocabulary! {
    /// The colour of a governance index (API.md): 绿 / 蓝 / 橙 / 红.
    WarningColor {
        Green = "GREEN",
        Blue = "BLUE",
        Orange = "ORANGE",
        Red = "RED",
    }
}

vocabulary! {
    /// The step of a governance warning: 提醒 → 督办 → 约谈.
    WarningAction {
        Remind = "REMIND",
        Supervise = "SUPERVISE",
        Interview = "INTERVIEW",
    }
}

vocabulary! {
    /// What an audit entry returned: a case or a party.
    SubjectKind {
        Case = "CASE",
        Party = "PARTY",
    }
}

vocabulary! {
    /// A step a person takes on a supervision task (see `workflow`).
    TaskAction {
        /// A supervisor opens the task: 督办通报.
        Open = "OPEN",
        /// The department answers with its rectification: 整改落实.
        Answer = "ANSWER",
        /// The supervisor revisits: 回访.
        Revisit = "REVISIT",
        /// The supervisor closes it: 销号.
        Close = "CLOSE",
        /// The supervisor sends it back for another rectification.
        Return = "RETURN",
    }
}

impl LinkKind {
    /// The score of a link through a key of this kind (API.md, linkage table).
    pub fn score(self) -> f64 {
        match self {
            LinkKind::PersonId | LinkKind::OrgUscc | LinkKind::CaseNo | LinkKind::Badge => 1.0,
            LinkKind::Phone => 0.8,
            LinkKind::OrgName => 0.7,
            LinkKind::PersonName => 0.3,
        }
    }
}

impl Source {
    /// The lowercase name used on the command line and in `/ingest/{source}`.
    pub fn slug(self) -> &'static str {
        match self {
            Source::Enforcement => "enforcement",
            Source::Discipline => "discipline",
            Source::Congress => "congress",
            Source::Procuratorate => "procuratorate",
            Source::Social => "social",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips() {
        for s in Source::ALL {
            assert_eq!(Source::parse(s.as_str()), Some(*s));
            assert_eq!(Source::parse(s.slug()), Some(*s));
        }
        assert_eq!(LinkKind::parse("ORG_USCC"), Some(LinkKind::OrgUscc));
        assert_eq!(LoopStage::parse("nope"), None);
        assert_eq!(
            Satisfaction::from_label(" 基本满意"),
            Some(Satisfaction::FairlySatisfied)
        );
        assert_eq!(Satisfaction::from_label("不满意"), Some(Satisfaction::Dissatisfied));
        assert_eq!(Satisfaction::from_label("已答复"), None);
    }
}
