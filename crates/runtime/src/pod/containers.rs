//! `opendlc run-containers --spec FILE`: a pod's main command with its `ExtraPodSpec`
//! ([`PodExtras`]) on a host, where the pod's containers are its processes. The last step of
//! the pod's chain (`crate::pod::chain`), in the pod's view and as its owner:
//!
//! 1. each init container in order, to its end; one that fails ends the pod with its exit code
//!    (the pod log says which; its own log has its output);
//! 2. the sidecars, then the main command (`/bin/sh -c`), each in a process group of its own;
//!    the main command's output is the pod log (this process's stdout and stderr), each other
//!    container's goes to `<pod dir>/containers/<name>.log` (GetPodLogs `Containers`);
//! 3. `PostStart` once the main command has started (its output in the pod log); if it fails,
//!    the main command is stopped and the pod fails with the hook's exit code;
//! 4. asked to stop (the shim's SIGTERM reaches this process's group only): `PreStop` first,
//!    within the grace period, then SIGTERM to the main command and the sidecars;
//! 5. once the main command has ended: SIGTERM to the sidecars (SIGKILL after the grace period),
//!    then this process ends as the main command did (its exit code, or its signal).
//!
//! The shim's SIGKILL at the end of the grace period ends this process, and the shim then kills
//! everything left in the pod's session, these groups included.
//!
//! With a container engine ([`EnginePod`]) the same runs on the host around the engine: the
//! pod is one engine pod (`podman pod create`, removed at the end), each container is the
//! engine's `run` of it in its own image in the foreground (a process group here, as above,
//! whose signals the engine passes on), and the hooks are the engine's `exec` in the main
//! container. The server removes what a killed pod leaves of its engine pod.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use opendlc_core::containers::{Container, PodExtras};
use serde::{Deserialize, Serialize};

use crate::logs::Stream;
use crate::pod::shim::pump::Pumps;
use crate::pod::shim::signals::Signals;
use crate::pod_dir::open_append;

/// The file in a pod's directory that `run-containers` reads.
pub const SPEC_FILE: &str = "containers.json";
/// The directory in a pod's directory that holds its other containers' logs.
pub const LOGS_DIR: &str = "containers";
/// How long a container's output may keep flowing after it has ended.
const DRAIN: Duration = Duration::from_secs(2);
/// How long the engine may take to run the main container before PostStart runs regardless.
const MAIN_START: Duration = Duration::from_secs(60);

/// What `run-containers` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainersSpec {
    /// The main command, for `/bin/sh -c`.
    pub main: String,
    pub extras: PodExtras,
    /// Where each container's log goes (`<logs>/<name>.log`).
    pub logs: PathBuf,
    /// Between SIGTERM and SIGKILL: PreStop's time counts in it, as on Kubernetes.
    pub grace_ms: u64,
    /// With a container engine, the containers of one engine pod; `None`: processes here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EnginePod>,
}

/// How the containers of a pod run as the containers of one engine pod (`podman pod`); `main`
/// is then the engine's `run` of the main container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnginePod {
    /// Creates the pod, before any of its containers.
    pub create: Vec<String>,
    /// Removes the pod and whatever is left of its containers, at the end.
    pub remove: Vec<String>,
    /// Each init container and sidecar by name: the command that runs it in the pod, in the
    /// foreground (its variables are passed by name from this process's environment).
    pub containers: BTreeMap<String, Vec<String>>,
    /// Runs a hook's words in the main container.
    pub exec: Vec<String>,
    /// Prints `true` once the main container runs (the engine's `inspect`).
    pub running: Vec<String>,
}

impl EnginePod {
    fn run(&self, words: &[String]) -> Result<(), String> {
        let out = argv(words)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", words[0]))?;
        if out.status.success() {
            return Ok(());
        }
        Err(crate::process::last_words(&out.stderr, "it failed"))
    }
}

