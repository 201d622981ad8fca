//! GetDashboard links to a job page that opens without credentials and shows the job;
//! GetRayDashboard refuses jobs that are not RayJobs.

mod common;

use common::{pytorch_job, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_link_opens_the_job_page() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(pytorch_job(
            "dash-demo",
            &[("Worker", 1)],
            "echo '<b>hello-dashboard</b>'",
        ))
        .await;
    server.wait_status(&job_id, "Succeeded").await;
    let reply = server
        .ok("GET", &format!("/api/v1/jobs/{job_id}/dashboard"), None)
        .await;
    assert!(
        reply.get("RequestId").is_none(),
        "the spec's shape: {reply}"
    );
    let url = reply["url"].as_str().unwrap();
    assert!(
        url.contains(&format!("/dashboard/jobs/{job_id}?token=")),
        "{url}"
    );

    let page = reqwest::get(url).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("&lt;b&gt;hello-dashboard"),
        "text is escaped: {html}"
    );
    assert!(!html.contains("<b>hello"), "{html}");
    assert!(
        html.contains("dash-demo") && html.contains("Succeeded"),
        "{html}"
    );

    let other = server
        .create_job(pytorch_job("other", &[("Worker", 1)], "true"))
        .await;
    let wrong = url.replace(&job_id, &other);
    assert_eq!(reqwest::get(&wrong).await.unwrap().status().as_u16(), 403);
    let bare = format!("{}/dashboard/jobs/{job_id}", server.base);
    assert_eq!(reqwest::get(&bare).await.unwrap().status().as_u16(), 401);

    let shared = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/dashboard?isShared=true"),
            None,
        )
        .await;
    assert_eq!(
        reqwest::get(shared["url"].as_str().unwrap())
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_ray_job_has_a_ray_dashboard() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(pytorch_job("torch", &[("Worker", 1)], "true"))
        .await;
    let (status, error) = server
        .call("GET", &format!("/api/v1/jobs/{job_id}/rayDashboard"), None)
        .await;
    assert_eq!(
        (status, error["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    assert!(
        error["Message"].as_str().unwrap().contains("only a RayJob"),
        "{error}"
    );
}
