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

/// The one mapping of the domain's errors to the API's codes.
impl From<hub::Error> for ApiError {
    fn from(e: hub::Error) -> Self {
        match e {
            hub::Error::Forbidden => ApiError::Forbidden,
            hub::Error::NotFound(what) => ApiError::NotFound(what),
            hub::Error::BadInput(m) => ApiError::BadUserInput(m),
            hub::Error::LimitExceeded(m) => ApiError::LimitExceeded(m),
            hub::Error::Internal(cause) => ApiError::Internal(cause),
        }
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
