"""kill -9 the server mid-job: a new server on the same data dir finishes it; nothing is lost."""

import time

from helpers import get_job, job_request, make_client, pod_logs, spec, unique_name, Watch

LINES = 50
COMMAND = f'for i in $(seq 1 {LINES}); do echo "line-$i"; sleep 0.1; done'


def test_job_survives_server_kill_9(start_server):
    data_dir = start_server.new_data_dir("crash")
    first = start_server(data_dir)
    client = make_client(first.endpoint)
    job_id = client.create_job(job_request(unique_name("crash"), COMMAND, [spec()])).body.job_id
    before = Watch(client, job_id).status("Running", timeout=30)

    first.kill()
    time.sleep(1.0)  # the pod keeps printing while no server is up

    second = start_server(data_dir)
    client = make_client(second.endpoint)
    after = get_job(client, job_id)
    assert after.status in ("Running", "Succeeded"), after.status
    assert (after.display_name, after.gmt_create_time, after.user_command) == \
        (before.display_name, before.gmt_create_time, before.user_command)

    job = Watch(client, job_id).finished(timeout=30)
    assert job.status == "Succeeded", f"{job.reason_code}: {job.reason_message}"
    assert job.gmt_finish_time and job.gmt_running_time == before.gmt_running_time
    pod_id = f"{job_id}-worker-0"
    assert [(p.pod_id, p.status) for p in job.pods or []] == [(pod_id, "Succeeded")]
    assert pod_logs(client, job_id, pod_id, max_lines=1000) == \
        [f"line-{i}" for i in range(1, LINES + 1)]
