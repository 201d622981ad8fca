//! Spot jobs (`SpotSpec`) on a small declared pool: they wait as `Bidding` while no capacity is
//! spare, run on what is, are evicted for a normal job (pods `Evicted`) and come back; their
//! limits are checked against the capacity file's prices; ListEcsSpecs says what spot costs.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};

const CAPACITY: &str = "pool: {cpu: 2, memory: 8Gi}
cpu_overcommit: 1
prices: {cpu: 0.01, memory: 0.001, gpu: 0.5, spot_discount: 0.3}
";

async fn server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("capacity.yaml");
    std::fs::write(&file, CAPACITY).unwrap();
    TestServer::start_with(dir, |c| c.capacity_file = Some(file)).await
}

/// A one-pod job of the whole pool (2 CPU), spot when `spot`.
fn job(name: &str, spot: bool, command: &str) -> Value {
    let mut body = json!({
        "DisplayName": name,
        "JobType": "PyTorchJob",
        "UserCommand": command,
        "JobSpecs": [{"Type": "Worker", "PodCount": 1, "Image": "local",
                      "ResourceConfig": {"CPU": "2", "Memory": "1Gi"}}],
    });
    if spot {
        body["JobSpecs"][0]["SpotSpec"] =
            json!({"SpotStrategy": "SpotWithPriceLimit", "SpotPriceLimit": 0.5});
        body["JobSpecs"][0]["RestartPolicy"] = json!("OnFailure");
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spot_job_bids_runs_on_spare_capacity_is_evicted_and_comes_back() {
    let server = server().await;
    let normal = server.create_job(job("normal", false, "sleep 600")).await;
    server.wait_status(&normal, "Running").await;
    // The spot job runs twice: evicted the first time (it waits to be), done the second.
    let command = "if [ -e evicted-once ]; then echo back; else touch evicted-once; sleep 600; fi";
    let spot = server.create_job(job("cheap", true, command)).await;
    let bidding = server
        .wait_job(&spot, Duration::from_secs(10), |j| {
            // Once the scheduler has said why (its first decision follows the status).
            let waiting = j["ReasonMessage"]
                .as_str()
                .is_some_and(|m| m.starts_with("Waiting:"));
            j["Status"] == "Bidding" && j["ReasonCode"] == "JobBidding" && waiting
        })
        .await;
    assert!(
        bidding["ReasonMessage"].as_str().unwrap().starts_with(
            "Waiting: a spot job runs on capacity no normal job needs: needs 2 CPU, 0 free"
        ),
        "{bidding}"
    );
    server.stop_job(&normal).await;
    server.wait_status(&spot, "Running").await;

    // A normal job needs the room: the spot job is evicted, and bids again.
    let needy = server.create_job(job("needy", false, "sleep 1")).await;
    let evicted = server
        .wait_job(&spot, Duration::from_secs(20), |j| {
            j["Status"] == "Bidding"
                && j["ReasonCode"] == "JobEvicted"
                && j["SubStatus"].is_string()
        })
        .await;
    assert_eq!(evicted["SubStatus"], "Evicted", "{evicted}");
    assert!(
        evicted["ReasonMessage"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Evicted for job {needy}")),
        "{evicted}"
    );
    assert_eq!(
        evicted["RestartTimes"], "0/3",
        "an eviction is not a restart"
    );
    // Once the normal job is done, it runs again, to its end; its evicted pod is history.
    server.wait_status(&needy, "Succeeded").await;
    let done = server.wait_status(&spot, "Succeeded").await;
    let history = &done["Pods"][0]["HistoryPods"][0];
    assert_eq!(history["SubStatus"], "Evicted", "{done}");
    let pod = format!("{spot}-worker-0");
    assert_eq!(server.logs(&spot, &pod, "").await, ["back"], "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_specs_are_checked_and_priced() {
    let server = server().await;
    let create = |spot: Value| {
        let mut body = job("bad", false, "true");
        body["JobSpecs"][0]["SpotSpec"] = spot;
        body
    };
    let refused = |body: Value| {
        let server = &server;
        async move {
            let err = server
                .error("POST", "/api/v1/jobs", Some(body), 400, "InvalidParameter")
                .await;
            err["Message"].as_str().unwrap().to_string()
        }
    };
    let message = refused(create(json!({"SpotStrategy": "SpotAsPriceGo"}))).await;
    assert!(
        message.contains("JobSpecs[0].SpotSpec.SpotStrategy")
            && message.contains("SpotWithPriceLimit"),
        "{message}"
    );
    let both = json!({"SpotStrategy": "SpotWithPriceLimit", "SpotPriceLimit": 1.0, "SpotDiscountLimit": 0.5});
    let message = refused(create(both)).await;
    assert!(message.contains("not both"), "{message}");
    // A pod of 2 CPU and 1 GiB costs 0.021 per minute, 0.0063 on spot.
    let cheap = json!({"SpotStrategy": "SpotWithPriceLimit", "SpotPriceLimit": 0.005});
    let message = refused(create(cheap)).await;
    assert!(
        message.contains("JobSpecs[0].SpotSpec.SpotPriceLimit") && message.contains("0.0063"),
        "{message}"
    );
    let low = json!({"SpotStrategy": "SpotWithPriceLimit", "SpotDiscountLimit": 0.2});
    let message = refused(create(low)).await;
    assert!(
        message.contains("under the spot discount here, 0.3"),
        "{message}"
    );

    let specs = server
        .ok("GET", "/api/v1/ecsspecs?InstanceTypes=ecs.c6.large", None)
        .await;
    let spec = &specs["EcsSpecs"][0];
    assert_eq!(spec["PaymentTypes"], json!(["PostPaid", "Spot"]), "{specs}");
    assert_eq!(spec["NonProtectSpotDiscount"], 0.3);
    assert_eq!(spec["SpotStockStatus"], "WithStock");
}
