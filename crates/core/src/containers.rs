//! A pod's containers besides its main one, and its lifecycle hooks: the JobSpec's
//! `ExtraPodSpec` (as Kubernetes and PAI define them). On a host they are processes of the pod
//! (`opendlc run-containers`): init containers run in order to completion before the main
//! command; sidecars start with it and are stopped when it ends; `PostStart` runs once the
//! main command has started, `PreStop` before it is asked to stop.

use std::collections::BTreeMap;

use opendlc_api::{ContainerSpec, ExtraPodSpec};
use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// One container other than the pod's main one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// Unique in the pod; names its log (GetPodLogs `Containers`).
    pub name: String,
    /// The container's image with a container engine (empty: the pod's); recorded on a host,
    /// where the container runs like a pod without a container engine.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// `Command` then `Args`, run as they are (no shell).
    pub argv: Vec<String>,
    /// `None`: the pod's working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// On top of the pod's environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// What a role's `ExtraPodSpec` asks of each of its pods.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodExtras {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init: Vec<Container>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sidecars: Vec<Container>,
    /// `Lifecycle.PostStart.Exec.Command`; empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<String>,
    /// `Lifecycle.PreStop.Exec.Command`; empty: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<String>,
}

/// A role's `PodLabels` and `PodAnnotations`, as Kubernetes spells them: put on each pod's
/// containers (and podman pod) where the runtime has a container engine, beside opendlc's own
/// ([`RESERVED_PREFIX`]); recorded with the job everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The prefix of the labels opendlc puts on pods itself (`opendlc.io/job-id`, …); a request
/// cannot set them.
pub const RESERVED_PREFIX: &str = "opendlc.io/";

/// Kubernetes' bound on a pod's annotations together (keys and values).
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

impl PodMetadata {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }

    /// The metadata of `spec` (the `ExtraPodSpec` of `JobSpecs[i]`, named `field` in errors).
    pub fn from_spec(spec: Option<&ExtraPodSpec>, field: &str) -> Result<Self, Invalid> {
        let Some(spec) = spec else {
            return Ok(Self::default());
        };
        let labels = spec.pod_labels.clone().unwrap_or_default();
        let annotations = spec.pod_annotations.clone().unwrap_or_default();
        for (key, value) in &labels {
            check_key(key, &format!("{field}.PodLabels"))?;
            if !value.is_empty() && !is_name(value) {
                return Err(Invalid::value(
                    format!("{field}.PodLabels.{key}"),
                    format!(
                        "a label value is empty or at most 63 letters, digits, '-', '_' and '.', \
                         beginning and ending with a letter or digit, got \"{value}\""
                    ),
                ));
            }
        }
        let mut bytes = 0;
        for (key, value) in &annotations {
            check_key(key, &format!("{field}.PodAnnotations"))?;
            bytes += key.len() + value.len();
        }
        if bytes > ANNOTATIONS_MAX_BYTES {
            return Err(Invalid::value(
                format!("{field}.PodAnnotations"),
                format!("must hold at most {ANNOTATIONS_MAX_BYTES} bytes together, got {bytes}"),
            ));
        }
        Ok(PodMetadata {
            labels,
            annotations,
        })
    }
}

/// A label or annotation key: an optional DNS-subdomain prefix and '/', then a name.
fn check_key(key: &str, field: &str) -> Result<(), Invalid> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    if !prefix_ok || !is_name(name) {
        return Err(Invalid::value(
            field,
            format!(
                "a key is an optional DNS subdomain and '/', then at most 63 letters, digits, \
                 '-', '_' and '.', beginning and ending with a letter or digit; got \"{key}\""
            ),
        ));
    }
    if key.starts_with(RESERVED_PREFIX) {
        return Err(Invalid::value(
            field,
            format!("keys beginning with {RESERVED_PREFIX} are opendlc's own, got \"{key}\""),
        ));
    }
    Ok(())
}

