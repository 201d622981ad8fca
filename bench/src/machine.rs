//! How fast this machine is at what the figures depend on, measured before the scenarios run:
//! the same code's figures differ between VMs by more than most changes move them (bench/
//! README.md), and these two say how a run's machine compares with another's.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The machine's speed at a fixed piece of arithmetic and at starting a process.
#[derive(Debug, Clone, Copy)]
pub struct Speed {
    /// One core's time for a fixed loop of arithmetic (no memory, no system calls).
    pub arithmetic: Duration,
    /// Starting `/bin/sh -c true` and waiting for it, as each pod's command starts (the
    /// dynamic loader's start-up included: on a VM its `cpuid`s trap to the hypervisor).
    pub process: Duration,
}

impl Speed {
    /// Measures both: the arithmetic's fastest of 5 rounds, the process's mean of 50 starts.
    pub fn measure() -> std::io::Result<Speed> {
        let arithmetic = (0..5).map(|_| arithmetic_round()).min().unwrap_or_default();
        const STARTS: u32 = 50;
        let began = Instant::now();
        for _ in 0..STARTS {
            Command::new("/bin/sh")
                .args(["-c", "true"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
        }
        Ok(Speed {
            arithmetic,
            process: began.elapsed() / STARTS,
        })
    }

    pub fn line(&self) -> String {
        format!(
            "machine: a fixed loop of arithmetic {:.1} ms, `sh -c true` {:.2} ms",
            self.arithmetic.as_secs_f64() * 1000.0,
            self.process.as_secs_f64() * 1000.0
        )
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "arithmetic_ms": self.arithmetic.as_secs_f64() * 1000.0,
            "sh_c_true_ms": self.process.as_secs_f64() * 1000.0,
        })
    }
}

/// 50 million steps of a linear congruential generator: its time is the core's speed.
fn arithmetic_round() -> Duration {
    let began = Instant::now();
    let mut x: u64 = 1;
    for _ in 0..50_000_000u32 {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
    std::hint::black_box(x);
    began.elapsed()
}
