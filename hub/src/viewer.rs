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
    /// Whom a `citizen` or `employer` token speaks for: the person's ID number (`idn` claim)
    /// or the employer's credit code (`uscc` claim), normalized.
    pub own_id: Option<String>,
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
    /// A practitioner asking for their own code (`idn` claim).
    Citizen,
    /// An employer verifying a candidate's code (`uscc` claim).
    Employer,
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
        Role::Citizen,
        Role::Employer,
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
            Role::Citizen => "citizen",
            Role::Employer => "employer",
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
