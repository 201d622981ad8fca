"""The workflow of PAI's own `pai.py` agent skill (aliyun/alibabacloud-aiops-skills,
alibabacloud-compute-provision/scripts/pai.py), call for call: generic ROA calls through
tea-openapi's `call_api`, credentials from the default provider chain, the AIWorkspace API
(2021-02-04) beside DLC's. Only the endpoint and the protocol (http) differ."""

import time

import pytest
from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_credentials.utils import auth_util
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.client import Client as OpenApiClient
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException

from helpers import ADMIN_KEY_ID, ADMIN_KEY_SECRET, unique_name

DLC = "2020-12-03"
AIWORKSPACE = "2021-02-04"


@pytest.fixture
def call(server, monkeypatch):
    """`call(version, pathname, method, query, body, action)` as pai.py's `call_roa_api`."""
    # The default chain's first provider reads these variables (captured at import time).
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", ADMIN_KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ADMIN_KEY_SECRET)
    monkeypatch.setattr(auth_util, "environment_access_key_id", ADMIN_KEY_ID)
    monkeypatch.setattr(auth_util, "environment_access_key_secret", ADMIN_KEY_SECRET)

    def call_roa(version, pathname, method="GET", query=None, body=None, action="anonymous"):
        client = OpenApiClient(open_api_models.Config(
            credential=CredentialClient(None), endpoint=server.endpoint, region_id="cn-hangzhou",
            user_agent="AlibabaCloud-Agent-Skills/alibabacloud-compute-provision"))
        params = open_api_models.Params(
            action=action, version=version, protocol="HTTP", pathname=pathname, method=method,
            auth_type="AK", style="ROA", body_type="json", req_body_type="json")
        query = {k: str(v) for k, v in (query or {}).items()} or None
        request = open_api_models.OpenApiRequest(query=query, body=body)
        result = client.call_api(params, request, RuntimeOptions())
        return result.get("body", result)

    return call_roa


def test_pai_py_workflow(call):
    specs = call(DLC, "/api/v1/ecsspecs", query={
        "SortBy": "Cpu", "Order": "asc", "PageSize": 100, "PageNumber": 1,
        "ResourceType": "ECS", "AcceleratorType": "CPU"}, action="ListEcsSpecs")["EcsSpecs"]
    available = [s for s in specs if s.get("IsAvailable")]
    assert available, "pai.py needs an available CPU spec"
    spec = available[0]["InstanceType"]

    images = call(AIWORKSPACE, "/api/v1/images", query={
        "PageSize": "100", "PageNumber": "1", "Verbose": "true", "Name": "python",
        "Labels": "system.supported.dlc=true,system.chipType=CPU"}, action="ListImages")
    candidates = [i for i in images["Images"]
                  if i.get("ImageUri") and i.get("Name", "").startswith("python:")]
    assert candidates and images["TotalCount"] >= len(candidates), images
    image = sorted(candidates, key=lambda i: i.get("GmtCreateTime", ""))[-1]["ImageUri"]

    workspaces = call(AIWORKSPACE, "/api/v1/workspaces",
                      query={"PageSize": "10", "PageNumber": "1"},
                      action="ListWorkspaces")["Workspaces"]
    assert workspaces, "every user has the default workspace"
    workspace_id = workspaces[0]["WorkspaceId"]

    created = call(DLC, "/api/v1/jobs", method="POST", body={
        "DisplayName": unique_name("pai-py"), "JobType": "PyTorchJob",
        "UserCommand": "echo \"training on $WORLD_SIZE node(s)\"",
        "JobSpecs": [{"Type": "Worker", "Image": image, "PodCount": 1, "EcsSpec": spec}],
        "Priority": 1, "WorkspaceId": workspace_id}, action="CreateJob")
    job_id = created["JobId"]
    assert created["RequestId"]

    deadline = time.monotonic() + 60
    while True:
        detail = call(DLC, f"/api/v1/jobs/{job_id}", action="GetJob")
        if detail["Status"] in ("Succeeded", "Failed", "Stopped"):
            break
        assert time.monotonic() < deadline, detail
        time.sleep(0.2)
    assert detail["Status"] == "Succeeded", (detail.get("ReasonMessage"), detail.get("Pods"))
    pod_id = detail["Pods"][0]["PodId"]
    logs = call(DLC, f"/api/v1/jobs/{job_id}/pods/{pod_id}/logs", query={"MaxLines": 2000},
                action="GetPodLogs")["Logs"]
    assert any("training on 1 node(s)" in line for line in logs), logs
    events = call(DLC, f"/api/v1/jobs/{job_id}/pods/{pod_id}/events",
                  query={"MaxEventsNum": 20}, action="GetPodEvents")["Events"]
    assert events

    listed = call(DLC, "/api/v1/jobs", query={"PageNumber": 1, "PageSize": 100,
                                              "WorkspaceId": workspace_id,
                                              "Status": "Succeeded"}, action="ListJobs")
    assert job_id in [j["JobId"] for j in listed["Jobs"]]
    call(DLC, f"/api/v1/jobs/{job_id}", method="DELETE", action="DeleteJob")
    with pytest.raises(TeaException) as gone:
        call(DLC, f"/api/v1/jobs/{job_id}", action="GetJob")
    assert gone.value.code == "EntityNotFound.Job"


def test_pai_py_creates_a_workspace(call):
    name = unique_name("ws").replace("-", "_")[:23]
    created = call(AIWORKSPACE, "/api/v1/workspaces", method="POST", body={
        "WorkspaceName": name, "Description": "Auto-created", "DisplayName": name,
        "EnvTypes": ["prod"]}, action="CreateWorkspace")
    workspace_id = created["WorkspaceId"]
    got = call(AIWORKSPACE, f"/api/v1/workspaces/{workspace_id}", action="GetWorkspace")
    assert (got["WorkspaceName"], got["EnvTypes"], got["Status"]) == (name, ["prod"], "ENABLED")
    listed = call(AIWORKSPACE, "/api/v1/workspaces", query={"WorkspaceName": name},
                  action="ListWorkspaces")
    assert [w["WorkspaceId"] for w in listed["Workspaces"]] == [workspace_id]
    with pytest.raises(TeaException) as taken:
        call(AIWORKSPACE, "/api/v1/workspaces", method="POST",
             body={"WorkspaceName": name}, action="CreateWorkspace")
    assert taken.value.code == "InvalidParameter" and "WorkspaceName" in taken.value.message
    with pytest.raises(TeaException) as wrong_version:
        call(DLC, "/api/v1/workspaces", action="ListWorkspaces")
    assert wrong_version.value.code == "InvalidAction.NotFound"
