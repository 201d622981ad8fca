//! A pod's [`Steps`] as the one command line its shim runs, on every runtime that runs the shim:
//!
//! ```text
//! opendlc prepare-env … && [container engine run …] opendlc run-mounted … \
//!     opendlc sanity-check … && exec /bin/sh -c COMMAND
//! ```
//!
//! where a pod with init containers, sidecars or hooks has, as its COMMAND,
//!
//! ```text
//! exec opendlc run-containers --spec <pod dir>/containers.json   (the command inside)
//! ```
//!
//! Each step is a subcommand of the opendlc binary that runs inside the pod (this module's
//! siblings); a runtime that puts the pod in a container wraps everything after the
//! preparation, which runs on the host (its venv is in the job's directory, which the container
//! sees), and gives the container the mounts itself (a pod with a sandbox prepares in it, as
//! its owner, and its container runs as the owner). A pod with a [sandbox](crate::pod::sandbox)
//! and no container enters it first, so that everything, its preparation included, runs as
//! its owner inside its own view:
//!
//! ```text
//! exec opendlc run-mounted … 'opendlc sanity-check … && exec /bin/sh -c COMMAND'
//! ```
//!
//! with the preparation in the mounts file, run by `run-mounted` as the pod's owner between
//! making the view and making the mounts (the CodeSource's mount shows the checkout it makes).

use std::io;
use std::path::Path;

use opendlc_core::shell::quote;

use crate::contract::{ContainersStep, Steps};
use crate::pod::containers::{self, ContainersSpec, EnginePod};
use crate::pod::mounts::{Mount, MountSpec};
use opendlc_core::containers::PodExtras;

/// The file in a pod's directory that lists its mounts for `run-mounted`.
pub const MOUNTS_FILE: &str = "mounts.json";

/// Puts a pod in its container engine.
pub trait Engine {
    /// The command that runs `inner` (for `/bin/sh -c`) in the pod's container, with `mounts`.
    fn run(&self, inner: &str, mounts: &[Mount]) -> String;
    /// For a pod with init containers, sidecars or hooks: its engine pod, whose `main` runs
    /// `inner` in the pod's main container.
    fn pod(&self, inner: &str, mounts: &[Mount], extras: &PodExtras) -> (String, EnginePod);
}

/// Puts a command in the pod's container ([`Engine`]).
pub type Contain<'a> = &'a dyn Engine;

/// A pod's command as its shim runs it: `/bin/sh -c shell`, inside `view` when it has one
/// (kept in its spec.json). The shim makes that view in the command's own process, as
/// `opendlc run-mounted` would (`crate::pod::mounts::enter`), which spares every pod the start
/// of that program and of a shell to run it, and a file of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodCommand {
    pub shell: String,
    pub view: Option<MountSpec>,
}

fn run_mounted(program: &Path, mounts_file: &Path, command: &str) -> String {
    format!(
        "exec {} run-mounted --mounts {} {}",
        quote(&program.display().to_string()),
        quote(&mounts_file.display().to_string()),
        quote(command)
    )
}

