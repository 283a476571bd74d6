//! The gateway's error type and its one mapping to stable `extensions.code` values.

use async_graphql::ErrorExtensions;

/// Deliberately not `Display`: async-graphql turns any `Display` error into an
/// error without a code, so the only way out is `extend()`, which sets one.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    Forbidden,
    NotFound(&'static str),
    BadUserInput(String),
    LimitExceeded(String),
    /// The cause goes to the log, never to the client.
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::LimitExceeded(_) => "LIMIT_EXCEEDED",
            ApiError::Internal(_) => "INTERNAL",
        }
    }

    /// The message the client sees.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => "a valid bearer token is required".into(),
            ApiError::Forbidden => "your role may not read this".into(),
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::BadUserInput(m) | ApiError::LimitExceeded(m) => m.clone(),
            ApiError::Internal(_) => "internal error".into(),
        }
    }

    pub fn bad_input(msg: impl Into<String>) -> Self {
        ApiError::BadUserInput(msg.into())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        ApiError::Internal(e.into())
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        if let ApiError::Internal(cause) = self {
            // The client gets a generic message; the log gets the whole chain.
            tracing::error!(error = ?cause, "internal error");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, e| e.set("code", self.code()))
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.extend()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
