//! Every request the official SDK sent parses into its request type, with the right values,
//! and writing it back gives the SDK's query string again.

mod support;

use std::collections::BTreeMap;

use opendlc_api::endpoints::*;
use opendlc_api::*;
use support::{captured, find};

/// Parses a captured query with `E`'s request type and writes it back.
fn requery<E>(query: &[(String, String)]) -> Vec<(String, String)>
where
    E: Endpoint,
    E::Request: QueryRequest,
{
    let request =
        E::Request::from_query(query).unwrap_or_else(|e| panic!("{}: {e}", E::OPERATION.action));
    request.to_query()
}

#[test]
fn all_25_operations_were_captured() {
    let actions: Vec<String> = captured().into_iter().map(|c| c.action).collect();
    assert_eq!(actions.len(), 25);
    for op in OPERATIONS {
        assert!(
            actions.iter().any(|a| a == op.action),
            "{} missing",
            op.action
        );
    }
}

#[test]
fn captured_requests_route_to_their_operation() {
    for c in captured() {
        let (op, params) = Operation::route(&c.method, &c.path)
            .unwrap_or_else(|| panic!("{} {} does not route", c.method, c.path));
        assert_eq!(op.action, c.action);
        assert_eq!(params.len(), op.path_params().count());
        let has_body = c.body.is_some();
        assert_eq!(
            op.encoding() == RequestEncoding::JsonBody,
            has_body,
            "{}",
            c.action
        );
    }
}

#[test]
fn captured_queries_parse_and_write_back_identically() {
    for c in captured() {
        let written = match c.action.as_str() {
            "CreateJob" | "UpdateJob" | "CreateTensorboard" => continue,
            "DeleteJob" => requery::<DeleteJob>(&c.query),
            "StopJob" => requery::<StopJob>(&c.query),
            "ListJobs" => requery::<ListJobs>(&c.query),
            "GetJob" => requery::<GetJob>(&c.query),
            "GetJobSanityCheckResult" => requery::<GetJobSanityCheckResult>(&c.query),
            "ListJobSanityCheckResults" => requery::<ListJobSanityCheckResults>(&c.query),
            "GetPodLogs" => requery::<GetPodLogs>(&c.query),
            "GetPodEvents" => requery::<GetPodEvents>(&c.query),
            "GetJobMetrics" => requery::<GetJobMetrics>(&c.query),
            "GetJobEvents" => requery::<GetJobEvents>(&c.query),
            "ListEcsSpecs" => requery::<ListEcsSpecs>(&c.query),
            "GetWebTerminal" => requery::<GetWebTerminal>(&c.query),
            "GetToken" => requery::<GetToken>(&c.query),
            "DeleteTensorboard" => requery::<DeleteTensorboard>(&c.query),
            "StartTensorboard" => requery::<StartTensorboard>(&c.query),
            "UpdateTensorboard" => requery::<UpdateTensorboard>(&c.query),
            "StopTensorboard" => requery::<StopTensorboard>(&c.query),
            "ListTensorboards" => requery::<ListTensorboards>(&c.query),
            "GetTensorboard" => requery::<GetTensorboard>(&c.query),
            "GetTensorboardSharedUrl" => requery::<GetTensorboardSharedUrl>(&c.query),
            "GetRayDashboard" => requery::<GetRayDashboard>(&c.query),
            "GetDashboard" => requery::<GetDashboard>(&c.query),
            other => panic!("unexpected action {other}"),
        };
        assert_eq!(written, c.query, "{}", c.action);
    }
}

#[test]
fn list_jobs_query_values() {
    let r = ListJobsRequest::from_query(&find("ListJobs").query).unwrap();
    assert_eq!(r.display_name.as_deref(), Some("sdk conf"));
    assert_eq!(r.from_all_workspaces, Some(false));
    assert_eq!(r.show_own, Some(true));
    assert_eq!(r.job_ids.as_deref(), Some("dlc1a2b3c4d5e6f,dlcx"));
    assert_eq!(r.job_type.as_deref(), Some("PyTorchJob"));
    assert_eq!(r.order.as_deref(), Some("desc"));
    assert_eq!(r.page_number, Some(1));
    assert_eq!(r.page_size, Some(50));
    assert_eq!(r.sort_by.as_deref(), Some("GmtCreateTime"));
    assert_eq!(r.start_time.as_deref(), Some("2024-01-01T00:00:00Z"));
    assert_eq!(r.status.as_deref(), Some("Running,Succeeded"));
    assert_eq!(r.workspace_id.as_deref(), Some("1234"));
    let tags = BTreeMap::from([
        ("owner".to_string(), "sdk".to_string()),
        ("team".to_string(), "a b".to_string()),
    ]);
    assert_eq!(r.tags, Some(tags));
    assert_eq!(r.end_time, None);
}

