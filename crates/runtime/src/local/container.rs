//! Pods in their JobSpec's image, when the server runs with a container engine
//! (`opendlc serve --container-engine podman`). Without one, pods run on the host ("host mode")
//! and the image is only recorded.
//!
//! A container pod is still a shim and its process group: the pod's command is `podman run` in
//! the foreground, so the pod log, the exit code and stopping (SIGTERM, forwarded to the
//! container's init) work as for any pod. The container shares the host's network (every
//! address of the env contract is the host's), sees the job's directory and this binary at
//! their host paths (working directory, MPI sockets, sanity checks), the job's DataSources and
//! CodeSource at their MountPaths, its GPUs, and is held to the pod's CPU and memory (the
//! container's processes belong to the engine, not to the shim's cgroup).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use opendlc_core::containers::{Container, PodMetadata};

use crate::contract::RegistryAuth;
use crate::pod::mounts::Mount;
use crate::pod::sandbox::Identity;
use crate::pod_files::{ContainersOf, Limits};

/// How long pulling an image may take before the pod fails with ImagePullBackOff (PAI's SDK
/// waits 300 s before it gives up on a pull).
pub const PULL_TIMEOUT: Duration = Duration::from_secs(300);

/// The image a pod runs in, checked (and pulled if missing) before the pod starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerImage {
    /// The engine's program (`podman`, or a path to it).
    pub engine: PathBuf,
    pub image: String,
    /// The images of the pod's init containers and sidecars that differ from `image`, made
    /// sure of (with the same login) before the pod starts too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<String>,
    /// The pod is an engine pod (`opendlc-<PodUid>-pod`): it has init containers, sidecars or
    /// hooks.
    #[serde(default)]
    pub in_pod: bool,
    /// The login to its registry (`JobSpec.ImageConfig`); never written anywhere but the one
    /// pull's auth file.
    #[serde(skip)]
    pub auth: Option<RegistryAuth>,
}

/// What a pod's container is made of.
#[derive(Debug, Clone)]
pub struct ContainerRun<'a> {
    pub engine: &'a Path,
    pub image: &'a str,
    pub pod_uid: &'a str,
    /// The pod's host name inside: its PodId, as on Kubernetes.
    pub hostname: &'a str,
    pub workdir: &'a Path,
    /// Host paths the pod needs at the same place inside (the job's directory, this binary).
    pub host_paths: Vec<(PathBuf, bool)>,
    /// The job's DataSources and CodeSource.
    pub mounts: &'a [Mount],
    /// The variables to pass in: the pod's environment, which the shim gives the engine.
    pub env_names: Vec<String>,
    pub gpus: &'a [u32],
    pub limits: Option<Limits>,
    /// The pod owner's identity, when pods run as their owners: the container's processes run
    /// as it, with no capabilities, and cannot gain any.
    pub owner: Option<&'a Identity>,
    /// The names of the job's pods, which resolve to the loopback in the container.
    pub host_names: Vec<String>,
    /// A `/dev/shm` of the container's own, of this size (MiB); `None`: the host's (the
    /// container shares the host's IPC namespace then).
    pub shm_mib: Option<u64>,
    /// The container is one of the pod's [engine pod](pod_name) (the pod has init containers,
    /// sidecars or hooks): the pod holds the network, `/dev/shm` and the limits, which its
    /// containers share.
    pub in_pod: bool,
    /// Labels and annotations of every container of the pod (labels of its engine pod too).
    pub metadata: &'a PodMetadata,
}

/// The container's name: one per pod incarnation, so a leftover can be found and removed.
pub fn name(pod_uid: &str) -> String {
    format!("opendlc-{pod_uid}")
}

/// The engine pod of a pod with init containers, sidecars or hooks: its containers are
/// `opendlc-<PodUid>` (the main one), `opendlc-<PodUid>-<Name>` and the engine's
/// `opendlc-<PodUid>-infra`.
pub fn pod_name(pod_uid: &str) -> String {
    format!("opendlc-{pod_uid}-pod")
}

