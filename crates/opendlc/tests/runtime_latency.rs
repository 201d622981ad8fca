//! What a pod launch costs, end to end with the real shim. A measurement, not a check: run it
//! with `cargo test --release -p opendlc --test runtime_latency -- --ignored --nocapture`.

mod runtime_support;

use std::time::{Duration, Instant};

use runtime_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --release -- --ignored --nocapture"]
async fn launch_latency_of_a_trivial_pod() {
    const WARMUP: usize = 5;
    const RUNS: usize = 100;
    let mut h = Harness::new();
    let mut launched = Vec::new();
    let mut ended = Vec::new();
    for i in 0..WARMUP + RUNS {
        let pod = h.pod(&format!("p{i}"), "true");
        let start = Instant::now();
        h.runtime.launch(pod).await.unwrap();
        let to_started = start.elapsed();
        exited(h.next_event().await);
        if i >= WARMUP {
            launched.push(to_started);
            ended.push(start.elapsed());
        }
    }
    report("launch() until Started", &mut launched);
    report("launch() until the Exited event", &mut ended);
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms ({} runs)",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        samples.len()
    );
}