#[test]
fn job_query_values() {
    let r = GetJobRequest::from_query(&find("GetJob").query).unwrap();
    assert_eq!(r.need_detail, Some(true));

    let r =
        GetJobSanityCheckResultRequest::from_query(&find("GetJobSanityCheckResult").query).unwrap();
    assert_eq!(r.sanity_check_number, Some(1));
    assert_eq!(r.sanity_check_phase.as_deref(), Some("DeviceCheck"));
    assert_eq!(r.token.as_deref(), Some("t"));

    let r = ListJobSanityCheckResultsRequest::from_query(&find("ListJobSanityCheckResults").query)
        .unwrap();
    assert_eq!(r.order.as_deref(), Some("asc"));

    let r = GetPodLogsRequest::from_query(&find("GetPodLogs").query).unwrap();
    assert_eq!(r.containers.as_deref(), Some("main"));
    assert_eq!(r.download_to_file, Some(false));
    assert_eq!(r.end_time.as_deref(), Some("2024-01-02T00:00:00Z"));
    assert_eq!(r.max_lines, Some(100));
    assert_eq!(r.pod_uid.as_deref(), Some("uid-1"));
    assert_eq!(r.start_time.as_deref(), Some("2024-01-01T00:00:00Z"));

    let r = GetPodEventsRequest::from_query(&find("GetPodEvents").query).unwrap();
    assert_eq!(r.max_events_num, Some(10));
    assert_eq!(r.pod_uid.as_deref(), Some("uid-1"));

    let r = GetJobMetricsRequest::from_query(&find("GetJobMetrics").query).unwrap();
    assert_eq!(r.metric_type.as_deref(), Some("CpuCoreUsage"));
    assert_eq!(r.time_step.as_deref(), Some("1m"));
    assert_eq!(r.end_time.as_deref(), Some("2024-01-01T01:00:00Z"));

    let r = GetJobEventsRequest::from_query(&find("GetJobEvents").query).unwrap();
    assert_eq!(r.max_events_num, Some(20));

    let r = ListEcsSpecsRequest::from_query(&find("ListEcsSpecs").query).unwrap();
    assert_eq!(r.accelerator_type.as_deref(), Some("CPU"));
    assert_eq!(
        r.instance_types.as_deref(),
        Some("ecs.g6.large,ecs.g6.xlarge")
    );
    assert_eq!(r.page_size, Some(10));
    assert_eq!(r.resource_type.as_deref(), Some("ECS"));
    assert_eq!(r.sort_by.as_deref(), Some("Gpu"));

    let r = GetWebTerminalRequest::from_query(&find("GetWebTerminal").query).unwrap();
    assert_eq!(r.is_shared, Some(true));
    assert_eq!(r.pod_uid.as_deref(), Some("uid-1"));
}

#[test]
fn get_token_fills_the_flattened_token_settings() {
    let r = GetTokenRequest::from_query(&find("GetToken").query).unwrap();
    assert_eq!(r.expire_time, Some(60));
    assert_eq!(r.target_id.as_deref(), Some("dlc1a2b3c4d5e6f"));
    assert_eq!(r.target_type.as_deref(), Some("job"));
    assert_eq!(
        r.token_settings,
        Some(TokenSettings {
            enable_cross_account_access: Some(true),
            enable_log_download_job: Some(false),
        })
    );
}