/// A Kubernetes name part: 1 to 63 letters, digits, '-', '_', '.', alphanumeric at both ends.
fn is_name(text: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.len() <= 63
        && edge(text.chars().next())
        && edge(text.chars().last())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

impl PodExtras {
    pub fn is_empty(&self) -> bool {
        self.init.is_empty()
            && self.sidecars.is_empty()
            && self.post_start.is_empty()
            && self.pre_stop.is_empty()
    }

    /// Every container, init ones first.
    pub fn containers(&self) -> impl Iterator<Item = &Container> {
        self.init.iter().chain(&self.sidecars)
    }

    /// The extras of `spec` (the `ExtraPodSpec` of `JobSpecs[i]`, named `field` in errors).
    pub fn from_spec(spec: Option<&ExtraPodSpec>, field: &str) -> Result<Self, Invalid> {
        let Some(spec) = spec else {
            return Ok(Self::default());
        };
        let containers = |list: &Option<Vec<ContainerSpec>>, name: &str| {
            list.iter()
                .flatten()
                .enumerate()
                .map(|(j, c)| container(c, &format!("{field}.{name}[{j}]")))
                .collect::<Result<Vec<_>, _>>()
        };
        let hook = |command: Option<&Vec<String>>, name: &str| {
            let argv: Vec<String> = command.cloned().unwrap_or_default();
            if argv.first().is_some_and(|c| c.trim().is_empty()) {
                return Err(Invalid::value(
                    format!("{field}.Lifecycle.{name}.Exec.Command"),
                    "its first word must name a program",
                ));
            }
            Ok(argv)
        };
        let lifecycle = spec.lifecycle.as_ref();
        let extras = PodExtras {
            init: containers(&spec.init_containers, "InitContainers")?,
            sidecars: containers(&spec.side_car_containers, "SideCarContainers")?,
            post_start: hook(
                lifecycle
                    .and_then(|l| l.post_start.as_ref())
                    .and_then(|h| h.exec.as_ref())
                    .and_then(|e| e.command.as_ref()),
                "PostStart",
            )?,
            pre_stop: hook(
                lifecycle
                    .and_then(|l| l.pre_stop.as_ref())
                    .and_then(|h| h.exec.as_ref())
                    .and_then(|e| e.command.as_ref()),
                "PreStop",
            )?,
        };
        let mut names: Vec<&str> = extras.containers().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(Invalid::value(
                format!("{field}.InitContainers"),
                format!(
                    "the container name \"{}\" is used twice in the pod",
                    twice[0]
                ),
            ));
        }
        Ok(extras)
    }
}

