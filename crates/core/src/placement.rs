//! `JobSpec.AssignNodeSpec`: the nodes a role's pods may run on (`NodeNames`) and must avoid
//! (`AntiAffinityNodeNames`), when `EnableAssignNode` is on. Names are comma-separated node
//! names, as the cluster calls its nodes (this host's name on the local runtime, Slurm's
//! `NodeName`s on Slurm).
//!
//! A job's pods share one rule: on Slurm a job is one allocation whose node list cannot differ
//! by role, so the rule is the roles' together — the nodes every restricting role allows, minus
//! the nodes any role avoids.

use std::collections::BTreeSet;

use opendlc_api::JobSpec;

use crate::error::Invalid;

/// Where a job's pods may run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRule {
    /// Only these nodes; `None`: any node.
    pub only: Option<BTreeSet<String>>,
    /// Never these.
    pub never: BTreeSet<String>,
}

impl NodeRule {
    pub fn is_any(&self) -> bool {
        self.only.is_none() && self.never.is_empty()
    }

    /// Whether a pod may run on `node`.
    pub fn allows(&self, node: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(node)) && !self.never.contains(node)
    }
}

/// The job's rule from its JobSpecs, or why the specs are wrong (the field and the rule).
pub fn node_rule(specs: &[JobSpec]) -> Result<NodeRule, Invalid> {
    let mut rule = NodeRule::default();
    for (i, spec) in specs.iter().enumerate() {
        let Some(assign) = spec
            .assign_node_spec
            .as_ref()
            .filter(|a| a.enable_assign_node == Some(true))
        else {
            continue;
        };
        let field = |name: &str| format!("JobSpecs[{i}].AssignNodeSpec.{name}");
        let only = names(assign.node_names.as_deref(), &field("NodeNames"))?;
        let never = names(
            assign.anti_affinity_node_names.as_deref(),
            &field("AntiAffinityNodeNames"),
        )?;
        if only.is_empty() && never.is_empty() {
            return Err(Invalid::value(
                field("EnableAssignNode"),
                "names no node: set NodeNames (where the role's pods may run) or \
                 AntiAffinityNodeNames (where they must not)",
            ));
        }
        if !only.is_empty() {
            rule.only = Some(match rule.only.take() {
                None => only,
                Some(before) => before.intersection(&only).cloned().collect(),
            });
        }
        rule.never.extend(never);
        if rule
            .only
            .as_ref()
            .is_some_and(|only| only.iter().all(|n| rule.never.contains(n)))
        {
            return Err(Invalid::value(
                field("NodeNames"),
                "leaves no node: the job's pods share one node list, and the roles' NodeNames \
                 and AntiAffinityNodeNames together allow none",
            ));
        }
    }
    Ok(rule)
}

fn names(list: Option<&str>, field: &str) -> Result<BTreeSet<String>, Invalid> {
    let mut names = BTreeSet::new();
    for name in list
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let valid = name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid {
            return Err(Invalid::value(
                field,
                format!("must be node names separated by commas (A-Za-z0-9._-), got \"{name}\""),
            ));
        }
        names.insert(name.to_string());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opendlc_api::AssignNodeSpec;

    fn spec(only: &str, never: &str) -> JobSpec {
        JobSpec {
            assign_node_spec: Some(AssignNodeSpec {
                enable_assign_node: Some(true),
                node_names: Some(only.into()),
                anti_affinity_node_names: Some(never.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_roles_rules_make_one() {
        let rule = node_rule(&[spec("n1, n2", ""), spec("", "n1"), JobSpec::default()]).unwrap();
        assert_eq!(rule.only, Some(BTreeSet::from(["n1".into(), "n2".into()])));
        assert!(rule.allows("n2") && !rule.allows("n1") && !rule.allows("n3"));
        assert!(node_rule(&[JobSpec::default()]).unwrap().is_any());
        // Off unless enabled.
        let mut off = spec("n1", "");
        off.assign_node_spec.as_mut().unwrap().enable_assign_node = Some(false);
        assert!(node_rule(&[off]).unwrap().is_any());
    }

    #[test]
    fn a_rule_that_allows_nothing_is_refused() {
        let err = node_rule(&[spec("n1", ""), spec("n2", "")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("JobSpecs[1].AssignNodeSpec.NodeNames") && err.contains("no node"),
            "{err}"
        );
        let err = node_rule(&[spec("", "")]).unwrap_err().to_string();
        assert!(err.contains("EnableAssignNode"), "{err}");
        let err = node_rule(&[spec("n1;rm", "")]).unwrap_err().to_string();
        assert!(err.contains("node names"), "{err}");
    }
}
