//! CreateJob and UpdateJob requests, validated into a [`Job`]: every field checked against the
//! spec and PAI-DLC's documented rules, each error naming the field and the rule.

use std::collections::BTreeMap;

use opendlc_api::{CreateJobRequest, JobSpec, UpdateJobRequest};

use crate::catalog;
use crate::containers::{PodExtras, PodMetadata};
use crate::error::Invalid;
use crate::identity::DEFAULT_WORKSPACE_ID;
use crate::job::{Job, JobTimes, RoleSpec};
use crate::job_type::{JobType, Role};
use crate::prices::Prices;
use crate::ranges::{check_numbers, MAX_RUNNING_MINUTES};
use crate::resources::{parse_cpu, parse_gpu, parse_memory, Resources};
use crate::restart::RestartPolicy;
use crate::service::Service;
use crate::startup::{Phase, StartupDependency};
use crate::status::JobStatus;
use crate::time::Millis;

/// What a pod requests when its JobSpec names neither an EcsSpec nor a ResourceConfig.
pub const DEFAULT_POD_RESOURCES: Resources = Resources {
    cpu_milli: 1000,
    memory_mib: 2048,
    gpu: 0,
};
const MAX_DISPLAY_NAME: usize = 256;

/// Who submits, and what the server can offer.
pub struct SubmitContext<'a> {
    pub job_id: String,
    pub user_id: &'a str,
    pub now: Millis,
    /// The largest pool a job may ever use; a job that needs more is refused at once.
    pub pool: Resources,
    /// The resource quotas (`ResourceId` → limits) configured on the server.
    pub quotas: &'a BTreeMap<String, Resources>,
    /// The names of the pool's GPU models, which GPUType is matched against.
    pub gpu_types: &'a [String],
    /// Whether the server runs pods on Slurm, where a SlurmJob has a meaning.
    pub on_slurm: bool,
    /// What capacity costs here, if the administrator said: spot limits are checked against it.
    pub prices: Option<&'a Prices>,
}

