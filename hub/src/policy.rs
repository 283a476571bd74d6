//! Authorization policy: what a role may read, as one `Scope` applied in SQL.
//! This module is the only place that decides which rows a viewer can reach.

use crate::viewer::{Role, Viewer};
use entities::{case, Source};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition};

/// What a viewer may reach. Built once per request from the verified token.
#[derive(Debug, Clone)]
pub struct Scope {
    pub role: Role,
    /// Sources readable in full.
    sources: Vec<Source>,
    /// DISCIPLINE records transferred to procuratorates are readable too (`procurator`).
    transferred_discipline: bool,
    /// `None`: every region (admin).
    region_prefixes: Option<Vec<String>>,
    /// May individual records and parties be returned (not only aggregates)?
    pub records: bool,
    /// May aggregates be computed?
    pub aggregates: bool,
    /// Identifiers are masked when they leave (`congress`).
    pub masked: bool,
    /// The unit of an `agency` token: the department whose tasks it works.
    unit: Option<String>,
}

const ALL_BUT_DISCIPLINE: &[Source] = &[
    Source::Enforcement,
    Source::Procuratorate,
    Source::Congress,
    Source::Social,
];

impl Scope {
    pub fn for_viewer(viewer: &Viewer) -> Scope {
        let (sources, transferred, records, aggregates, masked): (&[Source], bool, bool, bool, bool) = match viewer.role
        {
            Role::Admin | Role::Discipline => (Source::ALL, false, true, true, false),
            Role::Plc => (ALL_BUT_DISCIPLINE, false, true, true, false),
            Role::Procurator => (ALL_BUT_DISCIPLINE, true, true, true, false),
            Role::Congress => (ALL_BUT_DISCIPLINE, false, true, true, true),
            Role::Analyst => (ALL_BUT_DISCIPLINE, false, false, true, false),
            Role::Auditor | Role::Ingestor | Role::Agency | Role::Inspector | Role::Citizen | Role::Employer => {
                (&[], false, false, false, false)
            }
        };
        Scope {
            role: viewer.role,
            sources: sources.to_vec(),
            transferred_discipline: transferred,
            region_prefixes: (viewer.role != Role::Admin).then(|| viewer.regions.clone()),
            records,
            aggregates,
            masked,
            unit: viewer.unit.clone(),
        }
    }

    /// A supervisory duty: opens, revisits, closes and returns supervision tasks.
    pub fn supervises(&self) -> bool {
        matches!(
            self.role,
            Role::Admin | Role::Plc | Role::Procurator | Role::Discipline | Role::Congress
        )
    }

    /// Reads supervision tasks: supervisors, an `agency` with a `unit`, and an `inspector`
    /// (the tasks inspections in its regions opened).
    pub fn reads_tasks(&self) -> bool {
        self.supervises() || self.agency_unit().is_some() || self.role == Role::Inspector
    }

