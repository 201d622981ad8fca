//! Response bodies serialize with the exact wire names the SDK reads, quirks included.

use std::collections::BTreeMap;

use opendlc_api::*;
use serde_json::{json, Value};

fn realistic_get_job() -> GetJobResponseBody {
    GetJobResponseBody {
        request_id: Some("5B4B9F5C-2B3E-4C1A-9A1E-0123456789AB".into()),
        job_id: Some("dlc1a2b3c4d5e6f".into()),
        job_type: Some("PyTorchJob".into()),
        display_name: Some("mnist".into()),
        status: Some("Succeeded".into()),
        workspace_id: Some("1234".into()),
        user_command: Some("python train.py".into()),
        priority: Some(1),
        duration: Some(42),
        restart_times: Some("0".into()),
        request_cpu: Some(4),
        request_gpu: Some(1.0),
        request_memory: Some(8.5),
        gmt_create_time: Some("2024-01-01T00:00:00Z".into()),
        gmt_successed_time: Some("2024-01-01T00:00:42Z".into()),
        envs: Some(BTreeMap::from([("A".to_string(), "B".to_string())])),
        job_specs: Some(vec![JobSpec {
            r#type: Some("Worker".into()),
            image: Some("python:3.11-slim".into()),
            pod_count: Some(2),
            is_cheif: Some(false),
            resource_config: Some(ResourceConfig {
                cpu: Some("2".into()),
                gpu: Some("1".into()),
                gpu_type: Some("A10".into()),
                memory: Some("4Gi".into()),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        pods: Some(vec![GetJobResponseBodyPods {
            r#type: Some("Worker".into()),
            pod_id: Some("dlc1a2b3c4d5e6f-worker-0".into()),
            status: Some("Succeeded".into()),
            duration: Some(41.5),
            history_pods: Some(vec![]),
            ..Default::default()
        }]),
        status_history: Some(vec![StatusTransitionItem {
            status: Some("Running".into()),
            start_time: Some("2024-01-01T00:00:01Z".into()),
            end_time: Some("2024-01-01T00:00:42Z".into()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

#[test]
fn get_job_response_uses_the_exact_wire_names() {
    let v = serde_json::to_value(realistic_get_job()).unwrap();
    assert_eq!(
        v,
        json!({
            "RequestId": "5B4B9F5C-2B3E-4C1A-9A1E-0123456789AB",
            "JobId": "dlc1a2b3c4d5e6f",
            "JobType": "PyTorchJob",
            "DisplayName": "mnist",
            "Status": "Succeeded",
            "WorkspaceId": "1234",
            "UserCommand": "python train.py",
            "Priority": 1,
            "Duration": 42,
            "RestartTimes": "0",
            "RequestCPU": 4,
            "RequestGPU": 1.0,
            "RequestMemory": 8.5,
            "GmtCreateTime": "2024-01-01T00:00:00Z",
            "GmtSuccessedTime": "2024-01-01T00:00:42Z",
            "Envs": {"A": "B"},
            "JobSpecs": [{
                "Type": "Worker",
                "Image": "python:3.11-slim",
                "PodCount": 2,
                "IsCheif": false,
                "ResourceConfig": {"CPU": "2", "GPU": "1", "GPUType": "A10", "Memory": "4Gi"}
            }],
            "Pods": [{
                "Type": "Worker",
                "PodId": "dlc1a2b3c4d5e6f-worker-0",
                "Status": "Succeeded",
                "Duration": 41.5,
                "HistoryPods": []
            }],
            "StatusHistory": [{
                "Status": "Running",
                "StartTime": "2024-01-01T00:00:01Z",
                "EndTime": "2024-01-01T00:00:42Z"
            }]
        })
    );
}

#[test]
fn responses_round_trip() {
    let job = realistic_get_job();
    let text = serde_json::to_string(&job).unwrap();
    assert_eq!(
        serde_json::from_str::<GetJobResponseBody>(&text).unwrap(),
        job
    );

    let list = ListJobsResponseBody {
        request_id: Some("r".into()),
        total_count: Some(1),
        jobs: Some(vec![JobItem {
            job_id: Some("dlc1".into()),
            // JobItem's RequestGPU/RequestMemory are strings, unlike GetJob's.
            request_gpu: Some("1".into()),
            request_memory: Some("4Gi".into()),
            ..Default::default()
        }]),
    };
    let text = serde_json::to_string(&list).unwrap();
    assert!(text.contains(r#""RequestGPU":"1""#), "{text}");
    assert_eq!(
        serde_json::from_str::<ListJobsResponseBody>(&text).unwrap(),
        list
    );
}

#[test]
fn unset_fields_are_left_out() {
    assert_eq!(
        serde_json::to_string(&GetJobResponseBody::default()).unwrap(),
        "{}"
    );
    let body = CreateJobResponseBody {
        job_id: Some("dlc1".into()),
        request_id: Some("r".into()),
    };
    assert_eq!(
        serde_json::to_value(body).unwrap(),
        json!({"JobId": "dlc1", "RequestId": "r"})
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let job: GetJobResponseBody =
        serde_json::from_str(r#"{"JobId":"dlc1","SomethingNew":{"x":1},"Pods":[{"Later":true}]}"#)
            .unwrap();
    assert_eq!(job.job_id.as_deref(), Some("dlc1"));
    assert_eq!(job.pods, Some(vec![GetJobResponseBodyPods::default()]));
}

#[test]
fn null_reads_as_absent() {
    let job: GetJobResponseBody = serde_json::from_str(r#"{"JobId":null,"Pods":null}"#).unwrap();
    assert_eq!(job, GetJobResponseBody::default());
}

#[test]
fn sanity_check_responses_use_request_id_in_capitals() {
    let one = GetJobSanityCheckResultResponseBody {
        request_id: Some("r".into()),
        job_id: Some("dlc1".into()),
        sanity_check_result: Some(vec![SanityCheckResultItem {
            check_number: Some(1),
            phase: Some("DeviceCheck".into()),
            status: Some("Succeeded".into()),
            ..Default::default()
        }]),
    };
    let v = serde_json::to_value(&one).unwrap();
    assert_eq!(v["RequestID"], "r");
    assert!(v.get("RequestId").is_none());
    assert_eq!(v["SanityCheckResult"][0]["CheckNumber"], 1);

    let all = ListJobSanityCheckResultsResponseBody {
        request_id: Some("r".into()),
        total_count: Some(1),
        // A list of lists: one list per check run.
        sanity_check_results: Some(vec![vec![SanityCheckResultItem::default()]]),
    };
    let v = serde_json::to_value(&all).unwrap();
    assert_eq!(
        v,
        json!({"RequestID": "r", "TotalCount": 1, "SanityCheckResults": [[{}]]})
    );
}

#[test]
fn dashboard_responses_are_lower_case() {
    let ray = GetRayDashboardResponseBody {
        url: Some("http://h/ray".into()),
        metrics_enabled: Some("false".into()),
    };
    assert_eq!(
        serde_json::to_value(ray).unwrap(),
        json!({"url": "http://h/ray", "metricsEnabled": "false"})
    );
    let dash = GetDashboardResponseBody {
        url: Some("http://h/d".into()),
    };
    assert_eq!(
        serde_json::to_value(dash).unwrap(),
        json!({"url": "http://h/d"})
    );
}

#[test]
fn get_tensorboard_returns_the_tensorboard_schema() {
    let tb: GetTensorboardResponseBody = Tensorboard {
        request_id: Some("r".into()),
        tensorboard_id: Some("tb1a2b3c4d5e6f7".into()),
        // TensorBoard priority and duration are strings.
        priority: Some("1".into()),
        duration: Some("60".into()),
        cpu: Some(1),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(tb).unwrap(),
        json!({"RequestId": "r", "TensorboardId": "tb1a2b3c4d5e6f7", "Priority": "1",
               "Duration": "60", "Cpu": 1})
    );
}

#[test]
fn logs_events_and_metrics_shapes() {
    let logs = GetPodLogsResponseBody {
        logs: Some(vec!["line 1".into(), "line 2".into()]),
        container_info: Some(ContainerInfo {
            main_container: Some("main".into()),
            sidecar_containers: Some(vec![]),
        }),
        ..Default::default()
    };
    let v = serde_json::to_value(logs).unwrap();
    assert_eq!(v["Logs"], json!(["line 1", "line 2"]));
    assert_eq!(v["ContainerInfo"]["MainContainer"], "main");

    let metrics = GetJobMetricsResponseBody {
        pod_metrics: Some(vec![PodMetric {
            pod_id: Some("p".into()),
            metrics: Some(vec![Metric {
                time: Some(1_616_987_726_587),
                value: Some(23.45),
            }]),
        }]),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(metrics).unwrap(),
        json!({"PodMetrics": [{"PodId": "p", "Metrics": [{"Time": 1_616_987_726_587_i64, "Value": 23.45}]}]})
    );

    let specs = ListEcsSpecsResponseBody {
        ecs_specs: Some(vec![EcsSpec {
            instance_type: Some("ecs.g6.large".into()),
            cpu: Some(2),
            memory: Some(8),
            gpu: Some(0),
            default_gpu_driver: Some("535".into()),
            ..Default::default()
        }]),
        total_count: Some(1),
        request_id: Some("r".into()),
    };
    let v = serde_json::to_value(specs).unwrap();
    assert_eq!(
        v["EcsSpecs"][0],
        json!({"InstanceType": "ecs.g6.large", "Cpu": 2, "Memory": 8, "Gpu": 0,
               "DefaultGPUDriver": "535"})
    );
}

#[test]
fn free_form_fields_take_any_json() {
    let settings: JobSettings =
        serde_json::from_str(r#"{"AdvancedSettings":{"a":[1,2],"b":"c"}}"#).unwrap();
    assert_eq!(
        settings.advanced_settings,
        Some(json!({"a": [1, 2], "b": "c"}))
    );
    let job: GetJobResponseBody =
        serde_json::from_str(r#"{"RoleSystemEnvs":{"Worker":{"RANK":"0"}}}"#).unwrap();
    let envs: BTreeMap<String, Value> = job.role_system_envs.unwrap();
    assert_eq!(envs["Worker"], json!({"RANK": "0"}));
}
