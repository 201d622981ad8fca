//! HTTPS: the certificate chain and key the server presents, loaded once at start.
//!
//! A connection to a TLS listener must finish its handshake within the header timeout (a
//! handshake that never completes holds a slot like a slow header would). One that starts
//! with plain HTTP instead gets a short `400` saying to use `https://`, and is closed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// The PEM files of `--tls-cert` and `--tls-key`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("failed to read the TLS certificate {path}: {detail}")]
    Cert { path: PathBuf, detail: String },
    #[error("failed to read the TLS private key {path}: {detail}")]
    Key { path: PathBuf, detail: String },
    #[error(
        "the TLS certificate {cert} and private key {key} do not make a usable pair: {detail}"
    )]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        detail: String,
    },
}

/// The acceptor for `files`, or an error naming the file at fault.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let certs = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        detail: pem_detail(e, "a PEM private key"),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| TlsError::Pair {
            cert: files.cert.clone(),
            key: files.key.clone(),
            detail: e.to_string(),
        })?;
    // Only HTTP/1.1 is served (the web terminal's WebSocket upgrade needs it).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |detail: String| TlsError::Cert {
        path: path.to_path_buf(),
        detail,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(pem_detail(e, "PEM certificates")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(pem_detail(e, "PEM certificates")))?;
    if certs.is_empty() {
        return Err(error(
            "it holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    Ok(certs)
}

fn pem_detail(e: rustls::pki_types::pem::Error, expected: &str) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) => io.to_string(),
        Error::NoItemsFound => format!("it holds no {expected}"),
        other => format!("it is not valid PEM ({other})"),
    }
}

/// Whether the first bytes of a connection are a plain HTTP request line rather than a TLS
/// record (whose first byte is a content type, 20 to 24).
pub fn looks_like_plain_http(first: u8) -> bool {
    first.is_ascii_uppercase()
}

/// Tells a plain-HTTP client it reached an HTTPS port, then closes.
pub async fn refuse_plain_http(mut stream: TcpStream) {
    const BODY: &str = "This server speaks HTTPS: use an https:// address.\n";
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    // Read what the client sent before closing: closing with it unread would reset the
    // connection, and the client might lose the answer.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        let mut buf = [0u8; 4096];
        while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
}
