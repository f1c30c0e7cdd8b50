//! API tokens: random strings handed to a user once, kept by Slipway only as a hash.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use sha2::{Digest, Sha256};

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

#[cfg(test)]
mod tests {
    use super::*;

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
