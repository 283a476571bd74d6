//! Qianchuan's source adapters: one module per source system, each a pure
//! function from export bytes to unified records or quarantined items (the writers that
//! store them live in the `hub` crate).

pub mod congress;
pub mod csv;
pub mod demo;
pub mod discipline;
pub mod enforcement;
pub mod inspections;
mod json_fields;
pub mod procuratorate;
pub mod record;
pub mod reference;
pub mod segment;
pub mod sniff;
pub mod social;
pub mod text;

pub use record::{Item, Parsed, Position, Quarantined, UnifiedRecord};

use entities::Source;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The whole file is refused (wrong encoding, malformed XML); nothing from it is stored.
    #[error("{file}: rejected: {reason}")]
    Rejected { file: String, reason: String },
}

pub type Result<T> = std::result::Result<T, AdapterError>;

/// Parses one export file of `source`.
pub fn parse(source: Source, file: &str, bytes: &[u8]) -> Result<Parsed> {
    match source {
        Source::Enforcement => enforcement::parse(file, bytes),
        Source::Discipline => discipline::parse(file, bytes),
        Source::Congress => congress::parse(file, bytes),
        Source::Procuratorate => procuratorate::parse(file, bytes),
        Source::Social => social::parse(file, bytes),
    }
}
