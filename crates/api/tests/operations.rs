//! The routing table matches the SDK's operation table exactly.

use opendlc_api::endpoints::{CreateJob, GetDashboard, GetJob, ListJobs};
use opendlc_api::*;

/// Action, method and path of every operation, as the official SDK calls them.
const SDK_TABLE: &[(&str, &str, &str)] = &[
    ("CreateJob", "POST", "/api/v1/jobs"),
    ("DeleteJob", "DELETE", "/api/v1/jobs/{JobId}"),
    ("UpdateJob", "PUT", "/api/v1/jobs/{JobId}"),
    ("StopJob", "POST", "/api/v1/jobs/{JobId}/stop"),
    ("ListJobs", "GET", "/api/v1/jobs"),
    ("GetJob", "GET", "/api/v1/jobs/{JobId}"),
    (
        "GetJobSanityCheckResult",
        "GET",
        "/api/v1/jobs/{JobId}/sanitycheckresult",
    ),
    (
        "ListJobSanityCheckResults",
        "GET",
        "/api/v1/jobs/{JobId}/sanitycheckresults",
    ),
    (
        "GetPodLogs",
        "GET",
        "/api/v1/jobs/{JobId}/pods/{PodId}/logs",
    ),
    (
        "GetPodEvents",
        "GET",
        "/api/v1/jobs/{JobId}/pods/{PodId}/events",
    ),
    ("GetJobMetrics", "GET", "/api/v1/jobs/{JobId}/metrics"),
    ("GetJobEvents", "GET", "/api/v1/jobs/{JobId}/events"),
    ("ListEcsSpecs", "GET", "/api/v1/ecsspecs"),
    (
        "GetWebTerminal",
        "GET",
        "/api/v1/jobs/{JobId}/pods/{PodId}/webterminal",
    ),
    ("GetToken", "GET", "/api/v1/tokens"),
    ("CreateTensorboard", "POST", "/api/v1/tensorboards"),
    (
        "DeleteTensorboard",
        "DELETE",
        "/api/v1/tensorboards/{TensorboardId}",
    ),
    (
        "StartTensorboard",
        "PUT",
        "/api/v1/tensorboards/{TensorboardId}/start",
    ),
    (
        "UpdateTensorboard",
        "PUT",
        "/api/v1/tensorboards/{TensorboardId}",
    ),
    (
        "StopTensorboard",
        "PUT",
        "/api/v1/tensorboards/{TensorboardId}/stop",
    ),
    ("ListTensorboards", "GET", "/api/v1/tensorboards"),
    (
        "GetTensorboard",
        "GET",
        "/api/v1/tensorboards/{TensorboardId}",
    ),
    (
        "GetTensorboardSharedUrl",
        "GET",
        "/api/v1/tensorboards/{TensorboardId}/sharedurl",
    ),
    (
        "GetRayDashboard",
        "GET",
        "/api/v1/jobs/{jobId}/rayDashboard",
    ),
    ("GetDashboard", "GET", "/api/v1/jobs/{jobId}/dashboard"),
];

#[test]
fn the_table_has_all_25_operations() {
    let table: Vec<_> = OPERATIONS
        .iter()
        .map(|op| (op.action, op.method, op.path))
        .collect();
    assert_eq!(table, SDK_TABLE);
}

#[test]
fn endpoints_agree_with_the_table() {
    assert_eq!(Operation::find("GetJob"), Some(&GetJob::OPERATION));
    assert_eq!(Operation::find("Nope"), None);
    assert_eq!(CreateJob::ENCODING, RequestEncoding::JsonBody);
    assert_eq!(ListJobs::ENCODING, RequestEncoding::Query);
    for op in OPERATIONS {
        let body = matches!(op.action, "CreateJob" | "UpdateJob" | "CreateTensorboard");
        assert_eq!(
            op.encoding() == RequestEncoding::JsonBody,
            body,
            "{}",
            op.action
        );
    }
}

#[test]
fn routing_picks_the_operation_by_method_and_path() {
    let route = |m, p| Operation::route(m, p).map(|(op, params)| (op.action, params));
    assert_eq!(route("GET", "/api/v1/jobs"), Some(("ListJobs", vec![])));
    assert_eq!(route("POST", "/api/v1/jobs"), Some(("CreateJob", vec![])));
    assert_eq!(
        route("GET", "/api/v1/jobs/dlc1"),
        Some(("GetJob", vec!["dlc1"]))
    );
    assert_eq!(
        route("PUT", "/api/v1/jobs/dlc1"),
        Some(("UpdateJob", vec!["dlc1"]))
    );
    assert_eq!(
        route("DELETE", "/api/v1/jobs/dlc1"),
        Some(("DeleteJob", vec!["dlc1"]))
    );
    assert_eq!(
        route("GET", "/api/v1/jobs/dlc1/pods/dlc1-worker-0/logs"),
        Some(("GetPodLogs", vec!["dlc1", "dlc1-worker-0"]))
    );
    assert_eq!(
        route("GET", "/api/v1/jobs/dlc1/rayDashboard"),
        Some(("GetRayDashboard", vec!["dlc1"]))
    );
    // No trailing-slash leniency (a redirect would break the SDK), no empty ids, no
    // unknown methods.
    assert_eq!(route("GET", "/api/v1/jobs/"), None);
    assert_eq!(route("GET", "/api/v1/jobs/dlc1/"), None);
    assert_eq!(route("POST", "/api/v1/jobs//stop"), None);
    assert_eq!(route("PATCH", "/api/v1/jobs/dlc1"), None);
    assert_eq!(route("GET", "/api/v2/jobs"), None);
}

#[test]
fn path_params_and_fill_path() {
    let logs = Operation::find("GetPodLogs").unwrap();
    assert_eq!(logs.path_params().collect::<Vec<_>>(), ["JobId", "PodId"]);
    assert_eq!(
        logs.fill_path(&["dlc1", "dlc1-worker-0"]),
        "/api/v1/jobs/dlc1/pods/dlc1-worker-0/logs"
    );
    assert_eq!(
        GetDashboard::OPERATION.path_params().collect::<Vec<_>>(),
        ["jobId"]
    );
    let path = GetJob::OPERATION.fill_path(&["a%2Fb"]);
    assert_eq!(Operation::route("GET", &path).unwrap().1, ["a%2Fb"]);
}