    /// Records 平安督 inspections (in its regions): `admin` and `inspector`.
    pub fn records_inspections(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Inspector)
    }

    /// Records an inspection in `region`: `admin`, or an `inspector` in its regions.
    pub fn may_record_inspection(&self, region: &str) -> bool {
        self.records_inspections() && self.holds_region(region)
    }

    /// Reads recorded inspections (in its regions): `admin` and `inspector`.
    pub fn reads_inspections(&self) -> bool {
        self.records_inspections()
    }

    /// Whether this is an inspector's scope: its tasks are those its inspections opened.
    pub fn inspects(&self) -> bool {
        self.role == Role::Inspector
    }

    /// Reads the 平安督查指数 (API.md): every role that reads records or aggregates, an
    /// `agency` (its own town's rows), and `inspector`.
    pub fn reads_inspection_index(&self) -> bool {
        self.aggregates || self.agency_unit().is_some() || self.role == Role::Inspector
    }

    /// The department an `agency` token works the tasks of (`None` for other roles).
    pub fn agency_unit(&self) -> Option<&str> {
        (self.role == Role::Agency).then_some(self.unit.as_deref()).flatten()
    }

    /// Answers (整改反馈) a task assigned to `department`: admin, or that department's agency.
    pub fn answers_for(&self, department: &str) -> bool {
        self.role == Role::Admin || self.agency_unit() == Some(department)
    }

    /// Whether `region` lies in the viewer's regions (admin: every region).
    pub fn holds_region(&self, region: &str) -> bool {
        match &self.region_prefixes {
            None => true,
            Some(prefixes) => prefixes.iter().any(|p| region.starts_with(p.as_str())),
        }
    }

    /// Reads the audit log: `admin` and `auditor` (the auditor within its regions).
    pub fn reads_audit_log(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Auditor)
    }

    /// Administration: provenance, quarantine, revocation, introspection by default.
    pub fn administers(&self) -> bool {
        self.role == Role::Admin
    }

    /// Loads files (`POST /ingest`): `admin` and `ingestor`.
    pub fn ingests(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Ingestor)
    }

    /// Aggregates are answered with small cells suppressed (roles that see aggregates only).
    pub fn suppresses_small_cells(&self) -> bool {
        self.aggregates && !self.records
    }

    /// Region-code prefixes the viewer holds; `None`: every region (admin).
    pub fn region_prefixes(&self) -> Option<&[String]> {
        self.region_prefixes.as_deref()
    }

    /// The rows of `cases` this scope reaches, as a condition for every query on cases.
    pub fn case_condition(&self) -> Condition {
        let mut sources = Condition::any();
        if !self.sources.is_empty() {
            sources = sources.add(case::Column::Source.is_in(self.sources.iter().copied()));
        }
        if self.transferred_discipline {
            sources = sources.add(
                Condition::all()
                    .add(case::Column::Source.eq(Source::Discipline))
                    .add(case::Column::Transferred.eq(true)),
            );
        }
        if self.sources.is_empty() && !self.transferred_discipline {
            sources = sources.add(nothing());
        }
        let mut condition = Condition::all().add(case::Column::Deleted.eq(false)).add(sources);
        if let Some(regions) = self.region_condition() {
            condition = condition.add(regions);
        }
        condition
    }

    /// The cases whose region lies in the viewer's regions, whatever their source (`None`:
    /// every region, for admin). Also what places audit entries for an `auditor`.
    pub fn region_condition(&self) -> Option<Condition> {
        let prefixes = self.region_prefixes.as_ref()?;
        let mut regions = Condition::any().add(nothing());
        for p in prefixes {
            regions = regions.add(case::Column::RegionCode.starts_with(p.as_str()));
        }
        // Records with no region: only admin and tokens holding exactly the province prefix.
        if sees_regionless(prefixes) {
            regions = regions.add(case::Column::RegionCode.is_null());
        }
        Some(regions)
    }
}

/// Who reads what of the supervision models (API.md, "Who reads the new fields").
impl Scope {
    /// `supervisionModels`: every role that reads records or aggregates, and `agency`.
    pub fn reads_models(&self) -> bool {
        self.aggregates || self.agency_unit().is_some()
    }

    /// Runs models, exempts findings and opens their tasks: the supervisors.
    pub fn runs_models(&self) -> bool {
        self.supervises()
    }

    /// Counts findings without reading them (`analyst`).
    pub fn counts_findings_only(&self) -> bool {
        self.suppresses_small_cells()
    }

    /// Whether findings about subjects of `kind` are this viewer's to read or count at all:
    /// `congress` reads those about companies only (API.md).
    pub fn reads_findings_about(&self, kind: entities::PartyKind) -> bool {
        self.role != Role::Congress || kind == entities::PartyKind::Organization
    }