pub fn validate_create(req: &CreateJobRequest, ctx: &SubmitContext<'_>) -> Result<Job, Invalid> {
    let display_name = required(&req.display_name, "DisplayName")?;
    check_display_name(display_name)?;
    let job_type: JobType = required(&req.job_type, "JobType")?
        .parse()
        .map_err(|e| Invalid::value("JobType", format!("{e} (case-sensitive)")))?;
    job_type.framework().check_runtime(ctx.on_slurm)?;
    let specs = req.job_specs.as_deref().unwrap_or_default();
    if specs.is_empty() {
        return Err(Invalid::missing("JobSpecs"));
    }
    let mut roles = validate_roles(job_type, specs)?;
    crate::elastic::apply(req, job_type, &mut roles)?;
    crate::grants::Grants::of(req)?;
    let user_command = req
        .user_command
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    if user_command.is_empty() && roles.iter().any(|r| r.command.is_none()) {
        return Err(Invalid::missing("UserCommand"));
    }
    let priority = validate_priority(req.priority)?;
    let accessibility = validate_accessibility(req.accessibility.as_deref())?;
    let max_running_minutes = match req.job_max_running_time_minutes {
        None | Some(0) => None,
        Some(m @ 1..=MAX_RUNNING_MINUTES) => Some(m as u64),
        Some(m) if m > 0 => {
            return Err(Invalid::value(
                "JobMaxRunningTimeMinutes",
                format!("must be at most {MAX_RUNNING_MINUTES} (ten years), got {m}"),
            ))
        }
        Some(m) => {
            return Err(Invalid::value(
                "JobMaxRunningTimeMinutes",
                format!("must be at least 1 (0 or absent means no limit), got {m}"),
            ))
        }
    };
    if let Some(policy) = req.success_policy.as_deref().filter(|p| !p.is_empty()) {
        if !["ChiefWorker", "AllWorkers"].contains(&policy) {
            return Err(Invalid::value(
                "SuccessPolicy",
                format!("must be ChiefWorker or AllWorkers, got \"{policy}\""),
            ));
        }
    }
    apply_success_policy(req.success_policy.as_deref(), specs, &mut roles);
    let resource_id = req
        .resource_id
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    let quota = if resource_id.is_empty() {
        None
    } else {
        let limit = ctx.quotas.get(resource_id).ok_or_else(|| {
            let known: Vec<&str> = ctx.quotas.keys().map(String::as_str).collect();
            let known = if known.is_empty() {
                "none is configured".to_string()
            } else {
                format!("configured: {}", known.join(", "))
            };
            Invalid::value(
                "ResourceId",
                format!("no resource quota \"{resource_id}\" on this server ({known}); leave it empty for the public pool"),
            )
        })?;
        Some((resource_id, *limit))
    };
    let envs = validate_envs(req)?;
    validate_settings_args(req)?;
    crate::reservation::validate(req.settings.as_ref())?;
    job_type.framework().validate(req, &roles)?;
    crate::sources::validate(req)?;
    check_numbers(&serde_json::to_value(req).unwrap_or_default())?;
    let job = Job {
        job_id: ctx.job_id.clone(),
        seq: 0,
        display_name: display_name.to_string(),
        job_type,
        status: JobStatus::Creating,
        reason: None,
        priority,
        workspace_id: req
            .workspace_id
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| DEFAULT_WORKSPACE_ID.to_string()),
        resource_id: resource_id.to_string(),
        user_id: ctx.user_id.to_string(),
        accessibility,
        user_command: user_command.to_string(),
        roles,
        envs,
        tags: req
            .settings
            .as_ref()
            .and_then(|s| s.tags.clone())
            .unwrap_or_default(),
        max_running_minutes,
        request: normalized(req, priority),
        ports: Vec::new(),
        restart_count: 0,
        infra_restart_count: 0,
        times: JobTimes {
            created: ctx.now,
            ..JobTimes::default()
        },
    };
    check_fits(&job, ctx.pool, "the whole pool")?;
    check_gpu_types(specs, &job.roles, ctx.gpu_types)?;
    if let Some((id, limit)) = quota {
        check_fits(&job, limit, &format!("quota {id}"))?;
    }
    check_spot_prices(specs, &job.roles, ctx.prices)?;
    Ok(job)
}

/// Applies an UpdateJob body to a job. Whether the job's status allows it is the engine's call;
/// returns whether the JobSpecs changed.
pub fn apply_update(
    job: &mut Job,
    req: &UpdateJobRequest,
    pool: Resources,
    quotas: &BTreeMap<String, Resources>,
    gpu_types: &[String],
    prices: Option<&Prices>,
) -> Result<bool, Invalid> {
    if let Some(priority) = req.priority {
        job.priority = validate_priority(Some(priority))?;
        job.request.priority = Some(i64::from(job.priority));
    }
    // An empty value changes nothing (as an absent one).
    if let Some(accessibility) = req.accessibility.as_deref().filter(|a| !a.is_empty()) {
        job.accessibility = validate_accessibility(Some(accessibility))?;
        job.request.accessibility = Some(job.accessibility.clone());
    }
    if let Some(description) = &req.description {
        job.request.description = Some(description.clone());
    }
    check_numbers(&serde_json::to_value(req).unwrap_or_default())?;
    let mut specs_changed = false;
    if let Some(command) = req
        .user_command
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        job.user_command = command.to_string();
        job.request.user_command = Some(job.user_command.clone());
        specs_changed = true;
    }
    if let Some(specs) = req.job_specs.as_deref().filter(|s| !s.is_empty()) {
        job.roles = validate_roles(job.job_type, specs)?;
        let mut elastic_req = job.request.clone();
        elastic_req.job_specs = Some(specs.to_vec());
        crate::elastic::apply(&elastic_req, job.job_type, &mut job.roles)?;
        apply_success_policy(job.request.success_policy.as_deref(), specs, &mut job.roles);
        job.request.job_specs = Some(specs.to_vec());
        // The same rules as at creation: the job type's, the sources', the pool's and the
        // job's quota's.
        crate::sources::validate(&job.request)?;
        job.job_type
            .framework()
            .validate(&job.request, &job.roles)?;
        check_fits(job, pool, "the whole pool")?;
        check_gpu_types(specs, &job.roles, gpu_types)?;
        if let Some(limit) = quotas.get(&job.resource_id) {
            check_fits(job, *limit, &format!("quota {}", job.resource_id))?;
        }
        check_spot_prices(specs, &job.roles, prices)?;
        specs_changed = true;
    }
    Ok(specs_changed)
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, Invalid> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| Invalid::missing(field))
}

