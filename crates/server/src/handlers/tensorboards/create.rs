//! CreateTensorboard: from a job (its summaries under the job's working directory) or from a
//! directory on the server; the process starts at once.

use std::path::{Component, Path, PathBuf};

use axum::response::Response;
use opendlc_api::{
    CreateTensorboardRequest, CreateTensorboardResponseBody, ErrorCode, TensorboardDataSourceSpec,
};
use opendlc_core::tensorboard::{
    new_tensorboard_id, ProcessLimits, Tensorboard, TensorboardStatus,
};
use opendlc_core::time::now_millis;
use opendlc_core::Job;

use super::{accessibility, max_running_minutes};
use crate::handlers::{access, query};
use crate::http::{ok, ApiError, ApiRequest};
use crate::sources::roots::{Grants, Use};
use crate::state::AppState;

const MAX_DISPLAY_NAME: usize = 256;
/// The workspace of a TensorBoard created without a job or WorkspaceId.
const DEFAULT_WORKSPACE: &str = "default";

pub async fn create(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let body: CreateTensorboardRequest = request.json()?;
    let caller = request.caller()?;
    ProcessLimits::validate(body.cpu, body.memory, state.pool)?;
    let (job, summary_path, logdir) = summary_dir(state, request, &body)?;
    let job_id = job.as_ref().map(|j| j.job_id.clone());
    let workspace_id = workspace_of(&body, job.as_ref());
    access::check_member(state, caller, &workspace_id)?;
    let id = new_tensorboard_id();
    let display_name = match query::text(&body.display_name) {
        Some(name) => check_display_name(name)?,
        None => match &job_id {
            Some(job_id) => format!("tensorboard-{job_id}"),
            None => format!("tensorboard-{id}"),
        },
    };
    let now = now_millis();
    let tb = Tensorboard {
        tensorboard_id: id.clone(),
        display_name,
        job_id: job_id.clone(),
        workspace_id,
        user_id: caller.user_id().to_string(),
        accessibility: accessibility(&body.accessibility)?.unwrap_or_else(|| "PRIVATE".into()),
        priority: query::text(&body.priority),
        summary_path,
        logdir,
        request: serde_json::to_string(&body).unwrap_or_default(),
        max_running_minutes: max_running_minutes(body.max_running_time_minutes)?,
        status: TensorboardStatus::Creating,
        reason_code: None,
        reason_message: None,
        port: None,
        pid: None,
        created: now,
        modified: now,
        started: None,
        finished: None,
    };
    {
        let _guard = state.tensorboards.lock.lock().await;
        state.store.insert_tensorboard(&tb)?;
        state.tensorboards.launch(&tb)?;
    }
    tracing::info!(tensorboard.id = %id, logdir = %tb.logdir, "tensorboard created");
    ok(&CreateTensorboardResponseBody {
        tensorboard_id: Some(id),
        job_id,
        data_source_id: query::text(&body.data_source_id),
        request_id: Some(request.request_id.clone()),
    })
}

fn workspace_of(body: &CreateTensorboardRequest, job: Option<&Job>) -> String {
    match (query::text(&body.workspace_id), job) {
        (Some(ws), _) => ws,
        (None, Some(job)) => job.workspace_id.clone(),
        (None, None) => DEFAULT_WORKSPACE.to_string(),
    }
}