fn container(spec: &ContainerSpec, field: &str) -> Result<Container, Invalid> {
    let name = spec.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        return Err(Invalid::missing(format!("{field}.Name")));
    }
    let label = name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !label {
        return Err(Invalid::value(
            format!("{field}.Name"),
            format!(
                "must be a DNS label (lower-case letters, digits and '-', at most 63), got \"{name}\""
            ),
        ));
    }
    let argv: Vec<String> = spec
        .command
        .iter()
        .flatten()
        .chain(spec.args.iter().flatten())
        .cloned()
        .collect();
    if argv.first().is_none_or(|c| c.trim().is_empty()) {
        return Err(Invalid::value(
            format!("{field}.Command"),
            "a container needs a Command here: it runs on the host, where no image entrypoint applies",
        ));
    }
    let workdir = spec.working_dir.clone().filter(|w| !w.is_empty());
    if let Some(dir) = &workdir {
        if !dir.starts_with('/') {
            return Err(Invalid::value(
                format!("{field}.WorkingDir"),
                format!("must be an absolute path, got \"{dir}\""),
            ));
        }
    }
    let mut env = BTreeMap::new();
    for (k, var) in spec.env.iter().flatten().enumerate() {
        let name = var.name.as_deref().unwrap_or_default();
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(Invalid::value(
                format!("{field}.Env[{k}].Name"),
                format!("must be a variable name (letters, digits, '_'), got \"{name}\""),
            ));
        }
        env.insert(name.to_string(), var.value.clone().unwrap_or_default());
    }
    Ok(Container {
        name: name.to_string(),
        image: spec.image.clone().unwrap_or_default(),
        argv,
        workdir,
        env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extra(json: serde_json::Value) -> Result<PodExtras, Invalid> {
        let spec: ExtraPodSpec = serde_json::from_value(json).unwrap();
        PodExtras::from_spec(Some(&spec), "JobSpecs[0].ExtraPodSpec")
    }

    #[test]
    fn containers_and_hooks_are_read_in_order() {
        let extras = extra(serde_json::json!({
            "InitContainers": [
                {"Name": "fetch", "Command": ["sh", "-c"], "Args": ["echo hi"],
                 "Env": [{"Name": "A", "Value": "1"}]},
                {"Name": "check", "Command": ["true"], "WorkingDir": "/tmp"}],
            "SideCarContainers": [{"Name": "watch", "Command": ["sleep", "9"]}],
            "Lifecycle": {"PreStop": {"Exec": {"Command": ["echo", "bye"]}}},
        }))
        .unwrap();
        assert_eq!(extras.init[0].argv, ["sh", "-c", "echo hi"]);
        assert_eq!(extras.init[0].env["A"], "1");
        assert_eq!(extras.init[1].workdir.as_deref(), Some("/tmp"));
        assert_eq!(extras.sidecars[0].name, "watch");
        assert_eq!(extras.pre_stop, ["echo", "bye"]);
        assert!(extras.post_start.is_empty());
    }

    #[test]
    fn bad_containers_are_refused_naming_the_field() {
        let field = |json| extra(json).unwrap_err().field().to_string();
        assert_eq!(
            field(serde_json::json!({"InitContainers": [{"Command": ["true"]}]})),
            "JobSpecs[0].ExtraPodSpec.InitContainers[0].Name"
        );
        assert_eq!(
            field(
                serde_json::json!({"SideCarContainers": [{"Name": "Bad_Name", "Command": ["x"]}]})
            ),
            "JobSpecs[0].ExtraPodSpec.SideCarContainers[0].Name"
        );
        assert_eq!(
            field(serde_json::json!({"InitContainers": [{"Name": "a", "Image": "busybox"}]})),
            "JobSpecs[0].ExtraPodSpec.InitContainers[0].Command"
        );
        assert_eq!(
            field(
                serde_json::json!({"InitContainers": [{"Name": "a", "Command": ["x"]}],
                                     "SideCarContainers": [{"Name": "a", "Command": ["y"]}]})
            ),
            "JobSpecs[0].ExtraPodSpec.InitContainers"
        );
        assert_eq!(
            field(
                serde_json::json!({"InitContainers": [{"Name": "a", "Command": ["x"], "WorkingDir": "rel"}]})
            ),
            "JobSpecs[0].ExtraPodSpec.InitContainers[0].WorkingDir"
        );
    }

    #[test]
    fn labels_and_annotations_follow_kubernetes_rules() {
        let metadata = |json: serde_json::Value| {
            let spec: ExtraPodSpec = serde_json::from_value(json).unwrap();
            PodMetadata::from_spec(Some(&spec), "JobSpecs[0].ExtraPodSpec")
        };
        let ok = metadata(serde_json::json!({
            "PodLabels": {"team": "vision", "example.com/tier": "", "app.kubernetes.io/name": "a-b_c.d"},
            "PodAnnotations": {"note": "free text, any: characters/!"},
        }))
        .unwrap();
        assert_eq!(ok.labels["example.com/tier"], "");
        assert_eq!(ok.annotations["note"], "free text, any: characters/!");
        for (json, field, says) in [
            (
                serde_json::json!({"PodLabels": {"team": "a b"}}),
                "PodLabels.team",
                "label value",
            ),
            (
                serde_json::json!({"PodLabels": {"-team": "a"}}),
                "PodLabels",
                "a key is",
            ),
            (
                serde_json::json!({"PodLabels": {"Bad_Prefix/x": "a"}}),
                "PodLabels",
                "a key is",
            ),
            (
                serde_json::json!({"PodAnnotations": {"": "a"}}),
                "PodAnnotations",
                "a key is",
            ),
            (
                serde_json::json!({"PodLabels": {"opendlc.io/job-id": "x"}}),
                "PodLabels",
                "opendlc's own",
            ),
            (
                serde_json::json!({"PodLabels": {"x": "a".repeat(64)}}),
                "PodLabels.x",
                "at most 63",
            ),
        ] {
            let err = metadata(json.clone()).unwrap_err().to_string();
            assert!(
                err.contains(&format!("JobSpecs[0].ExtraPodSpec.{field}")) && err.contains(says),
                "{json}: {err}"
            );
        }
        let big = serde_json::json!({"PodAnnotations": {"a": "x".repeat(300 * 1024)}});
        assert!(metadata(big)
            .unwrap_err()
            .to_string()
            .contains("at most 262144 bytes"));
    }
}