/// The log of container `name` of the pod whose directory is `pod_dir`.
pub fn log_path(pod_dir: &Path, name: &str) -> PathBuf {
    log_in(&pod_dir.join(LOGS_DIR), name)
}

fn log_in(logs: &Path, name: &str) -> PathBuf {
    logs.join(format!("{name}.log"))
}

/// Returns the exit code to end with (when the main command was killed by a signal, this
/// process kills itself with that signal first).
pub fn main(spec_file: &Path) -> i32 {
    let signals = match Signals::install() {
        Ok(signals) => signals,
        Err(e) => return fail(127, format_args!("failed to set up signal handling: {e}")),
    };
    let spec: ContainersSpec = match std::fs::read(spec_file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(e) => {
            return fail(
                127,
                format_args!("failed to read {}: {e}", spec_file.display()),
            )
        }
    };
    if let Err(e) = std::fs::create_dir_all(&spec.logs) {
        return fail(
            127,
            format_args!("failed to create {}: {e}", spec.logs.display()),
        );
    }
    let grace = Duration::from_millis(spec.grace_ms);
    let mut pod = Pod::new(signals, grace, spec.engine.clone());
    if let Some(engine) = &spec.engine {
        if let Err(e) = engine.run(&engine.create) {
            return fail(
                127,
                format_args!("failed to create the pod's engine pod: {e}"),
            );
        }
    }
    let outcome = run(&mut pod, &spec);
    if let Some(engine) = &spec.engine {
        if let Err(e) = engine.run(&engine.remove) {
            eprintln!("opendlc: failed to remove the pod's engine pod: {e}");
        }
    }
    match outcome {
        Outcome::Code(code) => code,
        Outcome::Main(status) => end_as(status, pod.hook_failure),
    }
}

/// How the pod's containers ended: with the code to end with, or as the main command did.
enum Outcome {
    Code(i32),
    Main(WaitStatus),
}

fn run(pod: &mut Pod, spec: &ContainersSpec) -> Outcome {
    for container in &spec.extras.init {
        match pod.run_init(container, &spec.logs) {
            Ok(0) => {}
            Ok(code) => {
                eprintln!(
                    "opendlc: init container {} exited with code {code}; the pod ends \
                     (its output: GetPodLogs Containers={})",
                    container.name, container.name
                );
                return Outcome::Code(code);
            }
            Err(Ended::Stopped) => return Outcome::Code(128 + Signal::SIGTERM as i32),
            Err(Ended::NotStarted(e)) => {
                return Outcome::Code(fail(
                    127,
                    format_args!("init container {} could not start: {e}", container.name),
                ))
            }
        }
    }
    for container in &spec.extras.sidecars {
        if let Err(e) = pod.start_sidecar(container, &spec.logs) {
            eprintln!("opendlc: sidecar {} could not start: {e}", container.name);
        }
    }
    let main = match pod.spawn(shell(&spec.main), None) {
        Ok(pid) => pid,
        Err(e) => {
            pod.stop_sidecars();
            return Outcome::Code(fail(127, format_args!("failed to run /bin/sh: {e}")));
        }
    };
    let status = pod.supervise(main, &spec.extras);
    pod.stop_sidecars();
    pod.drain();
    Outcome::Main(status)
}

/// How a container run to its end did not end.
enum Ended {
    Stopped,
    NotStarted(io::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Main,
    Init,
    Sidecar,
    PostStart,
    PreStop,
}

struct Pod {
    signals: Signals,
    grace: Duration,
    /// Containers of an engine pod, not processes here.
    engine: Option<EnginePod>,
    /// Our children by pid (each leads its process group).
    children: HashMap<i32, (Role, String)>,
    /// The other containers' log pumps, finished once the pod ends.
    pumps: Vec<Pumps>,
    stopping: bool,
    /// A failed PostStart: the exit code the pod ends with.
    hook_failure: Option<i32>,
    /// Children reaped while waiting for another, not yet looked at.
    ended: Vec<(i32, WaitStatus)>,
}

impl Pod {
    fn new(signals: Signals, grace: Duration, engine: Option<EnginePod>) -> Self {
        Pod {
            signals,
            grace,
            engine,
            children: HashMap::new(),
            pumps: Vec::new(),
            stopping: false,
            hook_failure: None,
            ended: Vec::new(),
        }
    }

