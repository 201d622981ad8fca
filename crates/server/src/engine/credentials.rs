//! A job's own credentials (`CredentialConfig.EnableCredentialInject`): an access key of the
//! job's owner that acts for that job only (it reads the job, its pods' logs and events, its
//! metrics: `auth::job_key_may`), made when its pods are first launched, given to every pod
//! in the variables Alibaba Cloud's SDKs read (`ALIBABA_CLOUD_ACCESS_KEY_ID` and `_SECRET`)
//! with the API's address (`PAI_DLC_ENDPOINT`), and revoked when the job takes its final
//! status. The secret is sealed at rest like every key's.

use std::collections::BTreeMap;

use opendlc_core::env_value::EnvValue;
use opendlc_core::Job;
use opendlc_store::AccessKeyRecord;

use super::apply::Engine;

pub const KEY_ID_ENV: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub const KEY_SECRET_ENV: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
pub const ENDPOINT_ENV: &str = "PAI_DLC_ENDPOINT";

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
        BTreeMap::from([
            (KEY_ID_ENV.to_string(), key.access_key_id.into()),
            (KEY_SECRET_ENV.to_string(), key.secret.into()),
            (ENDPOINT_ENV.to_string(), self.api_url.clone().into()),
        ])
    }
}
