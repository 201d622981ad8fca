//! `metrics.jsonl` in a pod directory: the samples a shim takes of its own pod where the server
//! cannot see the pod's processes (a pod on a Slurm node), one JSON line per sample, appended by
//! the shim and read back by the server from where it stopped last time.
//!
//! A line is written with one `write` on an `O_APPEND` file, so a reader sees whole lines, except
//! a last one still being written: it is left for the next read.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use opendlc_core::metrics::PodSample;
use opendlc_core::time::Millis;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Line {
    /// Unix milliseconds.
    at: Millis,
    #[serde(flatten)]
    sample: PodSample,
}

/// Appends one sample.
pub fn append(file: &mut File, at: Millis, sample: &PodSample) -> io::Result<()> {
    let mut line = serde_json::to_vec(&Line {
        at,
        sample: sample.clone(),
    })?;
    line.push(b'\n');
    file.write_all(&line)
}

/// The samples after byte `offset`, and the offset to read from next time. A missing file has
/// no samples yet; a line that does not parse (a file damaged by hand) is skipped.
pub fn read_from(path: &Path, offset: u64) -> io::Result<(Vec<(Millis, PodSample)>, u64)> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(e),
    };
    // A file shorter than the offset was replaced: read it from the start.
    let offset = if file.metadata()?.len() < offset {
        0
    } else {
        offset
    };
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let samples = bytes[..complete]
        .split(|&b| b == b'\n')
        .filter_map(|line| serde_json::from_slice::<Line>(line).ok())
        .map(|line| (line.at, line.sample))
        .collect();
    Ok((samples, offset + complete as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_round_trip_and_a_partial_line_waits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        assert_eq!(read_from(&path, 0).unwrap(), (Vec::new(), 0));
        let mut file = crate::pod_dir::open_append(&path).unwrap();
        let first = PodSample {
            memory: Some(1e6),
            ..PodSample::default()
        };
        append(&mut file, 1_000, &first).unwrap();
        file.write_all(b"{\"at\": 2000, \"cpu\"").unwrap();
        let (samples, offset) = read_from(&path, 0).unwrap();
        assert_eq!(samples, [(1_000, first.clone())]);
        // The rest of the second line arrives; only it is read the next time.
        file.write_all(b": 50.0}\nnot json\n").unwrap();
        let (samples, next) = read_from(&path, offset).unwrap();
        let second = PodSample {
            cpu: Some(50.0),
            ..PodSample::default()
        };
        assert_eq!(samples, [(2_000, second)]);
        assert_eq!(read_from(&path, next).unwrap(), (Vec::new(), next));
        // Absent series are left out of the file, not written as null or zero.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("{\"at\":1000,\"memory\":1000000.0}\n"),
            "{text}"
        );
    }
}
