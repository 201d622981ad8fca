"""GetPodLogs, GetJobEvents and GetPodEvents, and what a failing command looks like."""

from alibabacloud_pai_dlc20201203 import models as M

from helpers import (EVENT_LINE, FAILURE_PATH, assert_follows, get_job, job_request,
                     parse_api_time, pod_logs, spec, unique_name)


def only_pod(job) -> str:
    assert job.pods and len(job.pods) == 1, [p.to_map() for p in job.pods or []]
    return job.pods[0].pod_id


def test_pod_logs_are_tailed_to_max_lines(client, jobs):
    job_id = jobs.create(job_request(unique_name("logs"), "seq 1 5000",
                                     [spec("Worker", ecs_spec="ecs.c6.large")]))
    job = jobs.watch(job_id).finished(timeout=30)
    assert job.status == "Succeeded", job.reason_message
    pod_id = only_pod(job)
    assert pod_id == f"{job_id}-worker-0"

    default = pod_logs(client, job_id, pod_id)
    assert default == [str(i) for i in range(3001, 5001)], \
        f"{len(default)} lines, first {default[:2]}, last {default[-2:]}"
    assert pod_logs(client, job_id, pod_id, max_lines=10) == [str(i) for i in range(4991, 5001)]

    body = client.get_pod_logs(job_id, pod_id, M.GetPodLogsRequest(max_lines=1)).body
    assert body.job_id == job_id and body.pod_id == pod_id and body.logs == ["5000"]


def test_failing_command_fails_the_job(client, jobs):
    job_id = jobs.create(job_request(unique_name("fail"),
                                     "echo to-stdout; echo to-stderr >&2; exit 3", [spec()]))
    watch = jobs.watch(job_id)
    job = watch.finished(timeout=30)

    assert job.status == "Failed", watch.observed
    assert_follows(watch.observed, FAILURE_PATH, "observed statuses")
    assert job.reason_message, f"a failed job should say why (ReasonCode={job.reason_code!r})"
    parse_api_time(job.gmt_failed_time, "GmtFailedTime")
    parse_api_time(job.gmt_finish_time, "GmtFinishTime")
    history = [h.status for h in job.status_history or []]
    assert_follows(history, FAILURE_PATH, "StatusHistory")
    assert history[-1] == "Failed", history
    pod_id = only_pod(job)
    assert job.pods[0].status == "Failed", job.pods[0].to_map()

    logs = pod_logs(client, job_id, pod_id)
    assert "to-stdout" in logs and "to-stderr" in logs, logs


def test_job_and_pod_events(client, jobs):
    job_id = jobs.create(job_request(unique_name("events"), "echo hi",
                                     [spec("Worker", ecs_spec="ecs.c6.large")]))
    job = jobs.watch(job_id).finished(timeout=30)
    assert job.status == "Succeeded", job.reason_message

    body = client.get_job_events(job_id, M.GetJobEventsRequest()).body
    assert body.job_id == job_id and body.request_id
    assert body.events, "a job that ran should have events"
    for line in body.events:
        assert EVENT_LINE.match(line), f"job event {line!r} is not 'YYYY-MM-DD HH:MM:SS text'"
    limited = client.get_job_events(job_id, M.GetJobEventsRequest(max_events_num=1)).body.events
    assert limited is not None and len(limited) == 1, limited

    for pod in get_job(client, job_id).pods:
        events = client.get_pod_events(job_id, pod.pod_id, M.GetPodEventsRequest()).body
        assert events.pod_id == pod.pod_id and events.job_id == job_id
        assert events.events, f"pod {pod.pod_id} has no events"
        for line in events.events:
            assert EVENT_LINE.match(line), f"pod event {line!r} is not 'YYYY-MM-DD HH:MM:SS text'"
