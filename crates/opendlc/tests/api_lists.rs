//! ListJobs filters, sort and paging; ListEcsSpecs.

mod common;

use common::{pytorch_job, TestServer};
use serde_json::{json, Value};

fn ids(list: &Value) -> Vec<String> {
    list["Jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["DisplayName"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_jobs_filters_sorts_and_pages() {
    let server = TestServer::start().await;
    let mut alpha = pytorch_job("Alpha-train", &[("Worker", 1)], "true");
    alpha["Settings"] = json!({"Tags": {"team": "vision", "owner": "ann"}});
    alpha["Priority"] = json!(5);
    let alpha_id = server.create_job(alpha).await;
    let beta_id = server
        .create_job(pytorch_job("beta-eval", &[("Worker", 1)], "sleep 30"))
        .await;
    let mut gamma = pytorch_job("gamma-train", &[("Master", 1)], "exit 1");
    gamma["JobType"] = json!("XGBoostJob");
    let gamma_id = server.create_job(gamma).await;
    server.wait_status(&alpha_id, "Succeeded").await;
    server.wait_status(&beta_id, "Running").await;
    server.wait_status(&gamma_id, "Failed").await;

    let list = |query: &'static str| {
        let server = &server;
        async move {
            server
                .ok("GET", &format!("/api/v1/jobs?{query}"), None)
                .await
        }
    };
    let all = list("").await;
    assert_eq!(all["TotalCount"], 3);
    assert_eq!(
        ids(&all),
        ["gamma-train", "beta-eval", "Alpha-train"],
        "newest first by default"
    );
    assert_eq!(
        ids(&list("Order=asc").await),
        ["Alpha-train", "beta-eval", "gamma-train"]
    );
    assert_eq!(
        ids(&list("DisplayName=TRAIN").await),
        ["gamma-train", "Alpha-train"]
    );
    // DisplayNameSearchMode: prefix, term (the whole name); wildcard is the default.
    assert_eq!(
        ids(&list("DisplayName=alpha&DisplayNameSearchMode=prefix").await),
        ["Alpha-train"]
    );
    assert!(ids(&list("DisplayName=train&DisplayNameSearchMode=prefix").await).is_empty());
    assert_eq!(
        ids(&list("DisplayName=beta-eval&DisplayNameSearchMode=term").await),
        ["beta-eval"]
    );
    assert!(ids(&list("DisplayName=beta&DisplayNameSearchMode=term").await).is_empty());
    assert_eq!(
        ids(&list("DisplayName=TRAIN&DisplayNameSearchMode=wildcard").await),
        ["gamma-train", "Alpha-train"]
    );
    assert_eq!(ids(&list("JobType=XGBoostJob").await), ["gamma-train"]);
    assert_eq!(
        ids(&list("Status=Running%2CSucceeded&Order=asc").await),
        ["Alpha-train", "beta-eval"]
    );
    assert_eq!(
        ids(&list("Tags=%7B%22team%22%3A%22vision%22%7D").await),
        ["Alpha-train"]
    );
    assert!(ids(&list("Tags=%7B%22team%22%3A%22nlp%22%7D").await).is_empty());
    assert_eq!(ids(&list("UserCommandSearch=SLEEP").await), ["beta-eval"]);
    assert_eq!(ids(&list("ReasonSearch=code%201").await), ["gamma-train"]);
    assert_eq!(
        ids(&list("SortBy=DisplayName&Order=asc").await),
        ["Alpha-train", "beta-eval", "gamma-train"]
    );
    assert_eq!(
        ids(&list("SortBy=Priority&Order=desc&PageSize=1").await),
        ["Alpha-train"]
    );
    let page2 = list("PageSize=2&PageNumber=2").await;
    assert_eq!(
        (ids(&page2), page2["TotalCount"].as_i64()),
        (vec!["Alpha-train".to_string()], Some(3))
    );
    assert!(ids(
        &list("StartTime=2000-01-01T00%3A00%3A00Z&EndTime=2000-01-02T00%3A00%3A00Z").await
    )
    .is_empty());
    assert_eq!(
        ids(&list("StartTime=2000-01-01T00%3A00%3A00Z").await).len(),
        3
    );
    let by_id = server
        .ok(
            "GET",
            &format!("/api/v1/jobs?JobIds={alpha_id},{beta_id}&Order=asc"),
            None,
        )
        .await;
    assert_eq!(ids(&by_id), ["Alpha-train", "beta-eval"]);
    // JobId wins over JobIds.
    let one = server
        .ok(
            "GET",
            &format!("/api/v1/jobs?JobIds={alpha_id},{beta_id}&JobId={beta_id}"),
            None,
        )
        .await;
    assert_eq!(ids(&one), ["beta-eval"]);
    assert_eq!(
        ids(&list("ShowOwn=False&FromAllWorkspaces=True").await).len(),
        3
    );
    assert!(ids(&list("WorkspaceId=elsewhere").await).is_empty());

    let item = &list("DisplayName=alpha").await["Jobs"][0];
    assert_eq!(item["Status"], "Succeeded");
    assert_eq!(item["Settings"]["Tags"]["owner"], "ann");
    assert!(item["GmtSuccessedTime"].is_string());
    server.stop_job(&beta_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_ecs_specs_filters_sorts_and_pages() {
    let server = TestServer::start().await;
    let cpu = server
        .ok(
            "GET",
            "/api/v1/ecsspecs?AcceleratorType=CPU&PageSize=100&SortBy=Cpu&Order=asc",
            None,
        )
        .await;
    let specs = cpu["EcsSpecs"].as_array().unwrap();
    assert_eq!(cpu["TotalCount"].as_i64().unwrap() as usize, specs.len());
    assert!(specs
        .iter()
        .all(|s| s["AcceleratorType"] == "CPU" && s["Gpu"] == 0));
    let cpus: Vec<i64> = specs.iter().map(|s| s["Cpu"].as_i64().unwrap()).collect();
    assert!(cpus.windows(2).all(|w| w[0] <= w[1]), "{cpus:?}");
    let c6 = specs
        .iter()
        .find(|s| s["InstanceType"] == "ecs.c6.large")
        .unwrap();
    assert_eq!(
        (
            c6["Cpu"].as_i64(),
            c6["Memory"].as_i64(),
            c6["IsAvailable"].as_bool()
        ),
        (Some(2), Some(4), Some(true))
    );

    let two = server
        .ok(
            "GET",
            "/api/v1/ecsspecs?InstanceTypes=ecs.c6.large,ecs.gn6v-c8g1.16xlarge",
            None,
        )
        .await;
    assert_eq!(two["TotalCount"], 2);
    let big = two["EcsSpecs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Gpu"] == 8)
        .unwrap();
    assert_eq!(big["GpuType"], "NVIDIA V100");
    let host_gpus = opendlc_core::capacity::HostCapacity::detect().gpus.len();
    assert_eq!(big["IsAvailable"], host_gpus >= 8);

    let page = server
        .ok("GET", "/api/v1/ecsspecs?PageSize=5&PageNumber=2", None)
        .await;
    assert_eq!(page["EcsSpecs"].as_array().unwrap().len(), 5);
    server
        .error(
            "GET",
            "/api/v1/ecsspecs?AcceleratorType=TPU",
            None,
            400,
            "InvalidParameter",
        )
        .await;
}
