//! The legacy ROA signature, HMAC-SHA1 (`Config(signature_algorithm='v2')`, and SDKs older
//! than 1.4): `Authorization: acs <AK>:<base64(hmac_sha1(secret, StringToSign))>`.
//!
//! ```text
//! StringToSign = METHOD \n accept \n content-md5 \n content-type \n date \n
//!                x-acs-* headers, sorted, "name:value\n" each
//!                path [ "?" k=v&k&… sorted by key, values NOT encoded; an empty value is just "k" ]
//! ```
//!
//! There is no body hash and no `x-acs-date`: the `date` header (RFC 1123) carries the time.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The first word of a legacy `Authorization` header.
pub const SCHEME: &str = "acs";

/// The string the legacy scheme signs. `headers` are the request's headers with lower-case
/// names; `query` is decoded.
pub fn string_to_sign(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
) -> String {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let mut out = format!(
        "{}\n{}\n{}\n{}\n{}\n",
        method.to_ascii_uppercase(),
        header("accept"),
        header("content-md5"),
        header("content-type"),
        header("date"),
    );
    let mut acs: Vec<&(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.starts_with("x-acs-"))
        .collect();
    acs.sort();
    for (name, value) in acs {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push_str(path);
    if !query.is_empty() {
        let mut pairs: Vec<&(String, String)> = query.iter().collect();
        pairs.sort();
        let joined: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        out.push('?');
        out.push_str(&joined.join("&"));
    }
    out
}

/// `base64(hmac_sha1(secret, string_to_sign))`.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The value of the `Authorization` header for a legacy-signed request.
pub fn authorization(access_key_id: &str, secret: &str, string_to_sign: &str) -> String {
    format!(
        "{SCHEME} {access_key_id}:{}",
        signature(secret, string_to_sign)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn string_to_sign_has_the_sdk_layout() {
        let headers = pairs(&[
            ("accept", "application/json"),
            ("date", "Sun, 22 Nov 2026 07:08:50 GMT"),
            ("host", "127.0.0.1:8080"),
            ("x-acs-version", "2020-12-03"),
            ("x-acs-action", "ListJobs"),
            ("x-acs-signature-nonce", "abc"),
        ]);
        let query = pairs(&[
            ("Tags", r#"{"a":"b c"}"#),
            ("Empty", ""),
            ("PageSize", "10"),
        ]);
        assert_eq!(
            string_to_sign("GET", "/api/v1/jobs", &query, &headers),
            "GET\napplication/json\n\n\nSun, 22 Nov 2026 07:08:50 GMT\n\
             x-acs-action:ListJobs\nx-acs-signature-nonce:abc\nx-acs-version:2020-12-03\n\
             /api/v1/jobs?Empty&PageSize=10&Tags={\"a\":\"b c\"}"
        );
    }

    #[test]
    fn signature_is_base64_hmac_sha1() {
        // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog") from RFC 2104's
        // well-known example: de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9.
        assert_eq!(
            signature("key", "The quick brown fox jumps over the lazy dog"),
            "3nybhbi3iqa8ino29wqQcBydtNk="
        );
    }
}
