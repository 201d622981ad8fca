//! GetDashboard links to the job in the web console, with a token that opens it read-only (and
//! the no-JavaScript job page); GetRayDashboard refuses jobs that are not RayJobs.

mod common;

use common::{pytorch_job, TestServer};

/// The token of a console link `http://host/#/jobs/<id>?token=<token>`.
fn token_of(url: &str, job_id: &str) -> String {
    let (_, token) = url
        .split_once(&format!("/#/jobs/{job_id}?token="))
        .unwrap_or_else(|| panic!("not a console link to {job_id}: {url}"));
    token.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_link_opens_the_job_in_the_console() {
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
    assert!(url.starts_with(&server.base), "{url}");
    let token = token_of(url, &job_id);

    // The link opens the console's page (the fragment stays in the browser).
    let page = reqwest::get(url).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/js/app.js"), "{html}");

    // The console's calls with the token read the job, unsigned...
    let job: serde_json::Value = reqwest::get(format!(
        "{}/api/v1/jobs/{job_id}?token={token}",
        server.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(job["DisplayName"], "dash-demo", "{job}");
    assert_eq!(job["Status"], "Succeeded", "{job}");
    // ...but nothing else: not another job, not a list, not a change.
    let other = server
        .create_job(pytorch_job("other", &[("Worker", 1)], "true"))
        .await;
    for (method, path) in [
        ("GET", format!("/api/v1/jobs/{other}")),
        ("GET", "/api/v1/jobs".to_string()),
        ("POST", format!("/api/v1/jobs/{job_id}/stop")),
        ("DELETE", format!("/api/v1/jobs/{job_id}")),
    ] {
        let response = reqwest::Client::new()
            .request(
                method.parse().unwrap(),
                format!("{}{path}?token={token}", server.base),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403, "{method} {path}");
    }

    // The same token opens the no-JavaScript page, escaped, for that job only.
    let fallback = format!("{}/dashboard/jobs/{job_id}?token={token}", server.base);
    let page = reqwest::get(&fallback).await.unwrap();
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
    let wrong = fallback.replace(&job_id, &other);
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
    let shared_token = token_of(shared["url"].as_str().unwrap(), &job_id);
    let response = reqwest::get(format!(
        "{}/api/v1/jobs/{job_id}/events?token={shared_token}",
        server.base
    ))
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 200);
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

/// The expiry (`exp`, Unix seconds) a token carries.
fn expiry_of(token: &str) -> i64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["exp"].as_i64().unwrap()
}

/// A share token cannot be turned into a longer one: the link GetDashboard gives its holder
/// (even a shared one, a week by default) ends when the holder's own token does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_made_with_a_share_token_ends_when_that_token_does() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(pytorch_job("dash", &[("Worker", 1)], "true"))
        .await;
    let short = server
        .ok(
            "GET",
            &format!("/api/v1/tokens?TargetType=job&TargetId={job_id}&ExpireTime=60"),
            None,
        )
        .await;
    let short = short["Token"].as_str().unwrap().to_string();
    let answer: serde_json::Value = reqwest::get(format!(
        "{}/api/v1/jobs/{job_id}/dashboard?isShared=true&token={short}",
        server.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let link = token_of(answer["url"].as_str().expect("a url"), &job_id);
    assert!(expiry_of(&link) <= expiry_of(&short), "{answer}");
    // Signed, the same call gives the week a shared link has.
    let signed = server
        .ok(
            "GET",
            &format!("/api/v1/jobs/{job_id}/dashboard?isShared=true"),
            None,
        )
        .await;
    let week = token_of(signed["url"].as_str().unwrap(), &job_id);
    assert!(expiry_of(&week) > expiry_of(&short) + 3600);
}
