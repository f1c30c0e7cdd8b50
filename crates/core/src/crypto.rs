//! Sealing config var values at rest. XChaCha20-Poly1305 with a random 24-byte nonce per
//! value: nonces that large can be drawn at random without fear of reuse, so no counter
//! has to be kept anywhere. Each value is bound to associated data (its app and name), so
//! a sealed value moved to another app or name fails to open instead of leaking there.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const NONCE_LEN: usize = 24;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "a stored value could not be decrypted: SLIPWAY_SECRET_KEY is not the key it was encrypted with, or the value was altered"
    )]
    Open,
    #[error("encryption failed")]
    Seal,
}

#[derive(Clone)]
pub struct Cipher(XChaCha20Poly1305);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    pub fn new(key: &[u8; 32]) -> Self {
        Self(XChaCha20Poly1305::new(key.into()))
    }

    /// `nonce || ciphertext+tag`.
    pub fn seal(&self, aad: &str, plaintext: &str) -> Result<Vec<u8>, CryptoError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .0
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<String, CryptoError> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Open)?;
        let plain = self
            .0
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Open)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Open)
    }
}

/// The associated data of a config var: it ties the sealed value to one app and name.
pub fn config_var_aad(app_id: &str, name: &str) -> String {
    format!("slipway/config/{app_id}/{name}")
}

/// The associated data of an app's webhook secret.
pub fn webhook_secret_aad(app_id: &str) -> String {
    format!("slipway/webhook/{app_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let cipher = Cipher::new(&[7; 32]);
        let sealed = cipher.seal("app/A", "s3cret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(cipher.open("app/A", &sealed).unwrap(), "s3cret");
        // Moved to another name, or opened with another key: refused, not garbage.
        assert_eq!(cipher.open("app/B", &sealed), Err(CryptoError::Open));
        assert_eq!(
            Cipher::new(&[8; 32]).open("app/A", &sealed),
            Err(CryptoError::Open)
        );
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(cipher.open("app/A", &tampered), Err(CryptoError::Open));
        assert_eq!(cipher.open("app/A", b"short"), Err(CryptoError::Open));
    }

    #[test]
    fn same_value_seals_differently() {
        let cipher = Cipher::new(&[1; 32]);
        assert_ne!(
            cipher.seal("a", "v").unwrap(),
            cipher.seal("a", "v").unwrap()
        );
    }
}
