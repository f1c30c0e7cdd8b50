//! API tokens: random strings handed to a user once, kept by Slipway only as a hash.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use sha2::{Digest, Sha256};

use crate::ValidationError;

/// What every generated token starts with, so a leaked one is recognisable (secret
/// scanners, logs) and cannot be mistaken for another credential.
pub const TOKEN_PREFIX: &str = "slw_";

/// Operator-chosen tokens (`SLIPWAY_ADMIN_TOKEN`) must be at least this long.
pub const MIN_TOKEN_LEN: usize = 32;

pub struct NewToken {
    /// The whole token: shown to its user once, never stored.
    pub token: String,
    /// Its first characters, stored to tell tokens apart in listings.
    pub prefix: String,
    pub hash: Vec<u8>,
}

/// `slw_<8 hex>_<43 base64url>`: 32 random bytes of secret after a short random id.
pub fn generate() -> NewToken {
    let mut id = [0u8; 4];
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut id);
    OsRng.fill_bytes(&mut secret);
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let token = format!("{TOKEN_PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(secret));
    from_text(token)
}

/// A token whose text was chosen elsewhere (the admin token from the environment).
pub fn from_text(token: String) -> NewToken {
    NewToken {
        prefix: prefix(&token),
        hash: hash(&token),
        token,
    }
}

pub fn hash(token: &str) -> Vec<u8> {
    sha256(token.as_bytes())
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// `slw_1a2b3c4d` for generated tokens; for others only their first 4 characters, which
/// leave an operator's chosen secret almost whole.
pub fn prefix(token: &str) -> String {
    if token.starts_with(TOKEN_PREFIX) {
        token.chars().take(TOKEN_PREFIX.len() + 8).collect()
    } else {
        token.chars().take(4).collect()
    }
}

/// How long a new token may be used, from `expires_in` ("30d", "12h", "90m").
/// Shorter than a minute would expire before it is copied into its client; longer than
/// a year is what "never expires" is for, and an old forgotten token is the one that
/// leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime(Duration);

impl Lifetime {
    pub const MIN: Duration = Duration::from_secs(60);
    pub const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

    /// Parsed as the durations in the server's configuration are (`humantime`), so the
    /// same spellings work in both places.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let err = |m: String| ValidationError::new("expires_in", m);
        let raw = raw.trim();
        let duration = humantime::parse_duration(raw).map_err(|e| {
            err(format!(
                "expires_in must be a duration such as 90m, 12h or 30d ({e})"
            ))
        })?;
        if duration < Self::MIN {
            return Err(err(format!(
                "expires_in must be at least 1 minute, not {raw}"
            )));
        }
        if duration > Self::MAX {
            return Err(err(format!(
                "expires_in must be at most 365 days, not {raw}"
            )));
        }
        Ok(Self(duration))
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_take_the_configs_spellings_within_bounds() {
        let days = Lifetime::parse("30d").map(Lifetime::duration);
        assert_eq!(days, Ok(Duration::from_secs(30 * 24 * 3600)));
        let hours = Lifetime::parse(" 12h ").map(Lifetime::duration);
        assert_eq!(hours, Ok(Duration::from_secs(12 * 3600)));
        let minutes = Lifetime::parse("90m").map(Lifetime::duration);
        assert_eq!(minutes, Ok(Duration::from_secs(90 * 60)));
        assert!(Lifetime::parse("1m").is_ok());
        assert!(Lifetime::parse("365d").is_ok());
        for bad in ["", "soon", "30", "-1d", "59s", "0m", "366d", "2y"] {
            let e = Lifetime::parse(bad).err();
            assert_eq!(e.map(|e| e.field), Some("expires_in"), "{bad:?}");
        }
    }

    #[test]
    fn generated_tokens_are_unique_prefixed_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with("slw_"), "{}", a.token);
        assert_eq!(a.token.len(), 4 + 8 + 1 + 43);
        assert_eq!(a.prefix, a.token[..12]);
        assert_eq!(a.hash, hash(&a.token));
        assert_eq!(a.hash.len(), 32);
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn chosen_tokens_reveal_little_in_their_prefix() {
        let t = from_text("0123456789abcdef0123456789abcdef".into());
        assert_eq!(t.prefix, "0123");
    }
}