    /// Starts `command` in a process group of its own; with `log`, its output goes there.
    fn spawn(&mut self, mut command: Command, log: Option<&Path>) -> io::Result<i32> {
        command.stdin(Stdio::null()).process_group(0);
        crate::process::unblock_signals_in_child(&mut command);
        if log.is_some() {
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        let mut child = command.spawn()?;
        if let Some(log) = log {
            let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
                unreachable!("both pipes were requested");
            };
            let pipes: [(Stream, Box<dyn Read + Send>); 2] = [
                (Stream::Stdout, Box::new(out)),
                (Stream::Stderr, Box::new(err)),
            ];
            self.pumps.push(Pumps::start(open_append(log)?, pipes)?);
        }
        // Reaped with waitpid below, not through the std handle.
        Ok(child.id() as i32)
    }

    fn start(
        &mut self,
        role: Role,
        name: &str,
        command: Command,
        log: Option<&Path>,
    ) -> io::Result<i32> {
        let pid = self.spawn(command, log)?;
        self.children.insert(pid, (role, name.to_string()));
        Ok(pid)
    }

    fn run_init(&mut self, container: &Container, logs: &Path) -> Result<i32, Ended> {
        let log = log_in(logs, &container.name);
        let pid = self
            .start(
                Role::Init,
                &container.name,
                self.process(container),
                Some(&log),
            )
            .map_err(Ended::NotStarted)?;
        let status = self.wait_for(pid, None);
        if let Some(pumps) = self.pumps.pop() {
            let _ = pumps.finish(DRAIN);
        }
        match status {
            Some(status) if !self.stopping => Ok(code_of(status)),
            _ => Err(Ended::Stopped),
        }
    }

    fn start_sidecar(&mut self, container: &Container, logs: &Path) -> io::Result<()> {
        let log = log_in(logs, &container.name);
        let command = self.process(container);
        self.start(Role::Sidecar, &container.name, command, Some(&log))
            .map(|_| ())
    }

    /// What runs `container`: its engine's `run` in the engine pod, or a process here.
    fn process(&self, container: &Container) -> Command {
        match self
            .engine
            .as_ref()
            .and_then(|e| e.containers.get(&container.name))
        {
            Some(words) => {
                let mut command = argv(words);
                command.envs(&container.env);
                command
            }
            None => process(container),
        }
    }

    /// What runs a hook's words: in the main container of an engine pod, or here.
    fn hook(&self, words: &[String]) -> Command {
        match &self.engine {
            Some(engine) => argv(&[engine.exec.as_slice(), words].concat()),
            None => argv(words),
        }
    }

    /// Runs the pod until its main command (`main`) has ended: hooks, stop requests, sidecars
    /// that end early. Returns the main command's status.
    fn supervise(&mut self, main: i32, extras: &PodExtras) -> WaitStatus {
        self.children.insert(main, (Role::Main, "main".into()));
        if !extras.post_start.is_empty() && self.await_main_container(main) {
            if let Err(e) = self.start(
                Role::PostStart,
                "PostStart",
                self.hook(&extras.post_start),
                None,
            ) {
                eprintln!("opendlc: the PostStart hook could not start: {e}");
                self.hook_failure = Some(127);
                self.stop_main(main, None);
            }
        }
        loop {
            self.reap();
            for (pid, status) in std::mem::take(&mut self.ended) {
                match self.children.remove(&pid) {
                    Some((Role::Main, _)) => return status,
                    Some((Role::PostStart, _)) => {
                        let code = code_of(status);
                        // In an engine, a hook's `exec` also fails when the main container
                        // ended meanwhile: then the main command's end decides.
                        if code != 0 && !self.stopping && self.main_still_there() {
                            eprintln!(
                                "opendlc: the PostStart hook failed (exit code {code}): the pod is stopped"
                            );
                            self.hook_failure = Some(code);
                            self.stop_main(main, None);
                        }
                    }
                    Some((Role::Sidecar, name)) if !self.stopping => {
                        eprintln!(
                            "opendlc: sidecar {name} ended (exit code {})",
                            code_of(status)
                        );
                    }
                    _ => {}
                }
            }
            if self.stop_requested(None) && !self.stopping {
                let pre_stop = (!extras.pre_stop.is_empty()).then_some(&extras.pre_stop);
                self.stop_main(main, pre_stop);
            }
        }
    }

