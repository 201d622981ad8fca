//! The `opendlc` client against a real server: stop, delete, cleanup, wait's exit codes,
//! errors, profiles.

mod common;

use common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_exit_codes_follow_the_final_status() {
    let server = TestServer::start().await;
    let failing = server.cli_ok(&[
        "submit",
        "pytorchjob",
        "--name",
        "fails",
        "--command",
        "echo about to fail; exit 3",
    ]);
    let waited = server.cli(&["wait", &failing, "--interval", "0.1"]);
    assert_eq!(
        (waited.code, waited.stdout.trim()),
        (2, "Failed"),
        "{waited:?}"
    );
    // The pods' last events and log lines, like the seed script's wait_job_complete.
    assert!(
        waited.stderr.contains("worker-0 (Failed): last events"),
        "{waited:?}"
    );
    assert!(waited.stderr.contains("about to fail"), "{waited:?}");

    let sleeper = server.cli_ok(&[
        "submit",
        "pytorchjob",
        "--name",
        "s",
        "--command",
        "sleep 30",
    ]);
    let gave_up = server.cli(&["wait", &sleeper, "--interval", "0.1", "--timeout", "0.5"]);
    assert_eq!(gave_up.code, 4, "{gave_up:?}");
    assert!(
        gave_up.stderr.contains("gave up (--timeout)"),
        "{gave_up:?}"
    );

    assert_eq!(server.cli_ok(&["stop", &sleeper]), sleeper);
    let stopped = server.cli(&["wait", &sleeper, "--interval", "0.1", "-o", "json"]);
    assert_eq!(stopped.code, 3, "{stopped:?}");
    assert_eq!(stopped.json()["Status"], "Stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_delete_and_cleanup() {
    let server = TestServer::start().await;
    let a = server.cli_ok(&["submit", "pytorchjob", "--name", "a", "--command", "exit 1"]);
    let b = server.cli_ok(&["submit", "pytorchjob", "--name", "b", "--command", "exit 1"]);
    let running = server.cli_ok(&[
        "submit",
        "pytorchjob",
        "--name",
        "r",
        "--command",
        "sleep 30",
    ]);
    server.wait_status(&a, "Failed").await;
    server.wait_status(&b, "Failed").await;
    server.wait_status(&running, "Running").await;

    // Deleting a running job is refused; the other ids are still handled, exit 1.
    let mixed = server.cli(&["delete", &a, &running]);
    assert_eq!(
        (mixed.code, mixed.stdout.trim()),
        (1, a.as_str()),
        "{mixed:?}"
    );
    assert!(
        mixed
            .stderr
            .contains(&format!("error: {running}: IncorrectStatus: ")),
        "{mixed:?}"
    );
    server
        .error(
            "GET",
            &format!("/api/v1/jobs/{a}"),
            None,
            404,
            "EntityNotFound.Job",
        )
        .await;

    // cleanup without --delete only stops what is still going: a Failed job is left alone.
    let dry = server.cli(&["cleanup", "--status", "Failed", "--delete", "--dry-run"]);
    assert_eq!((dry.code, dry.stdout.trim()), (0, b.as_str()), "{dry:?}");
    let cleaned = server.cli(&["cleanup", "--status", "Failed,Running", "--delete"]);
    assert_eq!(cleaned.code, 0, "{cleaned:?}");
    let mut ids: Vec<&str> = cleaned.stdout.lines().collect();
    ids.sort();
    let mut want = vec![b.as_str(), running.as_str()];
    want.sort();
    assert_eq!(ids, want, "{cleaned:?}");
    assert!(
        cleaned.stderr.contains(&format!("stopped {running}")),
        "{cleaned:?}"
    );
    let left = server.cli(&["jobs", "-o", "json"]).json();
    assert_eq!(left["TotalCount"], 0, "{left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_line_with_meaningful_exit_codes() {
    let server = TestServer::start().await;
    let missing = server.cli(&["get", "dlcnosuchjob"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .starts_with("error: EntityNotFound.Job: The job dlcnosuchjob does not exist. ("),
        "{missing:?}"
    );
    assert!(
        !missing.stderr.contains("Api {"),
        "a debug dump: {missing:?}"
    );

    let usage = server.cli(&["submit", "pytorchjob", "--workers", "many"]);
    assert_eq!(usage.code, 1, "{usage:?}");
    let no_type = server.cli(&["submit", "--name", "x"]);
    assert_eq!(no_type.code, 1, "{no_type:?}");
    assert!(
        no_type.stderr.contains("job type is missing"),
        "{no_type:?}"
    );
    let nothing = server.cli(&["update", "dlcx"]);
    assert_eq!(nothing.code, 1, "{nothing:?}");

    let unreachable = server.cli(&["--endpoint", "127.0.0.1:1", "jobs"]);
    assert_eq!(unreachable.code, 1);
    assert!(
        unreachable
            .stderr
            .contains("cannot reach the opendlc server"),
        "{unreachable:?}"
    );

    let help = server.cli(&["logs", "--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Examples:"), "{help:?}");
    let completions = server.cli(&["completions", "bash"]);
    assert_eq!(completions.code, 0);
    assert!(completions.stdout.contains("opendlc"), "{completions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_and_environment() {
    let server = TestServer::start().await;
    // With no configuration, the local data directory's key is used (shown by `config`).
    let shown = server.cli_ok(&["config"]);
    assert!(shown.contains("credentials"), "{shown}");

    // A named profile pointing at this server, used with --profile and no OPENDLC_ENDPOINT.
    let key = server.add_user("ann");
    let wrote = server.cli(&[
        "config",
        "--profile",
        "mine",
        "--endpoint",
        &server.base,
        "-a",
        &key.id,
        "-k",
        &key.secret,
    ]);
    assert_eq!(wrote.code, 0, "{wrote:?}");
    let listed = server.cli_ok(&["config", "--list"]);
    assert!(
        listed.contains("mine") && listed.contains(&key.id) && !listed.contains(&key.secret),
        "{listed}"
    );
    let via_profile = server.cli_with(&["--profile", "mine", "jobs", "-o", "json"], |c| {
        c.env_remove("OPENDLC_ENDPOINT");
    });
    assert_eq!(via_profile.code, 0, "{via_profile:?}");
    let missing = server.cli(&["--profile", "nope", "jobs"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no profile [nope]"), "{missing:?}");

    // Environment keys win over the profile.
    let env = server.cli_with(&["--profile", "mine", "config"], |c| {
        c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", "AK2")
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "SK2");
    });
    assert!(
        env.stdout.contains("AK2") && env.stdout.contains("ALIBABA_CLOUD"),
        "{env:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_prints_a_token_that_opens_the_job() {
    let server = TestServer::start().await;
    let job_id = server
        .create_job(common::pytorch_job("shared", &[("Worker", 1)], "true"))
        .await;
    let token = server.cli_ok(&["share", &job_id, "--expire", "1h"]);
    assert_eq!(token.matches('.').count(), 2, "a JWT: {token}");
    let url = format!("{}/api/v1/jobs/{job_id}?Token={token}", server.base);
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let bad = server.cli(&["share", &job_id, "--expire", "soon"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("--expire"), "{bad:?}");
    let missing = server.cli(&["share", "dlcnosuchjob0000"]);
    assert!(missing.stderr.contains("EntityNotFound.Job"), "{missing:?}");
}
