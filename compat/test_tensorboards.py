"""The TensorBoard operations through the SDK: a TensorBoard of a job's summaries, served
through the server (behind its credentials or a shared link), stopped, started, deleted."""

import base64
import sys
import urllib.error
import urllib.request

from alibabacloud_pai_dlc20201203 import models as M

from helpers import (ADMIN_KEY_ID, ADMIN_KEY_SECRET, assert_api_error, job_request, spec,
                     unique_name, wait_for_status, wait_until)

# Two scalars under logs/run1 of the job's working directory, with tensorboard's own writer.
WRITER = (f"{sys.executable} -c \"from tensorboard.summary import Writer\n"
          "w = Writer('logs/run1')\nw.add_scalar('loss', 1.5, step=1)\nw.close()\"")


def fetch(url, credentials=True):
    request = urllib.request.Request(url)
    if credentials:
        basic = base64.b64encode(f"{ADMIN_KEY_ID}:{ADMIN_KEY_SECRET}".encode()).decode()
        request.add_header("Authorization", f"Basic {basic}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def get_tb(client, tb_id):
    body = client.get_tensorboard(tb_id, M.GetTensorboardRequest()).body
    assert body is not None and body.tensorboard_id == tb_id
    return body


def wait_tb(client, tb_id, status, timeout=60):
    wait_until(lambda: get_tb(client, tb_id).status == status, timeout=timeout,
               what=f"TensorBoard {tb_id} to be {status}")
    return get_tb(client, tb_id)


def test_tensorboard_of_a_job(client, jobs):
    job_id = jobs.create(job_request(unique_name("tb"), WRITER, [spec()]))
    wait_for_status(client, job_id, "Succeeded", timeout=60)
    name = unique_name("board")
    created = client.create_tensorboard(M.CreateTensorboardRequest(
        job_id=job_id, summary_relative_path="logs", display_name=name,
        max_running_time_minutes=60)).body
    tb_id = created.tensorboard_id
    assert tb_id.startswith("tb") and created.job_id == job_id and created.request_id
    try:
        tb = wait_tb(client, tb_id, "Running")
        assert tb.display_name == name and tb.job_id == job_id
        assert tb.max_running_time_minutes == 60 and tb.summary_relative_path == "logs"
        assert tb.tensorboard_url.endswith(f"/tensorboard/{tb_id}/")

        # The job has ended; its TensorBoard serves its summaries, behind the credentials.
        assert fetch(tb.tensorboard_url, credentials=False)[0] == 401
        status, page = fetch(tb.tensorboard_url)
        assert status == 200 and "<title>TensorBoard" in page
        wait_until(lambda: fetch(tb.tensorboard_url + "data/runs") == (200, '["run1"]'),
                   timeout=30, what="tensorboard to find run1")

        shared = client.get_tensorboard_shared_url(
            tb_id, M.GetTensorboardSharedUrlRequest(expire_time_seconds="600")).body
        assert fetch(shared.tensorboard_shared_url, credentials=False)[0] == 200

        listed = client.list_tensorboards(M.ListTensorboardsRequest(job_id=job_id)).body
        assert listed.total_count == 1 and listed.tensorboards[0].tensorboard_id == tb_id
        assert listed.tensorboards[0].status == "Running"
        by_name = client.list_tensorboards(M.ListTensorboardsRequest(display_name=name)).body
        assert [t.tensorboard_id for t in by_name.tensorboards] == [tb_id]

        client.update_tensorboard(tb_id, M.UpdateTensorboardRequest(
            max_running_time_minutes=120, accessibility="PUBLIC"))
        tb = get_tb(client, tb_id)
        assert tb.max_running_time_minutes == 120 and tb.accessibility == "PUBLIC"

        client.stop_tensorboard(tb_id, M.StopTensorboardRequest())
        assert get_tb(client, tb_id).status == "Stopped"
        client.start_tensorboard(tb_id, M.StartTensorboardRequest())
        wait_tb(client, tb_id, "Running")
    finally:
        body = client.delete_tensorboard(tb_id, M.DeleteTensorboardRequest()).body
        assert body.tensorboard_id == tb_id
    assert_api_error(lambda: client.get_tensorboard(tb_id, M.GetTensorboardRequest()),
                     status=404, codes="EntityNotFound.Tensorboard", mentions=[tb_id])


def test_create_tensorboard_errors(client):
    assert_api_error(lambda: client.create_tensorboard(M.CreateTensorboardRequest()),
                     status=400, codes="MissingParameter", mentions=["JobId", "SummaryPath"])
    assert_api_error(
        lambda: client.create_tensorboard(M.CreateTensorboardRequest(job_id="dlcnosuchjob0000")),
        status=404, codes="EntityNotFound.Job", mentions=["dlcnosuchjob0000"])
    assert_api_error(
        lambda: client.get_tensorboard_shared_url(
            "tbnosuch", M.GetTensorboardSharedUrlRequest(expire_time_seconds="600")),
        status=404, codes="EntityNotFound.Tensorboard")
