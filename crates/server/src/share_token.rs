//! Share tokens: signed, expiring grants to one target (a TensorBoard, a pod's web terminal; a
//! job for GetToken later) without credentials.
//!
//! A token is a JWT (HS256), the format PAI-DLC's own tokens have: the payload is
//! `{"target_type","target_id","user_id","iat","exp"}` (times in seconds since the epoch), signed
//! with HMAC-SHA256 under a server secret kept in `<data-dir>/share-token.key` (so tokens survive
//! a restart; deleting the file revokes every token).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const KEY_FILE: &str = "share-token.key";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub target_type: String,
    pub target_id: String,
    pub user_id: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// A unique id, for tokens that may be used only once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token expired at {0} (seconds since the epoch)")]
    Expired(i64),
    #[error("the token grants access to {target_type} {target_id}, not to this one")]
    WrongTarget {
        target_type: String,
        target_id: String,
    },
}

/// The server secret tokens are signed with.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    #[cfg(test)]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        TokenKey(bytes)
    }

    /// Reads `<data_dir>/share-token.key`, creating it (mode 0600) with a random secret first.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<TokenKey> {
        let path = data_dir.join(KEY_FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Some(key) = hex::decode(text.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
            {
                return Ok(TokenKey(key));
            }
        }
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(hex::encode(key).as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(TokenKey(key))
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }

    pub fn issue(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signed}.{signature}")
    }

    /// The claims of `token` if it is signed by this key, unexpired at `now` (seconds) and
    /// grants `target_type` `target_id`.
    pub fn verify(
        &self,
        token: &str,
        target_type: &str,
        target_id: &str,
        now: i64,
    ) -> Result<Claims, TokenError> {
        let (signed, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (_, payload) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(signed.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired(claims.exp));
        }
        if claims.target_type != target_type || claims.target_id != target_id {
            return Err(TokenError::WrongTarget {
                target_type: claims.target_type,
                target_id: claims.target_id,
            });
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(target_id: &str, exp: i64) -> Claims {
        Claims {
            target_type: "tensorboard".into(),
            target_id: target_id.into(),
            user_id: "1".into(),
            iat: 1000,
            exp,
            jti: None,
        }
    }

    #[test]
    fn a_token_opens_its_target_until_it_expires() {
        let key = TokenKey::from_bytes([7; 32]);
        let token = key.issue(&claims("tb1", 2000));
        assert_eq!(token.split('.').count(), 3);
        assert_eq!(
            key.verify(&token, "tensorboard", "tb1", 1999),
            Ok(claims("tb1", 2000))
        );
        assert_eq!(
            key.verify(&token, "tensorboard", "tb1", 2000),
            Err(TokenError::Expired(2000))
        );
        assert!(matches!(
            key.verify(&token, "tensorboard", "tb2", 1500),
            Err(TokenError::WrongTarget { .. })
        ));
        assert!(matches!(
            key.verify(&token, "job", "tb1", 1500),
            Err(TokenError::WrongTarget { .. })
        ));
    }

    #[test]
    fn forged_and_garbled_tokens_are_refused() {
        let key = TokenKey::from_bytes([7; 32]);
        let other = TokenKey::from_bytes([8; 32]);
        let token = other.issue(&claims("tb1", 2000));
        assert_eq!(
            key.verify(&token, "tensorboard", "tb1", 1500),
            Err(TokenError::BadSignature)
        );
        // A payload changed after signing (a later expiry) breaks the signature.
        let good = key.issue(&claims("tb1", 2000));
        let parts: Vec<&str> = good.split('.').collect();
        let forged_payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims("tb1", 9999)).unwrap());
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            key.verify(&forged, "tensorboard", "tb1", 1500),
            Err(TokenError::BadSignature)
        );
        for garbage in ["", "abc", "a.b", "a.b.c", "..."] {
            assert!(
                key.verify(garbage, "tensorboard", "tb1", 1500).is_err(),
                "{garbage}"
            );
        }
    }

    #[test]
    fn the_key_persists() {
        let dir = tempfile::tempdir().unwrap();
        let a = TokenKey::load_or_create(dir.path()).unwrap();
        let b = TokenKey::load_or_create(dir.path()).unwrap();
        let token = a.issue(&claims("tb1", 2000));
        assert!(b.verify(&token, "tensorboard", "tb1", 1500).is_ok());
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }
}
