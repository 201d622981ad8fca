//! The I/O a job's framework asks for before its pods start (what it asks is
//! `opendlc_core::frameworks`, pure): its programs must be on the pods' PATH (a framework that
//! is not installed fails the pods at once, saying what is missing), the ports it asks for are
//! picked free on this host, and its files are written into the job's directory.

use std::collections::BTreeMap;
use std::path::Path;

use opendlc_core::env_contract::PodPlan;
use opendlc_core::env_value::EnvValue;
use opendlc_core::frameworks::{Contents, JobFiles, Launch, Program, SetupContext};
use opendlc_core::{Job, Pod};

use super::apply::Engine;
use super::ports::free_ports;

/// What the pods of one job get from its framework, once its files are in place.
#[derive(Debug, Default)]
pub(super) struct FrameworkLaunch(Launch);

impl FrameworkLaunch {
    /// The pod's environment and command, with the framework's part added.
    pub fn apply(
        &self,
        pod: &Pod,
        env: &mut BTreeMap<String, EnvValue>,
        command: String,
    ) -> String {
        self.0.apply(&pod.pod_id, env, command)
    }

    /// What the pod's shim removes at its end (`Launch::scratch`).
    pub fn scratch_of(&self, pod: &Pod) -> Vec<std::path::PathBuf> {
        self.0.scratch_of(&pod.pod_id)
    }
}

impl Engine {
    /// Writes the files the job's framework needs; `plans` are all of the job's pods.
    pub(super) fn prepare_framework(
        &self,
        job: &Job,
        plans: &[PodPlan],
    ) -> Result<FrameworkLaunch, String> {
        let framework = job.job_type.framework();
        for program in framework.programs(job) {
            require(job, program)?;
        }
        let setup = framework.setup(&mut SetupContext {
            job,
            plans,
            job_dir: &self.jobs_dir.job(&job.job_id),
            program: &self.checker_program,
            one_host: self.runtime.facts().one_host,
            temp_dir: &std::env::temp_dir(),
            free_ports: &mut free_ports,
        })?;
        for files in &setup.files {
            write(files).map_err(|e| format!("{}: {e}", files.failure))?;
        }
        Ok(FrameworkLaunch(setup.launch))
    }
}

/// Fails unless `program` is on the pods' PATH (the job's `PATH` env, else the server's):
/// without it the job's framework cannot start, and the pods would fail with less to say.
fn require(job: &Job, program: Program) -> Result<(), String> {
    let path = job
        .envs
        .get("PATH")
        .cloned()
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(dir.join(program.name))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    if found {
        Ok(())
    } else {
        Err(format!(
            "a {} needs {}: `{}` is not on the pods' PATH ({path})",
            job.job_type, program.provided_by, program.name
        ))
    }
}

fn write(files: &JobFiles) -> std::io::Result<()> {
    std::fs::create_dir_all(&files.dir)?;
    if files.private {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&files.dir, std::fs::Permissions::from_mode(0o700))?;
    }
    for (name, contents) in &files.files {
        let path = files.dir.join(name);
        match contents {
            Contents::Text(text) => std::fs::write(&path, text)?,
            Contents::Secret => write_secret(&path)?,
        }
    }
    Ok(())
}

/// A secret at `path` (see [`Contents::Secret`]): written once per job (then kept, so that pods
/// of every incarnation share it), readable by the server's user only, and in place whole or
/// not at all.
fn write_secret(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if std::fs::metadata(path).is_ok_and(|m| m.len() > 0) {
        return Ok(());
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    let secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
}