    /// Whether the main container is there to run a hook in: at once on a host; in an engine
    /// pod, once the engine says it runs (false if it ended first). Stop requests wait.
    fn await_main_container(&mut self, main: i32) -> bool {
        if self.engine.is_none() {
            return true;
        }
        let deadline = Instant::now() + MAIN_START;
        loop {
            if self.main_still_there() {
                return true;
            }
            self.reap();
            if self.ended.iter().any(|(pid, _)| *pid == main) {
                return false;
            }
            if Instant::now() > deadline {
                eprintln!(
                    "opendlc: the main container did not run within {} s: the PostStart hook runs anyway",
                    MAIN_START.as_secs()
                );
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `signal` to the process group `pid` leads. An engine's client passes signals on to its
    /// container (which it stops and resumes itself): it gets no SIGCONT.
    fn signal(&self, pid: i32, signal: Signal) {
        self::signal(pid, signal, self.engine.is_none());
    }

    /// Whether the main container is still there (always on a host).
    fn main_still_there(&self) -> bool {
        self.engine.as_ref().is_none_or(|engine| {
            argv(&engine.running)
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"true"))
        })
    }

    /// PreStop (if any, to its end or the grace period's), then SIGTERM to the main command and
    /// the sidecars.
    fn stop_main(&mut self, main: i32, pre_stop: Option<&Vec<String>>) {
        self.stopping = true;
        if let Some(hook) = pre_stop {
            match self.start(Role::PreStop, "PreStop", self.hook(hook), None) {
                Ok(pid) => {
                    let deadline = Instant::now() + self.grace;
                    if self.wait_for(pid, Some(deadline)).is_none() {
                        eprintln!("opendlc: the PreStop hook took the whole grace period");
                    }
                }
                Err(e) => eprintln!("opendlc: the PreStop hook could not start: {e}"),
            }
        }
        self.signal(main, Signal::SIGTERM);
        for pid in self.pids(Role::Sidecar) {
            self.signal(pid, Signal::SIGTERM);
        }
    }

    /// Once the main command has ended: SIGTERM to the sidecars, SIGKILL to those left after
    /// the grace period.
    fn stop_sidecars(&mut self) {
        let sidecars = self.pids(Role::Sidecar);
        if sidecars.is_empty() {
            return;
        }
        for &pid in &sidecars {
            self.signal(pid, Signal::SIGTERM);
        }
        let deadline = Instant::now() + self.grace;
        while self
            .children
            .values()
            .any(|(role, _)| *role == Role::Sidecar)
            && Instant::now() < deadline
        {
            self.reap();
            for (pid, _) in std::mem::take(&mut self.ended) {
                self.children.remove(&pid);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            // A stop request now changes nothing: the sidecars are being stopped already.
            let _ = self.stop_requested(Some(left.min(Duration::from_millis(100))));
        }
        for pid in self.pids(Role::Sidecar) {
            self.signal(pid, Signal::SIGKILL);
        }
    }

    fn pids(&self, role: Role) -> Vec<i32> {
        self.children
            .iter()
            .filter(|(_, (r, _))| *r == role)
            .map(|(pid, _)| *pid)
            .collect()
    }

    /// Waits for child `pid` until `deadline`; a stop request meanwhile is passed on to it
    /// (an init container or a hook is stopped like the main command). `None`: it had not
    /// ended by the deadline, or it was stopped (`self.stopping`).
    fn wait_for(&mut self, pid: i32, deadline: Option<Instant>) -> Option<WaitStatus> {
        loop {
            self.reap();
            if let Some(i) = self.ended.iter().position(|(ended, _)| *ended == pid) {
                let (_, status) = self.ended.remove(i);
                self.children.remove(&pid);
                return Some(status);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) {
                return None;
            }
            if self.stop_requested(left) && !self.stopping {
                self.stopping = true;
                if self
                    .children
                    .get(&pid)
                    .is_some_and(|(r, _)| *r == Role::Init)
                {
                    self.signal(pid, Signal::SIGTERM);
                }
            }
        }
    }

    /// Waits up to `timeout` (`None`: until something happens) for a signal; true if one asks
    /// the pod to stop.
    fn stop_requested(&self, timeout: Option<Duration>) -> bool {
        match self.signals.wait(timeout) {
            Ok(signals) => signals
                .iter()
                .any(|s| matches!(s, Signal::SIGTERM | Signal::SIGINT)),
            Err(e) => {
                eprintln!("opendlc: failed to wait for signals: {e}");
                std::thread::sleep(Duration::from_millis(100));
                false
            }
        }
    }

    /// Collects every child that has ended into `ended`.
    fn reap(&mut self) {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Err(Errno::EINTR) => {}
                Err(e) => {
                    eprintln!("opendlc: failed to reap children: {e}");
                    return;
                }
                Ok(status @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, ..))) => {
                    self.ended.push((pid.as_raw(), status));
                }
                Ok(_) => {}
            }
        }
    }

    fn drain(&mut self) {
        for pumps in self.pumps.drain(..) {
            let _ = pumps.finish(DRAIN);
        }
    }
}

