//! Domain → wire: what GetJob and ListJobs say about a job. Write-only values (registry
//! passwords, credential keys, hidden CustomEnvs) are shown as `******`
//! (`opendlc_core::secrets`), whoever asks.

use opendlc_api::{
    GetJobResponseBody, GetJobResponseBodyPods, GetJobResponseBodyPodsHistoryPods,
    GetJobResponseBodyRestartRecord, GetJobResponseBodyRestartRecordDetailErrorInfoList, JobItem,
    JobReplicaStatus, JobSettings, PodNetworkInterface, ResourceConfig, StatusTransitionItem,
};
use opendlc_core::env_contract::plan_job;
use opendlc_core::secrets;
use opendlc_core::status::PodStatus;
use opendlc_core::time::{format_wire, now_millis, Millis};
use opendlc_core::{Job, JobStatus, Pod, StatusPeriod};
use opendlc_store::{Restart, RestartLevel, Store, StoreError};
use std::collections::{BTreeMap, HashMap};

fn wire_time(ms: Option<Millis>) -> Option<String> {
    ms.map(format_wire)
}

fn pod_duration(pod: &Pod, now: Millis) -> f64 {
    pod.started.map_or(0.0, |start| {
        (pod.finished.unwrap_or(now) - start).max(0) as f64 / 1000.0
    })
}

/// A pod's SubStatus: `Normal`; `Evicted` when it was stopped for its disk use; or the
/// Kubernetes reason its image could not be had (`ImagePullBackOff`), which PAI's tooling
/// watches for.
fn sub_status(pod: &Pod) -> &'static str {
    if pod
        .reason
        .as_deref()
        .is_some_and(|r| r.starts_with(crate::engine::EVICTED))
    {
        return crate::engine::EVICTED;
    }
    let pull_failed = pod
        .reason
        .as_deref()
        .is_some_and(|r| r.contains(opendlc_runtime::IMAGE_PULL_BACK_OFF));
    if pull_failed {
        opendlc_runtime::IMAGE_PULL_BACK_OFF
    } else {
        "Normal"
    }
}

fn pod_view(
    pod: &Pod,
    history: Vec<GetJobResponseBodyPodsHistoryPods>,
    now: Millis,
) -> GetJobResponseBodyPods {
    GetJobResponseBodyPods {
        r#type: Some(pod.role.to_string()),
        pod_id: Some(pod.pod_id.clone()),
        pod_uid: Some(pod.pod_uid.clone()),
        status: Some(pod.status.to_string()),
        sub_status: Some(sub_status(pod).into()),
        ip: pod.ip.clone(),
        pod_ips: pod.ip.as_ref().map(|ip| {
            vec![PodNetworkInterface {
                // The local runtime's pods share the host's loopback; elsewhere the node's.
                interface_name: (ip == "127.0.0.1").then(|| "lo".to_string()),
                ip: Some(ip.clone()),
            }]
        }),
        node_name: pod.node_name.clone(),
        resource_type: Some("ECS".into()),
        gmt_create_time: wire_time(Some(pod.created)),
        gmt_start_time: wire_time(pod.started),
        gmt_finish_time: wire_time(pod.finished),
        duration: Some(pod_duration(pod, now)),
        history_pods: Some(history),
        ..Default::default()
    }
}

/// An earlier incarnation: the same fields, under the SDK's other model name.
fn history_pod_view(pod: &Pod, now: Millis) -> GetJobResponseBodyPodsHistoryPods {
    convert(&pod_view(pod, Vec::new(), now))
}

/// The current incarnation of each pod, with its earlier ones as HistoryPods.
pub fn pods_view(pods: &[Pod]) -> Vec<GetJobResponseBodyPods> {
    let now = now_millis();
    pods.iter()
        .filter(|p| p.current)
        .map(|current| {
            let history = pods
                .iter()
                .filter(|p| !p.current && p.pod_id == current.pod_id)
                .map(|p| history_pod_view(p, now))
                .collect();
            pod_view(current, history, now)
        })
        .collect()
}

pub fn status_history_view(history: &[StatusPeriod]) -> Vec<StatusTransitionItem> {
    history
        .iter()
        .map(|h| StatusTransitionItem {
            status: Some(h.status.to_string()),
            start_time: wire_time(Some(h.start)),
            end_time: wire_time(h.end),
            reason_code: h.reason.as_ref().map(|r| r.code.clone()),
            reason_message: h.reason.as_ref().map(|r| r.message.clone()),
        })
        .collect()
}

