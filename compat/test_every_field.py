"""One CreateJob, through the official SDK, that sets every request field the server honours
(the field ledger, docs/COMPATIBILITY.md), and what each of them did."""

import subprocess
import time
import zipfile
from pathlib import Path

from alibabacloud_pai_dlc20201203 import models as M

from helpers import get_job, make_client, unique_name


def wheel(directory: Path, name: str, value: str) -> Path:
    """A pure-Python wheel of one module whose VALUE is `value`."""
    path = directory / f"{name}-0.1-py3-none-any.whl"
    info = f"{name}-0.1.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}/__init__.py", f"VALUE = {value!r}\n")
        z.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                    "Tag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return path


def git_repo(directory: Path) -> str:
    """A repository with one commit on branch main; returns that commit."""
    directory.mkdir()
    (directory / "hello.txt").write_text("hello from the code\n")
    run = lambda *args: subprocess.run(["git", *args], cwd=directory, check=True,  # noqa: E731
                                       capture_output=True, text=True).stdout.strip()
    run("init", "-q", "-b", "main")
    run("add", ".")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    return run("rev-parse", "HEAD")


def test_a_job_with_every_honoured_field(start_server, pod_tmp):
    server = start_server()
    client = make_client(server.endpoint)
    # What the pods may read: a dataset, a registered one, a repository and two wheels.
    data = pod_tmp / "data"
    data.mkdir()
    (data / "labels.txt").write_text("cat dog\n")
    registered = pod_tmp / "registered"
    registered.mkdir()
    (registered / "readme.txt").write_text("a registered dataset\n")
    commit = git_repo(pod_tmp / "repo")
    lib = wheel(pod_tmp, "opendlc_compat_lib", "from ThirdpartyLibs")
    local = pod_tmp / "local"
    local.mkdir()
    (local / "local.txt").write_text("a local disk\n")
    libdir = pod_tmp / "libdir"
    libdir.mkdir()
    dep = wheel(libdir, "opendlc_compat_dep", "from ThirdpartyLibDir")
    (libdir / "requirements.txt").write_text(f"{dep}\n")
    (server.data_dir / "sources.yaml").write_text(
        f"roots:\n  - path: {pod_tmp}\n"
        f"code_sources:\n  code-demo:\n    repo: {pod_tmp / 'repo'}\n    branch: main\n"
        f"data_sources:\n  d-registered:\n    uri: {registered}\n")

    sh = lambda script: ["/bin/sh", "-c", script]  # noqa: E731
    worker = M.JobSpec(
        type="Worker", pod_count=1, image="local",
        resource_config=M.ResourceConfig(cpu="1", memory="1Gi", gpu="0", shared_memory="64Mi",
                                         gputype="A10"),
        system_disk=M.SystemDisk(size=100),
        restart_policy="OnFailure",
        local_mount_specs=[M.LocalMountSpec(local_path=str(local), mount_path="/mnt/local",
                                            mount_mode="Filesystem")],
        startup_dependencies=[M.StartupDependency(type="Master", on_phase="Running",
                                                  min_replicas="1")],
        extra_pod_spec=M.ExtraPodSpec(
            pod_labels={"team": "vision"},
            pod_annotations={"note": "kept as given"},
            init_containers=[M.ContainerSpec(
                name="fetch", command=["/bin/sh", "-c"], args=["echo $WHAT > init-$RANK"],
                working_dir=str(pod_tmp), env=[M.EnvVar(name="WHAT", value="init ran")])],
            side_car_containers=[M.ContainerSpec(name="watch", command=sh("echo watching"))],
            lifecycle=M.Lifecycle(
                post_start=M.LifecyclePostStart(exec=M.LifecyclePostStartExec(
                    command=sh("echo post-start ran > post-start"))),
                pre_stop=M.LifecyclePreStop(exec=M.LifecyclePreStopExec(
                    command=sh("echo pre-stop ran"))))),
    )
    # A spot role makes the job a spot job: on an idle server, the capacity is spare.
    master = M.JobSpec(type="Master", pod_count=1, image="local", ecs_spec="ecs.c6.large",
                       restart_policy="Never", is_chief=True,
                       spot_spec=M.SpotSpec(spot_strategy="SpotWithPriceLimit",
                                            spot_price_limit=1.0))
    command = (
        f'cat {pod_tmp}/init-$RANK 2>/dev/null; '
        'while [ "$RANK" = 1 ] && [ ! -e post-start ]; do sleep 0.05; done; '
        'echo "env=$GREETING secret=$TOKEN"; cat /mnt/data/labels.txt /mnt/registered/readme.txt; '
        'cat /mnt/code/hello.txt; '
        'python -c "import opendlc_compat_lib as a, opendlc_compat_dep as b; '
        'print(a.VALUE, b.VALUE)"; '
        '[ "$RANK" = 1 ] && cat /mnt/local/local.txt; '
        'echo "own key ${ALIBABA_CLOUD_ACCESS_KEY_ID:+given}"; '
        '[ "$RANK" = 1 ] && df -k /dev/shm | tail -1 | tr -s " " | cut -d" " -f2; true')
    request = M.CreateJobRequest(
        display_name=unique_name("every-field"),
        job_type="PyTorchJob",
        job_specs=[master, worker],
        user_command=command,
        data_sources=[
            M.CreateJobRequestDataSources(uri=str(data), mount_path="/mnt/data",
                                          mount_access="RO"),
            M.CreateJobRequestDataSources(data_source_id="d-registered",
                                          mount_path="/mnt/registered"),
        ],
        code_source=M.CreateJobRequestCodeSource(code_source_id="code-demo", branch="main",
                                                 commit=commit, mount_path="/mnt/code"),
        thirdparty_libs=[str(lib)],
        thirdparty_lib_dir=f"file://{libdir}",
        envs={"GREETING": "hi"},
        custom_envs=[M.CreateJobRequestCustomEnvs(key="TOKEN", value="s3cret", visible="false")],
        job_max_running_time_minutes=30,
        workspace_id="default",
        priority=5,
        accessibility="PUBLIC",
        success_policy="AllWorkers",
        settings=M.JobSettings(
            tags={"suite": "every-field"},
            enable_error_monitoring_in_aimaster=True,
            error_monitoring_args="--max-num-of-job-restart=1 --enable-job-hang-detection=True "
                                  "--job-hang-interval=600",
            enable_sanity_check=True,
            sanity_check_args="--sanity-check-timeout=60",
            job_reserved_minutes=1,
            job_reserved_policy="OnFailure",
            enable_cpuaffinity=True,
        ),
        credential_config=M.CredentialConfig(enable_credential_inject=True),
        elastic_spec=M.JobElasticSpec(enable_elastic_training=True, min_parallelism=1,
                                      max_parallelism=1),
    )
    job_id = client.create_job(request).body.job_id
    job = get_job(client, job_id)
    deadline = time.time() + 180
    while job.status not in ("Succeeded", "Failed", "Stopped", "FailedReserving"):
        assert time.time() < deadline, job.status
        time.sleep(0.3)
        job = get_job(client, job_id)
    logs = {}
    for pod in job.pods:
        body = client.get_pod_logs(job_id, pod.pod_id, M.GetPodLogsRequest(max_lines=200)).body
        logs[pod.type] = body.logs
    assert job.status == "Succeeded", (job.reason_code, job.reason_message, logs)

    for role in ("Master", "Worker"):
        lines = logs[role]
        assert "env=hi secret=s3cret" in lines, (role, lines)
        assert "cat dog" in lines and "a registered dataset" in lines, (role, lines)
        assert "hello from the code" in lines, (role, lines)
        assert "from ThirdpartyLibs from ThirdpartyLibDir" in lines, (role, lines)
        assert "own key given" in lines, (role, lines)
    # The Worker's ExtraPodSpec and SharedMemory.
    assert "init ran" in logs["Worker"], logs["Worker"]
    assert "a local disk" in logs["Worker"], logs["Worker"]
    assert str(64 * 1024) in logs["Worker"], logs["Worker"]
    worker_pod = next(p for p in job.pods if p.type == "Worker")
    sidecar = client.get_pod_logs(job_id, worker_pod.pod_id,
                                  M.GetPodLogsRequest(containers="watch")).body
    assert sidecar.logs == ["watching"], sidecar.to_map()
    # What GetJob says back: the settings as given, the hidden value hidden.
    extra = next(s for s in job.job_specs if s.type == "Worker").extra_pod_spec
    assert (extra.pod_labels, extra.pod_annotations) == (
        {"team": "vision"}, {"note": "kept as given"}), extra.to_map()
    assert (job.priority, job.accessibility) == (5, "PUBLIC")
    assert job.settings.tags == {"suite": "every-field"}
    assert job.restart_times == "0/1"
    assert "Bidding" in [h.status for h in job.status_history], "a spot job bids first"
    elastic = job.elastic_spec
    assert (elastic.enable_elastic_training, elastic.min_parallelism,
            elastic.max_parallelism) == (True, 1, 1), job.to_map().get("ElasticSpec")
    hidden = [e for e in job.to_map().get("CustomEnvs", []) if e.get("Key") == "TOKEN"]
    assert hidden and hidden[0]["Value"] == "******", job.to_map().get("CustomEnvs")
    listed = client.list_jobs(M.ListJobsRequest(tags={"suite": "every-field"})).body
    assert [j.job_id for j in listed.jobs] == [job_id]
    checks = client.list_job_sanity_check_results(job_id, M.ListJobSanityCheckResultsRequest())
    assert checks.body.sanity_check_results, checks.body.to_map()
