//! Checking a signed request, the server's half of [`crate::signature`]: which key signed it
//! ([`parse_authorization`]), whether the signature matches ([`check_signature`]) and whether
//! the request is fresh ([`check_time`]). The caller looks the key up and remembers nonces.
//!
//! Every rejection carries the code Alibaba Cloud answers with and a message that helps: a
//! mismatch quotes the string the server signed, so a client author can diff it with theirs.

use sha2::{Digest, Sha256};

use super::{canonical_request, legacy, signature, string_to_sign, SigningRequest, ALGORITHM};
use crate::ErrorCode;

/// How far `x-acs-date` (or `date`) may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// Headers an ACS3 signature must cover: without them a signature could be replayed against
/// another action, host, body or time.
pub const REQUIRED_SIGNED_HEADERS: &[&str] = &[
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

/// A request as received: the path exactly as sent, the query decoded, the headers with
/// lower-case names.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Received<'_> {
    /// The first value of a header (names are lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the `Authorization` header claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// `ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=a;b,Signature=hex`.
    Acs3 {
        access_key_id: String,
        signed_headers: Vec<String>,
        signature: String,
    },
    /// `acs AK:base64`.
    Legacy {
        access_key_id: String,
        signature: String,
    },
}

impl Authorization {
    pub fn access_key_id(&self) -> &str {
        match self {
            Authorization::Acs3 { access_key_id, .. }
            | Authorization::Legacy { access_key_id, .. } => access_key_id,
        }
    }
}

/// Why a request was refused: the error code and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub code: ErrorCode,
    pub message: String,
}

fn rejected(code: ErrorCode, message: impl Into<String>) -> Rejected {
    Rejected {
        code,
        message: message.into(),
    }
}

fn incomplete(message: impl Into<String>) -> Rejected {
    rejected(ErrorCode::IncompleteSignature, message)
}

/// Reads the `Authorization` header and checks that an ACS3 signature covers the headers it
/// must ([`REQUIRED_SIGNED_HEADERS`]) and that they are present.
pub fn parse_authorization(received: &Received<'_>) -> Result<Authorization, Rejected> {
    let value = received.header("authorization").ok_or_else(|| {
        incomplete(
            "The request is not signed: the Authorization header is missing. Sign it with an \
             access key (ACS3-HMAC-SHA256), or pass a share token where the operation takes one.",
        )
    })?;
    let value = value.trim();
    if let Some(rest) = value.strip_prefix(ALGORITHM) {
        return parse_acs3(received, rest.trim_start());
    }
    if let Some(rest) = value.strip_prefix(&format!("{} ", legacy::SCHEME)) {
        let (access_key_id, signature) = rest.trim().split_once(':').ok_or_else(|| {
            incomplete("The Authorization header must read \"acs <AccessKeyId>:<Signature>\".")
        })?;
        if access_key_id.is_empty() || signature.is_empty() {
            return Err(incomplete(
                "The Authorization header must read \"acs <AccessKeyId>:<Signature>\".",
            ));
        }
        if received.header("date").is_none() {
            return Err(incomplete(
                "A request signed with HMAC-SHA1 must carry a Date header.",
            ));
        }
        return Ok(Authorization::Legacy {
            access_key_id: access_key_id.to_string(),
            signature: signature.to_string(),
        });
    }
    let scheme = value.split_whitespace().next().unwrap_or_default();
    Err(incomplete(format!(
        "Unsupported signature algorithm \"{scheme}\": use {ALGORITHM} (the SDK's default) or \
         the legacy HMAC-SHA1 (\"acs\")."
    )))
}

