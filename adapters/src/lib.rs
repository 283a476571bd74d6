//! Qianchuan's source adapters: one module per source system, each a pure
//! function from export bytes to unified records or quarantined items.

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// The whole file is refused (wrong encoding, malformed XML); nothing from it is stored.
    #[error("{file}: rejected: {reason}")]
    Rejected { file: String, reason: String },
}

pub type Result<T> = std::result::Result<T, AdapterError>;