fn check_display_name(name: &str) -> Result<(), Invalid> {
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(Invalid::value(
            "DisplayName",
            format!("must be at most {MAX_DISPLAY_NAME} characters"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(Invalid::value(
            "DisplayName",
            format!("may contain only letters, digits, '_', '.' and '-'; found {bad:?}"),
        ));
    }
    Ok(())
}

fn validate_priority(priority: Option<i64>) -> Result<u8, Invalid> {
    match priority {
        None => Ok(1),
        Some(p @ 1..=9) => Ok(p as u8),
        Some(p) => Err(Invalid::value(
            "Priority",
            format!("must be between 1 and 9, got {p}"),
        )),
    }
}

/// The flag strings of `Settings` (SanityCheckArgs, ErrorMonitoringArgs): unknown flags and
/// bad values are refused, naming them.
fn validate_settings_args(req: &CreateJobRequest) -> Result<(), Invalid> {
    let Some(settings) = req.settings.as_ref() else {
        return Ok(());
    };
    if let Some(args) = settings.sanity_check_args.as_deref() {
        crate::sanity::parse_args(args)
            .map_err(|e| Invalid::value("Settings.SanityCheckArgs", e.to_string()))?;
    }
    crate::monitoring::ErrorMonitoring::parse(settings.error_monitoring_args.as_deref())
        .map_err(|e| Invalid::value("Settings.ErrorMonitoringArgs", e))?;
    if let Some(shell) = settings
        .shell
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let program = shell.starts_with('/')
            && shell.len() <= 256
            && shell
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b));
        if !program {
            return Err(Invalid::value(
                "Settings.Shell",
                format!("must be the absolute path of a shell, such as /bin/bash, got \"{shell}\""),
            ));
        }
    }
    Ok(())
}

fn validate_accessibility(value: Option<&str>) -> Result<String, Invalid> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok("PRIVATE".to_string()),
        Some(v @ ("PUBLIC" | "PRIVATE")) => Ok(v.to_string()),
        Some(v) => Err(Invalid::value(
            "Accessibility",
            format!("must be PUBLIC or PRIVATE, got \"{v}\""),
        )),
    }
}

/// The largest `SystemDisk.Size` (GiB): 64 TiB.
const MAX_SYSTEM_DISK_GIB: i64 = 65_536;