/// The directory tensorboard reads, if the caller may have it read: inside the working
/// directory of a job they may read (`job`, or the job whose directory `path` is in), or under a
/// root granted to the TensorBoard's workspace (`sources::roots`).
fn granted_dir(
    state: &AppState,
    request: &ApiRequest,
    body: &CreateTensorboardRequest,
    job: Option<&Job>,
    field: &str,
    path: &Path,
    wanted: Use,
) -> Result<PathBuf, ApiError> {
    let config = crate::sources::load(&state.data_dir).map_err(|e| ApiError::invalid(field, e))?;
    let jobs = state.jobs_dir.root();
    let job_id = match job {
        Some(job) => Some(job.job_id.clone()),
        // A path in some job's directory: that job's, if the caller may read it.
        None => path
            .strip_prefix(jobs)
            .ok()
            .or_else(|| path.strip_prefix(jobs.canonicalize().ok()?).ok())
            .and_then(|rest| rest.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .filter(|id| access::readable_job(state, request, id).is_ok()),
    };
    let also: Vec<PathBuf> = job_id.iter().map(|id| state.jobs_dir.work(id)).collect();
    let grants = Grants {
        roots: &config.roots,
        workspace_id: &workspace_of(body, job),
        protected: &[&state.data_dir, jobs],
        also: &also,
    };
    let granted = grants.check(field, &path.to_string_lossy(), wanted)?;
    Ok(granted.path)
}

/// (JobId, SummaryPath as reported, what tensorboard reads: a directory, or named sources as
/// `Tensorboard::logdir` says).
fn summary_dir(
    state: &AppState,
    request: &ApiRequest,
    body: &CreateTensorboardRequest,
) -> Result<(Option<Job>, String, String), ApiError> {
    let sources = body.tensorboard_data_sources.as_deref().unwrap_or_default();
    if !sources.is_empty() && query::text(&body.job_id).is_none() {
        return sources_dir(state, request, body, sources);
    }
    let summary_path = query::text(&body.summary_path);
    let relative = query::text(&body.summary_relative_path);
    let job_id = query::text(&body.job_id).or_else(|| {
        query::text(&body.source_id).filter(|_| {
            query::text(&body.source_type).is_some_and(|t| t.eq_ignore_ascii_case("job"))
        })
    });
    if let Some(job_id) = job_id {
        let job = access::readable_job(state, request, &job_id)?;
        let work = state.jobs_dir.work(&job_id);
        let (field, dir) = match (&relative, &summary_path) {
            (Some(rel), _) => (
                "SummaryRelativePath",
                work.join(inside("SummaryRelativePath", rel)?),
            ),
            (None, Some(path)) if Path::new(path).is_absolute() => {
                ("SummaryPath", PathBuf::from(path))
            }
            (None, Some(path)) => ("SummaryPath", work.join(inside("SummaryPath", path)?)),
            (None, None) => ("SummaryPath", work.clone()),
        };
        // The working directory may not exist yet (tensorboard waits for it); what is named
        // in it must not lead out of it.
        let dir = if dir == work {
            dir
        } else {
            granted_dir(state, request, body, Some(&job), field, &dir, Use::Watch)?
        };
        let dir = dir.to_string_lossy().into_owned();
        let reported = summary_path.unwrap_or_else(|| dir.clone());
        return Ok((Some(job), reported, dir));
    }
    if relative.is_some() {
        return Err(ApiError::invalid(
            "SummaryRelativePath",
            "is relative to a job's directory and needs JobId",
        ));
    }
    let uri =
        query::text(&body.uri).map(|u| u.strip_prefix("file://").map(String::from).unwrap_or(u));
    // The field the path came from, for the errors.
    let field = if summary_path.is_some() {
        "SummaryPath"
    } else {
        "Uri"
    };
    let Some(path) = summary_path.or(uri) else {
        let field = if query::text(&body.data_source_id).is_some() {
            "DataSourceId: data sets are not available on this server"
        } else {
            "JobId or SummaryPath is required"
        };
        return Err(ApiError::new(
            ErrorCode::MissingParameter,
            format!("{field}; give JobId (the job's summaries) or SummaryPath (a directory on the server)."),
        ));
    };
    let dir = readable_dir(state, request, body, field, &path)?;
    Ok((None, path, dir.to_string_lossy().into_owned()))
}

/// A directory on the server, given as an absolute path, that the caller may have read.
fn readable_dir(
    state: &AppState,
    request: &ApiRequest,
    body: &CreateTensorboardRequest,
    field: &str,
    path: &str,
) -> Result<PathBuf, ApiError> {
    let dir = PathBuf::from(path);
    if !dir.is_absolute() {
        return Err(ApiError::invalid(
            field,
            format!("without JobId it must be an absolute directory on the server, got \"{path}\""),
        ));
    }
    let dir = granted_dir(state, request, body, None, field, &dir, Use::Read)?;
    if !dir.is_dir() {
        return Err(ApiError::invalid(
            field,
            format!("\"{path}\" is not a directory on the server"),
        ));
    }
    Ok(dir)
}

/// `TensorboardDataSources`: several sources in one TensorBoard, each a job's summaries
/// (`SourceType` job or dlc, `Id` the JobId, `SummaryPath` inside its directory) or a directory
/// on the server (`SummaryPath` or `Uri`), each one's runs named after it (`DirectoryName`, else
/// `Name`, else `Id`). One source is read as a single directory.
fn sources_dir(
    state: &AppState,
    request: &ApiRequest,
    body: &CreateTensorboardRequest,
    sources: &[TensorboardDataSourceSpec],
) -> Result<(Option<Job>, String, String), ApiError> {
    let mut first_job: Option<Job> = None;
    let mut runs: Vec<(String, String)> = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let field = |name: &str| format!("TensorboardDataSources[{i}].{name}");
        let id = query::text(&source.id);
        let summary_path = query::text(&source.summary_path);
        let of_job = match query::text(&source.source_type) {
            Some(t) => t.eq_ignore_ascii_case("job") || t.eq_ignore_ascii_case("dlc"),
            None => id.as_deref().is_some_and(|id| id.starts_with("dlc")),
        };
        let dir = if of_job {
            let Some(job_id) = &id else {
                return Err(ApiError::new(
                    ErrorCode::MissingParameter,
                    format!("{}: a job's source names its JobId.", field("Id")),
                ));
            };
            let job = access::readable_job(state, request, job_id)?;
            let work = state.jobs_dir.work(job_id);
            let dir = match &summary_path {
                Some(rel) => {
                    let dir = work.join(inside(&field("SummaryPath"), rel)?);
                    let checked = &field("SummaryPath");
                    granted_dir(state, request, body, Some(&job), checked, &dir, Use::Watch)?
                }
                None => work,
            };
            first_job.get_or_insert(job);
            dir
        } else {
            let uri = query::text(&source.uri)
                .map(|u| u.strip_prefix("file://").map(String::from).unwrap_or(u));
            let (which, path) = match (summary_path, uri) {
                (Some(path), _) => ("SummaryPath", path),
                (None, Some(uri)) => ("Uri", uri),
                (None, None) => {
                    return Err(ApiError::new(
                        ErrorCode::MissingParameter,
                        format!(
                            "{}: a source is a job's (SourceType job, Id) or a directory on the \
                             server (SummaryPath or Uri).",
                            field("SummaryPath")
                        ),
                    ))
                }
            };
            readable_dir(state, request, body, &field(which), &path)?
        };
        let dir = dir.to_string_lossy().into_owned();
        let name = query::text(&source.directory_name)
            .or_else(|| query::text(&source.name))
            .or(id)
            .unwrap_or_else(|| format!("source{i}"));
        if name.contains([':', ',']) || dir.contains(',') {
            return Err(ApiError::invalid(
                &field("DirectoryName"),
                format!(
                    "a source's name cannot hold ':' or ',', nor its directory ',' (tensorboard \
                     reads them as \"name:dir,…\"), got {name:?} for {dir:?}"
                ),
            ));
        }
        if runs.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::invalid(
                &field("DirectoryName"),
                format!("two sources are named {name:?}: each one's runs need a name of their own"),
            ));
        }
        runs.push((name, dir));
    }
    if let [(_, dir)] = runs.as_slice() {
        return Ok((first_job, dir.clone(), dir.clone()));
    }
    let logdir = Tensorboard::logdir_spec(&runs);
    Ok((first_job, logdir.clone(), logdir))
}

/// A relative path that stays inside the job's directory (a leading `/` is read as relative).
fn inside(field: &str, path: &str) -> Result<PathBuf, ApiError> {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(ApiError::invalid(
            field,
            format!("must stay inside the job's directory (no \"..\"), got \"{path}\""),
        ));
    }
    Ok(relative.to_path_buf())
}

fn check_display_name(name: String) -> Result<String, ApiError> {
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(ApiError::invalid(
            "DisplayName",
            format!("must be at most {MAX_DISPLAY_NAME} characters"),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(ApiError::invalid(
            "DisplayName",
            format!("may contain only letters, digits, '_', '.' and '-'; found {bad:?}"),
        ));
    }
    Ok(name)
}
