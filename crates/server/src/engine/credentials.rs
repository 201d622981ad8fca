//! A job's own credentials (`CredentialConfig.EnableCredentialInject`): an access key of the
//! job's owner that acts for that job only (it reads the job, its pods' logs and events, its
//! metrics: `auth::job_key_may`), made when its pods are first launched, given to every pod
//! in the variables Alibaba Cloud's SDKs read (`ALIBABA_CLOUD_ACCESS_KEY_ID` and `_SECRET`)
//! with the API's address (`PAI_DLC_ENDPOINT`), and in a credentials file as they read it too
//! (`ALIBABA_CLOUD_CREDENTIALS_FILE`: `<job dir>/credentials`, the job owner's, mode 0600),
//! and revoked when the job takes its final status (the file goes with it). What the key may
//! do beyond reading its job, its CredentialConfig's policies say (`opendlc_core::grants`).
//! The secret is sealed at rest like every key's.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use opendlc_core::env_value::EnvValue;
use opendlc_core::Job;
use opendlc_store::AccessKeyRecord;

use super::apply::Engine;

pub const KEY_ID_ENV: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub const KEY_SECRET_ENV: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
pub const ENDPOINT_ENV: &str = "PAI_DLC_ENDPOINT";
pub const CREDENTIALS_FILE_ENV: &str = "ALIBABA_CLOUD_CREDENTIALS_FILE";
/// The credentials file, in the job's directory.
const CREDENTIALS_FILE: &str = "credentials";

impl Engine {
    /// The variables that give the job's pods its own credentials; none unless it asked.
    pub(super) fn credentials_env(&self, job: &Job) -> BTreeMap<String, EnvValue> {
        if !job.injects_credentials() {
            return BTreeMap::new();
        }
        let key = match self.store.job_key(&job.job_id) {
            Ok(Some(key)) => Some(key),
            Ok(None) => {
                let (access_key_id, secret) = opendlc_core::ids::new_access_key();
                let key = AccessKeyRecord {
                    access_key_id,
                    user_id: job.user_id.clone(),
                    secret,
                    created: self.clock.now(),
                    revoked: None,
                    job_id: Some(job.job_id.clone()),
                };
                match self.store.put_access_key(&key) {
                    Ok(()) => Some(key),
                    Err(e) => {
                        tracing::error!(job.id = %job.job_id, "failed to make the job's key: {e}");
                        None
                    }
                }
            }
            Err(e) => {
                tracing::error!(job.id = %job.job_id, "failed to read the job's key: {e}");
                None
            }
        };
        let Some(key) = key else {
            return BTreeMap::new();
        };
        let mut env = BTreeMap::new();
        if let Some(file) = self.write_credentials_file(job, &key) {
            env.insert(
                CREDENTIALS_FILE_ENV.to_string(),
                file.display().to_string().into(),
            );
        }
        env.extend([
            (KEY_ID_ENV.to_string(), key.access_key_id.into()),
            (KEY_SECRET_ENV.to_string(), key.secret.into()),
            (ENDPOINT_ENV.to_string(), self.api_url.clone().into()),
        ]);
        env
    }

    /// The key in the ini file Alibaba Cloud's credential providers read (profile `default`),
    /// readable by the job's owner only; `None` if it could not be written.
    fn write_credentials_file(&self, job: &Job, key: &AccessKeyRecord) -> Option<PathBuf> {
        let path = self.jobs_dir.job(&job.job_id).join(CREDENTIALS_FILE);
        let text = format!(
            "[default]\ntype = access_key\naccess_key_id = {}\naccess_key_secret = {}\n",
            key.access_key_id, key.secret
        );
        let written = (|| {
            std::fs::create_dir_all(self.jobs_dir.job(&job.job_id))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(text.as_bytes())?;
            if let Some(isolation) = &self.isolation {
                let (uid, gid) = isolation.identity_of(&self.store, &job.user_id);
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
            }
            Ok::<_, std::io::Error>(())
        })();
        match written {
            Ok(()) => Some(path),
            Err(e) => {
                tracing::error!(job.id = %job.job_id, "failed to write {}: {e}", path.display());
                None
            }
        }
    }

    /// The job's own keys end with it, and their file.
    pub(super) fn revoke_credentials(&self, job: &Job) {
        if !job.injects_credentials() {
            return;
        }
        if let Err(e) = self.store.revoke_job_keys(&job.job_id, self.clock.now()) {
            tracing::error!(job.id = %job.job_id, "failed to revoke the job's own keys: {e}");
        }
        let path = self.jobs_dir.job(&job.job_id).join(CREDENTIALS_FILE);
        if let Err(e) = std::fs::remove_file(&path) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(job.id = %job.job_id, "failed to remove {}: {e}", path.display());
            }
        }
    }
}
