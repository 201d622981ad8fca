//! A job and its pods as the service knows them: validated, typed, with their history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::job_type::{JobType, Role};
use crate::monitoring::ErrorMonitoring;
use crate::resources::Resources;
use crate::restart::RestartPolicy;
use crate::status::{JobStatus, PodStatus};
use crate::time::Millis;

/// One role of a job after validation: what each of its pods runs and requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleSpec {
    pub role: Role,
    pub pod_count: u32,
    pub image: String,
    pub resources: Resources,
    /// The role's own `UserCommand` (an SDK 1.11 field); the job's command otherwise.
    pub command: Option<String>,
    /// `ConsiderInSuccessPolicy` (SDK 1.11): when false, the job may succeed while these pods
    /// still run or even fail.
    pub considered_in_success: bool,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Roles whose pods must reach a phase before these start.
    #[serde(default)]
    pub startup_dependencies: Vec<crate::startup::StartupDependency>,
    /// `ResourceConfig.SharedMemory`: the size of each pod's own `/dev/shm` (MiB); `None`: the
    /// host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_memory_mib: Option<u64>,
    /// Elastic training's range for this role (`crate::elastic`); `pod_count` is how many
    /// pods it runs now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elastic: Option<crate::elastic::Elastic>,
    /// Init containers, sidecars and lifecycle hooks of each pod (`ExtraPodSpec`).
    #[serde(
        default,
        skip_serializing_if = "crate::containers::PodExtras::is_empty"
    )]
    pub extras: crate::containers::PodExtras,
    /// `PodLabels` and `PodAnnotations` of each pod.
    #[serde(
        default,
        skip_serializing_if = "crate::containers::PodMetadata::is_empty"
    )]
    pub metadata: crate::containers::PodMetadata,
    /// `ServiceSpec`: the ports its pods serve and the names they answer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<crate::service::Service>,
}

/// When a job reached each milestone (ms since the epoch).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobTimes {
    pub created: Millis,
    pub submitted: Option<Millis>,
    pub running: Option<Millis>,
    pub finished: Option<Millis>,
    pub succeeded: Option<Millis>,
    pub failed: Option<Millis>,
    pub stopped: Option<Millis>,
}

/// Why a job is in its status (`ReasonCode`/`ReasonMessage` on the wire).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub message: String,
}

impl Reason {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Reason {
            code: code.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub job_id: String,
    /// Submission order, assigned by the store (0 until stored): FIFO within a priority.
    pub seq: i64,
    pub display_name: String,
    pub job_type: JobType,
    pub status: JobStatus,
    pub reason: Option<Reason>,
    pub priority: u8,
    pub workspace_id: String,
    pub resource_id: String,
    pub user_id: String,
    pub accessibility: String,
    pub user_command: String,
    pub roles: Vec<RoleSpec>,
    pub envs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub max_running_minutes: Option<u64>,
    /// The CreateJob request as accepted (defaults filled in), echoed back by GetJob.
    pub request: opendlc_api::CreateJobRequest,
    /// One port per pod, in rank order, chosen at admission: the rank-0 pod's is MASTER_PORT;
    /// frameworks that address every pod (TF_CONFIG) use the others. Empty until admitted.
    pub ports: Vec<u16>,
    /// Restarts spent from the job's budget (failures of its own: `RestartTimes`).
    pub restart_count: u32,
    /// Restarts for failures from outside the job (lost pods, kills), from a budget of their
    /// own.
    pub infra_restart_count: u32,
    pub times: JobTimes,
}

impl Job {
    /// What all of the job's pods request together.
    pub fn total_resources(&self) -> Resources {
        self.roles.iter().fold(Resources::default(), |acc, r| {
            acc + r.resources * u64::from(r.pod_count)
        })
    }

    /// The world's range of an elastic job (its pods in all, at the elastic role's minimum
    /// and maximum); `None` for a job of fixed size.
    pub fn elastic_nodes(&self) -> Option<(u32, u32)> {
        let elastic = self.roles.iter().find_map(|r| r.elastic)?;
        let fixed: u32 = self
            .roles
            .iter()
            .filter(|r| r.elastic.is_none())
            .map(|r| r.pod_count)
            .sum();
        Some((fixed + elastic.min, fixed + elastic.max))
    }

