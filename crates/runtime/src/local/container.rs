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

use crate::contract::RegistryAuth;
use crate::pod::mounts::Mount;
use crate::pod::sandbox::Identity;
use crate::pod_files::Limits;

/// How long pulling an image may take before the pod fails with ImagePullBackOff (PAI's SDK
/// waits 300 s before it gives up on a pull).
pub const PULL_TIMEOUT: Duration = Duration::from_secs(300);

/// The image a pod runs in, checked (and pulled if missing) before the pod starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerImage {
    /// The engine's program (`podman`, or a path to it).
    pub engine: PathBuf,
    pub image: String,
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
}

/// The container's name: one per pod incarnation, so a leftover can be found and removed.
pub fn name(pod_uid: &str) -> String {
    format!("opendlc-{pod_uid}")
}

impl ContainerRun<'_> {
    /// The pod's command: `inner` run by `/bin/sh -c` in the container.
    pub fn command(&self, inner: &str) -> String {
        let mut args: Vec<String> = vec![
            "run".into(),
            "--rm".into(),
            format!("--name={}", name(self.pod_uid)),
            // An init that forwards signals: a shell as PID 1 would ignore SIGTERM.
            "--init".into(),
            "--network=host".into(),
            format!("--workdir={}", self.workdir.display()),
            // Open a pipe, not a terminal: the pod log is the container's output.
            "--interactive=false".into(),
            "--tty=false".into(),
        ];
        match self.shm_mib {
            None => args.push("--ipc=host".into()),
            Some(mib) => args.extend(["--ipc=private".into(), format!("--shm-size={mib}m")]),
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
        if let Some(limits) = self.limits {
            if let Some(milli) = limits.cpu_milli {
                args.push(format!("--cpus={}", milli as f64 / 1000.0));
            }
            if let Some(mib) = limits.memory_mib {
                args.push(format!("--memory={mib}m"));
                args.push(format!("--memory-swap={mib}m"));
            }
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
}

/// Makes sure `image` is there, pulling it if not. The error is the engine's own words.
pub async fn ensure_image(image: &ContainerImage) -> Result<(), String> {
    let engine = &image.engine;
    let exists = tokio::process::Command::new(engine)
        .args(["image", "exists", &image.image])
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
        .arg(&image.image)
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
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("the pull failed");
            Err(last.trim().to_string())
        }
    }
}

/// Removes a pod's container if it is still there (its engine client was killed before the
/// container ended).
pub async fn remove(engine: &Path, pod_uid: &str) {
    let _ = tokio::process::Command::new(engine)
        .args(["rm", "--force", "--ignore", &name(pod_uid)])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
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
        };
        let command = run.command("echo 'hi'");
        assert_eq!(
            command,
            "exec podman run --rm --name=opendlc-u1 --init --network=host \
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
}
