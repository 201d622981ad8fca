//! DeviceCheck: each GPU answers and computes (through `nvidia-smi`, and PyTorch when the pod
//! has it); without GPUs, the CPU computes a known product correctly at a plausible speed.

use std::process::Command;
use std::time::Instant;

/// Below this a CPU is not plausibly healthy: a 2010 laptop core does ~1 GFLOP/s on this loop
/// in an optimised build; an unoptimised (test) build on a busy machine does ~0.05.
const MIN_CPU_GFLOPS: f64 = 0.005;

pub fn check(gpus: &[String]) -> Result<String, String> {
    if gpus.is_empty() {
        cpu()
    } else {
        gpu(gpus)
    }
}

/// An n×n matrix product whose exact result is known: A[i][k] = i + k, B[k][j] = k - j, so
/// C[i][j] = Σk (i+k)(k-j), computed in closed form to compare with.
fn cpu() -> Result<String, String> {
    const N: usize = 192;
    let a: Vec<f64> = (0..N * N).map(|x| ((x / N) + (x % N)) as f64).collect();
    let b: Vec<f64> = (0..N * N)
        .map(|x| (x / N) as f64 - (x % N) as f64)
        .collect();
    let mut c = vec![0f64; N * N];
    let start = Instant::now();
    for i in 0..N {
        for k in 0..N {
            let aik = a[i * N + k];
            for j in 0..N {
                c[i * N + j] += aik * b[k * N + j];
            }
        }
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    let n = N as f64;
    let (s1, s2) = ((n - 1.0) * n / 2.0, (n - 1.0) * n * (2.0 * n - 1.0) / 6.0);
    for (i, j) in [(0, 0), (N - 1, 0), (7, N - 1), (N / 2, N / 3)] {
        let (fi, fj) = (i as f64, j as f64);
        let expected = s2 + (fi - fj) * s1 - fi * fj * n;
        if (c[i * N + j] - expected).abs() > 1e-6 * expected.abs().max(1.0) {
            return Err(format!(
                "CPU computed C[{i}][{j}] = {} instead of {expected}",
                c[i * N + j]
            ));
        }
    }
    let gflops = 2.0 * n * n * n / secs / 1e9;
    if gflops < MIN_CPU_GFLOPS {
        return Err(format!(
            "CPU too slow: {gflops:.3} GFLOP/s (expected at least {MIN_CPU_GFLOPS})"
        ));
    }
    Ok(format!(
        "no GPU: CPU matrix product correct, {gflops:.2} GFLOP/s"
    ))
}

fn gpu(gpus: &[String]) -> Result<String, String> {
    let ids = gpus.join(",");
    let smi = Command::new("nvidia-smi")
        .args([
            "--query-gpu=index,name,temperature.gpu,ecc.errors.uncorrected.volatile.total",
            "--format=csv,noheader",
            "-i",
            &ids,
        ])
        .output()
        .map_err(|e| format!("GPUs {ids} assigned but nvidia-smi cannot run: {e}"))?;
    if !smi.status.success() {
        return Err(format!(
            "nvidia-smi failed for GPUs {ids}: {}",
            String::from_utf8_lossy(&smi.stderr).trim()
        ));
    }
    let listing = String::from_utf8_lossy(&smi.stdout)
        .trim()
        .replace('\n', "; ");
    for line in listing.split("; ") {
        let ecc = line.rsplit(',').next().unwrap_or("").trim();
        if ecc.parse::<u64>().is_ok_and(|n| n > 0) {
            return Err(format!("uncorrected ECC errors: {line}"));
        }
    }
    // A real computation on each GPU, where the pod has PyTorch.
    let script = "import sys, time, torch\n\
        out = []\n\
        for d in range(torch.cuda.device_count()):\n\
        \x20   a = torch.randn(2048, 2048, device=f'cuda:{d}'); b = torch.randn(2048, 2048, device=f'cuda:{d}')\n\
        \x20   c = a @ b; torch.cuda.synchronize(d)\n\
        \x20   t = time.time(); c = a @ b; torch.cuda.synchronize(d); dt = time.time() - t\n\
        \x20   err = (c.cpu() - a.cpu() @ b.cpu()).abs().max().item()\n\
        \x20   if err > 1e-1: print(f'cuda:{d} wrong result (max error {err})'); sys.exit(1)\n\
        \x20   out.append(f'cuda:{d} {2*2048**3/dt/1e12:.1f} TFLOP/s')\n\
        print(', '.join(out))\n";
    match Command::new("python3")
        .args(["-c", script])
        .env("CUDA_VISIBLE_DEVICES", &ids)
        .output()
    {
        Ok(run) if run.status.success() => Ok(format!(
            "{listing}; {}",
            String::from_utf8_lossy(&run.stdout).trim()
        )),
        Ok(run) if String::from_utf8_lossy(&run.stderr).contains("No module named 'torch'") => Ok(
            format!("{listing}; healthy (no PyTorch in the pod: compute not exercised)"),
        ),
        Ok(run) => Err(format!(
            "GPU computation failed: {}{}",
            String::from_utf8_lossy(&run.stdout).trim(),
            String::from_utf8_lossy(&run.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        )),
        Err(_) => Ok(format!(
            "{listing}; healthy (no python3: compute not exercised)"
        )),
    }
}
