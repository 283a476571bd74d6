//! JWT verification: an allow-list of algorithms, keys chosen by algorithm and `kid`,
//! `exp` required, `nbf` honoured, `iss`/`aud` when configured, strict claim types.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use super::keys::{FileKind, KeyFile};
use super::{Role, Viewer};
use crate::config::Config;
use entities::ids::region::is_region_prefix;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lru::LruCache;
use serde::{Deserialize, Serialize};

/// The claims Qianchuan reads. Wrong JSON types fail deserialization and so the token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<String>>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// A `citizen`'s own ID number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idn: Option<String>,
    /// An `employer`'s credit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uscc: Option<String>,
}

const LEEWAY_SECONDS: u64 = 30;

/// A verified token: who, and what revocation needs.
#[derive(Debug, Clone)]
pub struct Verified {
    pub viewer: Viewer,
    pub jti: Option<String>,
    pub exp: u64,
}

pub struct Verifier {
    secret: Option<DecodingKey>,
    pem: Option<KeyFile>,
    jwks: Option<KeyFile>,
    allowed: HashSet<Algorithm>,
    validation: Validation,
    /// Tokens verified lately, by their exact text (as Envoy's `jwt_authn` keeps them): a
    /// front-end sends the same token with every request, and checking its signature and
    /// claims again costs more than the rest of a chain request's authentication. Only a token
    /// that passed every check is kept; it is taken from here only while it has not expired
    /// and the keys it was verified with have not changed. Revocation and the rate limit are
    /// checked for every request after it (`http::graphql::authenticate_bearer`).
    remembered: Mutex<LruCache<Box<str>, Remembered>>,
}

/// A token that passed every check.
struct Remembered {
    verified: Verified,
    /// The key files' generations it was verified under (`Verifier::key_generations`).
    keys: (u64, u64),
}

/// Verified tokens kept at most.
const REMEMBERED: usize = 4_096;
/// A longer token is verified every time (a token is a few hundred bytes).
const MAX_REMEMBERED_TOKEN_BYTES: usize = 4_096;