fn parse_acs3(received: &Received<'_>, fields: &str) -> Result<Authorization, Rejected> {
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in fields.split(',') {
        let (key, value) = part.trim().split_once('=').unwrap_or((part.trim(), ""));
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let format = "The Authorization header must read \"ACS3-HMAC-SHA256 \
                  Credential=<AccessKeyId>,SignedHeaders=<names>,Signature=<hex>\".";
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete(format));
    };
    if credential.is_empty() || signature.is_empty() {
        return Err(incomplete(format));
    }
    let signed_headers: Vec<String> = signed
        .split(';')
        .filter(|h| !h.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    for required in REQUIRED_SIGNED_HEADERS {
        if !signed_headers.iter().any(|h| h == required) {
            return Err(incomplete(format!(
                "The signature must cover the header {required} (SignedHeaders is \"{signed}\")."
            )));
        }
        if received.header(required).is_none() {
            return Err(incomplete(format!(
                "The signed header {required} is missing from the request."
            )));
        }
    }
    Ok(Authorization::Acs3 {
        access_key_id: credential.to_string(),
        signed_headers,
        signature: signature.to_string(),
    })
}

/// Checks the signature (and, for ACS3, the body hash) under the key's secret.
pub fn check_signature(
    received: &Received<'_>,
    authorization: &Authorization,
    secret: &str,
) -> Result<(), Rejected> {
    let (expected, given, string_to_sign) = match authorization {
        Authorization::Acs3 {
            signed_headers,
            signature: given,
            ..
        } => {
            let declared = received.header("x-acs-content-sha256").unwrap_or_default();
            let actual = hex::encode(Sha256::digest(received.body));
            if !declared.eq_ignore_ascii_case(&actual) {
                return Err(rejected(
                    ErrorCode::SignatureDoesNotMatch,
                    format!(
                        "The body does not match x-acs-content-sha256: the header says \
                         {declared}, the body received hashes to {actual}."
                    ),
                ));
            }
            let headers: Vec<(String, String)> = signed_headers
                .iter()
                .flat_map(|name| {
                    received
                        .headers
                        .iter()
                        .filter(move |(n, _)| n == name)
                        .cloned()
                })
                .collect();
            let (canonical, _) = canonical_request(&SigningRequest {
                method: received.method,
                path: received.raw_path,
                query: received.query,
                headers: &headers,
                body: received.body,
            });
            let sts = string_to_sign(&canonical);
            (signature(secret, &sts), given.to_ascii_lowercase(), sts)
        }
        Authorization::Legacy {
            signature: given, ..
        } => {
            let sts = legacy::string_to_sign(
                received.method,
                received.raw_path,
                received.query,
                received.headers,
            );
            (legacy::signature(secret, &sts), given.clone(), sts)
        }
    };
    if constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        Ok(())
    } else {
        Err(rejected(
            ErrorCode::SignatureDoesNotMatch,
            format!(
                "The request signature does not match. Check the access key secret and the \
                 signing method. Server string to sign is: {}",
                string_to_sign.replace('\n', "\\n")
            ),
        ))
    }
}

/// Checks that the request's time (`x-acs-date` for ACS3, `date` for the legacy scheme) is
/// within [`MAX_CLOCK_SKEW_SECS`] of `now`. `parse_time` turns the header's text into Unix
/// seconds (the formats differ: ISO 8601 and RFC 1123).
pub fn check_time(
    received: &Received<'_>,
    authorization: &Authorization,
    now_secs: i64,
    parse_time: impl Fn(&str) -> Option<i64>,
) -> Result<(), Rejected> {
    let header = match authorization {
        Authorization::Acs3 { .. } => "x-acs-date",
        Authorization::Legacy { .. } => "date",
    };
    let text = received.header(header).unwrap_or_default();
    let Some(time) = parse_time(text) else {
        return Err(rejected(
            ErrorCode::TimestampExpired,
            format!("The {header} header \"{text}\" is not a valid time."),
        ));
    };
    if (time - now_secs).abs() > MAX_CLOCK_SKEW_SECS {
        return Err(rejected(
            ErrorCode::TimestampExpired,
            format!(
                "The {header} \"{text}\" is more than {} minutes away from the server's clock; \
                 check the client's clock.",
                MAX_CLOCK_SKEW_SECS / 60
            ),
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
