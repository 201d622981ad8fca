//! The `opendlc` client against a real server: submit (flags, JSON and YAML files), get,
//! jobs, update, specs, events, wait, and `-o json`/`-o yaml`.

mod common;

use common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_from_flags_builds_the_roles() {
    let server = TestServer::start().await;
    let job = server.cli_ok(&[
        "submit",
        "pytorchjob",
        "--name",
        "flags",
        "--masters",
        "1",
        "--workers",
        "2",
        "--worker_spec",
        "ecs.c6.large",
        "--worker-cpu",
        "1",
        "--envs",
        "A=1,B=two",
        "--priority",
        "3",
        "--tags",
        "team=cv",
        "--command",
        "echo $A $B",
    ]);
    assert!(job.starts_with("dlc"), "{job}");
    let got = server.get_job(&job).await;
    assert_eq!(got["JobType"], "PyTorchJob");
    assert_eq!(got["DisplayName"], "flags");
    assert_eq!(got["Priority"], 3);
    assert_eq!(got["Envs"]["B"], "two");
    let specs = got["JobSpecs"].as_array().unwrap();
    assert_eq!(specs[0]["Type"], "Master");
    assert_eq!(specs[1]["Type"], "Worker");
    assert_eq!(specs[1]["PodCount"], 2);
    assert_eq!(specs[1]["EcsSpec"], "ecs.c6.large");
    assert_eq!(specs[1]["ResourceConfig"]["CPU"], "1");

    // wait: 0 on Succeeded, the final status on stdout.
    let waited = server.cli(&["wait", &job, "--interval", "0.1"]);
    assert_eq!(
        (waited.code, waited.stdout.trim()),
        (0, "Succeeded"),
        "{waited:?}"
    );

    let logs = server.cli_ok(&["logs", &job, "worker-0"]);
    assert_eq!(logs, "1 two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_from_json_and_yaml_files_and_stdin() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("job.json");
    std::fs::write(
        &json,
        r#"{"DisplayName":"from-json","JobType":"PyTorchJob","UserCommand":"echo j",
            "JobSpecs":[{"Type":"Worker","PodCount":1}]}"#,
    )
    .unwrap();
    let yaml = dir.path().join("job.yaml");
    std::fs::write(
        &yaml,
        "DisplayName: from-yaml\nJobType: TFJob\nUserCommand: echo y\nJobSpecs:\n  - Type: Worker\n    PodCount: 2\n",
    )
    .unwrap();

    let created = server.cli(&["submit", "-f", json.to_str().unwrap(), "-o", "json"]);
    assert_eq!(created.code, 0, "{created:?}");
    let job = created.json()["JobId"].as_str().unwrap().to_string();
    assert_eq!(server.get_job(&job).await["DisplayName"], "from-json");

    // Flags override the file's fields.
    let job = server.cli_ok(&["submit", "-f", yaml.to_str().unwrap(), "--name", "renamed"]);
    let got = server.get_job(&job).await;
    assert_eq!(
        (got["DisplayName"].as_str(), got["JobType"].as_str()),
        (Some("renamed"), Some("TFJob"))
    );
    assert_eq!(got["JobSpecs"][0]["PodCount"], 2);

    let from_stdin = server.cli_with(&["submit", "-f", "-", "--wait"], |c| {
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"{\"JobType\":\"PyTorchJob\",\"DisplayName\":\"stdin\",\"UserCommand\":\"exit 0\",\"JobSpecs\":[{\"Type\":\"Worker\"}]}").unwrap();
        use std::io::Seek;
        file.rewind().unwrap();
        c.stdin(file);
    });
    assert_eq!(from_stdin.code, 0, "{from_stdin:?}");
    assert!(from_stdin.stderr.contains("Succeeded"), "{from_stdin:?}");

    // A server-side validation error: Code: Message (RequestId), exit 1.
    std::fs::write(&json, r#"{"DisplayName":"bad","JobType":"NoSuchJob","UserCommand":"x","JobSpecs":[{"Type":"Worker"}]}"#).unwrap();
    let refused = server.cli(&["submit", "-f", json.to_str().unwrap()]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.starts_with("error: InvalidParameter: "),
        "{refused:?}"
    );
    assert!(refused.stderr.trim_end().ends_with(')'), "{refused:?}");
    assert!(refused.stdout.is_empty());
}

