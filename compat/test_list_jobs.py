"""ListJobs: filters, sorting, paging and the time window, on a server of this module's own.

Three PyTorchJobs are made once for the module, so counts are exact:
    <p>Alpha-1  tags team=a          `true`     -> Succeeded
    <p>beta-2   tags team=b          `sleep 60` -> Running (stopped at teardown)
    <p>alpha-3  tags team=a,tier=1   `exit 1`   -> Failed
"""

from datetime import datetime, timedelta, timezone

import pytest

from helpers import (Jobs, TERMINAL, api_time, job_request, make_client, parse_api_time, pod_cpu,
                     spec, unique_name)
from alibabacloud_pai_dlc20201203 import models as M


class Listing:
    def __init__(self, client, prefix, suite, ids):
        self.client, self.prefix, self.suite = client, prefix, suite
        self.alpha1, self.beta2, self.alpha3 = ids

    def query(self, **kwargs) -> M.ListJobsResponseBody:
        body = self.client.list_jobs(M.ListJobsRequest(**kwargs)).body
        assert body is not None, "ListJobs body did not parse into the SDK model"
        return body

    def ids(self, **kwargs) -> list[str]:
        return [j.job_id for j in self.query(**kwargs).jobs or []]


@pytest.fixture(scope="module")
def listing(module_server_factory):
    server = module_server_factory()
    client = make_client(server.endpoint)
    tracker = Jobs(client)
    prefix = unique_name("lj") + "-"
    one_pod = [spec(cpu=pod_cpu(2))]  # the sleeper must leave room for the others
    suite = unique_name("suite")
    ids = [
        tracker.create(job_request(f"{prefix}Alpha-1", "true", one_pod,
                                   tags={"suite": suite, "team": "a"})),
        tracker.create(job_request(f"{prefix}beta-2", "sleep 60", one_pod,
                                   tags={"suite": suite, "team": "b"})),
        tracker.create(job_request(f"{prefix}alpha-3", "exit 1", one_pod,
                                   tags={"suite": suite, "team": "a", "tier": "1"})),
    ]
    tracker.watch(ids[0]).status("Succeeded", timeout=60)
    tracker.watch(ids[2]).status("Failed", timeout=60)
    tracker.watch(ids[1]).status("Running", timeout=60)
    yield Listing(client, prefix, suite, ids)
    tracker.cleanup()


def test_job_items_carry_the_basics(listing):
    body = listing.query(job_id=listing.alpha1)
    assert body.total_count == 1 and len(body.jobs) == 1
    item = body.jobs[0]
    assert item.job_id == listing.alpha1
    assert item.display_name == f"{listing.prefix}Alpha-1"
    assert item.job_type == "PyTorchJob"
    assert item.status == "Succeeded"
    parse_api_time(item.gmt_create_time, "JobItem.GmtCreateTime")


def test_display_name_is_a_case_insensitive_substring(listing):
    assert sorted(listing.ids(display_name="ALPHA")) == sorted([listing.alpha1, listing.alpha3])
    assert sorted(listing.ids(display_name=listing.prefix.upper())) == \
        sorted([listing.alpha1, listing.beta2, listing.alpha3])
    body = listing.query(display_name="no-such-job-anywhere")
    assert body.total_count == 0 and not body.jobs


def test_status_filter_takes_a_comma_list(listing):
    ids = listing.ids(display_name=listing.prefix, status="Succeeded,Failed")
    assert sorted(ids) == sorted([listing.alpha1, listing.alpha3])
    assert listing.ids(display_name=listing.prefix, status="Running") == [listing.beta2]
    assert listing.ids(display_name=listing.prefix, status="Stopped") == []


def test_job_id_filter(listing):
    assert listing.ids(job_id=listing.beta2) == [listing.beta2]
    assert listing.ids(job_id="dlcdoesnotexist1") == []


def test_tags_filter_matches_every_given_tag(listing):
    s = listing.suite
    assert sorted(listing.ids(tags={"suite": s})) == \
        sorted([listing.alpha1, listing.beta2, listing.alpha3])
    assert sorted(listing.ids(tags={"suite": s, "team": "a"})) == \
        sorted([listing.alpha1, listing.alpha3])
    assert listing.ids(tags={"suite": s, "team": "a", "tier": "1"}) == [listing.alpha3]
    assert listing.ids(tags={"suite": s, "team": "c"}) == []


