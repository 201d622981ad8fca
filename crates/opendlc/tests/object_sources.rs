//! DataSources in object stores: `oss://` and `s3://` prefixes staged from a local S3 server
//! (moto, from the test venv) into the pods' mounts; read-write ones written back before the
//! job takes its final status; the second job of the same data served from the cache.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};

/// A moto S3 server on a free loopback port, killed when dropped (pass or fail).
struct S3Server {
    child: Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    fn start() -> Option<S3Server> {
        let python = std::env::var("OPENDLC_TEST_PYTHON").ok().filter(|p| {
            Command::new(p)
                .args(["-c", "import moto.server"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        let Some(python) = python else {
            eprintln!(
                "no python with moto (set OPENDLC_TEST_PYTHON; scripts/test.sh does): skipped"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(python);
        command
            .args(["-m", "moto.server", "-H", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Gone with the test even when it is killed rather than failed (nothing is dropped
        // then).
        // SAFETY: prctl with integer arguments, async-signal-safe.
        unsafe {
            use std::os::unix::process::CommandExt;
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().unwrap();
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    /// moto takes unsigned requests: the test sets up its bucket without a key.
    async fn put(&self, path: &str, body: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{path}", self.endpoint))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "PUT {path}: {response:?}");
    }

    /// An object as the server's key reads it (what it wrote is private to that key).
    async fn get(&self, bucket: &str, key: &str) -> (u16, String) {
        use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
        let bucket = Bucket::new(
            self.endpoint.parse().unwrap(),
            UrlStyle::Path,
            bucket.to_string(),
            "us-east-1",
        )
        .unwrap();
        let credentials = Credentials::new("test", "test");
        let url = bucket
            .get_object(Some(&credentials), key)
            .sign(Duration::from_secs(60));
        let response = reqwest::get(url).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

async fn finished(server: &TestServer, job_id: &str) -> Value {
    server
        .wait_job(job_id, Duration::from_secs(60), |j| {
            ["Succeeded", "Failed", "Stopped"].contains(&j["Status"].as_str().unwrap_or_default())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_sources_are_staged_read_only_and_written_back_read_write() {
    let Some(s3) = S3Server::start() else {
        return;
    };
    s3.put("datasets", "").await;
    s3.put("datasets/train/labels.txt", "cat dog\n").await;
    s3.put("datasets/train/sub/x.txt", "x\n").await;
    s3.put("datasets/outputs/old.txt", "old\n").await;
    let server = TestServer::start().await;
    let sources = server.data_dir.path().join("sources.yaml");
    let mut text = std::fs::read_to_string(&sources).unwrap();
    text.push_str(&format!(
        "object_stores:\n  - endpoint: {}\n    access_key_id: test\n    secret_access_key: test\n    \
         buckets: [datasets]\n",
        s3.endpoint
    ));
    std::fs::write(&sources, text).unwrap();
    let mnt = server.scratch().join("mnt");
    let (train, out) = (mnt.join("train"), mnt.join("out"));
    let body = |name: &str, command: String| {
        json!({
            "DisplayName": name,
            "JobType": "PyTorchJob",
            "JobSpecs": [{"Type": "Worker", "PodCount": 1}],
            "DataSources": [
                {"Uri": "oss://datasets.oss-cn-hangzhou-internal.aliyuncs.com/train/",
                 "MountPath": train.display().to_string()},
                {"Uri": "s3://datasets/outputs", "MountPath": out.display().to_string(),
                 "MountAccess": "RW"},
            ],
            "UserCommand": command,
        })
    };
    let command = format!(
        "cat {t}/labels.txt {t}/sub/x.txt {o}/old.txt; echo trained > {o}/model.txt; \
         touch {t}/new 2>/dev/null && echo writable || echo read-only",
        t = train.display(),
        o = out.display()
    );
    let job_id = server.create_job(body("objects", command.clone())).await;
    let job = finished(&server, &job_id).await;
    let logs = server
        .logs(&job_id, &format!("{job_id}-worker-0"), "")
        .await;
    assert_eq!(job["Status"], "Succeeded", "{job}\n{logs:?}");
    assert_eq!(logs[..3], ["cat dog", "x", "old"], "{logs:?}");
    if common::is_root() {
        assert_eq!(logs[3], "read-only", "{logs:?}");
    }
    let events = server.events(&job_id).await;
    let said = |needle: &str| events.iter().any(|e| e.contains(needle));
    assert!(
        said("DataSources[0]: 2 object(s) of oss://") && said("2 downloaded"),
        "{events:?}"
    );
    assert!(
        said("DataSources[1]: 1 file(s) written back to s3://datasets/outputs"),
        "{events:?}"
    );

    // Written back before the job took its final status; what was not changed stays as it was.
    assert_eq!(
        s3.get("datasets", "outputs/model.txt").await,
        (200, "trained\n".to_string())
    );
    // The same data again: read from the cache, nothing downloaded.
    let again = server
        .create_job(body("again", format!("cat {}/labels.txt", train.display())))
        .await;
    assert_eq!(finished(&server, &again).await["Status"], "Succeeded");
    let events = server.events(&again).await;
    assert!(
        events
            .iter()
            .any(|e| e.contains("DataSources[0]: 2 object(s)") && e.contains("0 downloaded")),
        "{events:?}"
    );

    // A bucket no store serves is refused at CreateJob, naming the field.
    let mut other = body("other", "true".into());
    other["DataSources"][0]["Uri"] = json!("s3://elsewhere/x/");
    let err = server
        .error("POST", "/api/v1/jobs", Some(other), 400, "InvalidParameter")
        .await;
    let message = err["Message"].as_str().unwrap();
    assert!(
        message.contains("DataSources[0].Uri") && message.contains("elsewhere"),
        "{message}"
    );
}
