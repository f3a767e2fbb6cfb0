//! Secrets at rest: values people give Sigmic to use but never to show again (MCP server
//! headers and env, later end users' and projects' secrets) are stored encrypted with
//! AES-256-GCM under a key that lives in the data dir or the operator's config, never in the
//! database. A database dump or backup alone reveals none of them.
//!
//! Each value is sealed with what it belongs to (a row's kind and id) as associated data, so
//! a ciphertext copied into another row does not open there.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// The stored form's version, so a later key rotation or cipher can tell old values apart.
const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the encryption key must be 32 bytes, it is {0}")]
    KeyLength(usize),
    #[error("a stored secret could not be decrypted (was the encryption key changed?)")]
    Open,
    #[error("a secret could not be encrypted")]
    Seal,
}

#[derive(Clone)]
pub struct Vault {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

impl Vault {
    pub fn new(key: &[u8]) -> Result<Self, VaultError> {
        if key.len() != 32 {
            return Err(VaultError::KeyLength(key.len()));
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)),
        })
    }

    /// `plaintext` encrypted for `owner` (e.g. `mcp-server:<id>`), as text for a column.
    pub fn seal(&self, owner: &str, plaintext: &[u8]) -> Result<String, VaultError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Seal)?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD_NO_PAD.encode(bytes)))
    }

    /// The plaintext of what `seal` gave for the same `owner`.
    pub fn open(&self, owner: &str, stored: &str) -> Result<Vec<u8>, VaultError> {
        let encoded = stored.strip_prefix(PREFIX).ok_or(VaultError::Open)?;
        let bytes = STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|_| VaultError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(VaultError::Open);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Open)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vault(byte: u8) -> Vault {
        Vault::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_for_its_owner_only() {
        let v = vault(7);
        let stored = v.seal("mcp-server:a", b"Bearer tok-123").unwrap();
        assert!(!stored.contains("tok-123"));
        assert_eq!(v.open("mcp-server:a", &stored).unwrap(), b"Bearer tok-123");
        assert!(v.open("mcp-server:b", &stored).is_err());
        assert!(vault(8).open("mcp-server:a", &stored).is_err());
    }

    #[test]
    fn the_same_value_seals_differently_each_time() {
        let v = vault(1);
        assert_ne!(v.seal("o", b"x").unwrap(), v.seal("o", b"x").unwrap());
    }

    #[test]
    fn tampered_or_foreign_text_does_not_open() {
        let v = vault(1);
        let mut stored = v.seal("o", b"secret").unwrap();
        stored.pop();
        assert!(v.open("o", &stored).is_err());
        assert!(v.open("o", "plain text").is_err());
        assert!(v.open("o", "v1:").is_err());
        assert!(matches!(
            Vault::new(&[0; 16]),
            Err(VaultError::KeyLength(16))
        ));
    }
}
