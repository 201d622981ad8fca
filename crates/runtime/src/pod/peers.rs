//! Pod addresses that are known only once the pods are placed (the Slurm runtime: the nodes
//! Slurm picks). The pod's spec carries the variables that name addresses symbolically
//! (`PodSpec::addressed_env`, see `opendlc_core::env_value`) and the directory of every pod
//! they name (`peers`). Each pod's task records its node in `<pod dir>/node` before it runs the
//! shim; the shim waits (bounded) until every named pod has recorded its node, then fills the
//! addresses in ([`resolve`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::contract::Placement;
use crate::pod_files::PodSpec;

/// `<pod dir>/node`, written by the pod's task before its shim runs: `NODENAME ADDRESS\n`.
pub const NODE_FILE: &str = "node";

/// `<pod dir>/hosts`: the command's own `/etc/hosts` when the job's pods have names there.
pub const HOSTS_FILE: &str = "hosts";

/// How long a shim waits for the pods its environment names to record their nodes.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(60);
const PEER_POLL: Duration = Duration::from_millis(20);

/// The address that stands in for a pod that never recorded its node.
const FALLBACK_ADDRESS: &str = "127.0.0.1";

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

/// What [`resolve`] found.
#[derive(Debug, Default, PartialEq)]
pub struct Resolved {
    /// The pods whose address stayed unknown (never recorded, or not in `peers`: not launched
    /// yet): the pod's own address stands in for theirs (or loopback), so that the pod still
    /// starts and its framework reports the failure.
    pub missing: Vec<String>,
}

/// Fills the addresses of `spec.addressed_env` in and moves those variables into `spec.env`,
/// and the names of `spec.addressed_hosts` into `spec.hosts` with their addresses (a name
/// whose pod's address stayed unknown is left out), waiting up to `timeout` for each named pod
/// in `spec.peers` to record its node.
pub fn resolve(spec: &mut PodSpec, timeout: Duration) -> Resolved {
    let deadline = Instant::now() + timeout;
    let mut named: Vec<String> = spec
        .addressed_env
        .values()
        .flat_map(|v| v.addresses().map(str::to_string))
        .chain(spec.addressed_hosts.values().cloned())
        .collect();
    named.sort();
    named.dedup();
    let mut addresses: HashMap<String, String> = HashMap::new();
    loop {
        for pod_id in &named {
            if addresses.contains_key(pod_id) {
                continue;
            }
            let placement = spec.peers.get(pod_id).and_then(|dir| read_placement(dir));
            if let Some(placement) = placement {
                addresses.insert(pod_id.clone(), placement.ip);
            }
        }
        let awaited = named.iter().filter(|p| spec.peers.contains_key(*p)).count();
        if addresses.len() == awaited || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(PEER_POLL);
    }
    let own = addresses
        .get(&spec.pod_id)
        .cloned()
        .unwrap_or_else(|| FALLBACK_ADDRESS.to_string());
    let missing: Vec<String> = named
        .into_iter()
        .filter(|p| !addresses.contains_key(p))
        .collect();
    for (name, value) in std::mem::take(&mut spec.addressed_env) {
        let text = value.resolve(|pod_id| addresses.get(pod_id).unwrap_or(&own).clone());
        spec.env.insert(name, text);
    }
    for (name, pod_id) in std::mem::take(&mut spec.addressed_hosts) {
        if let Some(address) = addresses.get(&pod_id) {
            spec.hosts.insert(name, address.clone());
        }
    }
    Resolved { missing }
}

/// The pod's own `/etc/hosts`: the host's, then the job's pods' names.
pub fn hosts_file(host: &str, names: &BTreeMap<String, String>) -> String {
    let mut text = host.trim_end().to_string();
    text.push_str("\n# the job's pods (opendlc)\n");
    for (name, address) in names {
        text.push_str(&format!("{address}\t{name}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use opendlc_core::env_value::EnvValue;

    use super::*;

    #[test]
    fn addresses_are_resolved_from_node_files_and_the_own_one_stands_in_for_the_rest() {
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
        let tf = EnvValue::with_addresses(
            "@0:1 @1:2",
            &[
                ("@0".into(), "j-worker-0".into()),
                ("@1".into(), "j-worker-1".into()),
            ],
        );
        let mut spec = PodSpec {
            pod_id: "j-worker-0".into(),
            pod_uid: "u".into(),
            command: "true".into(),
            view: None,
            workdir: dir.path().into(),
            env: BTreeMap::from([("RANK".into(), "0".into())]),
            addressed_env: BTreeMap::from([
                ("MASTER_ADDR".into(), EnvValue::address_of("j-worker-0")),
                ("TF_CONFIG".into(), tf),
            ]),
            grace_period_ms: 0,
            limits: None,
            cpus: Vec::new(),
            sample_every_ms: None,
            peers: BTreeMap::from([
                ("j-worker-0".to_string(), a.clone()),
                ("j-worker-1".to_string(), b.clone()),
            ]),
            hosts: BTreeMap::new(),
            addressed_hosts: BTreeMap::from([
                ("worker-1".to_string(), "j-worker-1".to_string()),
                ("j-worker-1".to_string(), "j-worker-1".to_string()),
            ]),
            scratch: Vec::new(),
            containers: None,
        };
        let unresolved = spec.clone();
        let resolved = resolve(&mut spec, PEER_TIMEOUT);
        assert!(resolved.missing.is_empty());
        assert!(spec.addressed_hosts.is_empty());
        let hosts = hosts_file("127.0.0.1 localhost\n", &spec.hosts);
        assert_eq!(
            hosts,
            "127.0.0.1 localhost\n# the job's pods (opendlc)\n\
             10.0.0.2\tj-worker-1\n10.0.0.2\tworker-1\n"
        );
        writer.join().unwrap();
        assert_eq!(spec.env["TF_CONFIG"], "10.0.0.1:1 10.0.0.2:2");
        assert_eq!(spec.env["MASTER_ADDR"], "10.0.0.1");
        assert_eq!(spec.env["RANK"], "0");
        assert!(spec.addressed_env.is_empty());
        // A pod that never records its node: the pod's own address, once the wait is over.
        std::fs::remove_file(b.join(NODE_FILE)).unwrap();
        let mut spec = unresolved;
        let resolved = resolve(&mut spec, Duration::from_millis(50));
        assert_eq!(resolved.missing, ["j-worker-1"]);
        // A name whose pod has no address is left out of the hosts file.
        assert!(spec.hosts.is_empty());
        assert_eq!(spec.env["TF_CONFIG"], "10.0.0.1:1 10.0.0.1:2");
        assert_eq!(read_placement(&a).unwrap().node, "n1");
        // A half-written node file is not a placement.
        std::fs::write(a.join(NODE_FILE), "n1 10.0").unwrap();
        assert!(read_placement(&a).is_none());
    }
}
