//! A blocking HTTP client for the PAI-DLC API that signs every request as the official SDK
//! does (ACS3-HMAC-SHA256, see `opendlc_api::signature`).

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use opendlc_api::signature::{encode, CallInfo, Signer};
use opendlc_api::{Endpoint, ErrorBody, RequestEncoding};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::profile::Resolved;

/// How long an ordinary call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A decoded response and the exact JSON text it came from (what `-o json` prints).
#[derive(Debug, Clone)]
pub struct Reply<T> {
    pub body: T,
    pub raw: String,
}

pub struct Client {
    /// `http://127.0.0.1:8080`
    base: String,
    /// `127.0.0.1:8080`: the `host` header, signed.
    host: String,
    signer: Signer,
    http: reqwest::blocking::Client,
}

/// Splits `http://host:port`, `https://host` or `host:port` into the base URL and the host.
pub fn parse_endpoint(endpoint: &str) -> Result<(String, String)> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let (scheme, host) = match endpoint.split_once("://") {
        Some((scheme @ ("http" | "https"), host)) => (scheme, host),
        Some((scheme, _)) => {
            return Err(CliError::Config(format!(
                "endpoint {endpoint}: unsupported scheme {scheme} (use http or https)"
            )))
        }
        None => ("http", endpoint),
    };
    if host.is_empty() || host.contains('/') {
        return Err(CliError::Config(format!(
            "endpoint {endpoint}: expected host[:port], like 127.0.0.1:8080"
        )));
    }
    Ok((format!("{scheme}://{host}"), host.to_string()))
}

fn is_loopback(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(name, "localhost" | "[::1]") || name.starts_with("127.")
}

