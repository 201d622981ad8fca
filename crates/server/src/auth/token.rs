//! Share tokens (GetToken): a JWT (HS256) naming one resource, its issuer and an expiry, as
//! PAI-DLC issues them (`{"exp","iat","user_id","target_id","target_type"}`). Signed with a
//! key kept in the data directory, so tokens survive restarts and nothing needs storing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a token may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    Job,
    Tensorboard,
    /// A pod's web terminal (GetWebTerminal's URL); never issued by GetToken.
    #[serde(rename = "webterminal")]
    WebTerminal,
}

impl TargetType {
    pub fn parse(text: &str) -> Option<TargetType> {
        match text.to_ascii_lowercase().as_str() {
            "job" => Some(TargetType::Job),
            "tensorboard" => Some(TargetType::Tensorboard),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Job => "job",
            TargetType::Tensorboard => "tensorboard",
            TargetType::WebTerminal => "webterminal",
        }
    }
}

/// A token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub exp: i64,
    pub iat: i64,
    pub user_id: String,
    pub target_id: String,
    pub target_type: TargetType,
    /// A unique id, for tokens that open only once (shared web terminals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature is not valid on this server")]
    BadSignature,
    #[error("the token expired at {0} (Unix time)")]
    Expired(i64),
}

/// The server's token signing key.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl TokenKey {
    pub fn new(bytes: Vec<u8>) -> TokenKey {
        TokenKey(bytes)
    }

    fn mac(&self, signing_input: &str) -> Vec<u8> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any size");
        mac.update(signing_input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    pub fn issue(&self, claims: &Claims) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&input));
        format!("{input}.{signature}")
    }

    /// The claims of a token this key issued that has not expired at `now` (Unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let (input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (_, payload) = input.split_once('.').ok_or(TokenError::Malformed)?;
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any size");
        mac.update(input.as_bytes());
        mac.verify_slice(&given)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now {
            return Err(TokenError::Expired(claims.exp));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            exp,
            iat: 100,
            user_id: "2".into(),
            target_id: "dlcabc".into(),
            target_type: TargetType::Job,
            jti: None,
        }
    }

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let key = TokenKey::new(b"k".to_vec());
        let token = key.issue(&claims(200));
        assert_eq!(token.matches('.').count(), 2);
        assert_eq!(key.verify(&token, 150).unwrap(), claims(200));
        assert_eq!(key.verify(&token, 200), Err(TokenError::Expired(200)));
    }

    #[test]
    fn a_forged_or_foreign_token_is_refused() {
        let key = TokenKey::new(b"k".to_vec());
        let token = key.issue(&claims(200));
        let other = TokenKey::new(b"other".to_vec());
        assert_eq!(other.verify(&token, 150), Err(TokenError::BadSignature));
        let (input, sig) = token.rsplit_once('.').unwrap();
        let (header, _) = input.split_once('.').unwrap();
        let mut widened = claims(200);
        widened.target_id = "dlcother".into();
        let forged = format!(
            "{header}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&widened).unwrap())
        );
        assert_eq!(key.verify(&forged, 150), Err(TokenError::BadSignature));
        assert_eq!(key.verify("junk", 150), Err(TokenError::Malformed));
    }
}