#[test]
fn tensorboard_and_dashboard_query_values() {
    let r = UpdateTensorboardRequest::from_query(&find("UpdateTensorboard").query).unwrap();
    assert_eq!(r.accessibility.as_deref(), Some("PUBLIC"));
    assert_eq!(r.max_running_time_minutes, Some(120));
    // TensorBoard priority is a string, unlike a job's.
    assert_eq!(r.priority.as_deref(), Some("2"));
    assert_eq!(r.workspace_id.as_deref(), Some("1234"));

    for action in ["StartTensorboard", "StopTensorboard", "DeleteTensorboard"] {
        let query = find(action).query;
        let workspace = match action {
            "StartTensorboard" => {
                StartTensorboardRequest::from_query(&query)
                    .unwrap()
                    .workspace_id
            }
            "StopTensorboard" => {
                StopTensorboardRequest::from_query(&query)
                    .unwrap()
                    .workspace_id
            }
            _ => {
                DeleteTensorboardRequest::from_query(&query)
                    .unwrap()
                    .workspace_id
            }
        };
        assert_eq!(workspace.as_deref(), Some("1234"), "{action}");
    }

    let r = ListTensorboardsRequest::from_query(&find("ListTensorboards").query).unwrap();
    assert_eq!(r.job_id.as_deref(), Some("dlc1a2b3c4d5e6f"));
    assert_eq!(r.show_own, Some(false));
    assert_eq!(r.verbose, Some(true));
    assert_eq!(r.page_size, Some(10));
    assert_eq!(r.status.as_deref(), Some("Running"));

    let r = GetTensorboardRequest::from_query(&find("GetTensorboard").query).unwrap();
    assert_eq!(r.jod_id.as_deref(), Some("dlc1a2b3c4d5e6f"));
    assert_eq!(r.token.as_deref(), Some("t"));
    assert_eq!(r.workspace_id.as_deref(), Some("1234"));

    let r =
        GetTensorboardSharedUrlRequest::from_query(&find("GetTensorboardSharedUrl").query).unwrap();
    assert_eq!(r.expire_time_seconds.as_deref(), Some("3600"));

    let r = GetRayDashboardRequest::from_query(&find("GetRayDashboard").query).unwrap();
    assert_eq!(r.is_shared, Some(true));
    assert_eq!(r.token.as_deref(), Some("t"));

    let r = GetDashboardRequest::from_query(&find("GetDashboard").query).unwrap();
    assert_eq!(r.is_shared, Some(false));
    assert_eq!(r.token.as_deref(), Some("t"));
}

#[test]
fn create_job_body() {
    let body = find("CreateJob").body.unwrap();
    let r: CreateJobRequest = parse_body(body.as_bytes()).unwrap();
    assert_eq!(r.display_name.as_deref(), Some("sdk-conformance"));
    assert_eq!(r.job_type.as_deref(), Some("PyTorchJob"));
    assert_eq!(r.job_max_running_time_minutes, Some(30));
    assert_eq!(r.priority, Some(1));
    assert_eq!(r.user_command.as_deref(), Some("echo hello; sleep 2"));
    assert_eq!(r.workspace_id.as_deref(), Some("1234"));
    assert_eq!(r.thirdparty_libs, Some(vec!["numpy".to_string()]));
    assert_eq!(
        r.envs,
        Some(BTreeMap::from([("A".to_string(), "B".to_string())]))
    );
    assert_eq!(
        r.code_source,
        Some(CreateJobRequestCodeSource {
            branch: Some("main".into()),
            code_source_id: Some("code-1".into()),
            mount_path: Some("/root/code".into()),
            ..Default::default()
        })
    );
    assert_eq!(
        r.data_sources,
        Some(vec![CreateJobRequestDataSources {
            data_source_id: Some("d-1".into()),
            mount_path: Some("/mnt/data".into()),
            ..Default::default()
        }])
    );
    assert_eq!(
        r.user_vpc,
        Some(CreateJobRequestUserVpc {
            security_group_id: Some("sg-1".into()),
            switch_id: Some("vsw-1".into()),
            vpc_id: Some("vpc-1".into()),
            ..Default::default()
        })
    );
    let settings = r.settings.as_ref().unwrap();
    assert_eq!(settings.enable_sanity_check, Some(false));
    assert_eq!(
        settings.tags,
        Some(BTreeMap::from([("owner".to_string(), "sdk".to_string())]))
    );

    let specs = r.job_specs.as_ref().unwrap();
    assert_eq!(specs.len(), 1);
    let spec = &specs[0];
    assert_eq!(spec.r#type.as_deref(), Some("Master"));
    assert_eq!(spec.image.as_deref(), Some("python:3.11-slim"));
    assert_eq!(spec.ecs_spec.as_deref(), Some("ecs.g6.large"));
    assert_eq!(spec.pod_count, Some(1));
    // The SDK always sends nested list fields, empty when unset.
    assert_eq!(spec.elastic_spot_specs, Some(vec![]));
    assert_eq!(spec.local_mount_specs, Some(vec![]));
    assert_eq!(spec.startup_dependencies, Some(vec![]));
    assert_eq!(
        spec.resource_config,
        Some(ResourceConfig {
            cpu: Some("1".into()),
            memory: Some("1Gi".into()),
            ..Default::default()
        })
    );

    // Nothing is lost: writing it back gives the same JSON.
    let original: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap(), original);
}