def test_job_type_filter(listing):
    tracker = Jobs(listing.client)
    try:
        tf_job = tracker.create(job_request(unique_name("ljtype-gamma"), "true",
                                            [spec("Worker")], job_type="TFJob"))
        assert listing.ids(job_type="TFJob") == [tf_job]
        pytorch = listing.ids(job_type="PyTorchJob", page_size=100)
        assert tf_job not in pytorch
        assert {listing.alpha1, listing.beta2, listing.alpha3} <= set(pytorch)
    finally:
        tracker.cleanup()


def test_sort_by_and_order(listing):
    by_name = [listing.alpha1, listing.alpha3, listing.beta2]  # Alpha-1 < alpha-3 < beta-2
    assert listing.ids(display_name=listing.prefix, sort_by="DisplayName", order="asc") == by_name
    assert listing.ids(display_name=listing.prefix, sort_by="DisplayName", order="desc") == \
        by_name[::-1]
    for order, reverse in (("asc", False), ("desc", True)):
        items = listing.query(display_name=listing.prefix, sort_by="GmtCreateTime",
                             order=order).jobs
        times = [parse_api_time(j.gmt_create_time, "GmtCreateTime") for j in items]
        assert len(times) == 3 and times == sorted(times, reverse=reverse), (order, times)


def test_paging_and_total_count(listing):
    pages = [listing.query(display_name=listing.prefix, sort_by="DisplayName", order="asc",
                          page_size=2, page_number=n) for n in (1, 2, 3)]
    assert [p.total_count for p in pages] == [3, 3, 3]
    assert [[j.job_id for j in p.jobs or []] for p in pages] == \
        [[listing.alpha1, listing.alpha3], [listing.beta2], []]


def test_time_window(listing):
    """StartTime/EndTime select by creation time; with neither, the last 7 days are shown.

    Only the visible half of the default can be checked through the API (jobs created just now
    are listed); an 8-day-old job cannot be made without reaching into the server's clock.
    """
    everything = {listing.alpha1, listing.beta2, listing.alpha3}
    assert set(listing.ids(display_name=listing.prefix)) == everything
    now = datetime.now(timezone.utc)
    around_now = listing.ids(display_name=listing.prefix,
                             start_time=api_time(now - timedelta(hours=1)),
                             end_time=api_time(now + timedelta(hours=1)))
    assert set(around_now) == everything
    long_ago = listing.query(display_name=listing.prefix, start_time="2001-01-01T00:00:00Z",
                            end_time="2001-01-02T00:00:00Z")
    assert long_ago.total_count == 0 and not long_ago.jobs
    later = listing.query(display_name=listing.prefix,
                         start_time=api_time(now + timedelta(days=1)))
    assert later.total_count == 0 and not later.jobs


def test_listed_statuses(listing):
    for item in listing.query(display_name=listing.prefix).jobs:
        assert (item.status in TERMINAL) == (item.job_id != listing.beta2), item.to_map()


def test_numeric_range_and_assigned_node_filters(listing):
    # The three jobs ask for the same CPU: a range around it finds them, one above does not.
    cpu = float(listing.client.get_job(listing.alpha1, M.GetJobRequest()).body.request_cpu)
    around = listing.ids(tags={"suite": listing.suite}, numeric_range_field="RequestCPU",
                         numeric_range_min=int(cpu), numeric_range_max=int(cpu) + 1)
    assert set(around) == {listing.alpha1, listing.beta2, listing.alpha3}
    above = listing.ids(tags={"suite": listing.suite}, numeric_range_field="RequestCPU",
                        numeric_range_min=int(cpu) + 1)
    assert above == []
    # None of them asked for a node.
    assert listing.ids(tags={"suite": listing.suite}, enable_assign_node="true") == []
    assert len(listing.ids(tags={"suite": listing.suite}, enable_assign_node="false")) == 3