pub(crate) fn validate_roles(
    job_type: JobType,
    specs: &[JobSpec],
) -> Result<Vec<RoleSpec>, Invalid> {
    let framework = job_type.framework();
    let mut roles: Vec<RoleSpec> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let field = |name: &str| format!("JobSpecs[{i}].{name}");
        let role_name = spec
            .r#type
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Invalid::missing(field("Type")))?;
        let role = job_type.check_role(role_name).map_err(|e| {
            Invalid::value(
                field("Type"),
                format!("a {job_type} has no role \"{role_name}\"; it {e}"),
            )
        })?;
        let rule = framework.rule(role).expect("a role the job type has");
        if roles.iter().any(|r| r.role == role) {
            return Err(Invalid::value(
                field("Type"),
                format!("role {role} is given twice"),
            ));
        }
        let pod_count = match spec.pod_count {
            None => 1,
            Some(n @ 1..=10_000) => n as u32,
            Some(n) => {
                return Err(Invalid::value(
                    field("PodCount"),
                    format!("must be between 1 and 10000, got {n}"),
                ))
            }
        };
        if rule.single && pod_count != 1 {
            return Err(Invalid::value(
                field("PodCount"),
                format!("a {job_type} has exactly one {role}, got {pod_count}"),
            ));
        }
        let restart_policy = match spec.restart_policy.as_deref().filter(|p| !p.is_empty()) {
            None => RestartPolicy::default(),
            Some(policy) => policy.parse().map_err(|e| {
                Invalid::value(field("RestartPolicy"), format!("{e}, got \"{policy}\""))
            })?,
        };
        let resources = pod_resources(spec, &field)?;
        let shared_memory_mib = shared_memory(spec, &resources, &field)?;
        if let Some(size) = spec.system_disk.as_ref().and_then(|d| d.size) {
            if !(0..=MAX_SYSTEM_DISK_GIB).contains(&size) {
                return Err(Invalid::value(
                    field("SystemDisk.Size"),
                    format!("must be between 0 and {MAX_SYSTEM_DISK_GIB} (GiB), got {size}"),
                ));
            }
        }
        roles.push(RoleSpec {
            role,
            pod_count,
            image: spec.image.clone().unwrap_or_default(),
            resources,
            shared_memory_mib,
            command: spec
                .user_command
                .as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from),
            considered_in_success: spec
                .consider_in_success_policy
                .unwrap_or(rule.decides_success),
            restart_policy,
            startup_dependencies: Vec::new(),
            elastic: None,
            extras: PodExtras::from_spec(spec.extra_pod_spec.as_ref(), &field("ExtraPodSpec"))?,
            metadata: PodMetadata::from_spec(spec.extra_pod_spec.as_ref(), &field("ExtraPodSpec"))?,
            service: spec
                .service_spec
                .as_ref()
                .map(|s| Service::from_spec(s, i))
                .transpose()?,
        });
    }
    for (i, spec) in specs.iter().enumerate() {
        roles[i].startup_dependencies = startup_dependencies(i, spec, &roles)?;
    }
    check_no_cycle(&roles)?;
    check_required_role(job_type, &roles)?;
    check_one_chief(specs)?;
    check_spot(specs)?;
    crate::placement::node_rule(specs)?;
    Ok(roles)
}

/// `SpotSpec`: the one strategy PAI has, and one price limit at most (its docs: "choose one").
fn check_spot(specs: &[JobSpec]) -> Result<(), Invalid> {
    for (i, spec) in specs.iter().enumerate() {
        let Some(spot) = &spec.spot_spec else {
            continue;
        };
        let field = |name: &str| format!("JobSpecs[{i}].SpotSpec.{name}");
        let limits = spot.spot_discount_limit.is_some() || spot.spot_price_limit.is_some();
        match spot.spot_strategy.as_deref() {
            Some(SPOT_WITH_PRICE_LIMIT) => {}
            None if !limits => {}
            None => {
                return Err(Invalid::value(
                    field("SpotStrategy"),
                    format!("is required with a price limit: {SPOT_WITH_PRICE_LIMIT}"),
                ))
            }
            Some(other) => {
                return Err(Invalid::value(
                    field("SpotStrategy"),
                    format!("must be {SPOT_WITH_PRICE_LIMIT}, got \"{other}\""),
                ))
            }
        }
        if spot.spot_discount_limit.is_some() && spot.spot_price_limit.is_some() {
            return Err(Invalid::value(
                field("SpotPriceLimit"),
                "set SpotDiscountLimit or SpotPriceLimit, not both",
            ));
        }
    }
    Ok(())
}

/// The roles the job type requires (an MPIJob's Launcher runs `mpirun`, a RayJob's Head the
/// Ray head, then the submission) must be there.
fn check_required_role(job_type: JobType, roles: &[RoleSpec]) -> Result<(), Invalid> {
    let framework = job_type.framework();
    let required = framework.roles().iter().filter(|rule| rule.required);
    match required
        .map(|rule| rule.role)
        .find(|role| !roles.iter().any(|r| r.role == *role))
    {
        None => Ok(()),
        Some(missing) => Err(Invalid::value(
            "JobSpecs",
            format!("a {job_type} needs one {missing} (it runs the UserCommand)"),
        )),
    }
}