fn shell(command: &str) -> Command {
    let mut sh = Command::new("/bin/sh");
    sh.arg("-c").arg(command);
    sh
}

fn argv(words: &[String]) -> Command {
    let mut command = Command::new(&words[0]);
    command.args(&words[1..]);
    command
}

fn process(container: &Container) -> Command {
    let mut command = argv(&container.argv);
    command.envs(&container.env);
    if let Some(dir) = &container.workdir {
        command.current_dir(dir);
    }
    command
}

/// SIGTERM/SIGKILL to the process group `pid` leads (and SIGCONT, so a stopped one sees it,
/// when `resume`).
fn signal(pid: i32, signal: Signal, resume: bool) {
    let group = Pid::from_raw(pid);
    for s in [signal, Signal::SIGCONT]
        .into_iter()
        .take(1 + usize::from(resume))
    {
        match killpg(group, s) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => eprintln!("opendlc: failed to send {s} to process group {pid}: {e}"),
        }
    }
}

fn code_of(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
        _ => 1,
    }
}

/// Ends as the main command did: a failed PostStart's code, the command's exit code, or its
/// signal (raised again at ourselves, so the shim records a signal, as without containers).
fn end_as(status: WaitStatus, hook_failure: Option<i32>) -> i32 {
    if let Some(code) = hook_failure {
        return code;
    }
    match status {
        WaitStatus::Exited(_, code) => code,
        WaitStatus::Signaled(_, signal, _) => {
            // SAFETY: resetting a disposition and unblocking a signal; nothing else runs.
            unsafe {
                let _ = nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigDfl);
            }
            let mut set = nix::sys::signal::SigSet::empty();
            set.add(signal);
            let _ = set.thread_unblock();
            let _ = nix::sys::signal::raise(signal);
            128 + signal as i32
        }
        _ => 1,
    }
}

fn fail(code: i32, message: std::fmt::Arguments<'_>) -> i32 {
    eprintln!("opendlc: {message}");
    code
}