fn settings(job: &Job) -> JobSettings {
    let mut settings = job.request.settings.clone().unwrap_or_default();
    settings.tags = Some(job.tags.clone());
    settings
}

/// User and workspace names, for the views that show them beside their ids.
#[derive(Debug, Default)]
pub struct Names {
    users: HashMap<String, String>,
    workspaces: HashMap<String, String>,
}

impl Names {
    /// The name of one job's workspace: all GetJob shows (it has no `Username`).
    pub fn for_job(store: &Store, job: &Job) -> Result<Names, StoreError> {
        let mut names = Names::default();
        if let Some(name) = store.workspace_name(&job.workspace_id)? {
            names.workspaces.insert(job.workspace_id.clone(), name);
        }
        Ok(names)
    }

    /// Every user's and workspace's name (both tables stay small).
    pub fn load(store: &Store) -> Result<Names, StoreError> {
        Ok(Names {
            users: store
                .users()?
                .into_iter()
                .map(|u| (u.user_id, u.name))
                .collect(),
            workspaces: store
                .workspaces()?
                .into_iter()
                .map(|w| (w.workspace_id, w.name))
                .collect(),
        })
    }

    pub fn user(&self, user_id: &str) -> Option<String> {
        self.users.get(user_id).cloned()
    }

    /// The workspace's name; its id when it is unknown (jobs of a deleted workspace).
    pub fn workspace(&self, workspace_id: &str) -> String {
        self.workspaces
            .get(workspace_id)
            .cloned()
            .unwrap_or_else(|| workspace_id.to_string())
    }
}

pub fn job_view(
    job: &Job,
    pods: &[Pod],
    history: &[StatusPeriod],
    restarts: &[Restart],
    request_id: &str,
    names: &Names,
    cluster_id: &str,
) -> GetJobResponseBody {
    let job = &secrets::redacted(job);
    let r = &job.request;
    let total = job.total_resources();
    GetJobResponseBody {
        request_id: Some(request_id.to_string()),
        job_id: Some(job.job_id.clone()),
        job_type: Some(job.job_type.to_string()),
        display_name: Some(job.display_name.clone()),
        description: r.description.clone(),
        user_id: Some(job.user_id.clone()),
        status: Some(job.status.to_string()),
        sub_status: None,
        reason_code: job.reason.as_ref().map(|r| r.code.clone()),
        reason_message: job.reason.as_ref().map(|r| r.message.clone()),
        workspace_id: Some(job.workspace_id.clone()),
        workspace_name: Some(names.workspace(&job.workspace_id)),
        resource_id: Some(job.resource_id.clone()),
        resource_type: Some("ECS".into()),
        resource_level: Some("L0".into()),
        cluster_id: Some(cluster_id.to_string()),
        job_specs: r.job_specs.clone(),
        user_command: Some(job.user_command.clone()),
        envs: Some(job.envs.clone()),
        thirdparty_libs: r.thirdparty_libs.clone(),
        thirdparty_lib_dir: r.thirdparty_lib_dir.clone(),
        data_sources: r.data_sources.as_ref().map(convert),
        code_source: r.code_source.as_ref().map(convert),
        user_vpc: r.user_vpc.as_ref().map(convert),
        custom_envs: r.custom_envs.as_ref().map(convert),
        credential_config: r.credential_config.clone(),
        elastic_spec: elastic_spec(job),
        scheduling_strategy: r.scheduling_strategy.clone(),
        settings: Some(settings(job)),
        accessibility: Some(job.accessibility.clone()),
        priority: Some(i64::from(job.priority)),
        gmt_create_time: wire_time(Some(job.times.created)),
        gmt_submitted_time: wire_time(job.times.submitted),
        gmt_running_time: wire_time(job.times.running),
        gmt_finish_time: wire_time(job.times.finished),
        gmt_successed_time: wire_time(job.times.succeeded),
        gmt_failed_time: wire_time(job.times.failed),
        gmt_stopped_time: wire_time(job.times.stopped),
        duration: Some(job.duration_secs(now_millis())),
        restart_times: Some(restart_times(job)),
        request_cpu: Some((total.cpu_milli / 1000) as i64),
        request_gpu: Some(f64::from(total.gpu)),
        request_memory: Some(total.memory_mib as f64 / 1024.0),
        enabled_debugger: Some(false),
        job_replica_statuses: (!pods.is_empty()).then(|| replica_statuses(job, pods)),
        role_system_envs: (!pods.is_empty()).then(|| role_system_envs(job, pods)),
        pods: Some(pods_view(pods)),
        restart_record: Some(restart_record_view(job, restarts, history, pods)),
        status_history: Some(status_history_view(history)),
        ..Default::default()
    }
}