fn startup_dependencies(
    i: usize,
    spec: &JobSpec,
    roles: &[RoleSpec],
) -> Result<Vec<StartupDependency>, Invalid> {
    let mut dependencies = Vec::new();
    for (j, dep) in spec.startup_dependencies.iter().flatten().enumerate() {
        let field = |name: &str| format!("JobSpecs[{i}].StartupDependencies[{j}].{name}");
        let role_name = dep
            .r#type
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Invalid::missing(field("Type")))?;
        let Some(target) = roles.iter().find(|r| r.role.as_str() == role_name) else {
            return Err(Invalid::value(
                field("Type"),
                format!("the job has no role \"{role_name}\""),
            ));
        };
        if target.role == roles[i].role {
            return Err(Invalid::value(
                field("Type"),
                "a role cannot wait for itself",
            ));
        }
        let phase: Phase = match dep.on_phase.as_deref().filter(|p| !p.is_empty()) {
            None => Phase::Running,
            Some(p) => p
                .parse()
                .map_err(|e| Invalid::value(field("OnPhase"), format!("{e}, got \"{p}\"")))?,
        };
        let min_replicas = match dep
            .min_replicas
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            None => target.pod_count,
            Some(m) => match m.parse::<u32>() {
                Ok(n) if (1..=target.pod_count).contains(&n) => n,
                _ => {
                    return Err(Invalid::value(
                        field("MinReplicas"),
                        format!(
                            "must be a number from 1 to {} (the {} PodCount), got \"{m}\"",
                            target.pod_count, target.role
                        ),
                    ))
                }
            },
        };
        dependencies.push(StartupDependency {
            role: target.role,
            phase,
            min_replicas,
        });
    }
    Ok(dependencies)
}

/// Roles waiting for each other in a circle would never start.
fn check_no_cycle(roles: &[RoleSpec]) -> Result<(), Invalid> {
    for start in roles {
        let mut seen = vec![start.role];
        let mut frontier: Vec<Role> = start.startup_dependencies.iter().map(|d| d.role).collect();
        while let Some(role) = frontier.pop() {
            if role == start.role {
                return Err(Invalid::value(
                    "JobSpecs",
                    format!(
                        "the StartupDependencies of {} lead back to it; the job could never start",
                        start.role
                    ),
                ));
            }
            if !seen.contains(&role) {
                seen.push(role);
                let next = roles
                    .iter()
                    .find(|r| r.role == role)
                    .into_iter()
                    .flat_map(|r| &r.startup_dependencies);
                frontier.extend(next.map(|d| d.role));
            }
        }
    }
    Ok(())
}

/// EcsSpec gives the base request (or [`DEFAULT_POD_RESOURCES`]); ResourceConfig overrides each
/// dimension it sets.
fn pod_resources(spec: &JobSpec, field: &dyn Fn(&str) -> String) -> Result<Resources, Invalid> {
    let mut resources = match spec.ecs_spec.as_deref().filter(|s| !s.is_empty()) {
        Some(name) => catalog::find(name)
            .ok_or_else(|| {
                Invalid::value(
                    field("EcsSpec"),
                    format!("unknown instance type \"{name}\"; ListEcsSpecs lists the known ones"),
                )
            })?
            .resources(),
        None => DEFAULT_POD_RESOURCES,
    };
    if let Some(config) = &spec.resource_config {
        let set = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if let Some(cpu) = set(&config.cpu) {
            resources.cpu_milli = parse_cpu(&cpu)
                .map_err(|e| Invalid::value(field("ResourceConfig.CPU"), e.to_string()))?;
        }
        if let Some(memory) = set(&config.memory) {
            resources.memory_mib = parse_memory(&memory)
                .map_err(|e| Invalid::value(field("ResourceConfig.Memory"), e.to_string()))?;
        }
        if let Some(gpu) = set(&config.gpu) {
            resources.gpu = parse_gpu(&gpu)
                .map_err(|e| Invalid::value(field("ResourceConfig.GPU"), e.to_string()))?;
        }
    }
    Ok(resources)
}

