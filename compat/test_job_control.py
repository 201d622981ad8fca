"""UpdateJob, StopJob and DeleteJob through the SDK."""

import time

from alibabacloud_pai_dlc20201203 import models as M

from helpers import (STOP_PATH, assert_api_error, assert_follows, get_job, job_request,
                     parse_api_time, spec, unique_name, wait_until)


def test_update_job_priority(client, jobs):
    job_id = jobs.create(job_request(unique_name("update"), "sleep 30", [spec()], priority=1))
    assert get_job(client, job_id).priority == 1

    body = client.update_job(job_id, M.UpdateJobRequest(priority=7)).body
    assert body.job_id == job_id and body.request_id
    assert get_job(client, job_id).priority == 7

    for bad in (10, 0):
        assert_api_error(lambda: client.update_job(job_id, M.UpdateJobRequest(priority=bad)),
                         status=400, codes="InvalidParameter", mentions=["Priority"])
    assert get_job(client, job_id).priority == 7, "a rejected update must change nothing"


def test_stop_a_running_job(client, jobs, pod_tmp):
    heartbeat = pod_tmp / "heartbeat"
    job_id = jobs.create(job_request(
        unique_name("stop"), 'while :; do date +%s%N > "$HEARTBEAT"; sleep 0.2; done', [spec()],
        envs={"HEARTBEAT": str(heartbeat)}))
    watch = jobs.watch(job_id)
    watch.status("Running", timeout=30)
    wait_until(heartbeat.exists, timeout=15, what="the job's command to start beating")

    body = client.stop_job(job_id).body
    assert body.job_id == job_id and body.request_id
    stopped_at = len(watch.observed)
    job = watch.status("Stopped", "Succeeded", "Failed", timeout=10)

    assert job.status == "Stopped", watch.observed
    assert set(watch.observed[stopped_at:]) <= {"Running", "Stopping", "Stopped"}, watch.observed
    assert_follows(watch.observed, STOP_PATH, "observed statuses")
    assert job.reason_code == "JobStoppedByUser", f"{job.reason_code}: {job.reason_message}"
    parse_api_time(job.gmt_stopped_time, "GmtStoppedTime")
    history = [h.status for h in job.status_history or []]
    assert_follows(history, STOP_PATH, "StatusHistory")
    assert history[-1] == "Stopped", history
    assert all(p.status != "Running" for p in job.pods or []), [p.to_map() for p in job.pods]

    # The command's processes are really gone: the heartbeat no longer changes.
    beat = heartbeat.read_text()
    time.sleep(1.0)
    assert heartbeat.read_text() == beat, "the job's command still runs after Stopped"

    assert_api_error(lambda: client.stop_job(job_id), status=400, codes="IncorrectStatus")


def test_delete_job(client, jobs):
    job_id = jobs.create(job_request(unique_name("delete"), "sleep 30", [spec()]))
    jobs.watch(job_id).status("Running", timeout=30)

    assert_api_error(lambda: client.delete_job(job_id), status=400, codes="IncorrectStatus")
    assert get_job(client, job_id).status == "Running", "a refused delete must change nothing"

    client.stop_job(job_id)
    jobs.watch(job_id).status("Stopped", timeout=10)
    body = client.delete_job(job_id).body
    assert body.job_id == job_id and body.request_id

    assert_api_error(lambda: client.get_job(job_id, M.GetJobRequest()), status=404,
                     codes="EntityNotFound.Job")
    listed = client.list_jobs(M.ListJobsRequest(job_id=job_id)).body
    assert listed.total_count == 0 and not listed.jobs
    assert_api_error(lambda: client.delete_job(job_id), status=404, codes="EntityNotFound.Job")


def test_unknown_job_is_404(client):
    missing = "dlcdoesnotexist0"
    assert_api_error(lambda: client.get_job(missing, M.GetJobRequest()), status=404,
                     codes="EntityNotFound.Job")
    assert_api_error(lambda: client.stop_job(missing), status=404, codes="EntityNotFound.Job")
    assert_api_error(lambda: client.delete_job(missing), status=404, codes="EntityNotFound.Job")
    assert_api_error(lambda: client.update_job(missing, M.UpdateJobRequest(priority=2)),
                     status=404, codes="EntityNotFound.Job")
