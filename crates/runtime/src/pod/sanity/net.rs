//! The communication phases and the pod's own listener.
//!
//! Wire protocol on the pod's port, one request per connection, first byte the operation:
//! `P` + n × 8 bytes echoed back (latency); `B` + u64 length + that many bytes, answered with
//! one byte (bandwidth); `F` + u32 rank (that peer finished its checks).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PINGS: usize = 20;
const PAIR_BYTES: u64 = 32 << 20;
const LOOPBACK_BYTES: u64 = 64 << 20;
const MEMCPY_BYTES: usize = 128 << 20;
/// Below these a link is not plausibly healthy.
const MIN_GBPS: f64 = 0.01;
const MAX_LATENCY_MS: f64 = 100.0;

/// Answers probes on `listener` in the background for as long as the process lives; records
/// finished peers in `finished`.
pub fn serve(listener: TcpListener, finished: Arc<Mutex<HashSet<u32>>>) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let finished = finished.clone();
            std::thread::spawn(move || {
                let _ = answer(stream, &finished);
            });
        }
    });
}

fn answer(mut stream: TcpStream, finished: &Mutex<HashSet<u32>>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut op = [0u8; 1];
    stream.read_exact(&mut op)?;
    match op[0] {
        b'P' => {
            let mut buf = [0u8; 8];
            while stream.read_exact(&mut buf).is_ok() {
                stream.write_all(&buf)?;
            }
        }
        b'B' => {
            let mut len = [0u8; 8];
            stream.read_exact(&mut len)?;
            let mut left = u64::from_le_bytes(len);
            let mut buf = vec![0u8; 1 << 16];
            while left > 0 {
                let n = stream.read(&mut buf[..left.min(1 << 16) as usize])?;
                if n == 0 {
                    break;
                }
                left -= n as u64;
            }
            stream.write_all(b"k")?;
        }
        b'F' => {
            let mut rank = [0u8; 4];
            stream.read_exact(&mut rank)?;
            finished
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(u32::from_le_bytes(rank));
        }
        _ => {}
    }
    Ok(())
}

/// Connects to `peer`, retrying until `deadline` (peers start at slightly different times).
fn connect(peer: &str, deadline: Instant) -> Result<TcpStream, String> {
    let addr = peer
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("{peer} is not an address"))?;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                return Ok(stream);
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("cannot reach {peer}: {e}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Median round trip to `peer` in milliseconds.
fn latency_ms(peer: &str, deadline: Instant, pings: usize) -> Result<f64, String> {
    let mut stream = connect(peer, deadline)?;
    let io = |e: std::io::Error| format!("{peer}: {e}");
    stream.write_all(b"P").map_err(io)?;
    let mut samples = Vec::with_capacity(pings);
    let mut buf = [0u8; 8];
    for i in 0..pings as u64 {
        let start = Instant::now();
        stream.write_all(&i.to_le_bytes()).map_err(io)?;
        stream.read_exact(&mut buf).map_err(io)?;
        if u64::from_le_bytes(buf) != i {
            return Err(format!("{peer} echoed the wrong bytes"));
        }
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

/// GB/s sending `bytes` to `peer`.
fn bandwidth_gbps(peer: &str, deadline: Instant, bytes: u64) -> Result<f64, String> {
    let mut stream = connect(peer, deadline)?;
    let io = |e: std::io::Error| format!("{peer}: {e}");
    let chunk = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    stream.write_all(b"B").map_err(io)?;
    stream.write_all(&bytes.to_le_bytes()).map_err(io)?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        stream.write_all(&chunk[..n]).map_err(io)?;
        left -= n as u64;
    }
    let mut ack = [0u8; 1];
    stream.read_exact(&mut ack).map_err(io)?;
    Ok(bytes as f64 / start.elapsed().as_secs_f64().max(1e-9) / 1e9)
}

fn judge(what: &str, latency: f64, gbps: f64) -> Result<String, String> {
    let message = format!("{what}: latency {latency:.3} ms, bandwidth {gbps:.2} GB/s");
    if latency > MAX_LATENCY_MS || gbps < MIN_GBPS {
        Err(format!(
            "{message} (expected under {MAX_LATENCY_MS} ms and over {MIN_GBPS} GB/s)"
        ))
    } else {
        Ok(message)
    }
}

/// Memory copy bandwidth, and loopback through this pod's own listener.
pub fn single_node(own: &str) -> Result<String, String> {
    let source = vec![1u8; MEMCPY_BYTES];
    let mut target = vec![0u8; MEMCPY_BYTES];
    let start = Instant::now();
    target.copy_from_slice(&source);
    let memcpy = MEMCPY_BYTES as f64 / start.elapsed().as_secs_f64().max(1e-9) / 1e9;
    if target[MEMCPY_BYTES - 1] != 1 {
        return Err("memory copy produced wrong bytes".into());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let latency = latency_ms(own, deadline, PINGS)?;
    let gbps = bandwidth_gbps(own, deadline, LOOPBACK_BYTES)?;
    judge("loopback", latency, gbps).map(|m| format!("memory copy {memcpy:.1} GB/s; {m}"))
}

pub fn two_node(partner: &str, deadline: Instant) -> Result<String, String> {
    let latency = latency_ms(partner, deadline, PINGS)?;
    let gbps = bandwidth_gbps(partner, deadline, PAIR_BYTES)?;
    judge(&format!("with {partner}"), latency, gbps)
}

pub fn all_nodes(rank: usize, peers: &[String], deadline: Instant) -> Result<String, String> {
    let mut worst = (0f64, String::new());
    let mut failures = Vec::new();
    for (i, peer) in peers.iter().enumerate() {
        if i == rank {
            continue;
        }
        match latency_ms(peer, deadline, 5) {
            Ok(ms) if ms > worst.0 => worst = (ms, peer.clone()),
            Ok(_) => {}
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        return Err(failures.join("; "));
    }
    if peers.len() < 2 {
        return Ok("one pod: no peer to reach".into());
    }
    let message = format!(
        "reached {} peer(s); slowest {} at {:.3} ms",
        peers.len() - 1,
        worst.1,
        worst.0
    );
    if worst.0 > MAX_LATENCY_MS {
        Err(message)
    } else {
        Ok(message)
    }
}

/// Tells every peer this pod is done, then waits (until `deadline`) for every peer to say the
/// same, so that no pod leaves while another still probes it.
pub fn finish(rank: usize, peers: &[String], finished: &Mutex<HashSet<u32>>, deadline: Instant) {
    for (i, peer) in peers.iter().enumerate() {
        if i == rank {
            continue;
        }
        if let Ok(mut stream) = connect(peer, deadline) {
            let mut message = vec![b'F'];
            message.extend_from_slice(&(rank as u32).to_le_bytes());
            let _ = stream.write_all(&message);
        }
    }
    while Instant::now() < deadline {
        let done = finished.lock().unwrap_or_else(|e| e.into_inner()).len();
        if done + 1 >= peers.len() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
