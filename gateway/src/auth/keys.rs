//! Verification keys from files — a PEM public key or a JWKS — re-read when the file
//! changes, so keys rotate without a restart.

use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

/// One key and the algorithm it verifies.
#[derive(Clone)]
pub struct Key {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

/// Keys by `kid` (`None`: the PEM key, used when a token names no `kid`).
#[derive(Clone, Default)]
pub struct Keys {
    pub by_kid: Vec<(Option<String>, Key)>,
}

impl Keys {
    pub fn find(&self, kid: Option<&str>) -> Option<&Key> {
        self.by_kid
            .iter()
            .find(|(k, _)| k.as_deref() == kid)
            .map(|(_, key)| key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pem,
    Jwks,
}

/// A key file and what was last read from it.
pub struct KeyFile {
    path: PathBuf,
    kind: FileKind,
    state: RwLock<Read>,
}

/// What was last read from a key file.
struct Read {
    modified: Option<SystemTime>,
    checked: Instant,
    keys: Keys,
    /// How many times the keys were read again since start.
    generation: u64,
}

const RECHECK: Duration = Duration::from_secs(1);

impl KeyFile {
    /// Reads the file now; a file that cannot be read or parsed is a start-up error.
    pub fn open(path: PathBuf, kind: FileKind) -> Result<KeyFile, String> {
        let (mtime, keys) = read(&path, kind)?;
        Ok(KeyFile {
            path,
            kind,
            state: RwLock::new(Read {
                modified: mtime,
                checked: Instant::now(),
                keys,
                generation: 0,
            }),
        })
    }

    /// The current keys, re-read if the file changed (checked at most once a second).
    /// A file that became unreadable keeps the last good keys.
    pub fn keys(&self) -> Keys {
        self.refresh();
        self.state.read().map(|s| s.keys.clone()).unwrap_or_default()
    }

    /// How many times the keys changed since start (re-read as `keys` does): a token verified
    /// under another generation must be verified again.
    pub fn generation(&self) -> u64 {
        self.refresh();
        self.state.read().map(|s| s.generation).unwrap_or(u64::MAX)
    }

    fn refresh(&self) {
        let stale = self
            .state
            .read()
            .map(|s| s.checked.elapsed() >= RECHECK)
            .unwrap_or(true);
        if !stale {
            return;
        }
        let modified = std::fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if let Ok(mut state) = self.state.write() {
            state.checked = Instant::now();
            if modified != state.modified {
                match read(&self.path, self.kind) {
                    Ok((mtime, keys)) => {
                        tracing::info!(path = %self.path.display(), "verification keys reloaded");
                        state.modified = mtime;
                        state.keys = keys;
                        state.generation += 1;
                    }
                    Err(e) => tracing::error!(path = %self.path.display(), error = %e, "keeping the previous keys"),
                }
            }
        }
    }
}

fn read(path: &PathBuf, kind: FileKind) -> Result<(Option<SystemTime>, Keys), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let keys = match kind {
        FileKind::Pem => pem_key(&bytes).map_err(|e| format!("{}: {e}", path.display()))?,
        FileKind::Jwks => jwks(&bytes).map_err(|e| format!("{}: {e}", path.display()))?,
    };
    Ok((mtime, keys))
}

fn pem_key(bytes: &[u8]) -> Result<Keys, String> {
    let key = if let Ok(k) = DecodingKey::from_rsa_pem(bytes) {
        Key {
            algorithm: Algorithm::RS256,
            key: k,
        }
    } else if let Ok(k) = DecodingKey::from_ec_pem(bytes) {
        Key {
            algorithm: Algorithm::ES256,
            key: k,
        }
    } else {
        return Err("not an RSA or EC public key in PEM".into());
    };
    Ok(Keys {
        by_kid: vec![(None, key)],
    })
}

fn jwks(bytes: &[u8]) -> Result<Keys, String> {
    let set: JwkSet = serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut by_kid = Vec::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else { continue };
        let algorithm = match (jwk.common.key_algorithm, &jwk.algorithm) {
            (Some(KeyAlgorithm::RS256), _) => Algorithm::RS256,
            (Some(KeyAlgorithm::ES256), _) => Algorithm::ES256,
            (Some(_), _) => continue,
            (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
            (None, AlgorithmParameters::EllipticCurve(p)) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
            (None, _) => continue,
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {kid}: {e}"))?;
        by_kid.push((Some(kid), Key { algorithm, key }));
    }
    if by_kid.is_empty() {
        return Err("no RS256 or ES256 key with a kid".into());
    }
    Ok(Keys { by_kid })
}
