//! The console's files, embedded at build time from `crates/server/console/`: the binary
//! serves them with no other file, build step or network access.

/// One embedded file.
pub struct Asset {
    /// Its path under `/console/`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

impl Asset {
    /// A strong validator: FNV-1a of the content (the files are small and fixed per build).
    pub fn etag(&self) -> String {
        let hash = self.body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("\"{hash:016x}\"")
    }
}

macro_rules! assets {
    ($($path:literal => $type:expr),+ $(,)?) => {
        /// Every file of the console.
        pub const ASSETS: &[Asset] = &[$(Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/console/", $path)),
        }),+];
    };
}

const JS: &str = "text/javascript; charset=utf-8";

assets! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "js/app.js" => JS,
    "js/api.js" => JS,
    "js/crypto.js" => JS,
    "js/sign.js" => JS,
    "js/ui.js" => JS,
    "js/plot.js" => JS,
    "js/terminal.js" => JS,
    "js/views/signin.js" => JS,
    "js/views/jobs.js" => JS,
    "js/views/job.js" => JS,
    "js/views/submit.js" => JS,
    "js/views/capacity.js" => JS,
    "js/views/job/overview.js" => JS,
    "js/views/job/logs.js" => JS,
    "js/views/job/metrics.js" => JS,
    "js/views/job/events.js" => JS,
    "js/views/job/terminal.js" => JS,
}

/// The file at `path` (relative to `/console/`).
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            let dir = asset.path.rsplit_once('/').map_or("", |(d, _)| d);
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split(['\'', '"']).nth(1) else {
                    continue;
                };
                let target = resolve(dir, spec);
                assert!(
                    find(&target).is_some(),
                    "{} imports {spec} ({target}), which is not embedded",
                    asset.path
                );
            }
        }
    }

    fn resolve(dir: &str, spec: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for piece in spec.split('/') {
            match piece {
                "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        parts.join("/")
    }

    #[test]
    fn an_etag_changes_with_the_content() {
        let a = Asset {
            path: "a",
            content_type: "x",
            body: b"one",
        };
        let b = Asset { body: b"two", ..a };
        assert_ne!(a.etag(), b.etag());
    }
}
