//! Authentication: a bearer JWT becomes a `Viewer`.

mod keys;
mod verify;

pub use hub::revocation::Revocations;
pub use hub::{Role, Viewer};
pub use verify::{
    mint_hs256, mint_hs256_for_unit, mint_hs256_with, Claims, IdentityClaims, TokenError, Verified, Verifier,
    MAX_CLAIM_BYTES, MAX_REGIONS, MIN_HS256_SECRET_BYTES,
};