/// Per role: its pods (`EstimatedPodCount`), how many run (`Active`), how many wait to start
/// (`Queuing`) and how many have left the queue (`Dequeued`), and what each asks for.
fn replica_statuses(job: &Job, pods: &[Pod]) -> Vec<JobReplicaStatus> {
    job.roles
        .iter()
        .map(|role| {
            let current = pods.iter().filter(|p| p.current && p.role == role.role);
            let count = |keep: fn(&PodStatus) -> bool| {
                current.clone().filter(|p| keep(&p.status)).count() as i64
            };
            let queuing = count(|s| *s == PodStatus::Pending);
            let r = role.resources;
            JobReplicaStatus {
                r#type: Some(role.role.to_string()),
                active: Some(count(|s| *s == PodStatus::Running)),
                // An elastic role's target: how many pods it aims for (Active: how many run).
                estimated_pod_count: Some(i64::from(
                    role.elastic.map_or(role.pod_count, |e| e.target),
                )),
                estimated_resource_config: Some(ResourceConfig {
                    cpu: Some(opendlc_core::resources::format_cpu(r.cpu_milli)),
                    memory: Some(opendlc_core::resources::format_memory(r.memory_mib)),
                    gpu: Some(r.gpu.to_string()),
                    ..Default::default()
                }),
                queuing: Some(queuing),
                dequeued: Some(current.count() as i64 - queuing),
                ..Default::default()
            }
        })
        .collect()
}

/// Per role (its JobSpec's Type): the system environment every pod of the role gets alike
/// (the env contract: MASTER_ADDR, WORLD_SIZE, TF_CONFIG's cluster, …; per-pod ones such as
/// RANK are left out), addresses as the pods were placed.
fn role_system_envs(job: &Job, pods: &[Pod]) -> BTreeMap<String, serde_json::Value> {
    let ip_of = |pod_id: &str| {
        pods.iter()
            .find(|p| p.current && p.pod_id == pod_id)
            .and_then(|p| p.ip.clone())
            .unwrap_or_default()
    };
    let plans = plan_job(job);
    let mut out = BTreeMap::new();
    for role in &job.roles {
        let mut role_plans = plans.iter().filter(|p| p.role == role.role);
        let Some(first) = role_plans.next() else {
            continue;
        };
        let mut common: BTreeMap<String, String> = first
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.resolve(ip_of)))
            .collect();
        for plan in role_plans {
            common.retain(|k, v| plan.env.get(k).map(|e| e.resolve(ip_of)).as_ref() == Some(v));
        }
        out.insert(
            role.role.to_string(),
            serde_json::to_value(common).unwrap_or_default(),
        );
    }
    out
}

/// The request's ElasticSpec, with the range the job runs in (also when an AutoScalingSpec
/// gave it).
fn elastic_spec(job: &Job) -> Option<opendlc_api::JobElasticSpec> {
    let Some(elastic) = job.roles.iter().find_map(|r| r.elastic) else {
        return job.request.elastic_spec.clone();
    };
    let mut spec = job.request.elastic_spec.clone().unwrap_or_default();
    spec.enable_elastic_training = Some(true);
    spec.min_parallelism = Some(i64::from(elastic.min));
    spec.max_parallelism = Some(i64::from(elastic.max));
    Some(spec)
}

/// `"used/max"`, as PAI writes it.
fn restart_times(job: &Job) -> String {
    format!("{}/{}", job.restart_count, job.max_restarts())
}