/// The pod's command, with its view left to the shim where nothing has to run before it.
/// `program` is the opendlc binary as the pod sees it; `dir` the pod's directory (a mounts
/// file for `run-mounted` is written there when something runs before the view).
pub fn render_pod(
    steps: &Steps,
    program: &Path,
    dir: &Path,
    contain: Option<Contain<'_>>,
) -> io::Result<PodCommand> {
    let program_word = quote(&program.display().to_string());
    // Writes the containers' file; returns the command that runs them.
    let run_containers = |step: &ContainersStep, main: String, engine: Option<EnginePod>| {
        let file = dir.join(containers::SPEC_FILE);
        std::fs::create_dir_all(dir)?;
        let spec = ContainersSpec {
            main,
            extras: step.extras.clone(),
            logs: dir.join(containers::LOGS_DIR),
            grace_ms: u64::try_from(step.grace_period.as_millis()).unwrap_or(u64::MAX),
            engine,
        };
        let json = serde_json::to_vec_pretty(&spec).map_err(io::Error::other)?;
        std::fs::write(&file, json)?;
        io::Result::Ok(format!(
            "exec {program_word} run-containers --spec {}",
            quote(&file.display().to_string())
        ))
    };
    let mut command = steps.command.clone();
    // In a container engine the containers are the engine pod's, run from the host (below);
    // on a host they are processes of the pod, inside its view.
    if let (Some(step), None) = (&steps.containers, contain) {
        command = run_containers(step, command, None)?;
    }
    if let Some(sanity) = &steps.sanity {
        let then = if sanity.continue_on_failure {
            ";"
        } else {
            "&&"
        };
        command = format!(
            "{program_word} sanity-check --plan {} --out {} {then} exec /bin/sh -c {}",
            quote(&sanity.plan.display().to_string()),
            quote(&sanity.results.display().to_string()),
            quote(&command)
        );
    }
    let preparation = steps.prepare.as_ref().map(|prepare| {
        format!(
            "{program_word} prepare-env --dir {} --ready {}",
            quote(&prepare.dir.display().to_string()),
            quote(&prepare.ready.display().to_string()),
        )
    });
    let prepare = |command: String| match &preparation {
        Some(preparation) => format!("{preparation} && {command}"),
        None => command,
    };
    let view = |mounts: &[Mount], prepare: Option<String>| MountSpec {
        mounts: mounts.to_vec(),
        sandbox: steps.sandbox.clone(),
        prepare,
    };
    let write_mounts = |mounts: &[Mount], prepare: Option<String>| -> io::Result<_> {
        let file = dir.join(MOUNTS_FILE);
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_vec_pretty(&view(mounts, prepare)).map_err(io::Error::other)?;
        std::fs::write(&file, json)?;
        Ok(file)
    };
    let sandbox = &steps.sandbox;
    let mounted = |command: String, mounts: &[Mount], prepare: Option<String>| {
        write_mounts(mounts, prepare).map(|file| run_mounted(program, &file, &command))
    };
    let shell = |shell: String| PodCommand { shell, view: None };
    let contained = |contain: Contain<'_>| match &steps.containers {
        Some(step) => {
            let (main, pod) = contain.pod(&command, &steps.mounts, &step.extras);
            run_containers(step, main, Some(pod))
        }
        None => Ok(contain.run(&command, &steps.mounts)),
    };
    Ok(match contain {
        // The preparation runs on the host: in the pod's sandbox, as its owner, where it has
        // one (the container then runs as the owner too).
        Some(contain) if sandbox.is_some() && preparation.is_some() => shell(format!(
            "{} && {}",
            mounted("true".into(), &[], preparation.clone())?.trim_start_matches("exec "),
            contained(contain)?
        )),
        Some(contain) => shell(prepare(contained(contain)?)),
        // The preparation runs inside the sandbox, as the pod's owner, before the mounts: in
        // `run-mounted`, whose environment is the pod's (the shim's is not).
        None if sandbox.is_some() && preparation.is_some() => {
            shell(mounted(command, &steps.mounts, preparation.clone())?)
        }
        None if sandbox.is_some() => PodCommand {
            shell: command,
            view: Some(view(&steps.mounts, None)),
        },
        None if steps.mounts.is_empty() => shell(prepare(command)),
        None if preparation.is_some() => shell(prepare(mounted(command, &steps.mounts, None)?)),
        None => PodCommand {
            shell: command,
            view: Some(view(&steps.mounts, None)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{PrepareStep, SanityStep};
    use crate::pod::sandbox::{Identity, Sandbox};

    /// An engine that writes what it was asked to run.
    struct Run;

    impl Engine for Run {
        fn run(&self, inner: &str, mounts: &[Mount]) -> String {
            format!("RUN[{}]({inner})", mounts.len())
        }

        fn pod(&self, inner: &str, mounts: &[Mount], _: &PodExtras) -> (String, EnginePod) {
            let words = |w: &str| vec![w.to_string()];
            let pod = EnginePod {
                create: words("create"),
                remove: words("remove"),
                containers: Default::default(),
                exec: words("exec"),
                running: words("running"),
            };
            (format!("MAIN[{}]({inner})", mounts.len()), pod)
        }
    }

    /// The command, checked, inside `extras`' containers (a grace period of 7 s).
    fn with_containers(extras: &PodExtras) -> Steps {
        Steps {
            sanity: Some(SanityStep {
                plan: "/p/plan".into(),
                results: "/p/out".into(),
                continue_on_failure: false,
            }),
            containers: Some(ContainersStep {
                extras: extras.clone(),
                grace_period: std::time::Duration::from_secs(7),
            }),
            ..steps()
        }
    }

    fn steps() -> Steps {
        Steps {
            command: "echo 'hi'".into(),
            ..Default::default()
        }
    }

    /// The pod's command line, where nothing is left to the shim.
    fn render(
        steps: &Steps,
        program: &Path,
        dir: &Path,
        contain: Option<Contain<'_>>,
    ) -> io::Result<String> {
        let command = render_pod(steps, program, dir, contain)?;
        assert_eq!(command.view, None);
        Ok(command.shell)
    }

    #[test]
    fn a_view_with_nothing_before_it_is_left_to_the_shim_without_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let mounts = vec![Mount {
            source: "/data".into(),
            target: "/mnt/data".into(),
            read_only: true,
        }];
        let steps = Steps {
            mounts: mounts.clone(),
            ..steps()
        };
        let command = render_pod(&steps, Path::new("/o"), dir.path(), None).unwrap();
        assert_eq!(command.shell, "echo 'hi'");
        let view = command.view.unwrap();
        assert_eq!(
            (view.mounts, view.sandbox, view.prepare),
            (mounts, None, None)
        );
        assert!(!dir.path().join(MOUNTS_FILE).exists());
    }

    #[test]
    fn a_plain_pod_runs_its_command_alone() {
        let dir = tempfile::tempdir().unwrap();
        let line = render(&steps(), Path::new("/bin/opendlc"), dir.path(), None).unwrap();
        assert_eq!(line, "echo 'hi'");
    }

    #[test]
    fn steps_nest_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let steps = Steps {
            prepare: Some(PrepareStep {
                dir: "/j/env".into(),
                ready: "/p/env-ready".into(),
            }),
            mounts: vec![Mount {
                source: "/data".into(),
                target: "/mnt/data".into(),
                read_only: true,
            }],
            sanity: Some(SanityStep {
                plan: "/p/plan.json".into(),
                results: "/p/sanity.json".into(),
                continue_on_failure: false,
            }),
            ..steps()
        };
        let line = render(&steps, Path::new("/bin/opendlc"), dir.path(), None).unwrap();
        let mounts = dir.path().join(MOUNTS_FILE);
        let checked = r#"'/bin/opendlc' sanity-check --plan '/p/plan.json' --out '/p/sanity.json' && exec /bin/sh -c 'echo '\''hi'\'''"#;
        assert_eq!(
            line,
            format!(
                "'/bin/opendlc' prepare-env --dir '/j/env' --ready '/p/env-ready' && \
                 exec '/bin/opendlc' run-mounted --mounts '{}' {}",
                mounts.display(),
                quote(checked)
            )
        );
        let written: MountSpec = serde_json::from_slice(&std::fs::read(&mounts).unwrap()).unwrap();
        assert_eq!(written.mounts, steps.mounts);
        assert_eq!(written.sandbox, None);
    }

    #[test]
    fn a_container_gets_the_mounts_and_everything_after_the_preparation() {
        let dir = tempfile::tempdir().unwrap();
        let steps = Steps {
            prepare: Some(PrepareStep {
                dir: "/j/env".into(),
                ready: "/p/ready".into(),
            }),
            mounts: vec![Mount {
                source: "/data".into(),
                target: "/mnt".into(),
                read_only: false,
            }],
            sanity: Some(SanityStep {
                plan: "/p/plan".into(),
                results: "/p/out".into(),
                continue_on_failure: true,
            }),
            ..steps()
        };
        let line = render(&steps, Path::new("/o"), dir.path(), Some(&Run)).unwrap();
        assert!(line.starts_with("'/o' prepare-env --dir '/j/env' --ready '/p/ready' && RUN[1]("));
        assert!(line.contains("--out '/p/out' ; exec /bin/sh -c"), "{line}");
        assert!(!dir.path().join(MOUNTS_FILE).exists());
    }

    #[test]
    fn a_sandboxed_container_pod_prepares_as_its_owner_on_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox {
            identity: Identity {
                uid: 900_000_002,
                gid: 900_000_002,
                name: "opendlc-2".into(),
                home: None,
            },
            hide: vec!["/srv/opendlc".into()],
            grants: vec![],
            hosts: None,
            shm_mib: None,
        };
        let steps = Steps {
            prepare: Some(PrepareStep {
                dir: "/j/env".into(),
                ready: "/p/ready".into(),
            }),
            mounts: vec![Mount {
                source: "/data".into(),
                target: "/mnt".into(),
                read_only: false,
            }],
            sandbox: Some(sandbox.clone()),
            ..steps()
        };
        let line = render(&steps, Path::new("/o"), dir.path(), Some(&Run)).unwrap();
        let mounts = dir.path().join(MOUNTS_FILE);
        assert_eq!(
            line,
            format!(
                "'/o' run-mounted --mounts '{}' 'true' && RUN[1](echo 'hi')",
                mounts.display()
            )
        );
        let written: MountSpec = serde_json::from_slice(&std::fs::read(&mounts).unwrap()).unwrap();
        assert_eq!(written.mounts, vec![]);
        assert_eq!(written.sandbox, Some(sandbox));
        assert_eq!(
            written.prepare.as_deref(),
            Some("'/o' prepare-env --dir '/j/env' --ready '/p/ready'")
        );
    }

    #[test]
    fn a_pod_with_containers_runs_them_around_its_command() {
        use opendlc_core::containers::{Container, PodExtras};
        let dir = tempfile::tempdir().unwrap();
        let extras = PodExtras {
            init: vec![Container {
                name: "fetch".into(),
                image: String::new(),
                argv: vec!["true".into()],
                workdir: None,
                env: Default::default(),
            }],
            ..Default::default()
        };
        let steps = with_containers(&extras);
        let line = render(&steps, Path::new("/o"), dir.path(), None).unwrap();
        let file = dir.path().join(containers::SPEC_FILE);
        // The sanity check first, then the containers with the command inside.
        assert_eq!(
            line,
            format!(
                "'/o' sanity-check --plan '/p/plan' --out '/p/out' && exec /bin/sh -c {}",
                quote(&format!(
                    "exec '/o' run-containers --spec {}",
                    quote(&file.display().to_string())
                ))
            )
        );
        let written: ContainersSpec =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(written.main, "echo 'hi'");
        assert_eq!(written.extras, extras);
        assert_eq!(written.grace_ms, 7000);
        assert_eq!(written.logs, dir.path().join(containers::LOGS_DIR));
    }

    #[test]
    fn in_an_engine_the_containers_run_from_the_host_and_the_check_in_the_main_one() {
        let dir = tempfile::tempdir().unwrap();
        let extras = PodExtras {
            pre_stop: vec!["echo".into(), "bye".into()],
            ..Default::default()
        };
        let steps = Steps {
            prepare: Some(PrepareStep {
                dir: "/j/env".into(),
                ready: "/p/ready".into(),
            }),
            ..with_containers(&extras)
        };
        let line = render(&steps, Path::new("/o"), dir.path(), Some(&Run)).unwrap();
        let file = dir.path().join(containers::SPEC_FILE);
        assert_eq!(
            line,
            format!(
                "'/o' prepare-env --dir '/j/env' --ready '/p/ready' && \
                 exec '/o' run-containers --spec {}",
                quote(&file.display().to_string())
            )
        );
        let written: ContainersSpec =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let checked = r#"'/o' sanity-check --plan '/p/plan' --out '/p/out' && exec /bin/sh -c 'echo '\''hi'\'''"#;
        assert_eq!(written.main, format!("MAIN[0]({checked})"));
        assert_eq!(written.extras, extras);
        assert_eq!(written.engine.unwrap().exec, ["exec"]);
    }
}