/// Whether a token whose `exp` is `exp` is still accepted at `now` (seconds): the rule
/// `jsonwebtoken` applies with this verifier's leeway.
fn not_expired(exp: u64, now: u64) -> bool {
    exp >= now.saturating_sub(LEEWAY_SECONDS)
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token rejected: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
    #[error("algorithm {0:?} is not accepted")]
    Algorithm(Algorithm),
    #[error("no key for this token (kid {0:?})")]
    UnknownKey(Option<String>),
    #[error("unknown role {0:?}")]
    UnknownRole(String),
    #[error("claim `regions` is required for role {0}")]
    MissingRegions(Role),
    #[error("claim `{0}` must hold a valid identifier for role {1}")]
    MissingIdentity(&'static str, Role),
    #[error("claim `regions` holds {0:?}, not a region-code prefix")]
    BadRegion(String),
    #[error("claim `sub` is empty")]
    EmptySubject,
    #[error("claim `{0}` is larger than accepted")]
    TooLarge(&'static str),
}

/// Bounds on claims: a token is small, whatever its signer was persuaded to sign.
pub const MAX_REGIONS: usize = 64;
/// Longest `sub`, `unit` or `jti` accepted, in bytes.
pub const MAX_CLAIM_BYTES: usize = 256;
/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash's size).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

impl Verifier {
    /// Builds the verifier from configuration. `Ok(None)` when no key is configured;
    /// an unreadable key file or an unknown algorithm is an error.
    pub fn from_config(config: &Config) -> Result<Option<Verifier>, String> {
        if let Some(secret) = &config.jwt_secret {
            if secret.expose().len() < MIN_HS256_SECRET_BYTES {
                return Err(format!(
                    "QIANCHUAN_JWT_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes (e.g. `openssl rand -hex 32`)"
                ));
            }
        }
        let secret = config
            .jwt_secret
            .as_ref()
            .map(|s| DecodingKey::from_secret(s.expose().as_bytes()));
        let pem = config
            .jwt_public_key
            .clone()
            .map(|p| KeyFile::open(p, FileKind::Pem))
            .transpose()?;
        let jwks = config
            .jwks
            .clone()
            .map(|p| KeyFile::open(p, FileKind::Jwks))
            .transpose()?;
        if secret.is_none() && pem.is_none() && jwks.is_none() {
            return Ok(None);
        }
        let allowed: HashSet<Algorithm> = match &config.jwt_algorithms {
            Some(list) => list
                .iter()
                .map(|a| match a.trim() {
                    "HS256" => Ok(Algorithm::HS256),
                    "RS256" => Ok(Algorithm::RS256),
                    "ES256" => Ok(Algorithm::ES256),
                    other => Err(format!(
                        "QIANCHUAN_JWT_ALGORITHMS: {other:?} is not one of HS256, RS256, ES256"
                    )),
                })
                .collect::<Result<_, _>>()?,
            None => {
                let mut a = HashSet::new();
                if secret.is_some() {
                    a.insert(Algorithm::HS256);
                }
                if pem.is_some() || jwks.is_some() {
                    a.insert(Algorithm::RS256);
                    a.insert(Algorithm::ES256);
                }
                a
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        if config.jwt_issuer.is_some() {
            required.push("iss");
        }
        if config.jwt_audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        match &config.jwt_issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &config.jwt_audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Ok(Some(Verifier {
            secret,
            pem,
            jwks,
            allowed,
            validation,
            remembered: Mutex::new(LruCache::new(
                NonZeroUsize::new(REMEMBERED).unwrap_or(NonZeroUsize::MIN),
            )),
        }))
    }

    /// Verifies a compact JWT and turns its claims into a `Viewer`.
    pub fn verify(&self, token: &str) -> Result<Verified, TokenError> {
        let keys = self.key_generations();
        if let Some(verified) = self.remembered(token, keys, jsonwebtoken::get_current_timestamp()) {
            return Ok(verified);
        }
        let verified = self.verify_signed(token)?;
        if token.len() <= MAX_REMEMBERED_TOKEN_BYTES {
            if let Ok(mut remembered) = self.remembered.lock() {
                remembered.put(
                    token.into(),
                    Remembered {
                        verified: verified.clone(),
                        keys,
                    },
                );
            }
        }
        Ok(verified)
    }

    /// The key files' generations (both 0 without files): a change of either forgets every
    /// token verified before it.
    fn key_generations(&self) -> (u64, u64) {
        (
            self.pem.as_ref().map_or(0, KeyFile::generation),
            self.jwks.as_ref().map_or(0, KeyFile::generation),
        )
    }

    /// `token` as verified before under the same keys, if it has not expired at `now`.
    fn remembered(&self, token: &str, keys: (u64, u64), now: u64) -> Option<Verified> {
        let mut remembered = self.remembered.lock().ok()?;
        let found = remembered.get(token)?;
        if found.keys == keys && not_expired(found.verified.exp, now) {
            return Some(found.verified.clone());
        }
        remembered.pop(token);
        None
    }

    /// Checks the token's signature and claims.
    fn verify_signed(&self, token: &str) -> Result<Verified, TokenError> {
        let header = decode_header(token)?;
        if !self.allowed.contains(&header.alg) {
            return Err(TokenError::Algorithm(header.alg));
        }
        let key = match header.alg {
            Algorithm::HS256 => self.secret.clone(),
            _ => {
                let from_jwks = match (&self.jwks, header.kid.as_deref()) {
                    (Some(jwks), Some(kid)) => jwks.keys().find(Some(kid)).cloned(),
                    _ => None,
                };
                let from_pem = || self.pem.as_ref().and_then(|p| p.keys().find(None).cloned());
                from_jwks
                    .or_else(|| {
                        if header.kid.is_none() || self.jwks.is_none() {
                            from_pem()
                        } else {
                            None
                        }
                    })
                    .filter(|k| k.algorithm == header.alg)
                    .map(|k| k.key)
            }
        };
        let key = key.ok_or_else(|| TokenError::UnknownKey(header.kid.clone()))?;
        let mut validation = self.validation.clone();
        validation.algorithms = vec![header.alg];
        let data = decode::<Claims>(token, &key, &validation)?;
        let (jti, exp) = (data.claims.jti.clone(), data.claims.exp);
        Ok(Verified {
            viewer: viewer_from_claims(data.claims)?,
            jti,
            exp,
        })
    }
}

fn viewer_from_claims(claims: Claims) -> Result<Viewer, TokenError> {
    let role = Role::parse(&claims.role).ok_or_else(|| TokenError::UnknownRole(claims.role.clone()))?;
    if claims.sub.trim().is_empty() {
        return Err(TokenError::EmptySubject);
    }
    for (name, value) in [
        ("sub", Some(&claims.sub)),
        ("unit", claims.unit.as_ref()),
        ("jti", claims.jti.as_ref()),
        ("idn", claims.idn.as_ref()),
        ("uscc", claims.uscc.as_ref()),
    ] {
        if value.is_some_and(|v| v.len() > MAX_CLAIM_BYTES) {
            return Err(TokenError::TooLarge(name));
        }
    }
    if claims.regions.as_ref().is_some_and(|r| r.len() > MAX_REGIONS) {
        return Err(TokenError::TooLarge("regions"));
    }
    // Whom a citizen or employer token speaks for: a valid identifier, or no token at all.
    let own_id = match role {
        Role::Citizen => Some(
            claims
                .idn
                .as_deref()
                .and_then(|v| entities::ids::IdNumber::parse(v).ok())
                .map(|v| v.as_str().to_string())
                .ok_or(TokenError::MissingIdentity("idn", role))?,
        ),
        Role::Employer => Some(
            claims
                .uscc
                .as_deref()
                .and_then(|v| entities::ids::CreditCode::parse(v).ok())
                .map(|v| v.as_str().to_string())
                .ok_or(TokenError::MissingIdentity("uscc", role))?,
        ),
        _ => None,
    };
    let regions = match (role, claims.regions) {
        (Role::Admin | Role::Citizen | Role::Employer, regions) => regions.unwrap_or_default(),
        (_, None) => return Err(TokenError::MissingRegions(role)),
        (_, Some(regions)) if regions.is_empty() => return Err(TokenError::MissingRegions(role)),
        (_, Some(regions)) => regions,
    };
    if let Some(bad) = regions.iter().find(|r| !is_region_prefix(r)) {
        return Err(TokenError::BadRegion(bad.clone()));
    }
    Ok(Viewer {
        sub: claims.sub,
        role,
        regions,
        unit: claims.unit,
        own_id,
    })
}

/// Mints an HS256 token (for `qianchuan token`, the demo and tests).
pub fn mint_hs256(
    secret: &str,
    sub: &str,
    role: Role,
    regions: &[String],
    ttl_seconds: u64,
    issuer_audience: (Option<&str>, Option<&str>),
) -> Result<String, jsonwebtoken::errors::Error> {
    mint_hs256_for_unit(secret, sub, role, regions, None, ttl_seconds, issuer_audience)
}

/// As `mint_hs256`, with the `unit` claim of an `agency` token.
pub fn mint_hs256_for_unit(
    secret: &str,
    sub: &str,
    role: Role,
    regions: &[String],
    unit: Option<&str>,
    ttl_seconds: u64,
    issuer_audience: (Option<&str>, Option<&str>),
) -> Result<String, jsonwebtoken::errors::Error> {
    let extra = IdentityClaims {
        unit,
        ..Default::default()
    };
    mint_hs256_with(secret, sub, role, regions, extra, ttl_seconds, issuer_audience)
}

/// The optional claims a minted token carries.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdentityClaims<'a> {
    pub unit: Option<&'a str>,
    pub idn: Option<&'a str>,
    pub uscc: Option<&'a str>,
}

/// As `mint_hs256`, with `unit`, `idn` and `uscc` claims.
pub fn mint_hs256_with(
    secret: &str,
    sub: &str,
    role: Role,
    regions: &[String],
    extra: IdentityClaims<'_>,
    ttl_seconds: u64,
    issuer_audience: (Option<&str>, Option<&str>),
) -> Result<String, jsonwebtoken::errors::Error> {
    let unit = extra.unit;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let mut claims = serde_json::json!({
        "sub": sub,
        "role": role.as_str(),
        "regions": regions,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": format!("{sub}-{now}-{:08x}", rand::random::<u32>()),
    });
    if let Some(unit) = unit {
        claims["unit"] = unit.into();
    }
    if let Some(idn) = extra.idn {
        claims["idn"] = idn.into();
    }
    if let Some(uscc) = extra.uscc {
        claims["uscc"] = uscc.into();
    }
    if let Some(iss) = issuer_audience.0 {
        claims["iss"] = iss.into();
    }
    if let Some(aud) = issuer_audience.1 {
        claims["aud"] = aud.into();
    }
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    const TEST_SECRET: &str = "a-test-secret-of-thirty-two-bytes!";

    fn verifier() -> Verifier {
        let config = Config {
            jwt_secret: Some(Secret::new(TEST_SECRET)),
            ..Config::default()
        };
        Verifier::from_config(&config).unwrap().unwrap()
    }

    fn sign(claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
        )
        .unwrap()
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn accepts_a_minted_token() {
        let t = mint_hs256(TEST_SECRET, "alice", Role::Plc, &["3301".into()], 60, (None, None)).unwrap();
        let v = verifier().verify(&t).unwrap();
        assert_eq!(
            (v.viewer.sub.as_str(), v.viewer.role, v.viewer.regions),
            ("alice", Role::Plc, vec!["3301".to_string()])
        );
        assert!(v.jti.is_some());
    }

    #[test]
    fn rejects_bad_tokens() {
        let v = verifier();
        let cases = [
            (
                "expired",
                serde_json::json!({"sub":"a","role":"plc","regions":["33"],"exp": now() - 120}),
            ),
            ("no exp", serde_json::json!({"sub":"a","role":"plc","regions":["33"]})),
            (
                "not yet valid",
                serde_json::json!({"sub":"a","role":"plc","regions":["33"],"exp": now() + 600, "nbf": now() + 300}),
            ),
            (
                "unknown role",
                serde_json::json!({"sub":"a","role":"root","regions":["33"],"exp": now() + 60}),
            ),
            (
                "no regions",
                serde_json::json!({"sub":"a","role":"plc","exp": now() + 60}),
            ),
            (
                "regions as string",
                serde_json::json!({"sub":"a","role":"plc","regions":"33","exp": now() + 60}),
            ),
            (
                "empty regions",
                serde_json::json!({"sub":"a","role":"plc","regions":[],"exp": now() + 60}),
            ),
            (
                "too many regions",
                serde_json::json!({"sub":"a","role":"plc","regions": vec!["3301"; 20_000],"exp": now() + 60}),
            ),
            (
                "a huge subject",
                serde_json::json!({"sub": "x".repeat(10_000),"role":"plc","regions":["33"],"exp": now() + 60}),
            ),
            (
                "bad prefix",
                serde_json::json!({"sub":"a","role":"plc","regions":["33%"],"exp": now() + 60}),
            ),
            (
                "exp as string",
                serde_json::json!({"sub":"a","role":"plc","regions":["33"],"exp": (now() + 60).to_string()}),
            ),
        ];
        for (name, claims) in cases {
            assert!(v.verify(&sign(claims)).is_err(), "{name}");
        }
        assert!(v.verify("not.a.token").is_err());
    }

    #[test]
    fn refuses_a_short_hs256_secret() {
        let config = Config {
            jwt_secret: Some(Secret::new("x")),
            ..Config::default()
        };
        assert!(Verifier::from_config(&config).is_err());
    }

    #[test]
    fn a_remembered_token_expires_as_a_verified_one_does() {
        // The rule checked against the library's own, a few seconds from its boundary.
        let v = verifier();
        let leeway = LEEWAY_SECONDS as i64;
        for (exp, accepted) in [(now() - leeway - 3, false), (now() - leeway + 3, true)] {
            let t = sign(serde_json::json!({"sub":"a","role":"plc","regions":["33"],"exp": exp}));
            assert_eq!(v.verify_signed(&t).is_ok(), accepted, "exp {exp}");
            assert_eq!(not_expired(exp as u64, now() as u64), accepted, "exp {exp}");
        }
        // Remembered once verified, and no longer once expired or once the keys changed.
        let exp = now() + 60;
        let t = sign(serde_json::json!({"sub":"a","role":"plc","regions":["33"],"exp": exp}));
        assert!(v.remembered(&t, (0, 0), now() as u64).is_none());
        assert_eq!(v.verify(&t).unwrap().viewer.sub, "a");
        assert_eq!(v.remembered(&t, (0, 0), now() as u64).map(|r| r.exp), Some(exp as u64));
        assert!(v.remembered(&t, (0, 1), now() as u64).is_none());
        assert_eq!(v.verify(&t).unwrap().exp, exp as u64);
        assert!(v.remembered(&t, (0, 0), exp as u64 + LEEWAY_SECONDS + 1).is_none());
        assert!(
            v.remembered(&t, (0, 0), now() as u64).is_none(),
            "forgotten once expired"
        );
        // A token that fails is not remembered.
        let expired = sign(serde_json::json!({"sub":"a","role":"plc","regions":["33"],"exp": now() - 120}));
        assert!(v.verify(&expired).is_err());
        assert!(v.remembered(&expired, (0, 0), 0).is_none());
    }

    #[test]
    fn honours_leeway_and_lets_admin_omit_regions() {
        let t = sign(serde_json::json!({"sub":"root","role":"admin","exp": now() - 10}));
        assert_eq!(verifier().verify(&t).unwrap().viewer.role, Role::Admin);
    }
}
