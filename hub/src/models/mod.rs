//! Supervision models (MODELS.md): declarations, the two built-in rules, runs and the
//! findings' closed loop.

pub mod codes;
pub mod declarations;
pub mod engine;
pub mod lifecycle;

use chrono::NaiveDate;
pub use declarations::{Declaration, Rule};

/// The models a hub runs, and how.
#[derive(Debug, Clone)]
pub struct Models {
    pub declarations: Vec<Declaration>,
    /// Days a finding's task is given.
    pub task_days: u32,
    /// The date automatic runs use instead of today in Asia/Shanghai (a demo world's).
    pub fixed_date: Option<NaiveDate>,
    /// Employer look-ups per employer and day.
    pub employer_daily_limit: u32,
}

impl Models {
    /// The shipped declarations, or those of `path`; an invalid file is refused with its line.
    pub fn load(path: Option<&std::path::Path>) -> Result<Models, String> {
        let declarations = match path {
            None => declarations::parse(declarations::SHIPPED, "models.toml (shipped)")?,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
                declarations::parse(&text, &path.display().to_string())?
            }
        };
        Ok(Models {
            declarations,
            task_days: 30,
            fixed_date: None,
            employer_daily_limit: 100,
        })
    }

    pub fn get(&self, id: &str) -> Option<&Declaration> {
        self.declarations.iter().find(|d| d.id == id)
    }

    /// The date of automatic runs: the fixed one, or today in Asia/Shanghai.
    pub fn today(&self) -> NaiveDate {
        self.fixed_date
            .unwrap_or_else(|| crate::inspections::day_of(chrono::Utc::now()))
    }
}
