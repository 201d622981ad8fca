"""Sanity checks through the official SDK: JobSettings.EnableSanityCheck, the SanityChecking
status, and both result calls (`RequestID`, a list of rounds of phases)."""

from alibabacloud_pai_dlc20201203 import models as M

from helpers import job_request, spec, unique_name, wait_for_status


def test_sanity_check_round(client, jobs):
    request = job_request(unique_name("sanity"), "echo trained", [spec("Worker", 2)])
    request.settings = M.JobSettings(enable_sanity_check=True,
                                     sanity_check_args="--sanity-check-timeout=60")
    job_id = jobs.create(request)
    job = wait_for_status(client, job_id, "Succeeded", timeout=60)
    assert "SanityChecking" in [s.status for s in job.status_history]

    one = client.get_job_sanity_check_result(
        job_id, M.GetJobSanityCheckResultRequest(sanity_check_number=1)).body
    assert one.request_id and one.job_id == job_id
    assert [p.phase for p in one.sanity_check_result] == [
        "CheckInit", "DeviceCheck", "SingleNodeCommCheck", "TwoNodeCommCheck", "AllNodeCommCheck"]
    assert all(p.status == "Succeeded" and p.check_number == 1 for p in one.sanity_check_result)

    rounds = client.list_job_sanity_check_results(
        job_id, M.ListJobSanityCheckResultsRequest(order="desc")).body
    assert rounds.request_id and rounds.total_count == 1
    assert len(rounds.sanity_check_results) == 1 and len(rounds.sanity_check_results[0]) == 5
