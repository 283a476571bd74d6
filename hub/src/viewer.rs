//! Who is asking: the verified identity authorization is built from, and the roles of
//! API.md's table. (Tokens are verified by the gateway; this is what it hands in.)

/// Who is asking: the verified claims that authorization is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub sub: String,
    pub role: Role,
    /// Region-code prefixes; ignored for `admin`.
    pub regions: Vec<String>,
    /// The organizational unit of an `agency` token (an `inspector`'s team).
    pub unit: Option<String>,
}

/// The roles of API.md's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Plc,
    Procurator,
    Discipline,
    Congress,
    Analyst,
    Auditor,
    Ingestor,
    Agency,
    /// 平安督 inspectors: record inspections in their regions (`unit`: their team).
    Inspector,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Admin,
        Role::Plc,
        Role::Procurator,
        Role::Discipline,
        Role::Congress,
        Role::Analyst,
        Role::Auditor,
        Role::Ingestor,
        Role::Agency,
        Role::Inspector,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Plc => "plc",
            Role::Procurator => "procurator",
            Role::Discipline => "discipline",
            Role::Congress => "congress",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Ingestor => "ingestor",
            Role::Agency => "agency",
            Role::Inspector => "inspector",
        }
    }

    /// May this role read individual cases and parties?
    pub fn records(self) -> bool {
        matches!(
            self,
            Role::Admin | Role::Plc | Role::Procurator | Role::Discipline | Role::Congress
        )
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
