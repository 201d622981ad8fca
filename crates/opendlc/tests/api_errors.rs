//! Bad input gets a clear error in the Alibaba envelope: the field, the rule.

mod common;

use common::{pytorch_job, TestServer};
use serde_json::{json, Value};

async fn expect_error(
    server: &TestServer,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
    code: &str,
    needle: &str,
) {
    let (got_status, err) = server.call(method, path, body).await;
    assert_eq!(got_status, status, "{method} {path}: {err}");
    assert_eq!(err["Code"], code, "{err}");
    let message = err["Message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "message {message:?} should mention {needle:?}"
    );
    assert!(err["RequestId"].as_str().is_some_and(|r| r.len() == 36));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_job_validates_every_field() {
    let server = TestServer::start().await;
    let base = pytorch_job("ok-name", &[("Worker", 1)], "true");
    let with = |patch: Value| {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        Some(body)
    };
    let create = "/api/v1/jobs";
    // (patch to a valid body, code, what the message must mention); all answer 400.
    let cases = [
        (
            json!({"DisplayName": "bad name!"}),
            "InvalidParameter",
            "DisplayName",
        ),
        (
            json!({"DisplayName": "x".repeat(257)}),
            "InvalidParameter",
            "256",
        ),
        (
            json!({"DisplayName": null}),
            "MissingParameter",
            "DisplayName",
        ),
        (
            json!({"JobType": "pytorchjob"}),
            "InvalidParameter",
            "JobType",
        ),
        (json!({"JobType": "SlurmJob"}), "InvalidParameter", "Slurm"),
        (
            json!({"Settings": {"ErrorMonitoringArgs": "--enable-job-restrat=True"}}),
            "InvalidParameter",
            "Settings.ErrorMonitoringArgs: unknown flag --enable-job-restrat",
        ),
        (
            json!({"Settings": {"ErrorMonitoringArgs": "--job-hang-interval=soon"}}),
            "InvalidParameter",
            "--job-hang-interval takes a whole number",
        ),
        (json!({"JobSpecs": []}), "MissingParameter", "JobSpecs"),
        (
            json!({"JobSpecs": [{"Type": "PS", "PodCount": 1}]}),
            "InvalidParameter",
            "JobSpecs[0].Type",
        ),
        (
            json!({"JobSpecs": [{"Type": "Worker", "PodCount": 0}]}),
            "InvalidParameter",
            "JobSpecs[0].PodCount",
        ),
        (
            json!({"JobSpecs": [{"Type": "Master", "PodCount": 2}]}),
            "InvalidParameter",
            "exactly one Master",
        ),
        (
            json!({"JobSpecs": [{"Type": "Worker", "PodCount": "2"}]}),
            "InvalidParameter",
            "JobSpecs[0].PodCount",
        ),
        (
            json!({"JobSpecs": [{"Type": "Worker", "EcsSpec": "ecs.nope"}]}),
            "InvalidParameter",
            "ecs.nope",
        ),
        (
            json!({"JobSpecs": [{"Type": "Worker", "EcsSpec": "ecs.gn6v-c8g1.16xlarge"}]}),
            "InvalidParameter",
            "can never run here",
        ),
        (
            json!({"JobSpecs": [{"Type": "Worker", "ResourceConfig": {"Memory": "lots"}}]}),
            "InvalidParameter",
            "ResourceConfig.Memory",
        ),
        (
            json!({"JobSpecs": [{"Type": "Worker", "RestartPolicy": "Sometimes"}]}),
            "InvalidParameter",
            "RestartPolicy",
        ),
        (
            json!({"UserCommand": "  "}),
            "MissingParameter",
            "UserCommand",
        ),
        (json!({"Priority": 0}), "InvalidParameter", "Priority"),
        (
            json!({"Accessibility": "EVERYONE"}),
            "InvalidParameter",
            "Accessibility",
        ),
        (
            json!({"JobMaxRunningTimeMinutes": -1}),
            "InvalidParameter",
            "JobMaxRunningTimeMinutes",
        ),
        (
            json!({"ResourceId": "quota-x"}),
            "InvalidParameter",
            "ResourceId",
        ),
        (json!({"Envs": {"A=B": "c"}}), "InvalidParameter", "Envs"),
    ];
    for (patch, code, needle) in cases {
        expect_error(&server, "POST", create, with(patch), 400, code, needle).await;
    }
    expect_error(
        &server,
        "POST",
        create,
        Some(json!([1, 2])),
        400,
        "InvalidParameter",
        "JSON object",
    )
    .await;

    let huge = with(json!({"Description": "x".repeat(70 * 1024)}));
    expect_error(
        &server,
        "POST",
        create,
        huge,
        413,
        "RequestTooLarge",
        "65536",
    )
    .await;

    // Unknown fields are accepted: newer SDKs send more than the spec lists.
    let mut extra = base.clone();
    extra["SomethingNew"] = json!({"Nested": [1, 2]});
    extra["JobSpecs"][0]["FutureField"] = json!(true);
    server.create_job(extra).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_json() {
    let server = TestServer::start().await;
    expect_error(
        &server,
        "GET",
        "/api/v1/nothing-here",
        None,
        404,
        "InvalidAction.NotFound",
        "/api/v1/nothing-here",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/",
        None,
        404,
        "InvalidAction.NotFound",
        "GET /",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs/dlcnope",
        None,
        404,
        "EntityNotFound.Job",
        "dlcnope",
    )
    .await;
    expect_error(
        &server,
        "POST",
        "/api/v1/jobs/dlcnope/stop",
        None,
        404,
        "EntityNotFound.Job",
        "dlcnope",
    )
    .await;
    expect_error(
        &server,
        "DELETE",
        "/api/v1/jobs/dlcnope",
        None,
        404,
        "EntityNotFound.Job",
        "dlcnope",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs/dlcnope/events",
        None,
        404,
        "EntityNotFound.Job",
        "dlcnope",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs/dlcnope/metrics?MetricType=CpuCoreUsage",
        None,
        404,
        "EntityNotFound.Job",
        "dlcnope",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs/dlcnope/dashboard",
        None,
        404,
        "EntityNotFound.Job",
        "dlcnope",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs?PageSize=1000",
        None,
        400,
        "InvalidParameter",
        "PageSize",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs?ShowOwn=maybe",
        None,
        400,
        "InvalidParameter",
        "ShowOwn",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs?Status=Sleeping",
        None,
        400,
        "InvalidParameter",
        "Status",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs?StartTime=yesterday",
        None,
        400,
        "InvalidParameter",
        "StartTime",
    )
    .await;
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs?SortBy=Color",
        None,
        400,
        "InvalidParameter",
        "SortBy",
    )
    .await;
    // An encoded '/' stays inside the id.
    expect_error(
        &server,
        "GET",
        "/api/v1/jobs/dlc%2Fx",
        None,
        404,
        "EntityNotFound.Job",
        "dlc/x",
    )
    .await;
}
