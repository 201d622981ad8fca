"""The tour: a 1 Master + 2 Worker PyTorchJob from CreateJob to Succeeded, as a user sees it."""

import re
import secrets

from helpers import (SUCCESS_PATH, assert_follows, get_job, job_request, parse_api_time, pod_cpu,
                     pod_logs, spec, unique_name)

ENV_LINE = re.compile(
    r"RANK=(\S*) WORLD_SIZE=(\S*) MASTER_ADDR=(\S*) MASTER_PORT=(\S*)$")
EXTRA_LINE = re.compile(r"NPROC_PER_NODE=(\S*) JOB_NAME=(\S*) TOUR_TOKEN=(\S*)$")


def test_pytorch_job_tour(client, jobs):
    token = secrets.token_hex(6)
    cpu = pod_cpu(3)
    command = ('echo "RANK=$RANK WORLD_SIZE=$WORLD_SIZE MASTER_ADDR=$MASTER_ADDR '
               'MASTER_PORT=$MASTER_PORT"; '
               'echo "NPROC_PER_NODE=$NPROC_PER_NODE JOB_NAME=$JOB_NAME TOUR_TOKEN=$TOUR_TOKEN"; '
               'sleep 1.5')
    name = unique_name("tour")
    job_id = jobs.create(job_request(
        name, command, [spec("Master", 1, cpu=cpu), spec("Worker", 2, cpu=cpu)],
        envs={"TOUR_TOKEN": token}))
    assert re.fullmatch(r"dlc[0-9a-z]{13}", job_id), job_id

    watch = jobs.watch(job_id)
    pods_seen_running = set()

    def note_pods(job):
        pods_seen_running.update(p.pod_id for p in job.pods or [] if p.status == "Running")
        return job.status in ("Succeeded", "Failed", "Stopped")

    job = watch.until(note_pods, timeout=60, what="the job to finish")

    # Statuses: what we saw while polling, and what the server recorded.
    assert job.status == "Succeeded", watch.observed
    assert_follows(watch.observed, SUCCESS_PATH, "observed statuses")
    assert "Running" in watch.observed or pods_seen_running, \
        f"never saw the job or a pod Running: {watch.observed}"
    history = [h.status for h in job.status_history or []]
    assert_follows(history, SUCCESS_PATH, "StatusHistory")
    for required in ("Creating", "Queuing", "Running", "Succeeded"):
        assert required in history, f"StatusHistory lacks {required}: {history}"
    assert history[0] == "Creating" and history[-1] == "Succeeded", history
    starts = [parse_api_time(h.start_time, f"StatusHistory[{h.status}].StartTime")
              for h in job.status_history]
    assert starts == sorted(starts), f"StatusHistory start times go backwards: {starts}"
    for h in job.status_history[:-1]:
        end = parse_api_time(h.end_time, f"StatusHistory[{h.status}].EndTime")
        assert end >= parse_api_time(h.start_time, "StartTime"), h.to_map()

    # The job's own fields.
    assert job.job_id == job_id and job.display_name == name and job.job_type == "PyTorchJob"
    created = parse_api_time(job.gmt_create_time, "GmtCreateTime")
    running = parse_api_time(job.gmt_running_time, "GmtRunningTime")
    finished = parse_api_time(job.gmt_finish_time, "GmtFinishTime")
    succeeded = parse_api_time(job.gmt_successed_time, "GmtSuccessedTime")
    assert created <= running <= finished, (created, running, finished)
    assert running <= succeeded, (running, succeeded)
    assert isinstance(job.duration, int) and job.duration >= 1, f"Duration={job.duration!r}"
    assert (job.envs or {}).get("TOUR_TOKEN") == token, job.envs

    # Pods: names, roles, final status, an address.
    pods = {p.pod_id: p for p in job.pods or []}
    expected = {f"{job_id}-master-0": "Master", f"{job_id}-worker-0": "Worker",
                f"{job_id}-worker-1": "Worker"}
    assert set(pods) == set(expected), sorted(pods)
    for pod_id, role in expected.items():
        assert pods[pod_id].type == role, pods[pod_id].to_map()
        assert pods[pod_id].status == "Succeeded", pods[pod_id].to_map()
        assert pods[pod_id].ip, f"{pod_id} has no Ip"

    # Each pod saw its own rank and the same rendezvous point.
    expected_rank = {f"{job_id}-master-0": 0, f"{job_id}-worker-0": 1, f"{job_id}-worker-1": 2}
    rendezvous = set()
    for pod_id, rank in expected_rank.items():
        lines = pod_logs(client, job_id, pod_id)
        env = [m for m in map(ENV_LINE.search, lines) if m]
        extra = [m for m in map(EXTRA_LINE.search, lines) if m]
        assert env and extra, f"{pod_id} logs lack the env lines: {lines}"
        got_rank, world, addr, port = env[0].groups()
        assert got_rank == str(rank), f"{pod_id}: RANK={got_rank}, want {rank}"
        assert world == "3", f"{pod_id}: WORLD_SIZE={world}"
        assert addr, f"{pod_id}: empty MASTER_ADDR"
        assert port.isdigit() and 0 < int(port) < 65536, f"{pod_id}: MASTER_PORT={port!r}"
        rendezvous.add((addr, port))
        nproc, job_name, seen_token = extra[0].groups()
        assert nproc.isdigit() and int(nproc) >= 1, f"{pod_id}: NPROC_PER_NODE={nproc!r}"
        assert job_name, f"{pod_id}: empty JOB_NAME"
        assert seen_token == token, f"{pod_id}: the job's Envs did not reach the pod"
    assert len(rendezvous) == 1, f"pods disagree on MASTER_ADDR/MASTER_PORT: {rendezvous}"

    # A finished job reads the same on a second look.
    again = get_job(client, job_id)
    assert again.status == "Succeeded" and again.gmt_finish_time == job.gmt_finish_time
