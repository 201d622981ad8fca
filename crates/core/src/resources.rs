//! What a pod asks for: CPU (in millicores), memory (in MiB) and whole GPUs.

use std::ops::{Add, Mul};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resources {
    pub cpu_milli: u64,
    pub memory_mib: u64,
    pub gpu: u32,
}

impl Resources {
    pub fn new(cpu_milli: u64, memory_mib: u64, gpu: u32) -> Self {
        Resources {
            cpu_milli,
            memory_mib,
            gpu,
        }
    }

    /// Whether `self` fits inside `available`, dimension by dimension.
    pub fn fits_in(&self, available: &Resources) -> bool {
        self.cpu_milli <= available.cpu_milli
            && self.memory_mib <= available.memory_mib
            && self.gpu <= available.gpu
    }

    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli.saturating_sub(other.cpu_milli),
            memory_mib: self.memory_mib.saturating_sub(other.memory_mib),
            gpu: self.gpu.saturating_sub(other.gpu),
        }
    }

    /// The first dimension where `self` exceeds `available`, as "needs X, Y available" text.
    pub fn shortfall(&self, available: &Resources) -> Option<String> {
        if self.cpu_milli > available.cpu_milli {
            return Some(format!(
                "needs {} CPU, {} available",
                format_cpu(self.cpu_milli),
                format_cpu(available.cpu_milli)
            ));
        }
        if self.memory_mib > available.memory_mib {
            return Some(format!(
                "needs {} memory, {} available",
                format_memory(self.memory_mib),
                format_memory(available.memory_mib)
            ));
        }
        if self.gpu > available.gpu {
            return Some(format!(
                "needs {} GPU, {} available",
                self.gpu, available.gpu
            ));
        }
        None
    }
}

impl Add for Resources {
    type Output = Resources;
    fn add(self, o: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli + o.cpu_milli,
            memory_mib: self.memory_mib + o.memory_mib,
            gpu: self.gpu + o.gpu,
        }
    }
}

impl Mul<u64> for Resources {
    type Output = Resources;
    fn mul(self, n: u64) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli * n,
            memory_mib: self.memory_mib * n,
            gpu: self.gpu * n as u32,
        }
    }
}

pub fn format_cpu(milli: u64) -> String {
    if milli.is_multiple_of(1000) {
        format!("{}", milli / 1000)
    } else {
        format!("{:.1}", milli as f64 / 1000.0)
    }
}

/// Whether a job's `GPUType` names the GPU model `model` (PAI's names, "Tesla-V100-16G", "A10",
/// against nvidia-smi's, "Tesla V100-SXM2-16GB", "NVIDIA A10"): every word of the type but its
/// vendor and its memory size ("16G") is a word of the model, compared whole and without case,
/// so "A10" is not an "A100".
pub fn gpu_type_matches(asked: &str, model: &str) -> bool {
    fn words(s: &str) -> Vec<String> {
        s.split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
    }
    let is_memory = |w: &str| {
        let digits = w.trim_end_matches(['g', 'b']);
        digits.len() < w.len() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    if asked.eq_ignore_ascii_case(model) {
        return true;
    }
    let model = words(model);
    let asked: Vec<String> = words(asked)
        .into_iter()
        .filter(|w| !["nvidia", "tesla"].contains(&w.as_str()) && !is_memory(w))
        .collect();
    !asked.is_empty() && asked.iter().all(|w| model.contains(w))
}

pub fn format_memory(mib: u64) -> String {
    if mib.is_multiple_of(1024) {
        format!("{}Gi", mib / 1024)
    } else if mib > 1024 {
        format!("{:.1}Gi", mib as f64 / 1024.0)
    } else {
        format!("{mib}Mi")
    }
}

/// A CPU, memory or GPU quantity that does not parse; it holds the text as given (trimmed).
/// The messages name the field's format and are shown to API users as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("\"{0}\" is not a CPU quantity (e.g. \"2\", \"0.5\", \"500m\")")]
    Cpu(String),
    #[error("\"{0}\" is not a memory quantity (e.g. \"4Gi\", \"512Mi\")")]
    Memory(String),
    #[error("\"{0}\" is not a whole number of GPUs")]
    Gpu(String),
}