    pub fn pod_count(&self) -> u32 {
        self.roles.iter().map(|r| r.pod_count).sum()
    }

    /// Seconds spent running: from GmtRunningTime to the end (or `now` while it runs).
    pub fn duration_secs(&self, now: Millis) -> i64 {
        match self.times.running {
            Some(start) => (self.times.finished.unwrap_or(now) - start).max(0) / 1000,
            None => 0,
        }
    }

    /// What `Settings.ErrorMonitoringArgs` asks for (checked at submission; a job stored by an
    /// older version with flags read differently then gets the defaults).
    pub fn error_monitoring(&self) -> ErrorMonitoring {
        let settings = self.request.settings.as_ref();
        ErrorMonitoring::parse(settings.and_then(|s| s.error_monitoring_args.as_deref()))
            .unwrap_or_default()
    }

    /// Whether PAI's fault-tolerance monitor is asked for (`EnableErrorMonitoringInAIMaster`):
    /// what turns on the monitor's job restarts and hang detections.
    fn monitored(&self) -> bool {
        self.request
            .settings
            .as_ref()
            .and_then(|s| s.enable_error_monitoring_in_ai_master)
            == Some(true)
    }

    /// How many times the job's pods may be restarted (`RestartTimes` "n/max").
    pub fn max_restarts(&self) -> u32 {
        self.error_monitoring().max_restarts
    }

    /// A spot job: a role asks for spot capacity (`SpotSpec.SpotStrategy`, or the deprecated
    /// `UseSpotInstance`). The whole job runs on spare capacity only and is evicted first (its
    /// pods are one gang).
    pub fn is_spot(&self) -> bool {
        self.request.job_specs.iter().flatten().any(|spec| {
            spec.use_spot_instance == Some(true)
                || spec
                    .spot_spec
                    .as_ref()
                    .is_some_and(|spot| spot.spot_strategy.is_some())
        })
    }

    /// `--job-execution-mode=Async`: a failed pod restarts alone.
    pub fn restarts_pods_alone(&self) -> bool {
        self.error_monitoring().async_execution
    }

    /// With hang detection on (`EnableErrorMonitoringInAIMaster` and
    /// `--enable-job-hang-detection` or `--enable-log-hang-detection`): how long the pods may
    /// stay silent.
    pub fn hang_interval_secs(&self) -> Option<u64> {
        self.monitored()
            .then(|| self.error_monitoring().hang_interval)
            .flatten()
    }

    /// With exit hang detection on (`EnableErrorMonitoringInAIMaster` and
    /// `--enable-job-exit-hang-detection`): how long the others may run on once a pod ended.
    pub fn exit_hang_interval_secs(&self) -> Option<u64> {
        self.monitored()
            .then(|| self.error_monitoring().exit_hang_interval)
            .flatten()
    }

    /// The restart policy of `role`'s pods: its JobSpec's, except that the monitor's job
    /// restart (`--enable-job-restart=True`) makes a failure restart the job where it says
    /// Never.
    pub fn restart_policy_of(&self, role: Role) -> RestartPolicy {
        let policy = self
            .roles
            .iter()
            .find(|r| r.role == role)
            .map(|r| r.restart_policy)
            .unwrap_or_default();
        if policy == RestartPolicy::Never && self.monitored() && self.error_monitoring().job_restart
        {
            RestartPolicy::OnFailure
        } else {
            policy
        }
    }

