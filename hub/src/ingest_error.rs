//! Why a write of input records failed: the input (a file refused whole), or the database.

/// The input or the database; a refused file stores nothing.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The whole file is refused (wrong encoding, malformed XML); nothing from it is stored.
    #[error("{file}: rejected: {reason}")]
    Rejected { file: String, reason: String },
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl From<adapters::AdapterError> for IngestError {
    fn from(e: adapters::AdapterError) -> Self {
        match e {
            adapters::AdapterError::Rejected { file, reason } => IngestError::Rejected { file, reason },
        }
    }
}

pub type Result<T> = std::result::Result<T, IngestError>;