/// Every job type the API accepts is a `submit` type: DataJuicerJob (shell commands, one pod)
/// runs to the end like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_datajuicerjob_runs() {
    let server = TestServer::start().await;
    let job = server.cli_ok(&[
        "submit",
        "datajuicerjob",
        "--name",
        "dj",
        "--command",
        "echo processed",
        "--wait",
    ]);
    let got = server.get_job(&job).await;
    assert_eq!(
        (got["JobType"].as_str(), got["Status"].as_str()),
        (Some("DataJuicerJob"), Some("Succeeded")),
        "{got}"
    );
    assert_eq!(server.cli_ok(&["logs", &job, "worker-0"]), "processed");

    let unknown = server.cli(&["submit", "juicerjob", "--command", "true"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("datajuicerjob") && unknown.stderr.contains("pytorchjob"),
        "{unknown:?}"
    );
}

/// The example job file of the docs runs as it is; a file with a misspelt key is refused
/// before it is sent, naming the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_job_file_runs_and_unknown_keys_are_named() {
    let server = TestServer::start().await;
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/examples/job.yaml");
    let run = server.cli(&["submit", "-f", example, "--wait"]);
    assert_eq!(run.code, 0, "{run:?}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("job.yaml");
    std::fs::write(
        &file,
        "displayName: typo\nJobType: PyTorchJob\nUserCommand: 'true'\n",
    )
    .unwrap();
    let refused = server.cli(&["submit", "-f", file.to_str().unwrap()]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains(r#"unknown key "displayName" (did you mean "DisplayName"?)"#),
        "{refused:?}"
    );
    let jobs = server.cli(&["jobs", "-o", "json"]).json();
    assert_eq!(
        jobs["TotalCount"], 1,
        "only the example was submitted: {jobs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_jobs_update_specs_events_and_output_formats() {
    let server = TestServer::start().await;
    let job = server.cli_ok(&[
        "submit",
        "pytorchjob",
        "--name",
        "watch-me",
        "--command",
        "sleep 30",
    ]);
    server.wait_status(&job, "Running").await;

    let table = server.cli_ok(&["jobs"]);
    assert!(table.starts_with("JOB ID"), "{table}");
    assert!(table.contains(&job) && table.contains("watch-me") && table.contains("Running"));
    let listed = server.cli(&["jobs", "list", "--status", "Running", "-o", "json"]);
    assert_eq!(listed.json()["Jobs"][0]["JobId"], job.as_str());
    let none = server.cli(&["jobs", "--name", "no-such-name", "-o", "json"]);
    assert_eq!(none.json()["TotalCount"], 0);
    let yaml = server.cli_ok(&["jobs", "-o", "yaml"]);
    assert!(yaml.contains(&format!("JobId: {job}")), "{yaml}");

    let summary = server.cli_ok(&["get", &job]);
    for want in [
        "Status:     Running",
        "Pods:",
        "worker-0",
        "Status history:",
        "Queuing",
    ] {
        assert!(summary.contains(want), "{want} missing from:\n{summary}");
    }
    // -o json is the server's exact JSON.
    let exact = server.cli(&["get", &job, "-o", "json"]).json();
    assert_eq!(exact["JobId"], job.as_str());
    assert!(exact["Pods"].is_array());

    assert_eq!(server.cli_ok(&["update", &job, "--priority", "7"]), job);
    assert_eq!(server.get_job(&job).await["Priority"], 7);

    let events = server.cli_ok(&["events", &job]);
    assert!(events.contains("is created"), "{events}");
    let pod_events = server.cli_ok(&["events", &job, "worker-0"]);
    assert!(pod_events.contains("started"), "{pod_events}");

    let specs = server.cli_ok(&["specs"]);
    assert!(
        specs.starts_with("INSTANCE TYPE") && specs.contains("ecs.c6.large"),
        "{specs}"
    );
    let gpu = server
        .cli(&["specs", "--accelerator-type", "GPU", "-o", "json"])
        .json();
    assert!(gpu["EcsSpecs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["AcceleratorType"] == "GPU"));

    assert_eq!(server.cli_ok(&["stop", &job]), job);
}