    /// How many bytes the job's working directory may hold: the sum of its pods'
    /// `SystemDisk.Size` (GiB), over the roles that set one; `None` when none does.
    pub fn disk_budget(&self) -> Option<u64> {
        let specs = self.request.job_specs.as_deref().unwrap_or_default();
        let sizes: Vec<u64> = specs
            .iter()
            .filter_map(|spec| {
                let gib = spec.system_disk.as_ref()?.size.filter(|s| *s > 0)?;
                let role = self
                    .roles
                    .iter()
                    .find(|r| spec.r#type.as_deref() == Some(r.role.as_str()))?;
                Some((gib as u64 * u64::from(role.pod_count)) << 30)
            })
            .collect();
        (!sizes.is_empty()).then(|| sizes.iter().sum())
    }

    /// Where the job's pods may run (`AssignNodeSpec`, checked at CreateJob).
    pub fn node_rule(&self) -> crate::placement::NodeRule {
        let specs = self.request.job_specs.as_deref().unwrap_or_default();
        crate::placement::node_rule(specs).unwrap_or_default()
    }

    /// `CredentialConfig.EnableCredentialInject`: its pods get a key of the job's own.
    pub fn injects_credentials(&self) -> bool {
        self.request
            .credential_config
            .as_ref()
            .is_some_and(|c| c.enable_credential_inject == Some(true))
    }

    /// `Settings.EnableCPUAffinity`: each pod pinned to cores of its own.
    pub fn cpu_affinity(&self) -> bool {
        self.request
            .settings
            .as_ref()
            .is_some_and(|s| s.enable_cpu_affinity == Some(true))
    }

    /// `Settings.Shell`: the shell the pods' commands run in, where not /bin/sh.
    pub fn shell(&self) -> Option<&str> {
        self.request
            .settings
            .as_ref()
            .and_then(|s| s.shell.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// The command of `role`'s pods: the role's own (its JobSpec's UserCommand), else the
    /// job's.
    pub fn command_of(&self, role: Role) -> String {
        self.roles
            .iter()
            .find(|r| r.role == role)
            .and_then(|r| r.command.clone())
            .unwrap_or_else(|| self.user_command.clone())
    }

    /// With `Settings.EnableSanityCheck`: the parsed `SanityCheckArgs` (validated at
    /// CreateJob, so an error here falls back to the defaults).
    pub fn sanity_settings(&self) -> Option<crate::sanity::Settings> {
        let settings = self.request.settings.as_ref()?;
        if settings.enable_sanity_check != Some(true) {
            return None;
        }
        Some(
            crate::sanity::parse_args(settings.sanity_check_args.as_deref().unwrap_or(""))
                .unwrap_or_default(),
        )
    }

    pub fn images(&self) -> impl Iterator<Item = &str> {
        self.roles.iter().map(|r| r.image.as_str())
    }
}

/// One incarnation of a pod. A restarted pod gets a new incarnation (new `pod_uid`); the old
/// ones are its `HistoryPods`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pod {
    pub pod_uid: String,
    pub job_id: String,
    pub pod_id: String,
    pub role: Role,
    pub index: u32,
    pub status: PodStatus,
    pub ip: Option<String>,
    pub node_name: Option<String>,
    pub pid: Option<u32>,
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    pub reason: Option<String>,
    pub created: Millis,
    pub started: Option<Millis>,
    pub finished: Option<Millis>,
    /// False for earlier incarnations.
    pub current: bool,
}

impl Pod {
    /// A new incarnation of pod `pod_id` (`role`, `index`) of job `job_id`: Pending, with a
    /// PodUid of its own.
    pub fn pending(job_id: &str, pod_id: String, role: Role, index: u32, now: Millis) -> Pod {
        Pod {
            pod_uid: crate::ids::new_pod_uid(),
            job_id: job_id.to_string(),
            pod_id,
            role,
            index,
            status: PodStatus::Pending,
            ip: None,
            node_name: None,
            pid: None,
            exit_code: None,
            exit_signal: None,
            reason: None,
            created: now,
            started: None,
            finished: None,
            current: true,
        }
    }
}

/// One entry of a job's `StatusHistory`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPeriod {
    pub status: JobStatus,
    pub start: Millis,
    pub end: Option<Millis>,
    pub reason: Option<Reason>,
}

/// A line of GetJobEvents / GetPodEvents.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub time: Millis,
    pub job_id: String,
    pub pod_id: Option<String>,
    pub text: String,
}