/// `"2"`, `"0.5"` or `"500m"` → millicores.
pub fn parse_cpu(text: &str) -> Result<u64, QuantityError> {
    let text = text.trim();
    let milli = if let Some(m) = text.strip_suffix('m') {
        m.parse::<u64>().ok()
    } else {
        text.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| (v * 1000.0).round() as u64)
    };
    milli.ok_or_else(|| QuantityError::Cpu(text.to_string()))
}

/// Kubernetes-style quantities (`"4Gi"`, `"512Mi"`, `"4G"`); a bare number means GiB, as in the
/// PAI console. → MiB.
pub fn parse_memory(text: &str) -> Result<u64, QuantityError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor_mib = match unit {
        "" | "Gi" | "G" | "GB" | "GiB" => Some(1024.0),
        "Mi" | "M" | "MB" | "MiB" => Some(1.0),
        "Ti" | "T" | "TB" | "TiB" => Some(1024.0 * 1024.0),
        "Ki" | "K" | "KB" | "KiB" => Some(1.0 / 1024.0),
        _ => None,
    };
    match (number.parse::<f64>(), factor_mib) {
        (Ok(n), Some(f)) if n.is_finite() => Ok((n * f).ceil() as u64),
        _ => Err(QuantityError::Memory(text.to_string())),
    }
}

/// Whole GPUs: `"1"`, `"2"`; empty means none.
pub fn parse_gpu(text: &str) -> Result<u32, QuantityError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    text.parse::<u32>()
        .map_err(|_| QuantityError::Gpu(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quantities() {
        assert_eq!(parse_cpu("2"), Ok(2000));
        assert_eq!(parse_cpu("0.5"), Ok(500));
        assert_eq!(parse_cpu("250m"), Ok(250));
        assert!(parse_cpu("two").is_err());
        assert_eq!(parse_memory("10Gi"), Ok(10240));
        assert_eq!(parse_memory("512Mi"), Ok(512));
        assert_eq!(parse_memory("4"), Ok(4096));
        assert!(parse_memory("4 parsecs").is_err());
        assert_eq!(parse_gpu(""), Ok(0));
        assert!(parse_gpu("0.5").is_err());
    }

    #[test]
    fn quantity_errors_name_the_format() {
        let message = |e: QuantityError| e.to_string();
        assert_eq!(
            message(parse_cpu(" two ").unwrap_err()),
            r#""two" is not a CPU quantity (e.g. "2", "0.5", "500m")"#
        );
        assert_eq!(
            message(parse_memory("4 parsecs").unwrap_err()),
            r#""4 parsecs" is not a memory quantity (e.g. "4Gi", "512Mi")"#
        );
        assert_eq!(
            message(parse_gpu("0.5").unwrap_err()),
            r#""0.5" is not a whole number of GPUs"#
        );
    }

    #[test]
    fn shortfall_names_the_first_missing_dimension() {
        let want = Resources::new(4000, 1024, 2);
        let have = Resources::new(8000, 2048, 1);
        assert_eq!(want.shortfall(&have).unwrap(), "needs 2 GPU, 1 available");
        assert!(want.fits_in(&Resources::new(4000, 1024, 2)));
    }

    #[test]
    fn a_gpu_type_names_a_model_by_its_words() {
        for (asked, model) in [
            ("Tesla-V100-16G", "Tesla V100-SXM2-16GB"),
            ("A10", "NVIDIA A10"),
            ("H200", "NVIDIA H200"),
            ("A100-80G", "NVIDIA A100-SXM4-80GB"),
            ("GU50", "GU50"),
        ] {
            assert!(gpu_type_matches(asked, model), "{asked} / {model}");
        }
        for (asked, model) in [
            ("A10", "NVIDIA A100-SXM4-80GB"),
            ("V100", "NVIDIA H200"),
            ("16G", "Tesla V100-SXM2-16GB"),
        ] {
            assert!(!gpu_type_matches(asked, model), "{asked} / {model}");
        }
    }
}
