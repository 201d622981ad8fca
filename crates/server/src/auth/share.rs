//! What a share token opens: read-only routes of one job or one TensorBoard, whose id is the
//! first path parameter (docs/IDENTITY.md).
//!
//! GetJob, the pods' logs and events, the job events and the log stream are not in the spec's
//! list of token-taking operations; a shared job view needs them. Both matches below are
//! exhaustive on purpose: a new operation or extension must say whether a token opens it.

use opendlc_api::Action;

use super::token::TargetType;
use crate::http::{Extension, Route};

/// The type of resource a share token must name to call `route`; `None`: a token cannot.
pub fn token_target(route: Route) -> Option<TargetType> {
    match route {
        Route::Dlc(action) => action_target(action),
        Route::Extension(extension) => extension_target(extension),
    }
}

fn action_target(action: Action) -> Option<TargetType> {
    match action {
        Action::GetJob
        | Action::GetPodLogs
        | Action::GetPodEvents
        | Action::GetJobEvents
        | Action::GetJobMetrics
        | Action::GetJobSanityCheckResult
        | Action::ListJobSanityCheckResults
        | Action::GetDashboard
        | Action::GetRayDashboard => Some(TargetType::Job),
        Action::GetTensorboard => Some(TargetType::Tensorboard),
        // Writes, lists across resources, and calls that hand out further access.
        Action::CreateJob
        | Action::DeleteJob
        | Action::UpdateJob
        | Action::StopJob
        | Action::ListJobs
        | Action::ListEcsSpecs
        | Action::GetWebTerminal
        | Action::GetToken
        | Action::CreateTensorboard
        | Action::DeleteTensorboard
        | Action::StartTensorboard
        | Action::UpdateTensorboard
        | Action::StopTensorboard
        | Action::ListTensorboards
        | Action::GetTensorboardSharedUrl => None,
    }
}

fn extension_target(extension: Extension) -> Option<TargetType> {
    match extension {
        Extension::StreamJobLogs => Some(TargetType::Job),
        Extension::GetCapacity
        | Extension::ListWorkspaces
        | Extension::CreateWorkspace
        | Extension::GetWorkspace
        | Extension::ListImages => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list as it stood when it was a table of action names, so a change to what tokens
    /// open shows up here.
    #[test]
    fn a_token_opens_exactly_the_shared_reads() {
        let routes = Action::ALL
            .into_iter()
            .map(Route::Dlc)
            .chain(Extension::ALL.into_iter().map(Route::Extension));
        let mut opened: Vec<(&str, TargetType)> = routes
            .filter_map(|r| token_target(r).map(|t| (r.as_str(), t)))
            .collect();
        opened.sort_by_key(|(name, _)| *name);
        let mut expected = vec![
            ("GetJob", TargetType::Job),
            ("GetPodLogs", TargetType::Job),
            ("GetPodEvents", TargetType::Job),
            ("GetJobEvents", TargetType::Job),
            ("GetJobMetrics", TargetType::Job),
            ("GetJobSanityCheckResult", TargetType::Job),
            ("ListJobSanityCheckResults", TargetType::Job),
            ("GetDashboard", TargetType::Job),
            ("GetRayDashboard", TargetType::Job),
            ("StreamJobLogs", TargetType::Job),
            ("GetTensorboard", TargetType::Tensorboard),
        ];
        expected.sort_by_key(|(name, _)| *name);
        assert_eq!(opened, expected);
    }
}
