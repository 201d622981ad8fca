"""CreateJob validation as the SDK user sees it: 400, an Alibaba error code, the field named."""

import pytest

from alibabacloud_pai_dlc20201203 import models as M

from helpers import all_job_ids, assert_api_error, job_request, spec, unique_name

INVALID = "InvalidParameter"
MISSING = ("MissingParameter", "InvalidParameter")


def valid_request() -> M.CreateJobRequest:
    return job_request(unique_name("valid"), "true", [spec("Worker")])


def with_(**changes):
    def build():
        request = valid_request()
        for field, value in changes.items():
            setattr(request, field, value)
        return request
    return build


def with_spec(**changes):
    def build():
        request = valid_request()
        for field, value in changes.items():
            setattr(request.job_specs[0], field, value)
        return request
    return build


CASES = {
    "display name with a space and '!'": (with_(display_name="bad name!"), INVALID, "DisplayName"),
    "display name of 257 characters": (with_(display_name="a" * 257), INVALID, "DisplayName"),
    "no display name": (with_(display_name=None), MISSING, "DisplayName"),
    "unknown job type": (with_(job_type="NoSuchJob"), INVALID, "JobType"),
    "no job type": (with_(job_type=None), MISSING, "JobType"),
    "PS role in a PyTorchJob": (with_spec(type="PS"), INVALID, "Type"),
    "pod count 0": (with_spec(pod_count=0), INVALID, "PodCount"),
    "no job specs": (with_(job_specs=None), MISSING, "JobSpecs"),
    "empty job specs": (with_(job_specs=[]), MISSING, "JobSpecs"),
    "no user command": (with_(user_command=None), MISSING, "UserCommand"),
    "priority 10": (with_(priority=10), INVALID, "Priority"),
    "priority 0": (with_(priority=0), INVALID, "Priority"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_create_job_rejects(client, case):
    build, codes, field = CASES[case]
    before = set(all_job_ids(client))
    assert_api_error(lambda: client.create_job(build()), status=400, codes=codes,
                     mentions=[field])
    assert set(all_job_ids(client)) == before, "a rejected CreateJob must not create a job"


def test_valid_request_is_accepted(client, jobs):
    """The base of every case above is itself valid, so each case tests exactly one mistake."""
    job_id = jobs.create(valid_request())
    assert job_id