impl Client {
    /// A client for the settings' endpoint; an https:// one is trusted if the system's roots
    /// or the CA certificates in `ca_file` vouch for it.
    pub fn new(settings: &Resolved, ca_file: Option<&Path>) -> Result<Client> {
        let (base, host) = parse_endpoint(&settings.endpoint)?;
        let mut builder = reqwest::blocking::Client::builder().timeout(None::<Duration>);
        if let Some(path) = ca_file {
            for cert in read_ca_file(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        if is_loopback(&host) {
            // A proxy from the environment would otherwise carry even 127.0.0.1.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|source| CliError::Http {
            endpoint: base.clone(),
            source,
        })?;
        Ok(Client {
            base,
            host,
            signer: Signer {
                access_key_id: settings.access_key_id.clone(),
                access_key_secret: settings.access_key_secret.clone(),
                user_agent: format!(
                    "AlibabaCloud ({}; {}) opendlc/{}",
                    std::env::consts::OS,
                    std::env::consts::ARCH,
                    env!("CARGO_PKG_VERSION")
                ),
            },
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Calls one API operation; `params` fills the path (`JobId`, `PodId`).
    pub fn call<E: Endpoint>(
        &self,
        params: &[&str],
        request: &E::Request,
    ) -> Result<Reply<E::Response>> {
        let op = E::OPERATION;
        let encoded: Vec<String> = params.iter().map(|p| encode(p)).collect();
        let path = op.fill_path(&encoded.iter().map(String::as_str).collect::<Vec<_>>());
        let value = serde_json::to_value(request).expect("requests serialize");
        let (query, body) = match E::ENCODING {
            RequestEncoding::Query => (to_query(&value), None),
            RequestEncoding::JsonBody => (Vec::new(), Some(value.to_string().into_bytes())),
        };
        let response = self.send(op.action, op.method, &path, &query, body, true)?;
        read_reply(response)
    }

    /// CreateJob with a body given as JSON (so a job file's fields all travel, even those
    /// this client does not know).
    pub fn create_job_value(
        &self,
        body: &Value,
    ) -> Result<Reply<opendlc_api::CreateJobResponseBody>> {
        let op = opendlc_api::endpoints::CreateJob::OPERATION;
        let bytes = body.to_string().into_bytes();
        let response = self.send(op.action, op.method, op.path, &[], Some(bytes), true)?;
        read_reply(response)
    }

    /// The log stream extension (`GET /api/v1/jobs/{JobId}/logs/stream`): NDJSON lines.
    pub fn stream_logs(
        &self,
        job_id: &str,
        query: &[(String, String)],
    ) -> Result<impl BufRead + 'static> {
        let path = format!("/api/v1/jobs/{}/logs/stream", encode(job_id));
        let response = self.send("StreamJobLogs", "GET", &path, query, None, false)?;
        Ok(std::io::BufReader::new(response))
    }

    fn send(
        &self,
        action: &str,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
        bounded: bool,
    ) -> Result<reqwest::blocking::Response> {
        let date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let info = CallInfo {
            host: &self.host,
            action,
            version: opendlc_api::signature::API_VERSION,
            date: &date,
            nonce: &nonce,
        };
        let headers = self
            .signer
            .headers(&info, method, path, query, body.as_deref());
        let mut url = format!("{}{}", self.base, path);
        if !query.is_empty() {
            let q: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            url = format!("{url}?{}", q.join("&"));
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut request = self.http.request(method, &url);
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if bounded {
            request = request.timeout(CALL_TIMEOUT);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().map_err(|source| {
            if source.is_connect() && self.base.starts_with("https://") && is_tls(&source) {
                CliError::Tls {
                    endpoint: self.base.clone(),
                    detail: innermost(&source),
                }
            } else if source.is_connect() {
                CliError::Connect {
                    endpoint: self.base.clone(),
                    source,
                }
            } else {
                CliError::Http {
                    endpoint: self.base.clone(),
                    source,
                }
            }
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(api_error(response))
    }
}

/// The CA certificates of a PEM file.
fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| CliError::Config(format!("{}: not PEM certificates: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(CliError::Config(format!(
            "{}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The last error `e` wraps: what went wrong, below "error sending request".
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(source) = last.source() {
        last = source;
    }
    last.to_string()
}

/// Whether a connection failed in its TLS handshake (a certificate not trusted, a plain-HTTP
/// server) rather than in reaching the host.
fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(e) = current {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return true;
        }
        current = e.source();
    }
    false
}

fn read_reply<T: DeserializeOwned>(response: reqwest::blocking::Response) -> Result<Reply<T>> {
    let status = response.status().as_u16();
    let raw = response.text().map_err(|e| CliError::BadResponse {
        status,
        detail: e.to_string(),
    })?;
    let body = serde_json::from_str(&raw).map_err(|e| CliError::BadResponse {
        status,
        detail: e.to_string(),
    })?;
    Ok(Reply { body, raw })
}

fn api_error(response: reqwest::blocking::Response) -> CliError {
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(e) => CliError::Api {
            status,
            code: e.code,
            message: e.message,
            request_id: e.request_id,
        },
        Err(_) => CliError::BadResponse {
            status,
            detail: text.chars().take(300).collect(),
        },
    }
}

/// Query pairs from a request's JSON form, as the SDK writes them: `True`/`False`, numbers
/// as text, maps (`Tags`) as one compact JSON string.
pub fn to_query(value: &Value) -> Vec<(String, String)> {
    let Value::Object(map) = value else {
        return Vec::new();
    };
    map.iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::Null => return None,
                Value::Bool(true) => "True".to_string(),
                Value::Bool(false) => "False".to_string(),
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            Some((k.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        assert_eq!(
            parse_endpoint("127.0.0.1:8080").unwrap(),
            ("http://127.0.0.1:8080".into(), "127.0.0.1:8080".into())
        );
        assert_eq!(
            parse_endpoint("https://dlc.example.com/").unwrap(),
            ("https://dlc.example.com".into(), "dlc.example.com".into())
        );
        assert!(parse_endpoint("ftp://x").is_err());
        assert!(parse_endpoint("http://x/y").is_err());
    }

    #[test]
    fn query_like_the_sdk() {
        let request = opendlc_api::ListJobsRequest {
            show_own: Some(true),
            page_size: Some(5),
            tags: Some([("a".to_string(), "b".to_string())].into()),
            ..Default::default()
        };
        let query = to_query(&serde_json::to_value(&request).unwrap());
        assert_eq!(
            query,
            vec![
                ("PageSize".to_string(), "5".to_string()),
                ("ShowOwn".to_string(), "True".to_string()),
                ("Tags".to_string(), r#"{"a":"b"}"#.to_string()),
            ]
        );
    }
}
