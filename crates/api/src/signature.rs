//! ACS3-HMAC-SHA256 request signing, as the official SDK does it (tea-openapi
//! `Utils.get_authorization`).
//!
//! ```text
//! CanonicalRequest = METHOD \n PATH \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n sha256(body)
//! StringToSign     = "ACS3-HMAC-SHA256\n" + hex(sha256(CanonicalRequest))
//! Signature        = hex(hmac_sha256(secret, StringToSign))
//! Authorization    = "ACS3-HMAC-SHA256 Credential=<AK>,SignedHeaders=<names>,Signature=<hex>"
//! ```
//!
//! Every header handed to [`sign`] is signed (the SDK signs every header it sets). The clock
//! and the nonce are inputs, so the same request always signs the same way: this module does
//! no I/O. [`Signer::headers`] builds the header set the SDK sends for one call.

pub mod legacy;
pub mod verify;

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// The algorithm name, first word of the `Authorization` header.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// The API version sent in `x-acs-version`.
pub const API_VERSION: &str = "2020-12-03";

/// RFC 3986 unreserved characters stay; everything else is `%XX` (upper-case hex).
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query value or a path segment the way the signature expects
/// (space `%20`, `*` `%2A`, `~` kept, `/` `%2F`).
pub fn encode(value: &str) -> String {
    utf8_percent_encode(value, RFC3986).to_string()
}

/// Lower-case hex SHA-256 of the body: the `x-acs-content-sha256` header.
pub fn content_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// One request as it is signed: the path exactly as sent (already percent-encoded), the
/// query decoded, the headers that are to be signed, and the body.
#[derive(Debug, Clone)]
pub struct SigningRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// `k=v` pairs sorted by key, values RFC 3986-encoded, joined with `&`.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical headers (`name:value\n` each, names lower-case and sorted, values trimmed,
/// repeated names joined with `,`) and the `SignedHeaders` list.
pub fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut map: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in headers {
        map.entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_string());
    }
    let mut canonical = String::new();
    for (name, values) in &mut map {
        values.sort();
        canonical.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let signed = map.keys().cloned().collect::<Vec<_>>().join(";");
    (canonical, signed)
}

/// The canonical request and the `SignedHeaders` list.
pub fn canonical_request(request: &SigningRequest<'_>) -> (String, String) {
    let (headers, signed) = canonical_headers(request.headers);
    let path = if request.path.is_empty() {
        "/"
    } else {
        request.path
    };
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        path,
        canonical_query(request.query),
        headers,
        signed,
        content_sha256(request.body)
    );
    (canonical, signed)
}

/// `"ACS3-HMAC-SHA256\n" + hex(sha256(canonical_request))`.
pub fn string_to_sign(canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The lower-case hex HMAC-SHA256 of `string_to_sign` under the secret.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The value of the `Authorization` header for this request.
pub fn sign(request: &SigningRequest<'_>, access_key_id: &str, secret: &str) -> String {
    let (canonical, signed) = canonical_request(request);
    let sig = signature(secret, &string_to_sign(&canonical));
    format!("{ALGORITHM} Credential={access_key_id},SignedHeaders={signed},Signature={sig}")
}

/// What a client needs to sign its calls: the key pair and the identity it sends.
#[derive(Debug, Clone)]
pub struct Signer {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub user_agent: String,
}

/// The parts of one call that are not in [`SigningRequest`]: where it goes and when.
#[derive(Debug, Clone)]
pub struct CallInfo<'a> {
    /// `host[:port]`, exactly as the `host` header will carry it.
    pub host: &'a str,
    /// The action, sent in `x-acs-action` (`GetJob`).
    pub action: &'a str,
    /// The API version, sent in `x-acs-version` ([`API_VERSION`] for PAI-DLC calls).
    pub version: &'a str,
    /// UTC, `%Y-%m-%dT%H:%M:%SZ`.
    pub date: &'a str,
    /// 32 hex characters, never reused.
    pub nonce: &'a str,
}

