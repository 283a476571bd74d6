//! Authentication: a bearer JWT becomes a `Viewer`.

mod keys;
mod revocation;
mod role;
mod verify;

pub use revocation::Revocations;
pub use role::Role;
pub use verify::{
    mint_hs256, mint_hs256_for_unit, Claims, TokenError, Verified, Verifier, MAX_CLAIM_BYTES, MAX_REGIONS,
    MIN_HS256_SECRET_BYTES,
};

/// Who is asking: the verified claims that authorization is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub sub: String,
    pub role: Role,
    /// Region-code prefixes; ignored for `admin`.
    pub regions: Vec<String>,
    /// The organizational unit of an `agency` token.
    pub unit: Option<String>,
}
