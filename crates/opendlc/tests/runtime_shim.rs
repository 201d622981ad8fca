//! The shim on its own, driven the way the supervisor drives it: its one-line report, its
//! environment filtering, and what it does when nobody hears the report.

mod runtime_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use opendlc_runtime::pod_dir::{write_json_atomic, Durability};
use opendlc_runtime::{PodExit, PodSpec};
use runtime_support::*;

fn write_spec(dir: &Path, command: &str, env: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    let spec = PodSpec {
        pod_id: "dlctest-worker-0".into(),
        pod_uid: "uid".into(),
        command: command.into(),
        workdir: dir.to_path_buf(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        grace_period_ms: 1000,
        limits: None,
        sample_every_ms: None,
        peers: Default::default(),
    };
    write_json_atomic(&dir.join("spec.json"), &spec, Durability::ProcessCrash).unwrap();
}

fn shim(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_opendlc"));
    command
        .arg("shim")
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null());
    command
}

fn exit_of(dir: &Path) -> PodExit {
    serde_json::from_slice(&std::fs::read(dir.join("exit.json")).unwrap()).unwrap()
}

#[test]
fn reports_one_line_and_drops_inherited_private_variables() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("pod");
    write_spec(
        &dir,
        r#"echo "${OPENDLC_SECRET-unset} ${OPENDLC_EXPLICIT}""#,
        &[("OPENDLC_EXPLICIT", "kept")],
    );
    let output = shim(&dir).env("OPENDLC_SECRET", "leaked").output().unwrap();
    assert!(output.status.success());
    let pid = started(&dir).pid;
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("started {pid}\n")
    );
    assert_eq!(exit_of(&dir).code, Some(0));
    assert_eq!(log_lines(&dir), ["unset kept"]);
}

#[test]
fn a_missing_spec_is_a_failure_to_start() {
    let data = tempfile::tempdir().unwrap();
    let output = shim(data.path()).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.starts_with("failed the command could not be started: ")
            && stdout.contains("spec.json"),
        "{stdout}"
    );
    assert_eq!(exit_of(data.path()).code, Some(127));
}

#[test]
fn a_start_nobody_hears_kills_the_pod() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("pod");
    write_spec(&dir, "sleep 1000", &[]);
    let mut child = shim(&dir).stdout(Stdio::piped()).spawn().unwrap();
    // The supervisor dies before reading the report.
    drop(child.stdout.take());
    assert!(child.wait().unwrap().success());
    let exit = exit_of(&dir);
    assert_eq!(exit.signal, Some(9));
    let reason = exit.reason.unwrap();
    assert!(reason.contains("supervisor went away"), "{reason}");
    // The pod did start (started.json) before the shim found nobody listening.
    assert!(dir.join("started.json").exists());
}
