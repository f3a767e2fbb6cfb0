//! Opaque credentials: session tokens, invitation tokens and API keys. Each is 32 random bytes,
//! shown once and stored only as its SHA-256. A slow hash would add nothing here: the inputs
//! carry 256 bits of entropy, so the digest cannot be reversed by guessing.

use sha2::{Digest, Sha256};

pub const API_KEY_PREFIX: &str = "sigmic_";
/// How much of a key is kept in clear to recognise it in a list: `sigmic_` + 8 hex.
const API_KEY_SHOWN_CHARS: usize = API_KEY_PREFIX.len() + 8;

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

pub fn random_hex(bytes: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
    Ok(hex::encode(buf))
}

pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

pub struct NewApiKey {
    pub key: String,
    pub prefix: String,
    pub hash: String,
}

pub fn new_api_key() -> Result<NewApiKey, RandomError> {
    let key = format!("{API_KEY_PREFIX}{}", random_hex(32)?);
    Ok(NewApiKey {
        prefix: key.chars().take(API_KEY_SHOWN_CHARS).collect(),
        hash: sha256_hex(&key),
        key,
    })
}

/// `sigmic_` followed by exactly 64 lowercase hex characters.
pub fn is_api_key_shaped(token: &str) -> bool {
    token.strip_prefix(API_KEY_PREFIX).is_some_and(|rest| {
        rest.len() == 64
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_have_the_documented_shape() {
        let k = new_api_key().map_err(|e| e.to_string());
        let Ok(k) = k else { panic!("random source") };
        assert!(is_api_key_shaped(&k.key), "{}", k.key);
        assert_eq!(k.prefix.len(), 15);
        assert!(k.key.starts_with(&k.prefix));
        assert_ne!(k.hash, k.key);
        assert!(!is_api_key_shaped("sigmic_ABC"));
    }
}