/// `ResourceConfig.SharedMemory`: a size no larger than the pod's memory (its pages count in it).
fn shared_memory(
    spec: &JobSpec,
    resources: &Resources,
    field: &dyn Fn(&str) -> String,
) -> Result<Option<u64>, Invalid> {
    let asked = spec
        .resource_config
        .as_ref()
        .and_then(|c| c.shared_memory.as_deref())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let Some(asked) = asked else {
        return Ok(None);
    };
    let field = field("ResourceConfig.SharedMemory");
    let mib = parse_memory(asked).map_err(|e| Invalid::value(&field, e.to_string()))?;
    if mib == 0 {
        return Err(Invalid::value(&field, "must be more than 0"));
    }
    if resources.memory_mib > 0 && mib > resources.memory_mib {
        return Err(Invalid::value(
            &field,
            format!(
                "{asked} is more than the pod's memory ({}): /dev/shm's pages count in it",
                crate::resources::format_memory(resources.memory_mib)
            ),
        ));
    }
    Ok(Some(mib))
}

/// `SuccessPolicy: ChiefWorker`: the chief role alone decides success — the JobSpec marked
/// `IsChief`, else the Chief (TFJob).
fn apply_success_policy(policy: Option<&str>, specs: &[JobSpec], roles: &mut [RoleSpec]) {
    let chief = chief_of(specs).or_else(|| roles.iter().position(|r| r.role == Role::Chief));
    let Some(chief) = chief.filter(|_| policy == Some("ChiefWorker")) else {
        return;
    };
    for (i, (role, spec)) in roles.iter_mut().zip(specs).enumerate() {
        if spec.consider_in_success_policy.is_none() {
            role.considered_in_success = i == chief;
        }
    }
}

/// The JobSpec marked `IsChief` (or the deprecated, misspelt `IsCheif`).
fn chief_of(specs: &[JobSpec]) -> Option<usize> {
    specs.iter().position(is_chief)
}

fn is_chief(spec: &JobSpec) -> bool {
    spec.is_chief == Some(true) || spec.is_cheif == Some(true)
}

/// At most one JobSpec is the chief (PAI: "Chief role must be unique").
/// A role's spot limit must be one its pods can meet at this server's prices (when it has any):
/// a price limit under the spot price of one of its pods, or a discount limit under the spot
/// discount, would keep the job bidding forever.
fn check_spot_prices(
    specs: &[JobSpec],
    roles: &[RoleSpec],
    prices: Option<&Prices>,
) -> Result<(), Invalid> {
    let Some(prices) = prices else {
        return Ok(());
    };
    for (i, (spec, role)) in specs.iter().zip(roles).enumerate() {
        let Some(spot) = &spec.spot_spec else {
            continue;
        };
        let field = |name: &str| format!("JobSpecs[{i}].SpotSpec.{name}");
        let price = prices.spot_per_minute(&role.resources);
        if let Some(limit) = spot.spot_price_limit.filter(|l| *l < price) {
            return Err(Invalid::value(
                field("SpotPriceLimit"),
                format!(
                    "{limit} yuan per minute is under the spot price of the role's pods here, \
                     {price:.4} yuan per minute"
                ),
            ));
        }
        if let Some(limit) = spot
            .spot_discount_limit
            .filter(|l| *l < prices.spot_discount)
        {
            return Err(Invalid::value(
                field("SpotDiscountLimit"),
                format!(
                    "{limit} is under the spot discount here, {}",
                    prices.spot_discount
                ),
            ));
        }
    }
    Ok(())
}

