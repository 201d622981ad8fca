//! A job's write-only values: what a client may send but never read back.
//!
//! They are the registry credentials of every JobSpec (`ImageConfig.Password` and `.Auth`),
//! the access-key parts of `CredentialConfig` (each role's `AssumeUserInfo.AccessKeyId` and
//! `.SecurityToken`), and the values of `CustomEnvs` marked `Visible: "false"`, wherever the
//! job keeps them (the request as submitted, its `Envs` under the same name, and the job's
//! merged environment). The store seals these values at rest and opens them for the engine;
//! every answer shows them as [`REDACTED`] (docs/SECURITY.md).

use std::collections::BTreeMap;
use std::convert::Infallible;

use opendlc_api::CreateJobRequest;

use crate::Job;

/// What an answer shows instead of a write-only value (the field is kept, so SDK models
/// still parse).
pub const REDACTED: &str = "******";

/// Whether a `CustomEnvs` entry is hidden: `Visible` is `"false"` (any case).
pub fn hidden(visible: Option<&str>) -> bool {
    visible.is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
}

/// The names of the request's hidden `CustomEnvs`.
pub fn hidden_env_names(request: &CreateJobRequest) -> Vec<String> {
    request
        .custom_envs
        .iter()
        .flatten()
        .filter(|e| hidden(e.visible.as_deref()))
        .filter_map(|e| e.key.clone())
        .collect()
}

/// Calls `f` on every write-only value of a request and of the job's merged environment
/// `envs`, stopping at the first error.
pub fn try_for_each<E>(
    request: &mut CreateJobRequest,
    envs: &mut BTreeMap<String, String>,
    mut f: impl FnMut(&mut String) -> Result<(), E>,
) -> Result<(), E> {
    let hidden_names = hidden_env_names(request);
    for spec in request.job_specs.iter_mut().flatten() {
        if let Some(image) = spec.image_config.as_mut() {
            for value in [image.password.as_mut(), image.auth.as_mut()]
                .into_iter()
                .flatten()
            {
                f(value)?;
            }
        }
    }
    let items = request
        .credential_config
        .as_mut()
        .and_then(|c| c.credential_config_items.as_mut());
    for item in items.into_iter().flatten() {
        for role in item.roles.iter_mut().flatten() {
            if let Some(user) = role.assume_user_info.as_mut() {
                for value in [user.access_key_id.as_mut(), user.security_token.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    f(value)?;
                }
            }
        }
    }
    for custom in request.custom_envs.iter_mut().flatten() {
        if hidden(custom.visible.as_deref()) {
            if let Some(value) = custom.value.as_mut() {
                f(value)?;
            }
        }
    }
    for name in &hidden_names {
        if let Some(value) = request.envs.as_mut().and_then(|e| e.get_mut(name)) {
            f(value)?;
        }
        if let Some(value) = envs.get_mut(name) {
            f(value)?;
        }
    }
    Ok(())
}

/// Calls `f` on every write-only value of the request and of `envs`.
pub fn for_each(
    request: &mut CreateJobRequest,
    envs: &mut BTreeMap<String, String>,
    mut f: impl FnMut(&mut String),
) {
    let done: Result<(), Infallible> = try_for_each(request, envs, |v| {
        f(v);
        Ok(())
    });
    let Ok(()) = done;
}

/// The job as answers show it: every write-only value replaced by [`REDACTED`].
pub fn redacted(job: &Job) -> Job {
    let mut job = job.clone();
    for_each(&mut job.request, &mut job.envs, |v| {
        *v = REDACTED.to_string()
    });
    job
}

/// UpdateJob with `JobSpecs` read back from GetJob carries [`REDACTED`] where a registry
/// credential was: the stored value (of the spec at the same position) stays.
pub fn keep_redacted(before: &CreateJobRequest, after: &mut CreateJobRequest) {
    let old_specs = before.job_specs.iter().flatten();
    for (new, old) in after.job_specs.iter_mut().flatten().zip(old_specs) {
        let (Some(new), Some(old)) = (new.image_config.as_mut(), old.image_config.as_ref()) else {
            continue;
        };
        for (value, stored) in [
            (&mut new.password, &old.password),
            (&mut new.auth, &old.auth),
        ] {
            if value.as_deref() == Some(REDACTED) {
                value.clone_from(stored);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> CreateJobRequest {
        serde_json::from_value(json!({
            "JobSpecs": [{"Type": "Worker", "Image": "r/i", "ImageConfig": {
                "DockerRegistry": "r", "Username": "u", "Password": "pw", "Auth": "dTpwdw=="}}],
            "CredentialConfig": {"CredentialConfigItems": [{"Key": "k", "Roles": [
                {"RoleArn": "arn", "AssumeUserInfo": {"AccessKeyId": "AKID", "SecurityToken": "tok", "Id": "1"}}]}]},
            "CustomEnvs": [{"Key": "TOKEN", "Value": "hush", "Visible": "false"},
                           {"Key": "SHOWN", "Value": "hello", "Visible": "true"},
                           {"Key": "PLAIN", "Value": "x"}],
            "Envs": {"TOKEN": "older", "OTHER": "y"}
        }))
        .unwrap()
    }

    #[test]
    fn every_write_only_value_is_visited_and_nothing_else() {
        let mut req = request();
        let mut envs: BTreeMap<String, String> = [
            ("TOKEN", "hush"),
            ("SHOWN", "hello"),
            ("PLAIN", "x"),
            ("OTHER", "y"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        let mut seen = Vec::new();
        for_each(&mut req, &mut envs, |v| {
            seen.push(v.clone());
            *v = REDACTED.into();
        });
        assert_eq!(
            seen,
            ["pw", "dTpwdw==", "AKID", "tok", "hush", "older", "hush"]
        );
        let text = serde_json::to_string(&req).unwrap();
        for secret in ["pw\"", "dTpwdw", "AKID", "tok\"", "hush", "older"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        for kept in ["\"Username\":\"u\"", "hello", "\"x\"", "\"y\"", "arn"] {
            assert!(text.contains(kept), "{kept} not in {text}");
        }
        assert_eq!(envs["TOKEN"], REDACTED);
        assert_eq!(envs["SHOWN"], "hello");
    }

    #[test]
    fn a_redacted_password_sent_back_keeps_the_stored_one() {
        let before = request();
        let mut after = request();
        let image = after.job_specs.as_mut().unwrap()[0]
            .image_config
            .as_mut()
            .unwrap();
        image.password = Some(REDACTED.into());
        image.auth = Some("new-auth".into());
        keep_redacted(&before, &mut after);
        let image = after.job_specs.as_ref().unwrap()[0]
            .image_config
            .clone()
            .unwrap();
        assert_eq!(image.password.as_deref(), Some("pw"));
        assert_eq!(image.auth.as_deref(), Some("new-auth"));
    }

    #[test]
    fn only_visible_false_hides() {
        assert!(hidden(Some("false")));
        assert!(hidden(Some(" FALSE ")));
        assert!(!hidden(Some("true")));
        assert!(!hidden(None));
    }
}
