//! Secrets at rest: access-key secrets and a job's write-only values
//! (`opendlc_core::secrets`) are stored sealed with ChaCha20-Poly1305 under the data
//! directory's key file, a fresh random nonce per value.
//!
//! A sealed value is `sealed:v1:` + base64(nonce ‖ ciphertext ‖ tag). HMAC verification
//! needs an access key's secret itself, so a hash would not do; the key file (mode 0600,
//! beside the database, outside the pods' `jobs/`) is what a copy of the database lacks.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::StoreError;

/// The key file's name, in the database's directory.
pub const KEY_FILE: &str = "secrets.key";

const PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 12;

/// Seals and opens values with the server's key.
#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// The key in `path` (64 hex digits), made mode 0600; a new random one written there if
    /// there is none. Also says whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Sealer, bool), StoreError> {
        let failed = |what: &str, e: std::io::Error| {
            StoreError::Key(format!("failed to {what} {}: {e}", path.display()))
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| failed("protect", e))?;
                let bytes = decode_hex(text.trim()).ok_or_else(|| {
                    StoreError::Key(format!("{} is not 64 hex digits", path.display()))
                })?;
                Ok((Sealer::new(&bytes), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = ChaCha20Poly1305::generate_key(&mut OsRng);
                let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| failed("create", e))?;
                writeln!(file, "{hex}")
                    .and_then(|()| file.sync_all())
                    .map_err(|e| failed("write", e))?;
                Ok((Sealer::new(&key.into()), true))
            }
            Err(e) => Err(failed("read", e)),
        }
    }

    /// `plain`, sealed with a fresh nonce.
    pub fn seal(&self, plain: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .expect("ChaCha20-Poly1305 seals any value that fits in memory");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(bytes))
    }

    /// The plain text of a value [`Sealer::seal`] made with this key.
    pub fn open(&self, value: &str) -> Result<String, StoreError> {
        let refused = || {
            StoreError::Key(format!(
                "a sealed value does not open with {KEY_FILE} (is it the key this database \
                 was written with?)"
            ))
        };
        let bytes = value
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() >= NONCE_LEN)
            .ok_or_else(|| StoreError::Corrupt("a secret is not sealed".into()))?;
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| refused())?;
        String::from_utf8(plain).map_err(|_| StoreError::Corrupt("a secret is not UTF-8".into()))
    }

    /// Whether `value` is sealed with this key (migration: plain values predate sealing).
    pub fn is_sealed(&self, value: &str) -> bool {
        value.starts_with(PREFIX) && self.open(value).is_ok()
    }
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips_with_a_fresh_nonce_each_time() {
        let sealer = Sealer::new(&[7; 32]);
        let a = sealer.seal("s3cret");
        let b = sealer.seal("s3cret");
        assert_ne!(a, b);
        assert!(!a.contains("s3cret"));
        assert_eq!(sealer.open(&a).unwrap(), "s3cret");
        assert_eq!(sealer.open(&b).unwrap(), "s3cret");
        assert!(sealer.is_sealed(&a));
        assert!(!sealer.is_sealed("s3cret"));
    }

    #[test]
    fn another_key_or_a_changed_value_does_not_open() {
        let sealed = Sealer::new(&[7; 32]).seal("s3cret");
        assert!(matches!(
            Sealer::new(&[8; 32]).open(&sealed),
            Err(StoreError::Key(_))
        ));
        let mut bytes = STANDARD.decode(&sealed[PREFIX.len()..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{PREFIX}{}", STANDARD.encode(bytes));
        assert!(Sealer::new(&[7; 32]).open(&tampered).is_err());
        assert!(Sealer::new(&[7; 32]).open("plain").is_err());
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let (first, created) = Sealer::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (again, created) = Sealer::load_or_create(&path).unwrap();
        assert!(!created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "an existing key file is made 0600 again"
        );
        assert_eq!(again.open(&first.seal("x")).unwrap(), "x");
    }
}
