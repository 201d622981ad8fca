"""Users, workspaces and share tokens, through the official SDK with signatures checked:
PRIVATE jobs are their creator's (and the workspace admins'), PUBLIC jobs every member's,
nothing crosses a workspace's border, and a share token reads exactly its one job."""

import time

import pytest
import requests
from alibabacloud_pai_dlc20201203 import models as M

from helpers import api_error, job_request, make_client, unique_name


@pytest.fixture(scope="module")
def team(server):
    """ann and bob in workspace `team` (admin: lead); eve only in the default workspace."""
    keys = {name: server.add_user(f"{name}_{unique_name('u')[-6:]}")
            for name in ("ann", "bob", "eve", "lead")}
    users = {name: make_client(server.endpoint, *key) for name, key in keys.items()}
    names = {name: None for name in keys}
    for name in keys:
        names[name] = [u for u in server.admin("user", "list").split() if u.startswith(name + "_")][-1]
    ws_name = unique_name("team").replace("-", "_")[:23]
    out = server.admin("workspace", "add", ws_name, "--owner", names["lead"])
    workspace_id = out.split("id ")[1].split(",")[0]
    for name in ("ann", "bob"):
        server.admin("member", "add", workspace_id, names[name])
    return users, workspace_id


def create(client, workspace_id, accessibility):
    request = job_request(unique_name(accessibility.lower()), "sleep 30")
    request.workspace_id = workspace_id
    request.accessibility = accessibility
    return client.create_job(request).body.job_id


def visible_ids(client, workspace_id):
    body = client.list_jobs(M.ListJobsRequest(workspace_id=workspace_id, show_own=False,
                                              page_size=100)).body
    return {j.job_id for j in body.jobs}


def test_accessibility_within_and_outside_a_workspace(team):
    users, ws = team
    ann, bob, eve, lead = users["ann"], users["bob"], users["eve"], users["lead"]
    private = create(ann, ws, "PRIVATE")
    public = create(ann, ws, "PUBLIC")
    try:
        job = ann.get_job(private, M.GetJobRequest()).body
        assert job.workspace_id == ws and job.workspace_name.startswith("team")
        assert job.user_id and job.user_id != "1"

        assert visible_ids(bob, ws) >= {public} and private not in visible_ids(bob, ws)
        assert bob.get_job(public, M.GetJobRequest()).body.job_id == public
        e = api_error(lambda: bob.get_job(private, M.GetJobRequest()))
        assert (e.status_code, e.code) == (404, "EntityNotFound.Job"), e

        assert {private, public} <= visible_ids(lead, ws), "a workspace admin sees every job"

        assert not visible_ids(eve, ws) & {private, public}
        for job_id in (private, public):
            e = api_error(lambda: eve.get_job(job_id, M.GetJobRequest()))
            assert e.code == "EntityNotFound.Job", e

        e = api_error(lambda: bob.stop_job(public))
        assert (e.status_code, e.code) == (403, "OperationForbidden"), e
        request = job_request(unique_name("intruder"), "true")
        request.workspace_id = ws
        e = api_error(lambda: eve.create_job(request))
        assert (e.status_code, e.code) == (403, "OperationForbidden"), e

        mine = ann.list_jobs(M.ListJobsRequest(workspace_id=ws)).body
        assert {j.job_id for j in mine.jobs} == {private, public}, "ShowOwn defaults to true"
        named = lead.list_jobs(M.ListJobsRequest(workspace_id=ws, show_own=False,
                                                 username=mine.jobs[0].username)).body
        assert {j.job_id for j in named.jobs} == {private, public}
        assert all(j.username and j.username.startswith("ann") for j in mine.jobs)
    finally:
        lead.stop_job(private)
        ann.stop_job(public)


def test_share_token_reads_exactly_its_job(server, team):
    users, ws = team
    ann = users["ann"]
    shared = create(ann, ws, "PRIVATE")
    other = create(ann, ws, "PRIVATE")
    try:
        token = ann.get_token(M.GetTokenRequest(target_type="job", target_id=shared,
                                                expire_time=2)).body.token
        assert token.count(".") == 2, "a JWT"
        base = f"http://{server.endpoint}/api/v1/jobs"
        ok = requests.get(f"{base}/{shared}", params={"Token": token})
        assert ok.status_code == 200 and ok.json()["JobId"] == shared, ok.text
        for url, method in ((f"{base}/{other}", "GET"), (f"{base}/{shared}/stop", "POST"),
                            (base, "GET")):
            refused = requests.request(method, url, params={"Token": token})
            assert refused.status_code in (400, 403), (url, refused.text)
        e = api_error(lambda: users["eve"].get_token(
            M.GetTokenRequest(target_type="job", target_id=shared)))
        assert e.code == "EntityNotFound.Job", "only who can read a job can share it"
        time.sleep(2.5)
        expired = requests.get(f"{base}/{shared}", params={"Token": token})
        assert expired.status_code == 403 and "expired" in expired.json()["Message"], expired.text
    finally:
        ann.stop_job(shared)
        ann.stop_job(other)