#[test]
fn update_job_body() {
    let body = find("UpdateJob").body.unwrap();
    let r: UpdateJobRequest = parse_body(body.as_bytes()).unwrap();
    assert_eq!(
        r,
        UpdateJobRequest {
            description: Some("new".into()),
            priority: Some(5),
            ..Default::default()
        }
    );
}

#[test]
fn create_tensorboard_body() {
    let body = find("CreateTensorboard").body.unwrap();
    let r: CreateTensorboardRequest = parse_body(body.as_bytes()).unwrap();
    assert_eq!(r.cpu, Some(1));
    assert_eq!(r.memory, Some(2));
    assert_eq!(r.data_source_type.as_deref(), Some("OSS"));
    assert_eq!(r.display_name.as_deref(), Some("tb"));
    assert_eq!(r.job_id.as_deref(), Some("dlc1a2b3c4d5e6f"));
    assert_eq!(r.max_running_time_minutes, Some(60));
    assert_eq!(r.priority.as_deref(), Some("1"));
    assert_eq!(r.summary_path.as_deref(), Some("oss://bucket/logs/"));
    assert_eq!(r.summary_relative_path.as_deref(), Some("/logs"));
    assert_eq!(r.uri.as_deref(), Some("oss://bucket/logs/"));
    assert_eq!(r.workspace_id.as_deref(), Some("1234"));
    let original: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap(), original);
}

#[test]
fn sdk_only_job_spec_fields_are_kept() {
    // Per-role fields the SDK sends that the spec does not list.
    let body = br#"{"JobSpecs":[{"Type":"Worker","UserCommand":"python w.py",
        "ConsiderInSuccessPolicy":true,"ElasticSpotSpecs":[{"InstanceType":"ecs.x","SpotPriceLimit":1.5}],
        "HyperNodeSchedulingConfig":{"MinAvailable":2}}],"Description":"d","SchedulingStrategy":"s"}"#;
    let r: CreateJobRequest = parse_body(body).unwrap();
    let spec = &r.job_specs.as_ref().unwrap()[0];
    assert_eq!(spec.user_command.as_deref(), Some("python w.py"));
    assert_eq!(spec.consider_in_success_policy, Some(true));
    assert_eq!(
        spec.elastic_spot_specs,
        Some(vec![ElasticSpotSpec {
            instance_type: Some("ecs.x".into()),
            spot_price_limit: Some(1.5),
            ..Default::default()
        }])
    );
    assert_eq!(
        spec.hyper_node_scheduling_config
            .as_ref()
            .and_then(|h| h.min_available),
        Some(2)
    );
    assert_eq!(r.description.as_deref(), Some("d"));
    assert_eq!(r.scheduling_strategy.as_deref(), Some("s"));
}

#[test]
fn an_empty_json_object_is_the_default_request() {
    // `CreateJob(M.CreateJobRequest())` sends `{}`.
    let r: CreateJobRequest = parse_body(b"{}").unwrap();
    assert_eq!(r, CreateJobRequest::default());
}

#[test]
fn ids_with_reserved_characters_route_on_the_raw_path() {
    // get_job('dlc a/b~*ü+') as the SDK encodes it.
    let (op, params) = Operation::route("GET", "/api/v1/jobs/dlc%20a%2Fb~%2A%C3%BC%2B").unwrap();
    assert_eq!(op.action, "GetJob");
    assert_eq!(params, vec!["dlc%20a%2Fb~%2A%C3%BC%2B"]);
}