impl Signer {
    /// Every header the SDK sends for this call, `Authorization` last.
    pub fn headers(
        &self,
        info: &CallInfo<'_>,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&[u8]>,
    ) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), info.host.into()),
            ("x-acs-version".into(), info.version.into()),
            ("x-acs-action".into(), info.action.into()),
            ("user-agent".into(), self.user_agent.clone()),
            ("x-acs-date".into(), info.date.into()),
            ("x-acs-signature-nonce".into(), info.nonce.into()),
            ("accept".into(), "application/json".into()),
        ];
        if body.is_some() {
            headers.push((
                "content-type".into(),
                "application/json; charset=utf-8".into(),
            ));
        }
        let body = body.unwrap_or_default();
        headers.push(("x-acs-content-sha256".into(), content_sha256(body)));
        headers.push(("x-acs-credentials-provider".into(), "static_ak".into()));
        let request = SigningRequest {
            method,
            path,
            query,
            headers: &headers,
            body,
        };
        let authorization = sign(&request, &self.access_key_id, &self.access_key_secret);
        headers.push(("authorization".into(), authorization));
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        br#"{"DisplayName":"demo","JobType":"PyTorchJob","UserCommand":"echo hello; sleep 2"}"#;
    const UA: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2";

    fn vector_headers() -> Vec<(String, String)> {
        let signer = Signer {
            access_key_id: "testak".into(),
            access_key_secret: "testsk".into(),
            user_agent: UA.into(),
        };
        let info = CallInfo {
            host: "127.0.0.1:8080",
            action: "CreateJob",
            version: API_VERSION,
            date: "2024-01-01T00:00:00Z",
            nonce: "0123456789abcdef0123456789abcdef",
        };
        signer.headers(&info, "POST", "/api/v1/jobs", &[], Some(BODY))
    }

    /// The known-answer vector produced by the official SDK's own `get_authorization`.
    #[test]
    fn known_answer_vector() {
        let headers = vector_headers();
        let (auth_name, authorization) = headers.last().unwrap();
        assert_eq!(auth_name, "authorization");
        assert_eq!(
            authorization,
            "ACS3-HMAC-SHA256 Credential=testak,SignedHeaders=accept;content-type;host;\
             user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;\
             x-acs-signature-nonce;x-acs-version,\
             Signature=29ad4130ef01335d005af9f4db9e47540a7754116dedb7532c1463c01ff54473"
        );
        let signed = &headers[..headers.len() - 1];
        let (canonical, _) = canonical_request(&SigningRequest {
            method: "POST",
            path: "/api/v1/jobs",
            query: &[],
            headers: signed,
            body: BODY,
        });
        assert_eq!(
            string_to_sign(&canonical),
            "ACS3-HMAC-SHA256\nbcde5183eb076cf512366288d06ab0e0d14b89450af2b35e2587f4104c8b9f5f"
        );
        assert!(canonical.contains(
            "x-acs-content-sha256:08b209b9e0bf341c5016c7bee41a9e85e25ca7ec635c7a726a8a66eae139840a\n"
        ));
    }

    #[test]
    fn empty_body_hash() {
        assert_eq!(
            content_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn query_is_sorted_and_rfc3986_encoded() {
        let query = vec![
            ("Status".to_string(), "Running,Failed".to_string()),
            ("DisplayName".to_string(), "a b*~+é".to_string()),
            ("Empty".to_string(), String::new()),
        ];
        assert_eq!(
            canonical_query(&query),
            "DisplayName=a%20b%2A~%2B%C3%A9&Empty=&Status=Running%2CFailed"
        );
    }

    #[test]
    fn repeated_headers_are_sorted_and_joined() {
        let headers = vec![
            ("X-B".to_string(), " 2 ".to_string()),
            ("x-b".to_string(), "1".to_string()),
            ("A".to_string(), "v".to_string()),
        ];
        let (canonical, signed) = canonical_headers(&headers);
        assert_eq!(canonical, "a:v\nx-b:1,2\n");
        assert_eq!(signed, "a;x-b");
    }
}
