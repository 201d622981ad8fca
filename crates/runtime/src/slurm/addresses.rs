//! Pod addresses on Slurm, known only once Slurm has placed the gang.
//!
//! Most of the env contract names the master alone (MASTER_ADDR and the like): the batch script
//! fills in [`super::MASTER_ADDR_TOKEN`] before the pods start. `TF_CONFIG` names every pod,
//! so each pod of the gang gets a token of its own there ([`token`]). Every task records its
//! node in `<pod dir>/node` before it runs the shim; the shim of a pod whose spec lists `peers`
//! waits until each peer has recorded its node, then replaces their tokens ([`resolve`]).
//!
//! A pod outside the gang (one that started earlier, through a startup dependency) is given the
//! master's address, as every pod is on the local runtime.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::pod_files::PodSpec;
use crate::supervisor::Placement;

/// `<pod dir>/node`, written by the pod's task before its shim runs: `NODENAME ADDRESS\n`.
pub const NODE_FILE: &str = "node";

/// How long a shim waits for the other pods of its gang to record their nodes.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(60);
const PEER_POLL: Duration = Duration::from_millis(20);

/// Where a pod's address goes in its peers' environment.
pub fn token(pod_id: &str) -> String {
    format!("@OPENDLC_ADDR_OF:{pod_id}@")
}

/// The pod's node, once its task has recorded it (whole: a line still being written is not).
pub fn read_placement(dir: &Path) -> Option<Placement> {
    let text = std::fs::read_to_string(dir.join(NODE_FILE)).ok()?;
    if !text.ends_with('\n') {
        return None;
    }
    let mut words = text.split_whitespace();
    let node = words.next()?.to_string();
    let ip = words.next().unwrap_or(&node).to_string();
    Some(Placement { node, ip })
}

/// `TF_CONFIG` with the address of each gang pod (`gang`: pod id → directory) replaced by its
/// token; `job_id` names the pods (`<job>-<task type>-<index>`). `None` when the value is not
/// a TF_CONFIG with a cluster, or names no pod of the gang.
pub fn tokenize_tf_config(
    tf_config: &str,
    job_id: &str,
    gang: &BTreeMap<String, PathBuf>,
) -> Option<String> {
    let mut config: serde_json::Value = serde_json::from_str(tf_config).ok()?;
    let cluster = config.get_mut("cluster")?.as_object_mut()?;
    let mut changed = false;
    for (task_type, addresses) in cluster.iter_mut() {
        let Some(addresses) = addresses.as_array_mut() else {
            continue;
        };
        for (index, address) in addresses.iter_mut().enumerate() {
            let pod_id = opendlc_core::ids::pod_id(job_id, task_type, index as u32);
            let (Some(text), true) = (address.as_str(), gang.contains_key(&pod_id)) else {
                continue;
            };
            let Some((_, port)) = text.rsplit_once(':') else {
                continue;
            };
            *address = format!("{}:{port}", token(&pod_id)).into();
            changed = true;
        }
    }
    changed.then(|| config.to_string())
}

/// Replaces the peers' tokens in the pod's environment by their addresses, waiting (bounded)
/// for each to record its node. Returns the peers that never did: their tokens got the
/// master's address (MASTER_ADDR), so that the pod still starts.
pub fn resolve(spec: &mut PodSpec, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut addresses: HashMap<&str, String> = HashMap::new();
    loop {
        for (pod_id, dir) in &spec.peers {
            if !addresses.contains_key(pod_id.as_str()) {
                if let Some(placement) = read_placement(dir) {
                    addresses.insert(pod_id, placement.ip);
                }
            }
        }
        if addresses.len() == spec.peers.len() || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(PEER_POLL);
    }
    let master = spec.env.get("MASTER_ADDR").cloned().unwrap_or_default();
    let mut missing = Vec::new();
    let replacements: Vec<(String, String)> = spec
        .peers
        .keys()
        .map(|pod_id| {
            let address = addresses.get(pod_id.as_str()).cloned().unwrap_or_else(|| {
                missing.push(pod_id.clone());
                master.clone()
            });
            (token(pod_id), address)
        })
        .collect();
    for value in spec.env.values_mut() {
        for (token, address) in &replacements {
            if value.contains(token.as_str()) {
                *value = value.replace(token.as_str(), address);
            }
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gang(pods: &[(&str, &Path)]) -> BTreeMap<String, PathBuf> {
        pods.iter()
            .map(|(id, dir)| (id.to_string(), dir.to_path_buf()))
            .collect()
    }

    #[test]
    fn tf_config_gets_a_token_for_each_gang_pod_only() {
        let config = r#"{"cluster":{"chief":["127.0.0.1:2000"],"worker":["127.0.0.1:2001","127.0.0.1:2002"]},"task":{"type":"worker","index":1},"environment":"cloud"}"#;
        // chief-0 started earlier (another gang): its address stays for the master's.
        let gang = gang(&[
            ("j-worker-0", Path::new("/a")),
            ("j-worker-1", Path::new("/b")),
        ]);
        let out = tokenize_tf_config(config, "j", &gang).unwrap();
        let out: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(out["cluster"]["chief"][0], "127.0.0.1:2000");
        assert_eq!(
            out["cluster"]["worker"],
            serde_json::json!([
                "@OPENDLC_ADDR_OF:j-worker-0@:2001",
                "@OPENDLC_ADDR_OF:j-worker-1@:2002"
            ])
        );
        assert_eq!(out["task"]["index"], 1);
        assert_eq!(tokenize_tf_config("not json", "j", &gang), None);
        assert_eq!(tokenize_tf_config(r#"{"task":{}}"#, "j", &gang), None);
    }

    #[test]
    fn peers_are_resolved_from_their_node_files_and_the_master_stands_in_for_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join(NODE_FILE), "n1 10.0.0.1\n").unwrap();
        // b records its node a little later, as a task starting after this one would.
        let later = b.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(later.join(NODE_FILE), "n2 10.0.0.2\n").unwrap();
        });
        let mut spec = PodSpec {
            pod_id: "j-worker-0".into(),
            pod_uid: "u".into(),
            command: "true".into(),
            workdir: dir.path().into(),
            env: BTreeMap::from([
                ("MASTER_ADDR".into(), "10.0.0.9".into()),
                (
                    "TF_CONFIG".into(),
                    format!("{}:1 {}:2", token("j-worker-0"), token("j-worker-1")),
                ),
            ]),
            grace_period_ms: 0,
            limits: None,
            sample_every_ms: None,
            peers: gang(&[("j-worker-0", &a), ("j-worker-1", &b)]),
        };
        let unresolved = spec.clone();
        assert!(resolve(&mut spec, PEER_TIMEOUT).is_empty());
        writer.join().unwrap();
        assert_eq!(spec.env["TF_CONFIG"], "10.0.0.1:1 10.0.0.2:2");
        // A peer that never records its node: the master's address, once the wait is over.
        std::fs::remove_file(b.join(NODE_FILE)).unwrap();
        let mut spec = unresolved;
        let missing = resolve(&mut spec, Duration::from_millis(50));
        assert_eq!(missing, ["j-worker-1"]);
        assert_eq!(spec.env["TF_CONFIG"], "10.0.0.1:1 10.0.0.9:2");
        assert_eq!(read_placement(&a).unwrap().node, "n1");
        // A half-written node file is not a placement.
        std::fs::write(a.join(NODE_FILE), "n1 10.0").unwrap();
        assert!(read_placement(&a).is_none());
    }
}