    /// Reads conviction rows (as evidence, or on a party): admin, plc, procurator, discipline.
    pub fn reads_convictions(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Plc | Role::Procurator | Role::Discipline)
    }

    /// `practitionerCodes`: admin, plc, procurator, discipline in their regions; an `agency`
    /// that is the trade's regulator.
    pub fn reads_practitioner_codes(&self) -> bool {
        self.reads_convictions() || self.agency_unit().is_some()
    }

    /// Asks for its own practitioner code (`citizen`).
    pub fn looks_up_own_code(&self) -> bool {
        self.role == Role::Citizen
    }

    /// Verifies a candidate's code (`employer`).
    pub fn verifies_codes(&self) -> bool {
        self.role == Role::Employer
    }

    /// The findings (or codes) this scope reaches, as a condition on a table with `regions`
    /// and `departments` columns (`,`-delimited lists), or `None` when it reaches none.
    /// `organization_models`: the models a `congress` viewer may read (those finding companies).
    pub fn subject_condition(
        &self,
        backend: sea_orm::DbBackend,
        table: &str,
        organization_models: Option<&[String]>,
    ) -> Option<Condition> {
        let mut c = Condition::all();
        match self.role {
            Role::Admin | Role::Plc | Role::Procurator | Role::Discipline => {}
            Role::Congress => match organization_models {
                Some(models) => {
                    let column = (
                        sea_orm::sea_query::Alias::new(table),
                        sea_orm::sea_query::Alias::new("model"),
                    );
                    c = c.add(Expr::col(column).is_in(models.iter().cloned()));
                }
                None => return None,
            },
            Role::Agency => {
                let unit = self.agency_unit()?;
                // `,unit,` inside the delimited list; `instr`/`strpos`, so no character of the
                // unit is a pattern.
                let sql = match backend {
                    sea_orm::DbBackend::Postgres => format!("strpos(\"{table}\".\"departments\", $1) > 0"),
                    _ => format!("instr(\"{table}\".\"departments\", ?) > 0"),
                };
                c = c.add(Expr::cust_with_values(sql, [format!(",{unit},")]));
            }
            _ => return None,
        }
        if let Some(prefixes) = self.region_prefixes() {
            let mut regions = Condition::any().add(nothing());
            for p in prefixes {
                // Region prefixes are digits (checked when the token was read).
                regions = regions.add(Expr::cust(format!("\"{table}\".\"regions\" LIKE '%,{p}%'")));
            }
            if sees_regionless(prefixes) {
                regions = regions.add(Expr::cust(format!("\"{table}\".\"regions\" = ',,'")));
            }
            c = c.add(regions);
        }
        Some(c)
    }
}

/// `CaseFilter` fields that can confirm a value: an oracle for a role that may not read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    Identifier,
    PartyId,
    CaseNumber,
    Text,
    PartyName,
}

impl Scope {
    /// Whether this scope may filter cases by `field` (API.md, "Oracles"): a masking role may
    /// not look identifiers up (its `text` searches run on the masked text instead); a role
    /// that sees aggregates only may filter by none of these.
    pub fn may_filter_by(&self, field: FilterField) -> bool {
        if !self.records {
            return false;
        }
        !(self.masked && field == FilterField::Identifier)
    }
}

/// What decides whether a scope reaches a case, for checks made in memory (the linkage index).
#[derive(Debug, Clone, Copy)]
pub struct CaseVisibility<'a> {
    pub source: Source,
    pub transferred: bool,
    pub deleted: bool,
    pub region_code: Option<&'a str>,
}

impl<'a> CaseVisibility<'a> {
    pub fn of(case: &'a case::Model) -> CaseVisibility<'a> {
        CaseVisibility {
            source: case.source,
            transferred: case.transferred,
            deleted: case.deleted,
            region_code: case.region_code.as_deref(),
        }
    }
}

impl Scope {
    /// The rule of `case_condition`, for a case held in memory: both must agree (a test checks
    /// them against each other on every combination), and rows the walk finds this way are
    /// read back through `case_condition` before they leave.
    pub fn admits(&self, case: CaseVisibility<'_>) -> bool {
        if case.deleted {
            return false;
        }
        let source = self.sources.contains(&case.source)
            || (self.transferred_discipline && case.source == Source::Discipline && case.transferred);
        if !source {
            return false;
        }
        match (&self.region_prefixes, case.region_code) {
            (None, _) => true,
            (Some(prefixes), Some(region)) => prefixes.iter().any(|p| region.starts_with(p.as_str())),
            (Some(prefixes), None) => sees_regionless(prefixes),
        }
    }
}

/// Records without a region are visible to tokens whose `regions` contain exactly `33`
/// (API.md): `3` is a prefix of every region, not a claim on the whole province's unplaced records.
pub fn sees_regionless(prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| p == "33")
}

fn nothing() -> Expr {
    Expr::cust("1 = 0")
}
