//! The batch script of a gang (pure text; no I/O).
//!
//! Pods with the same shape (CPUs, memory, GPUs) form one component; several shapes make a
//! heterogeneous job (`#SBATCH hetjob`), all in one allocation. Each component gets one
//! `srun` whose task `i` runs `opendlc shim --dir` for the component's pod `i` (the pod list is
//! `pods-<component>` in the gang directory), after recording its node in `<pod dir>/node`
//! (name and address), from which the shims fill in the addresses their environment names
//! (`crate::pod::peers`). Before the pods start, the script writes every node's address
//! (Slurm's NodeAddr) to `nodes` in the gang directory.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use opendlc_core::shell::quote;

use super::{PodShape, SlurmTarget};

pub struct BatchInput<'a> {
    pub job_id: &'a str,
    pub gang_dir: &'a Path,
    pub shim_program: &'a Path,
    pub target: &'a SlurmTarget,
    pub nice: u32,
    /// Nodes the job must not run on (`--exclude`): what its AssignNodeSpec rules out.
    pub exclude: Vec<String>,
    /// Pod directories in launch order; the first is the master.
    pub pods: Vec<(PathBuf, PodShape)>,
}

/// A component: one shape and the pods that have it, in order.
#[derive(Debug, PartialEq, Eq)]
pub struct Component {
    pub shape: PodShape,
    pub pods: Vec<PathBuf>,
}

/// Groups pods by shape, in order of first appearance: the master is task 0 of component 0.
pub fn components(pods: &[(PathBuf, PodShape)]) -> Vec<Component> {
    let mut out: Vec<Component> = Vec::new();
    for (dir, shape) in pods {
        match out.iter_mut().find(|c| c.shape == *shape) {
            Some(c) => c.pods.push(dir.clone()),
            None => out.push(Component {
                shape: *shape,
                pods: vec![dir.clone()],
            }),
        }
    }
    out
}

/// Job priority (1 lowest … 9 highest) → `--nice` (0 for 9, 800 for 1): never negative, so
/// it needs no privilege, and a higher DLC priority always means a higher Slurm priority.
pub fn nice_of(priority: u8) -> u32 {
    u32::from(9u8.saturating_sub(priority.clamp(1, 9))) * 100
}

/// Whether a gang of `pods` pods runs in the batch step (stopping it signals that step).
pub fn is_batch_step(pods: usize) -> bool {
    pods == 1
}

/// The content of `pods-<component>`: one pod directory per line.
pub fn pod_list(component: &Component) -> String {
    component
        .pods
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect()
}

pub fn batch_script(input: &BatchInput<'_>) -> String {
    let components = components(&input.pods);
    let het = components.len() > 1;
    let gang = quote(&input.gang_dir.display().to_string());
    let mut s = String::from("#!/bin/sh\n");
    let _ = writeln!(s, "#SBATCH --job-name={}", input.job_id);
    let _ = writeln!(s, "#SBATCH --output={}/batch.log", input.gang_dir.display());
    let _ = writeln!(s, "#SBATCH --open-mode=append");
    if let Some(p) = &input.target.partition {
        let _ = writeln!(s, "#SBATCH --partition={p}");
    }
    if let Some(a) = &input.target.account {
        let _ = writeln!(s, "#SBATCH --account={a}");
    }
    if let Some(q) = &input.target.qos {
        let _ = writeln!(s, "#SBATCH --qos={q}");
    }
    let _ = writeln!(s, "#SBATCH --nice={}", input.nice);
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            s.push_str("#SBATCH hetjob\n");
        }
        let cpus = c.shape.cpus.max(1);
        let mem_per_cpu = c.shape.memory_mib.div_ceil(u64::from(cpus)).max(1);
        let _ = write!(
            s,
            "#SBATCH --ntasks={} --cpus-per-task={cpus} --mem-per-cpu={mem_per_cpu}M --spread-job",
            c.pods.len()
        );
        if c.shape.gpus > 0 {
            let _ = write!(s, " --gpus-per-task={}", c.shape.gpus);
        }
        if !input.exclude.is_empty() {
            let _ = write!(s, " --exclude={}", input.exclude.join(","));
        }
        s.push('\n');
    }
    let _ = writeln!(s, "gang={gang}");
    if let ([(dir, _)], true) = (input.pods.as_slice(), is_batch_step(input.pods.len())) {
        // One pod: it runs in the batch step itself (no srun: a step costs a round trip to
        // slurmctld and slurmd), and is its own master: no other pod needs its address, which
        // is this host's first one (asking slurmctld for the NodeAddr would cost a round trip
        // on every one-pod job).
        let dir = quote(&dir.display().to_string());
        let _ = writeln!(
            s,
            "d={dir}\n\
             addr=$(hostname -I 2>/dev/null | cut -d' ' -f1)\n\
             [ -n \"$addr\" ] || addr=$SLURMD_NODENAME\n\
             echo \"$SLURMD_NODENAME $addr\" > \"$d/node\"\n\
             exec {} shim --dir \"$d\"",
            quote(&input.shim_program.display().to_string())
        );
        return s;
    }
    s.push_str(NODE_ADDRESSES);
    let _ = writeln!(
        s,
        "shim={}",
        quote(&input.shim_program.display().to_string())
    );
    // Task i of a step runs pod i of the list; it records its node first (name, address from
    // the table the batch script wrote next to the list).
    let task = "d=$(sed -n \"$((SLURM_PROCID+1))p\" \"$1\"); \
                a=$(sed -n \"s/^$SLURMD_NODENAME //p\" \"$(dirname \"$1\")/nodes\" | head -n 1); \
                echo \"$SLURMD_NODENAME ${a:-$SLURMD_NODENAME}\" > \"$d/node\"; \
                exec \"$0\" shim --dir \"$d\"";
    for (i, c) in components.iter().enumerate() {
        let group = if het {
            format!(" --het-group={i}")
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "srun{group} --ntasks={} --kill-on-bad-exit=0 /bin/sh -c {} \"$shim\" \"$gang/pods-{i}\" &",
            c.pods.len(),
            quote(task)
        );
    }
    s.push_str("wait\n");
    s
}