impl ContainerRun<'_> {
    /// The pod's command: `inner` run by `/bin/sh -c` in the container.
    pub fn command(&self, inner: &str) -> String {
        let mut args = self.run_args(&name(self.pod_uid), self.workdir);
        if !self.gpus.is_empty() {
            for device in ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"] {
                if Path::new(device).exists() {
                    args.push(format!("--device={device}"));
                }
            }
            for gpu in self.gpus {
                args.push(format!("--device=/dev/nvidia{gpu}"));
            }
        }
        if !self.in_pod {
            args.extend(self.limit_args());
        }
        args.push(self.image.into());
        args.extend(["/bin/sh".into(), "-c".into(), inner.into()]);
        let quoted: Vec<String> = args.iter().map(|a| quote(a)).collect();
        format!(
            "exec {} {}",
            quote(&self.engine.display().to_string()),
            quoted.join(" ")
        )
    }

    /// Creates the engine pod: the host's network, `/dev/shm` of the pod's own size shared by
    /// its containers (else each sees the host's), the pod's limits over all of its
    /// containers. The job's host names are each container's (`--add-host`).
    pub fn pod_create(&self) -> Vec<String> {
        let mut args = vec![
            self.engine.display().to_string(),
            "pod".into(),
            "create".into(),
            format!("--name={}", pod_name(self.pod_uid)),
            format!("--infra-name={}-infra", name(self.pod_uid)),
            format!("--hostname={}", self.hostname),
            "--network=host".into(),
        ];
        match self.shm_mib {
            None => args.push("--share=net,uts".into()),
            Some(mib) => args.extend(["--share=ipc,net,uts".into(), format!("--shm-size={mib}m")]),
        }
        args.extend(self.limit_args());
        args.extend(self.label_args());
        args
    }

    /// Removes the engine pod and whatever is left of its containers.
    pub fn pod_remove(&self) -> Vec<String> {
        pod_remove_args(self.engine, self.pod_uid)
    }

    /// Runs a hook's command in the main container (followed by the hook's words).
    pub fn hook_exec(&self) -> Vec<String> {
        vec![
            self.engine.display().to_string(),
            "exec".into(),
            "--interactive=false".into(),
            name(self.pod_uid),
        ]
    }

    /// Prints `true` once the main container runs.
    pub fn main_running(&self) -> Vec<String> {
        vec![
            self.engine.display().to_string(),
            "container".into(),
            "inspect".into(),
            "--format={{.State.Running}}".into(),
            name(self.pod_uid),
        ]
    }

    /// Runs `container` in the engine pod, in the foreground: in its own image (the pod's when
    /// it names none), its Command as the entrypoint (as Kubernetes has it), its variables
    /// passed by name from the caller's environment (`run-containers` sets them there).
    pub fn container_argv(&self, container: &Container) -> Vec<String> {
        let workdir = container
            .workdir
            .as_deref()
            .map(Path::new)
            .unwrap_or(self.workdir);
        let mut args = vec![self.engine.display().to_string()];
        args.extend(self.run_args(
            &format!("{}-{}", name(self.pod_uid), container.name),
            workdir,
        ));
        for name in container.env.keys() {
            if !self.env_names.contains(name) {
                args.push(format!("--env={name}"));
            }
        }
        let image = container.image.trim();
        args.push(format!("--entrypoint={}", container.argv[0]));
        args.push(if image.is_empty() { self.image } else { image }.to_string());
        args.extend(container.argv[1..].iter().cloned());
        args
    }

    /// `run` and what every container of the pod gets: name, working directory, namespaces,
    /// identity, volumes, variables.
    ///
    /// Without `--rm`: with it, the engine's clean-up process and the `run` both remove the
    /// container as it ends, and when the clean-up wins, `run` prints an error about the
    /// vanished container into the container's own output (a known race of podman's). The
    /// container is removed instead once the pod has ended: by `run-containers` with its
    /// engine pod, and by the server when it concludes the pod (`container::remove`).
    fn run_args(&self, name: &str, workdir: &Path) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "run".into(),
            format!("--name={name}"),
            // An init that forwards signals: a shell as PID 1 would ignore SIGTERM.
            "--init".into(),
        ];
        if self.in_pod {
            args.push(format!("--pod={}", pod_name(self.pod_uid)));
        } else {
            args.push(format!("--hostname={}", self.hostname));
            args.push("--network=host".into());
        }
        args.extend([
            format!("--workdir={}", workdir.display()),
            // Open a pipe, not a terminal: the pod log is the container's output.
            "--interactive=false".into(),
            "--tty=false".into(),
        ]);
        match (self.shm_mib, self.in_pod) {
            (None, _) => args.push("--ipc=host".into()),
            (Some(_), true) => {}
            (Some(mib), false) => {
                args.extend(["--ipc=private".into(), format!("--shm-size={mib}m")])
            }
        }
        if let Some(owner) = self.owner {
            args.push(format!("--user={}:{}", owner.uid, owner.gid));
            args.push("--cap-drop=all".into());
            args.push("--security-opt=no-new-privileges".into());
            // What it writes is its owner's alone, as on the host.
            args.push("--umask=0077".into());
            if let Some(home) = &owner.home {
                if !self.env_names.iter().any(|n| n == "HOME") {
                    args.push(format!("--env=HOME={}", home.display()));
                }
            }
        }
        // Each container's own: a pod on the host's network writes no hosts file of its own
        // (podman 4 ignores `pod create --add-host` there).
        for name in &self.host_names {
            args.push(format!("--add-host={name}:127.0.0.1"));
        }
        for (path, read_only) in &self.host_paths {
            let mode = if *read_only { ":ro" } else { "" };
            args.push(format!(
                "--volume={}:{}{mode}",
                path.display(),
                path.display()
            ));
        }
        for mount in self.mounts {
            let mode = if mount.read_only { ":ro" } else { "" };
            args.push(format!(
                "--volume={}:{}{mode}",
                mount.source.display(),
                mount.target.display()
            ));
        }
        for name in &self.env_names {
            // The name alone: the engine passes the value from its own environment.
            args.push(format!("--env={name}"));
        }
        args.extend(self.label_args());
        let annotations = self.metadata.annotations.iter();
        args.extend(annotations.map(|(k, v)| format!("--annotation={k}={v}")));
        args
    }

    fn label_args(&self) -> impl Iterator<Item = String> + '_ {
        let labels = self.metadata.labels.iter();
        labels.map(|(k, v)| format!("--label={k}={v}"))
    }

    fn limit_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(limits) = self.limits {
            if let Some(milli) = limits.cpu_milli {
                args.push(format!("--cpus={}", milli as f64 / 1000.0));
            }
            if let Some(mib) = limits.memory_mib {
                args.push(format!("--memory={mib}m"));
                args.push(format!("--memory-swap={mib}m"));
            }
        }
        args
    }
}