/// One record per restart, as the store has them, each with how it went: for the whole job,
/// whether it ran again (its next Running period) before the next restart; for one pod, whether
/// its next incarnation started.
fn restart_record_view(
    job: &Job,
    restarts: &[Restart],
    history: &[StatusPeriod],
    pods: &[Pod],
) -> Vec<GetJobResponseBodyRestartRecord> {
    restarts
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let next = restarts.get(i + 1).map(|next| next.time);
            let resumed = match r.level {
                RestartLevel::Job => history
                    .iter()
                    .find(|h| {
                        h.status == JobStatus::Running
                            && h.start >= r.time
                            && next.is_none_or(|next| h.start <= next)
                    })
                    .map(|h| Some(h.start)),
                RestartLevel::Pod => pods
                    .iter()
                    .filter(|p| Some(&p.pod_id) == r.pod_id.as_ref() && p.created >= r.time)
                    .min_by_key(|p| p.created)
                    .filter(|p| p.started.is_some() || p.status.is_terminal())
                    .map(|p| p.started),
            };
            let given_up = next.is_some() || job.status.is_terminal();
            let (status, resumed_at) = match resumed {
                Some(Some(at)) => ("Succeeded", Some(at)),
                Some(None) => ("Failed", None),
                None if given_up => ("Failed", None),
                None => ("Restarting", None),
            };
            let detail = r
                .cause
                .map(|cause| GetJobResponseBodyRestartRecordDetailErrorInfoList {
                    error_code: Some(cause.code().into()),
                    error_msg: Some(cause.to_string()),
                    detail_error_msg: Some(r.message.clone()),
                    error_source: Some(cause.source().to_string()),
                    node: r.node.clone(),
                    pod: r.pod_id.clone(),
                    trigger_restart: Some(true),
                    add_node_to_blacklist: Some(r.excluded),
                    add_job_level_blacklist: Some(false),
                });
            GetJobResponseBodyRestartRecord {
                job_restart_count: Some(i64::from(r.n)),
                occur_phase: Some("Running".into()),
                occur_time: wire_time(Some(r.time)),
                reason: Some(r.message.clone()),
                restart_duration_in_sec: resumed_at.map(|at| (at - r.time) / 1000),
                restart_status: Some(status.into()),
                restart_level_type: Some(r.level.as_str().into()),
                trigger_id: r.pod_id.clone(),
                detail_error_info_list: detail.map(|d| vec![d]),
                ..Default::default()
            }
        })
        .collect()
}

/// A ListJobs entry: the job without its pods' details.
pub fn job_item(job: &Job, names: &Names, cluster_id: &str) -> JobItem {
    let job = &secrets::redacted(job);
    let r = &job.request;
    let total = job.total_resources();
    JobItem {
        job_id: Some(job.job_id.clone()),
        job_type: Some(job.job_type.to_string()),
        display_name: Some(job.display_name.clone()),
        user_id: Some(job.user_id.clone()),
        username: names.user(&job.user_id),
        status: Some(job.status.to_string()),
        reason_code: job.reason.as_ref().map(|r| r.code.clone()),
        reason_message: job.reason.as_ref().map(|r| r.message.clone()),
        workspace_id: Some(job.workspace_id.clone()),
        workspace_name: Some(names.workspace(&job.workspace_id)),
        resource_id: Some(job.resource_id.clone()),
        resource_type: Some("ECS".into()),
        resource_level: Some("L0".into()),
        cluster_id: Some(cluster_id.to_string()),
        job_specs: r.job_specs.clone(),
        data_sources: r.data_sources.as_ref().map(convert),
        code_source: r.code_source.as_ref().map(convert),
        user_vpc: r.user_vpc.as_ref().map(convert),
        credential_config: r.credential_config.clone(),
        elastic_spec: r.elastic_spec.as_ref().map(convert),
        scheduling_strategy: r.scheduling_strategy.clone(),
        user_command: Some(job.user_command.clone()),
        envs: Some(job.envs.clone()),
        thirdparty_libs: r.thirdparty_libs.clone(),
        thirdparty_lib_dir: r.thirdparty_lib_dir.clone(),
        settings: Some(settings(job)),
        accessibility: Some(job.accessibility.clone()),
        priority: Some(i64::from(job.priority)),
        job_max_running_time_minutes: job.max_running_minutes.map(|m| m as i64),
        gmt_create_time: wire_time(Some(job.times.created)),
        gmt_submitted_time: wire_time(job.times.submitted),
        gmt_running_time: wire_time(job.times.running),
        gmt_finish_time: wire_time(job.times.finished),
        gmt_successed_time: wire_time(job.times.succeeded),
        gmt_failed_time: wire_time(job.times.failed),
        gmt_stopped_time: wire_time(job.times.stopped),
        duration: Some(job.duration_secs(now_millis())),
        restart_times: Some(restart_times(job)),
        request_cpu: Some((total.cpu_milli / 1000) as i64),
        request_gpu: Some(total.gpu.to_string()),
        request_memory: Some(opendlc_core::resources::format_memory(total.memory_mib)),
        node_count: Some(job.pod_count().to_string()),
        enabled_debugger: Some(false),
        is_deleted: Some(false),
        ..Default::default()
    }
}

/// The request's and the response's nested models have the same fields under different names;
/// JSON bridges them.
fn convert<From: serde::Serialize, To: serde::de::DeserializeOwned + Default>(value: &From) -> To {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}
