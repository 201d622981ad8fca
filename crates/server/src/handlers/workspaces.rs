//! The AIWorkspace (2021-02-04) workspace calls PAI scripts make before submitting jobs:
//! ListWorkspaces, CreateWorkspace, GetWorkspace. A caller sees the workspaces they belong to
//! (a server administrator: all); the creator of a workspace becomes its admin.

use axum::response::Response;
use opendlc_api::ErrorCode;
use opendlc_core::identity::{validate_workspace_name, DEFAULT_WORKSPACE_ID};
use opendlc_core::ids;
use opendlc_core::time::{format_wire, now_millis, Millis};
use opendlc_store::{StoreError, Workspace};
use serde::{Deserialize, Serialize};

use super::query;
use crate::auth::Caller;
use crate::http::{ok, ApiError, ApiRequest};
use crate::state::AppState;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct WorkspaceView {
    workspace_id: String,
    workspace_name: String,
    display_name: String,
    description: String,
    creator: String,
    admin_names: Vec<String>,
    env_types: Vec<String>,
    status: &'static str,
    is_default: bool,
    gmt_create_time: String,
    gmt_modified_time: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListWorkspacesBody {
    request_id: String,
    total_count: i64,
    workspaces: Vec<WorkspaceView>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetWorkspaceBody {
    request_id: String,
    #[serde(flatten)]
    workspace: WorkspaceView,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateWorkspaceBody {
    request_id: String,
    workspace_id: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateWorkspaceRequest {
    workspace_name: Option<String>,
    display_name: Option<String>,
    description: Option<String>,
    env_types: Option<Vec<String>>,
}

fn view(state: &AppState, ws: &Workspace) -> Result<WorkspaceView, ApiError> {
    let members = state.store.members(&ws.workspace_id)?;
    let creator = state
        .store
        .user(&ws.creator_id)?
        .map_or_else(|| ws.creator_id.clone(), |u| u.name);
    let time = |t: Millis| format_wire(t);
    Ok(WorkspaceView {
        workspace_id: ws.workspace_id.clone(),
        workspace_name: ws.name.clone(),
        display_name: ws.display_name.clone(),
        description: ws.description.clone(),
        creator,
        admin_names: members
            .iter()
            .filter(|m| m.role == opendlc_core::identity::WorkspaceRole::Admin)
            .map(|m| m.user.name.clone())
            .collect(),
        env_types: ws.env_types.clone(),
        status: "ENABLED",
        is_default: ws.workspace_id == DEFAULT_WORKSPACE_ID,
        gmt_create_time: time(ws.created),
        gmt_modified_time: time(ws.modified),
    })
}

fn visible(caller: &Caller, ws: &Workspace) -> bool {
    caller.principal.is_member(&ws.workspace_id)
}

fn param<'a>(request: &'a ApiRequest, name: &str) -> Option<&'a str> {
    request
        .query
        .iter()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

fn number(request: &ApiRequest, name: &str, default: u64, max: u64) -> Result<u64, ApiError> {
    let value =
        match param(request, name) {
            None => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                ApiError::invalid(name, format!("must be an integer, got \"{text}\""))
            })?),
        };
    query::count(value, name, default, max)
}

