//! Fixtures shared by the integration tests: the requests the official SDK sent.

#![allow(dead_code)]

/// One request the official Python SDK sent.
pub struct Captured {
    pub action: String,
    pub method: String,
    /// The raw (still percent-encoded) path.
    pub path: String,
    /// The query string, percent-decoded into pairs, in wire order.
    pub query: Vec<(String, String)>,
    pub body: Option<String>,
}

pub fn captured() -> Vec<Captured> {
    let text = include_str!("../fixtures/sdk_requests.txt");
    let mut out = Vec::new();
    let mut lines = text.lines().filter(|l| !l.starts_with('#')).peekable();
    while let Some(line) = lines.next() {
        let Some(action) = line.strip_prefix("== ") else {
            continue;
        };
        let request_line = lines.next().expect("a request line follows the action");
        let (method, target) = request_line.split_once(' ').unwrap();
        let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        let body = match lines.peek() {
            Some(l) if l.starts_with('{') => lines.next().map(str::to_string),
            _ => None,
        };
        out.push(Captured {
            action: action.to_string(),
            method: method.to_string(),
            path: path.to_string(),
            query: decode_query(raw_query),
            body,
        });
    }
    out
}

pub fn find(action: &str) -> Captured {
    captured()
        .into_iter()
        .find(|c| c.action == action)
        .unwrap_or_else(|| panic!("no captured request for {action}"))
}

/// `application/x-www-form-urlencoded` decoding, as the server's caller does it.
pub fn decode_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Query pairs from literal `(key, value)`s.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
