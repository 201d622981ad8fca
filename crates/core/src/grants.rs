//! What a job's own credentials may do beyond reading their job: the RAM policies of its
//! `CredentialConfig.CredentialConfigItems[].Roles[].Policy`, as Alibaba Cloud writes them:
//!
//! ```json
//! {"Version": "1", "Statement": [
//!   {"Effect": "Allow", "Action": ["paidlc:CreateJob", "paidlc:Get*"], "Resource": "*"}]}
//! ```
//!
//! The PAI-DLC actions (`paidlc:<Operation>`, `*` matching any text, without case) that some
//! statement allows and none denies are granted; a granted action acts with the job owner's
//! rights, and a job it creates is created in the job's own workspace. Actions of other
//! services have no meaning here (the job's pods reach no other service through opendlc), nor
//! has `Resource`. A policy that is not such a document is refused at submission, naming it.

use opendlc_api::CreateJobRequest;
use serde_json::Value;

use crate::error::Invalid;

/// The PAI-DLC actions a job's credentials are granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    allow: Vec<String>,
    deny: Vec<String>,
}

/// The RAM service prefix of PAI-DLC's actions.
const SERVICE: &str = "paidlc:";

impl Grants {
    /// The grants of a request's policies, or which policy is wrong and why.
    pub fn of(req: &CreateJobRequest) -> Result<Grants, Invalid> {
        let mut grants = Grants::default();
        let items = req
            .credential_config
            .as_ref()
            .and_then(|c| c.credential_config_items.as_deref())
            .unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            for (j, role) in item.roles.iter().flatten().enumerate() {
                let Some(policy) = role.policy.as_deref().filter(|p| !p.trim().is_empty()) else {
                    continue;
                };
                let field =
                    format!("CredentialConfig.CredentialConfigItems[{i}].Roles[{j}].Policy");
                grants
                    .read(policy)
                    .map_err(|why| Invalid::value(field, why))?;
            }
        }
        Ok(grants)
    }

    fn read(&mut self, policy: &str) -> Result<(), String> {
        let doc: Value = serde_json::from_str(policy)
            .map_err(|e| format!("is not a RAM policy document (JSON): {e}"))?;
        let statements = match doc.get("Statement") {
            Some(Value::Array(s)) => s.clone(),
            Some(s @ Value::Object(_)) => vec![s.clone()],
            _ => return Err("needs a Statement (a list of statements)".into()),
        };
        for (n, statement) in statements.iter().enumerate() {
            let actions: Vec<&str> = match statement.get("Action") {
                Some(Value::String(a)) => vec![a.as_str()],
                Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
                _ => return Err(format!("Statement[{n}] needs an Action (a name or a list)")),
            };
            let into = match statement.get("Effect").and_then(Value::as_str) {
                Some(e) if e.eq_ignore_ascii_case("Allow") => &mut self.allow,
                Some(e) if e.eq_ignore_ascii_case("Deny") => &mut self.deny,
                _ => return Err(format!("Statement[{n}].Effect must be Allow or Deny")),
            };
            into.extend(
                actions
                    .into_iter()
                    .filter(|a| {
                        a.len() > SERVICE.len() && a[..SERVICE.len()].eq_ignore_ascii_case(SERVICE)
                    })
                    .map(|a| a[SERVICE.len()..].to_ascii_lowercase()),
            );
        }
        Ok(())
    }

    /// Whether PAI-DLC operation `action` (`CreateJob`) is granted.
    pub fn allows(&self, action: &str) -> bool {
        let action = action.to_ascii_lowercase();
        let matches = |pattern: &String| glob(pattern, &action);
        self.allow.iter().any(matches) && !self.deny.iter().any(matches)
    }
}

/// `text` matches `pattern`, where `*` stands for any text.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(policy: &str) -> Result<Grants, Invalid> {
        let req: CreateJobRequest = serde_json::from_value(serde_json::json!({
            "CredentialConfig": {"EnableCredentialInject": true, "CredentialConfigItems": [
                {"Key": "default", "Roles": [{"RoleArn": "acs:ram::1:role/x", "Policy": policy}]}]}
        }))
        .unwrap();
        Grants::of(&req)
    }

    #[test]
    fn allowed_and_not_denied_paidlc_actions_are_granted() {
        let g = grants(
            r#"{"Version": "1", "Statement": [
                {"Effect": "Allow", "Action": ["paidlc:CreateJob", "paidlc:Get*", "oss:*"], "Resource": "*"},
                {"Effect": "Deny", "Action": "paidlc:GetToken", "Resource": "*"}]}"#,
        )
        .unwrap();
        assert!(g.allows("CreateJob") && g.allows("GetJob") && g.allows("getpodlogs"));
        assert!(!g.allows("GetToken"), "denied");
        assert!(!g.allows("DeleteJob") && !g.allows("StopJob"));
        assert!(
            Grants::default() == grants("").unwrap(),
            "no policy grants nothing"
        );
        assert!(
            grants(r#"{"Statement": {"Effect": "Allow", "Action": "paidlc:*"}}"#)
                .unwrap()
                .allows("StopJob")
        );
    }

    #[test]
    fn a_bad_policy_is_refused_naming_it() {
        for bad in [
            "{",
            r#"{"Version": "1"}"#,
            r#"{"Statement": [{"Effect": "Maybe", "Action": "paidlc:*"}]}"#,
        ] {
            let err = grants(bad).unwrap_err().to_string();
            assert!(
                err.contains("CredentialConfig.CredentialConfigItems[0].Roles[0].Policy"),
                "{err}"
            );
        }
    }

    #[test]
    fn globs() {
        assert!(glob("get*", "getjob") && glob("*", "x") && glob("*job*", "getjobevents"));
        assert!(!glob("get*s", "getjob") && !glob("list", "listjobs"));
    }
}