fn pod_remove_args(engine: &Path, pod_uid: &str) -> Vec<String> {
    vec![
        engine.display().to_string(),
        "pod".into(),
        "rm".into(),
        "--force".into(),
        "--ignore".into(),
        pod_name(pod_uid),
    ]
}

/// Makes sure the pod's images are there, pulling what is not. The error names the image, in
/// the engine's own words.
pub async fn ensure_images(image: &ContainerImage) -> Result<(), (String, String)> {
    for name in std::iter::once(&image.image).chain(&image.others) {
        ensure_image(image, name)
            .await
            .map_err(|detail| (name.clone(), detail))?;
    }
    Ok(())
}

async fn ensure_image(image: &ContainerImage, name: &str) -> Result<(), String> {
    let engine = &image.engine;
    let exists = tokio::process::Command::new(engine)
        .args(["image", "exists", name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map_err(|e| format!("cannot run {}: {e}", engine.display()))?;
    if exists.success() {
        return Ok(());
    }
    // The login, in a file only this server's user reads, for this pull only.
    let auth_file = match &image.auth {
        None => None,
        Some(auth) => {
            let mut file = tempfile::Builder::new()
                .prefix("opendlc-registry-auth-")
                .suffix(".json")
                .tempfile()
                .map_err(|e| format!("cannot write the registry login: {e}"))?;
            std::io::Write::write_all(&mut file, auth.auth_file().as_bytes())
                .map_err(|e| format!("cannot write the registry login: {e}"))?;
            Some(file)
        }
    };
    let mut pull = tokio::process::Command::new(engine);
    pull.args(["pull", "--quiet"]);
    if let Some(file) = &auth_file {
        pull.arg("--authfile").arg(file.path());
    }
    let pull = pull
        .arg(name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(PULL_TIMEOUT, pull).await {
        Err(_) => Err(format!(
            "pulling it took longer than {} s",
            PULL_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Err(format!("cannot run {}: {e}", engine.display())),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => Err(crate::process::last_words(&out.stderr, "the pull failed")),
    }
}

/// Removes a pod's container (or its engine pod, with every container of it) if it is still
/// there (its engine client was killed before the container ended).
pub async fn remove(containers: &ContainersOf, pod_uid: &str) {
    let _ = tokio::process::Command::from(removal(containers, pod_uid))
        .status()
        .await;
}

/// [`remove`], waiting on this thread (a test harness's teardown: `super::kill_now`).
pub fn remove_now(containers: &ContainersOf, pod_uid: &str) {
    let _ = removal(containers, pod_uid).status();
}

fn removal(containers: &ContainersOf, pod_uid: &str) -> std::process::Command {
    let ContainersOf { engine, in_pod } = containers;
    let args = if *in_pod {
        pod_remove_args(engine, pod_uid).split_off(1)
    } else {
        vec![
            "rm".into(),
            "--force".into(),
            "--ignore".into(),
            name(pod_uid),
        ]
    };
    let mut command = std::process::Command::new(engine);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// An argument as one shell word, quoted only where it has to be (readable command lines).
fn quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=./:,@+".contains(&b));
    if plain {
        text.to_string()
    } else {
        opendlc_core::shell::quote(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_runs_the_pod_in_its_image_on_the_host_network() {
        let mounts = [Mount {
            source: "/data/imagenet".into(),
            target: "/mnt/data".into(),
            read_only: true,
        }];
        let run = ContainerRun {
            engine: Path::new("podman"),
            image: "localhost/demo:1",
            pod_uid: "u1",
            hostname: "dlc1-worker-0",
            workdir: Path::new("/var/lib/opendlc/jobs/j/work"),
            host_paths: vec![("/var/lib/opendlc/jobs/j".into(), false)],
            mounts: &mounts,
            env_names: vec!["RANK".into()],
            gpus: &[],
            limits: Some(Limits {
                cpu_milli: Some(500),
                memory_mib: Some(256),
            }),
            owner: None,
            host_names: vec!["dlc1-worker-0".into()],
            shm_mib: None,
            in_pod: false,
            metadata: &Default::default(),
        };
        let command = run.command("echo 'hi'");
        assert_eq!(
            command,
            "exec podman run --name=opendlc-u1 --init --hostname=dlc1-worker-0 --network=host \
             --workdir=/var/lib/opendlc/jobs/j/work --interactive=false --tty=false --ipc=host \
             --add-host=dlc1-worker-0:127.0.0.1 --volume=/var/lib/opendlc/jobs/j:/var/lib/opendlc/jobs/j \
             --volume=/data/imagenet:/mnt/data:ro --env=RANK \
             --cpus=0.5 --memory=256m --memory-swap=256m localhost/demo:1 /bin/sh -c \
             'echo '\\''hi'\\'''"
        );
        // Its GPUs are its devices.
        let gpus = ContainerRun {
            gpus: &[1],
            ..run.clone()
        }
        .command("true");
        assert!(gpus.contains(" --device=/dev/nvidia1 "), "{gpus}");
        // Shared memory of its own: a private IPC namespace with a /dev/shm of that size.
        let shm = ContainerRun {
            shm_mib: Some(512),
            ..run.clone()
        }
        .command("true");
        assert!(shm.contains(" --ipc=private --shm-size=512m "), "{shm}");
        // An owner's pod runs as the owner, without capabilities.
        let owner = Identity {
            uid: 900_000_002,
            gid: 900_000_002,
            name: "opendlc-2".into(),
            home: Some("/var/lib/opendlc/jobs/j/home".into()),
        };
        let owned = ContainerRun {
            owner: Some(&owner),
            ..run
        }
        .command("true");
        assert!(
            owned.contains(
                " --user=900000002:900000002 --cap-drop=all \
                 --security-opt=no-new-privileges --umask=0077 --env=HOME=/var/lib/opendlc/jobs/j/home "
            ),
            "{owned}"
        );
    }

    #[test]
    fn a_pod_with_containers_is_an_engine_pod_that_holds_what_they_share() {
        let mounts = [Mount {
            source: "/j/shared".into(),
            target: "/shared".into(),
            read_only: false,
        }];
        let run = ContainerRun {
            engine: Path::new("podman"),
            image: "localhost/demo:1",
            pod_uid: "u1",
            hostname: "dlc1-worker-0",
            workdir: Path::new("/j/work"),
            host_paths: vec![],
            mounts: &mounts,
            env_names: vec!["RANK".into()],
            gpus: &[0],
            limits: Some(Limits {
                cpu_milli: Some(2000),
                memory_mib: Some(512),
            }),
            owner: None,
            host_names: vec!["master".into()],
            shm_mib: Some(64),
            in_pod: true,
            metadata: &Default::default(),
        };
        assert_eq!(
            run.pod_create().join(" "),
            "podman pod create --name=opendlc-u1-pod --infra-name=opendlc-u1-infra \
             --hostname=dlc1-worker-0 --network=host --share=ipc,net,uts \
             --shm-size=64m --cpus=2 --memory=512m --memory-swap=512m"
        );
        // The main container joins the pod, which holds the network, IPC and limits.
        let main = run.command("true");
        assert!(
            main.contains(" --name=opendlc-u1 --init --pod=opendlc-u1-pod "),
            "{main}"
        );
        // The names are each container's: podman ignores them on a host-network pod.
        assert!(main.contains(" --add-host=master:127.0.0.1 "), "{main}");
        for held in ["--network", "--ipc", "--shm-size", "--cpus", "--memory"] {
            assert!(!main.contains(held), "{held}: {main}");
        }
        assert!(main.contains(" --device=/dev/nvidia0 "), "{main}");
        let fetch = Container {
            name: "fetch".into(),
            image: "localhost/tools:2".into(),
            argv: vec!["sh".into(), "-c".into(), "echo hi".into()],
            workdir: Some("/tmp".into()),
            env: [("A".to_string(), "1".to_string())].into(),
        };
        assert_eq!(
            run.container_argv(&fetch).join(" "),
            "podman run --name=opendlc-u1-fetch --init --pod=opendlc-u1-pod --workdir=/tmp \
             --interactive=false --tty=false --add-host=master:127.0.0.1 \
             --volume=/j/shared:/shared --env=RANK --env=A \
             --entrypoint=sh localhost/tools:2 -c echo hi"
        );
        // Without an image of its own, the pod's; without a /dev/shm size, the host's IPC.
        let plain = Container {
            image: String::new(),
            ..fetch
        };
        let shared = ContainerRun {
            shm_mib: None,
            ..run.clone()
        };
        let argv = shared.container_argv(&plain);
        assert!(argv.contains(&"--ipc=host".to_string()), "{argv:?}");
        assert!(argv.contains(&"localhost/demo:1".to_string()), "{argv:?}");
        assert!(shared.pod_create().contains(&"--share=net,uts".to_string()));
        assert_eq!(
            run.hook_exec().join(" "),
            "podman exec --interactive=false opendlc-u1"
        );
        // Labels go on the pod and every container, annotations on the containers.
        let metadata = PodMetadata {
            labels: [("team".to_string(), "vision".to_string())].into(),
            annotations: [("note".to_string(), "a b".to_string())].into(),
        };
        let labelled = ContainerRun {
            metadata: &metadata,
            ..run.clone()
        };
        assert!(labelled
            .pod_create()
            .contains(&"--label=team=vision".to_string()));
        let main = labelled.command("true");
        assert!(
            main.contains(" --label=team=vision '--annotation=note=a b' "),
            "{main}"
        );
    }
}