/// Writes `$gang/nodes`: every node of the allocation (all components) with its address:
/// Slurm's NodeAddr for the node (what Slurm itself reaches it by), as an IPv4 address where
/// the name resolves; one `scontrol` call for the whole gang.
const NODE_ADDRESSES: &str = r#"lists=$(env | sed -n 's/^SLURM_JOB_NODELIST\(_HET_GROUP_[0-9]*\)\{0,1\}=//p' | paste -sd, -)
scontrol show node "$lists" -o 2>/dev/null | sed -n 's/^NodeName=\([^ ]*\) .*NodeAddr=\([^ ]*\).*/\1 \2/p' |
while read -r name a; do
  ip=$(getent ahostsv4 "$a" 2>/dev/null | head -n 1 | cut -d' ' -f1)
  echo "$name ${ip:-$a}"
done > "$gang/nodes"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(cpus: u32, gpus: u32) -> PodShape {
        PodShape {
            cpus,
            memory_mib: 1000,
            gpus,
        }
    }

    fn input<'a>(target: &'a SlurmTarget, pods: Vec<(PathBuf, PodShape)>) -> BatchInput<'a> {
        BatchInput {
            job_id: "dlc1",
            gang_dir: Path::new("/d/jobs/dlc1/slurm/u0"),
            shim_program: Path::new("/usr/bin/opendlc"),
            target,
            nice: 400,
            exclude: Vec::new(),
            pods,
        }
    }

    #[test]
    fn excluded_nodes_are_excluded_in_every_component() {
        let target = SlurmTarget::default();
        let pods = vec![("/p/0".into(), shape(2, 0)), ("/p/1".into(), shape(1, 1))];
        let mut input = input(&target, pods);
        input.exclude = vec!["n1".into(), "n3".into()];
        let s = batch_script(&input);
        assert_eq!(s.matches(" --exclude=n1,n3\n").count(), 2, "{s}");
    }

    #[test]
    fn same_shapes_make_one_component() {
        let target = SlurmTarget {
            partition: Some("debug".into()),
            ..Default::default()
        };
        let pods = vec![("/p/0".into(), shape(2, 0)), ("/p/1".into(), shape(2, 0))];
        let s = batch_script(&input(&target, pods));
        assert!(
            s.contains("#SBATCH --ntasks=2 --cpus-per-task=2 --mem-per-cpu=500M --spread-job\n")
        );
        assert!(s.contains("#SBATCH --partition=debug\n"));
        assert!(s.contains("#SBATCH --nice=400\n"));
        assert!(!s.contains("hetjob"));
        assert!(!s.contains("--het-group"));
        assert!(s.contains("srun --ntasks=2 "));
        // The node table: name and NodeAddr of every node of the allocation.
        assert!(s.contains(r"NodeAddr=\([^ ]*\).*/\1 \2/p"), "{s}");
        // Each task records its node's address, from which the shims fill in addresses.
        assert!(s.contains("> \"$d/node\""), "{s}");
        assert!(!s.contains("sed -i"), "{s}");
    }

    #[test]
    fn different_shapes_make_a_heterogeneous_job_with_the_master_first() {
        let target = SlurmTarget::default();
        let pods = vec![
            ("/p/master".into(), shape(1, 0)),
            ("/p/w0".into(), shape(2, 1)),
            ("/p/w1".into(), shape(2, 1)),
        ];
        let c = components(&pods);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].pods, vec![PathBuf::from("/p/master")]);
        assert_eq!(pod_list(&c[1]), "/p/w0\n/p/w1\n");
        let s = batch_script(&input(&target, pods));
        assert_eq!(s.matches("#SBATCH hetjob").count(), 1);
        assert!(s.contains("--gpus-per-task=1"));
        assert!(s.contains("srun --het-group=0 --ntasks=1 "));
        assert!(s.contains("srun --het-group=1 --ntasks=2 "));
        assert!(!s.contains("--partition"));
    }

    #[test]
    fn a_single_pod_runs_in_the_batch_step() {
        let target = SlurmTarget::default();
        let s = batch_script(&input(&target, vec![("/p/0".into(), shape(1, 0))]));
        assert!(!s.contains("srun"), "{s}");
        assert!(
            s.contains("exec '/usr/bin/opendlc' shim --dir \"$d\""),
            "{s}"
        );
        assert!(is_batch_step(1));
        assert!(!is_batch_step(2));
    }

    #[test]
    fn priorities_map_to_non_negative_nice() {
        assert_eq!(nice_of(9), 0);
        assert_eq!(nice_of(1), 800);
        assert_eq!(nice_of(0), 800);
        assert_eq!(nice_of(200), 0);
    }
}
