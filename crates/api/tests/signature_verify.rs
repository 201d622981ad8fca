//! Signing and verifying are two halves of one contract: what [`Signer`] produces verifies,
//! and any change to what it covers does not.

use opendlc_api::signature::verify::{
    check_signature, check_time, parse_authorization, Authorization, Received,
};
use opendlc_api::signature::{legacy, CallInfo, Signer};
use opendlc_api::ErrorCode;

const BODY: &[u8] = br#"{"DisplayName":"demo"}"#;

struct Signed {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Signed {
    fn received(&self) -> Received<'_> {
        Received {
            method: &self.method,
            raw_path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn verify(&self, secret: &str) -> Result<Authorization, ErrorCode> {
        let received = self.received();
        let auth = parse_authorization(&received).map_err(|r| r.code)?;
        check_signature(&received, &auth, secret).map_err(|r| r.code)?;
        Ok(auth)
    }

    fn set_header(&mut self, name: &str, value: &str) {
        for (n, v) in &mut self.headers {
            if n == name {
                *v = value.to_string();
            }
        }
    }
}

fn acs3(query: &[(&str, &str)], body: Option<&[u8]>) -> Signed {
    let signer = Signer {
        access_key_id: "ak1".into(),
        access_key_secret: "secret1".into(),
        user_agent: "test".into(),
    };
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let info = CallInfo {
        host: "127.0.0.1:1",
        action: "CreateJob",
        version: opendlc_api::signature::API_VERSION,
        date: "2026-11-22T10:00:00Z",
        nonce: "00112233445566778899aabbccddeeff",
    };
    let headers = signer.headers(&info, "POST", "/api/v1/jobs/a%2Fb", &query, body);
    Signed {
        method: "POST".into(),
        path: "/api/v1/jobs/a%2Fb".into(),
        query,
        headers,
        body: body.unwrap_or_default().to_vec(),
    }
}

#[test]
fn a_signed_request_verifies() {
    let signed = acs3(&[("DisplayName", "a b+é*~"), ("Empty", "")], Some(BODY));
    let auth = signed.verify("secret1").unwrap();
    assert_eq!(auth.access_key_id(), "ak1");
}

#[test]
fn tampering_is_rejected() {
    let base = || acs3(&[("PageSize", "10")], Some(BODY));
    assert_eq!(
        base().verify("wrong").unwrap_err(),
        ErrorCode::SignatureDoesNotMatch
    );
    let mut body = base();
    body.body = br#"{"DisplayName":"evil"}"#.to_vec();
    assert_eq!(
        body.verify("secret1").unwrap_err(),
        ErrorCode::SignatureDoesNotMatch
    );
    let mut query = base();
    query.query[0].1 = "100".into();
    assert_eq!(
        query.verify("secret1").unwrap_err(),
        ErrorCode::SignatureDoesNotMatch
    );
    let mut path = base();
    path.path = "/api/v1/jobs/a/b".into();
    assert_eq!(
        path.verify("secret1").unwrap_err(),
        ErrorCode::SignatureDoesNotMatch
    );
    let mut method = base();
    method.method = "DELETE".into();
    assert_eq!(
        method.verify("secret1").unwrap_err(),
        ErrorCode::SignatureDoesNotMatch
    );
    let mut action = base();
    action.set_header("x-acs-action", "DeleteJob");
    assert_eq!(
        action.verify("secret1").unwrap_err(),
        ErrorCode::SignatureDoesNotMatch
    );
}

#[test]
fn unsigned_extra_headers_are_ignored() {
    let mut signed = acs3(&[], None);
    signed
        .headers
        .push(("content-type".into(), "application/octet-stream".into()));
    signed
        .headers
        .push(("accept-encoding".into(), "gzip".into()));
    // aiohttp adds a second content-type on GETs; only the signed one may count, and here
    // the request had none, so the extra one must not be picked up.
    assert!(signed.verify("secret1").is_ok());
}

#[test]
fn a_signature_must_cover_the_required_headers() {
    let mut signed = acs3(&[], None);
    let auth = signed
        .headers
        .iter()
        .position(|(n, _)| n == "authorization")
        .unwrap();
    signed.headers[auth].1 = signed.headers[auth].1.replace("x-acs-signature-nonce;", "");
    assert_eq!(
        signed.verify("secret1").unwrap_err(),
        ErrorCode::IncompleteSignature
    );
    signed.headers.remove(auth);
    assert_eq!(
        signed.verify("secret1").unwrap_err(),
        ErrorCode::IncompleteSignature
    );
}

#[test]
fn the_request_time_must_be_near_the_server_clock() {
    let signed = acs3(&[], None);
    let received = signed.received();
    let auth = parse_authorization(&received).unwrap();
    let parse = |_: &str| Some(1_000_000);
    assert!(check_time(&received, &auth, 1_000_000 + 14 * 60, parse).is_ok());
    assert_eq!(
        check_time(&received, &auth, 1_000_000 + 16 * 60, parse)
            .unwrap_err()
            .code,
        ErrorCode::TimestampExpired
    );
    assert_eq!(
        check_time(&received, &auth, 0, |_| None).unwrap_err().code,
        ErrorCode::TimestampExpired
    );
}

#[test]
fn the_legacy_scheme_verifies_and_detects_tampering() {
    let mut headers: Vec<(String, String)> = [
        ("accept", "application/json"),
        ("date", "Sun, 22 Nov 2026 07:08:50 GMT"),
        ("host", "127.0.0.1:1"),
        ("x-acs-action", "ListJobs"),
        ("x-acs-signature-nonce", "n1"),
        ("x-acs-version", "2020-12-03"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let query = vec![("DisplayName".to_string(), "a b".to_string())];
    let sts = legacy::string_to_sign("GET", "/api/v1/jobs", &query, &headers);
    headers.push((
        "authorization".into(),
        legacy::authorization("ak1", "secret1", &sts),
    ));
    let mut signed = Signed {
        method: "GET".into(),
        path: "/api/v1/jobs".into(),
        query,
        headers,
        body: Vec::new(),
    };
    assert!(matches!(
        signed.verify("secret1").unwrap(),
        Authorization::Legacy { .. }
    ));
    signed.query[0].1 = "other".into();
    assert_eq!(
        signed.verify("secret1").unwrap_err(),
        ErrorCode::SignatureDoesNotMatch
    );
}