/// `SpotSpec.SpotStrategy`'s one value.
pub const SPOT_WITH_PRICE_LIMIT: &str = "SpotWithPriceLimit";

fn check_one_chief(specs: &[JobSpec]) -> Result<(), Invalid> {
    let mut chiefs = specs.iter().enumerate().filter(|(_, s)| is_chief(s));
    if let (Some((first, _)), Some((second, spec))) = (chiefs.next(), chiefs.next()) {
        let flag = if spec.is_chief == Some(true) {
            "IsChief"
        } else {
            "IsCheif"
        };
        return Err(Invalid::value(
            format!("JobSpecs[{second}].{flag}"),
            format!("the chief role must be unique: JobSpecs[{first}] is the chief already"),
        ));
    }
    Ok(())
}

/// Each GPU pod's `ResourceConfig.GPUType` must name the pool's GPU model
/// ([`crate::resources::gpu_type_matches`]); a pod without GPUs takes none, whatever its type.
fn check_gpu_types(
    specs: &[JobSpec],
    roles: &[RoleSpec],
    gpu_types: &[String],
) -> Result<(), Invalid> {
    for (i, (spec, role)) in specs.iter().zip(roles).enumerate() {
        let asked = spec
            .resource_config
            .as_ref()
            .and_then(|c| c.gpu_type.as_deref())
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(asked) = asked.filter(|_| role.resources.gpu > 0) else {
            continue;
        };
        let field = format!("JobSpecs[{i}].ResourceConfig.GPUType");
        match gpu_types {
            [] => {
                return Err(Invalid::value(
                    field,
                    format!("\"{asked}\" cannot be matched: this pool declares no GPU model"),
                ))
            }
            [_, _, ..] => {
                return Err(Invalid::value(
                    field,
                    format!(
                        "\"{asked}\" cannot be matched: this pool mixes GPU models ({}); \
                         GPUType is matched on a pool of one model (pool.gpu_type in the \
                         capacity file declares it)",
                        gpu_types.join(", ")
                    ),
                ))
            }
            [model] if !crate::resources::gpu_type_matches(asked, model) => {
                return Err(Invalid::value(
                    field,
                    format!("no GPU of type \"{asked}\" here: this pool's GPUs are {model}"),
                ))
            }
            [_] => {}
        }
    }
    Ok(())
}

fn validate_envs(req: &CreateJobRequest) -> Result<BTreeMap<String, String>, Invalid> {
    let mut envs = req.envs.clone().unwrap_or_default();
    for custom in req.custom_envs.iter().flatten() {
        if let Some(key) = &custom.key {
            envs.insert(key.clone(), custom.value.clone().unwrap_or_default());
        }
    }
    for (key, value) in &envs {
        let valid_key = !key.is_empty() && !key.contains(['=', '\0']);
        if !valid_key || value.contains('\0') {
            return Err(Invalid::value(
                format!("Envs.{key}"),
                "names must be non-empty without '=' or NUL; values must not contain NUL",
            ));
        }
    }
    Ok(envs)
}

/// Refuses a job that could never start: a pod or the whole gang bigger than the pool.
fn check_fits(job: &Job, pool: Resources, scope: &str) -> Result<(), Invalid> {
    for (i, role) in job.roles.iter().enumerate() {
        if let Some(why) = role.resources.shortfall(&pool) {
            return Err(Invalid::value(
                format!("JobSpecs[{i}]"),
                format!(
                    "one {} pod {why} in {scope}; it can never run here",
                    role.role
                ),
            ));
        }
    }
    if let Some(why) = job.total_resources().shortfall(&pool) {
        return Err(Invalid::value(
            "JobSpecs",
            format!(
                "the job's {} pods together {why} in {scope}; they can never run at once here",
                job.pod_count()
            ),
        ));
    }
    Ok(())
}

/// The request as GetJob echoes it: defaults filled in.
fn normalized(req: &CreateJobRequest, priority: u8) -> CreateJobRequest {
    let mut request = req.clone();
    request.priority = Some(i64::from(priority));
    request
}
