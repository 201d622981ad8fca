"""Signed requests: what the SDK signs passes, anything changed on the way is refused with
Alibaba's code for it; the legacy HMAC-SHA1 signature works; keys are rate limited."""

import contextlib
import re
import stat
import time

import pytest
import requests
from alibabacloud_pai_dlc20201203 import models as M
from alibabacloud_pai_dlc20201203.client import Client
from alibabacloud_tea_openapi import utils as openapi_utils
from alibabacloud_tea_openapi.models import Config
from Tea.exceptions import TeaException

from helpers import (ADMIN_KEY_ID, ADMIN_KEY_SECRET, api_error, job_request, make_client,
                     unique_name, wait_until)


def read_credentials(path) -> dict[str, str]:
    """KEY=value lines, shell style: `export ` prefixes, quotes and comments allowed."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        found[key.strip()] = value.strip().strip("'\"")
    return found


@contextlib.contextmanager
def on_the_wire(change):
    """Lets `change(prepared_request)` alter every request after the SDK signed it."""
    original = requests.Session.send

    def send(self, request, **kwargs):
        change(request)
        return original(self, request, **kwargs)

    requests.Session.send = send
    try:
        yield
    finally:
        requests.Session.send = original


def test_generated_admin_key(start_server):
    server = start_server(admin_key=False)
    path = server.data_dir / "credentials"
    wait_until(path.is_file, timeout=5, what=f"the credentials file at {path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    creds = read_credentials(path)
    key_id, secret = creds.get("OPENDLC_ACCESS_KEY_ID"), creds.get("OPENDLC_ACCESS_KEY_SECRET")
    assert key_id and secret, f"credentials file lacks the key pair: {sorted(creds)}"
    wait_until(lambda: any("credentials" in line for line in server.stdout_lines), timeout=5,
               what="the server to print where the credentials are")

    body = make_client(server.endpoint, key_id, secret).list_jobs(M.ListJobsRequest()).body
    assert body.total_count == 0 and body.request_id


def test_wrong_secret_is_refused_with_the_string_to_sign(server):
    e = api_error(lambda: make_client(server.endpoint, ADMIN_KEY_ID, "not-the-secret")
                  .list_jobs(M.ListJobsRequest()))
    assert (e.status_code, e.code) == (403, "SignatureDoesNotMatch"), e
    assert "string to sign is: ACS3-HMAC-SHA256" in e.message, e.message


def test_unknown_key_is_refused(server):
    e = api_error(lambda: make_client(server.endpoint, "nosuchkey", "whatever")
                  .list_jobs(M.ListJobsRequest()))
    assert (e.status_code, e.code) == (404, "InvalidAccessKeyId.NotFound"), e


def test_altered_body_is_refused(server, client):
    def swap_name(request):
        request.body = request.body.replace(b"signed-name", b"evil-name")
        request.headers["Content-Length"] = str(len(request.body))

    with on_the_wire(swap_name):
        e = api_error(lambda: client.create_job(job_request("signed-name", "true")))
    assert e.code == "SignatureDoesNotMatch", e
    assert "x-acs-content-sha256" in e.message, e.message


def test_altered_query_is_refused(server, client):
    def bigger_page(request):
        request.url = request.url.replace("PageSize=5", "PageSize=50")

    with on_the_wire(bigger_page):
        e = api_error(lambda: client.list_jobs(M.ListJobsRequest(page_size=5)))
    assert e.code == "SignatureDoesNotMatch", e


def test_replayed_request_is_refused(server, client):
    captured = []
    with on_the_wire(captured.append):
        client.list_jobs(M.ListJobsRequest())
    replay = requests.Session().send(captured[0])
    assert replay.status_code == 400, replay.text
    assert replay.json()["Code"] == "SignatureNonceUsed", replay.text


def test_stale_date_is_refused(server, client, monkeypatch):
    monkeypatch.setattr(openapi_utils.Utils, "get_timestamp",
                        staticmethod(lambda: "2020-01-01T00:00:00Z"))
    e = api_error(lambda: client.list_jobs(M.ListJobsRequest()))
    assert e.code == "InvalidTimeStamp.Expired", e


def test_unsigned_request_is_refused(server):
    reply = requests.get(f"http://{server.endpoint}/api/v1/jobs")
    assert reply.status_code == 400, reply.text
    assert reply.json()["Code"] == "IncompleteSignature", reply.text


def legacy_client(endpoint: str, secret: str) -> Client:
    return Client(Config(access_key_id=ADMIN_KEY_ID, access_key_secret=secret,
                         endpoint=endpoint, protocol="http", region_id="cn-hangzhou",
                         signature_algorithm="v2"))


def test_legacy_hmac_sha1_signature(start_server):
    # A new data directory refuses the legacy scheme unless told to accept it.
    server = start_server(args=["--legacy-signatures", "accept"])
    name = unique_name("legacy")
    client = legacy_client(server.endpoint, ADMIN_KEY_SECRET)
    job_id = client.create_job(job_request(name, "true")).body.job_id
    listed = client.list_jobs(M.ListJobsRequest(display_name=name, show_own=True)).body
    assert [j.job_id for j in listed.jobs] == [job_id]
    e = api_error(lambda: legacy_client(server.endpoint, "wrong").get_job(job_id, M.GetJobRequest()))
    assert e.code == "SignatureDoesNotMatch", e


def test_legacy_signature_is_refused_by_default(server):
    e = api_error(lambda: legacy_client(server.endpoint, ADMIN_KEY_SECRET)
                  .list_jobs(M.ListJobsRequest()))
    assert e.code == "IncompleteSignature" and "legacy HMAC-SHA1" in e.message, e


def test_excess_requests_are_throttled(start_server):
    server = start_server(args=["--rate-limit", "2"])
    client = make_client(server.endpoint)
    throttled = None
    for _ in range(20):
        try:
            client.list_jobs(M.ListJobsRequest())
        except TeaException as e:
            throttled = e
            break
    assert throttled is not None, "20 quick calls at 2 per second were all served"
    assert throttled.code == "Throttling" and throttled.status_code == 429, throttled
    assert int(throttled.data.get("statusCode")) == 429
    time.sleep(1.5)
    assert client.list_jobs(M.ListJobsRequest()).body.request_id, "the bucket refills"
