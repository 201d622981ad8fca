//! The per-role flags of `submit` (`--workers N --worker_spec … --worker_image …`), built from
//! a table rather than written out 8 × 7 times.

use clap::{Arg, ArgMatches, Command, FromArgMatches};
use opendlc_api::{JobSpec, ResourceConfig};

/// A role: its JobSpec `Type`, its count flag, its flag prefix.
struct RoleDef {
    r#type: &'static str,
    count: &'static str,
    prefix: &'static str,
}

const ROLES: &[RoleDef] = &[
    RoleDef {
        r#type: "Master",
        count: "masters",
        prefix: "master",
    },
    RoleDef {
        r#type: "Worker",
        count: "workers",
        prefix: "worker",
    },
    RoleDef {
        r#type: "PS",
        count: "ps",
        prefix: "ps",
    },
    RoleDef {
        r#type: "Chief",
        count: "chiefs",
        prefix: "chief",
    },
    RoleDef {
        r#type: "Evaluator",
        count: "evaluators",
        prefix: "evaluator",
    },
    RoleDef {
        r#type: "GraphLearn",
        count: "graphlearns",
        prefix: "graphlearn",
    },
    RoleDef {
        r#type: "Launcher",
        count: "launchers",
        prefix: "launcher",
    },
    RoleDef {
        r#type: "Head",
        count: "heads",
        prefix: "head",
    },
];

/// The per-role settings: `(suffix, help)`.
const SETTINGS: &[(&str, &str)] = &[
    ("spec", "instance type (EcsSpec), e.g. ecs.c6.large"),
    (
        "image",
        "image (recorded; the local runtime runs no containers)",
    ),
    ("cpu", "CPUs per pod (overrides the spec)"),
    ("gpu", "GPUs per pod (overrides the spec)"),
    ("memory", "memory per pod, e.g. 4Gi (overrides the spec)"),
    ("shared_memory", "shared memory per pod, e.g. 1Gi"),
];

/// The JobSpecs the role flags describe, in role order.
#[derive(Debug, Clone, Default)]
pub struct RoleArgs {
    pub specs: Vec<JobSpec>,
}

fn id(prefix: &str, suffix: &str) -> String {
    format!("{prefix}_{suffix}")
}

impl clap::Args for RoleArgs {
    fn augment_args(mut cmd: Command) -> Command {
        for role in ROLES {
            cmd = cmd.arg(
                Arg::new(role.count.to_string())
                    .long(role.count.to_string())
                    .value_name("N")
                    .value_parser(clap::value_parser!(i64).range(1..))
                    .help_heading("Roles")
                    .help(format!("Number of {} pods", role.r#type)),
            );
            for (suffix, help) in SETTINGS {
                let name = id(role.prefix, suffix);
                cmd = cmd.arg(
                    Arg::new(name.clone())
                        .long(name.clone())
                        .alias(name.replace('_', "-"))
                        .value_name(suffix.to_uppercase())
                        .help_heading("Roles")
                        .hide(role.prefix != "worker" && role.prefix != "master")
                        .help(format!("{}: {help}", role.r#type)),
                );
            }
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for RoleArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut specs = Vec::new();
        for role in ROLES {
            let count = matches.get_one::<i64>(role.count).copied();
            let get = |suffix: &str| matches.get_one::<String>(&id(role.prefix, suffix)).cloned();
            let resources = ResourceConfig {
                cpu: get("cpu"),
                gpu: get("gpu"),
                memory: get("memory"),
                shared_memory: get("shared_memory"),
                gpu_type: None,
            };
            let has_resources = resources != ResourceConfig::default();
            let (spec, image) = (get("spec"), get("image"));
            if count.is_none() && spec.is_none() && image.is_none() && !has_resources {
                continue;
            }
            specs.push(JobSpec {
                r#type: Some(role.r#type.to_string()),
                pod_count: Some(count.unwrap_or(1)),
                ecs_spec: spec,
                image,
                resource_config: has_resources.then_some(resources),
                ..Default::default()
            });
        }
        Ok(RoleArgs { specs })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}
