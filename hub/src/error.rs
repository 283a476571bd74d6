//! The domain's error: what went wrong, in the domain's words. The gateway maps each variant
//! to a stable `extensions.code` in one place.

/// Deliberately not `Display`: nothing should turn it into a client message without deciding
/// its code (the gateway's `Error` does).
#[derive(Debug)]
pub enum Error {
    /// The viewer's role may not do or read this.
    Forbidden,
    /// The thing does not exist, or is outside the viewer's scope (which must look the same).
    NotFound(&'static str),
    /// The request is wrong; the message says how.
    BadInput(String),
    /// The request asks for more than a limit allows; the message says which.
    LimitExceeded(String),
    /// Anything else; the cause is for the log only.
    Internal(anyhow::Error),
}

impl Error {
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Error::BadInput(msg.into())
    }
}

impl From<sea_orm::DbErr> for Error {
    fn from(e: sea_orm::DbErr) -> Self {
        crate::db::note_failure(&e);
        Error::Internal(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