/// ListWorkspaces: PageNumber, PageSize (default 20), SortBy (GmtCreateTime |
/// GmtModifiedTime), Order (ASC default), WorkspaceName (substring), WorkspaceIds, Status.
pub fn list(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let caller = request.caller()?;
    let page_size = number(request, "PageSize", 20, 100)?;
    let page_number = number(request, "PageNumber", 1, 100_000)?;
    let descending = query::descending(&param(request, "Order").map(String::from), false)?;
    let by_modified = match param(request, "SortBy") {
        None | Some("GmtCreateTime") => false,
        Some("GmtModifiedTime") => true,
        Some(other) => {
            return Err(ApiError::invalid(
                "SortBy",
                format!("must be GmtCreateTime or GmtModifiedTime, got \"{other}\""),
            ))
        }
    };
    let name = param(request, "WorkspaceName").map(str::to_lowercase);
    let ids: Vec<&str> = param(request, "WorkspaceIds")
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    let status_ok = param(request, "Status").is_none_or(|s| s.eq_ignore_ascii_case("ENABLED"));
    let mut all: Vec<Workspace> = state
        .store
        .workspaces()?
        .into_iter()
        .filter(|ws| visible(caller, ws) && status_ok)
        .filter(|ws| {
            name.as_ref()
                .is_none_or(|n| ws.name.to_lowercase().contains(n))
        })
        .filter(|ws| ids.is_empty() || ids.contains(&ws.workspace_id.as_str()))
        .collect();
    all.sort_by_key(|ws| if by_modified { ws.modified } else { ws.created });
    if descending {
        all.reverse();
    }
    let total = all.len() as i64;
    let page = all
        .iter()
        .skip(((page_number - 1) * page_size) as usize)
        .take(page_size as usize)
        .map(|ws| view(state, ws))
        .collect::<Result<_, _>>()?;
    ok(&ListWorkspacesBody {
        request_id: request.request_id.clone(),
        total_count: total,
        workspaces: page,
    })
}

pub fn get(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let caller = request.caller()?;
    let id = request.param(0);
    let ws = state
        .store
        .workspace(id)?
        .filter(|ws| visible(caller, ws))
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::WorkspaceNotFound,
                format!("The workspace {id} does not exist."),
            )
        })?;
    ok(&GetWorkspaceBody {
        request_id: request.request_id.clone(),
        workspace: view(state, &ws)?,
    })
}

/// CreateWorkspace: WorkspaceName (3–23 letters, digits or underscores, starting with a
/// letter; unique), DisplayName, Description, EnvTypes (`dev`, `prod`).
pub fn create(state: &AppState, request: &ApiRequest) -> Result<Response, ApiError> {
    let caller = request.caller()?;
    if caller.scope.is_some() {
        return Err(ApiError::forbidden(
            "A share token cannot create workspaces.",
        ));
    }
    let body: CreateWorkspaceRequest = if request.body.iter().all(u8::is_ascii_whitespace) {
        CreateWorkspaceRequest::default()
    } else {
        serde_json::from_slice(&request.body)
            .map_err(|e| ApiError::invalid("body", format!("not a CreateWorkspace body: {e}")))?
    };
    let name = body.workspace_name.unwrap_or_default();
    validate_name(&name)?;
    let env_types = body.env_types.unwrap_or_else(|| vec!["prod".into()]);
    if let Some(bad) = env_types.iter().find(|e| *e != "dev" && *e != "prod") {
        return Err(ApiError::invalid(
            "EnvTypes",
            format!("each must be dev or prod, got \"{bad}\""),
        ));
    }
    let now = now_millis();
    let ws = Workspace {
        workspace_id: ids::new_workspace_id(),
        display_name: body
            .display_name
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| name.clone()),
        name,
        description: body.description.unwrap_or_default(),
        env_types,
        creator_id: caller.user_id().to_string(),
        created: now,
        modified: now,
    };
    state.store.create_workspace(&ws).map_err(|e| match e {
        StoreError::Conflict(message) => ApiError::invalid("WorkspaceName", message),
        other => other.into(),
    })?;
    tracing::info!(workspace.id = %ws.workspace_id, workspace.name = %ws.name, "workspace created");
    ok(&CreateWorkspaceBody {
        request_id: request.request_id.clone(),
        workspace_id: ws.workspace_id,
    })
}

fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::new(
            ErrorCode::MissingParameter,
            "WorkspaceName is mandatory for this action.",
        ));
    }
    validate_workspace_name(name).map_err(|rule| ApiError::invalid("WorkspaceName", rule))
}
