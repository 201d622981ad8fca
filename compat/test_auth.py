"""Access keys: the generated admin key works through the SDK, a wrong signature does not."""

import re
import stat

import pytest

from alibabacloud_pai_dlc20201203 import models as M

from helpers import ADMIN_KEY_ID, api_error, make_client, wait_until


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


@pytest.mark.xfail(strict=True, reason="signatures are not verified yet (docs/COMPATIBILITY.md); "
                                       "remove this mark when they are")
def test_wrong_secret_and_unknown_key_are_rejected(server):
    for key_id, secret in ((ADMIN_KEY_ID, "not-the-secret"), ("nosuchkey", "whatever")):
        e = api_error(lambda: make_client(server.endpoint, key_id, secret)
                      .list_jobs(M.ListJobsRequest()))
        status = getattr(e, "status_code", None)
        assert status is not None and 400 <= status < 500, (key_id, e.code, e.message)
        assert e.code and re.fullmatch(r"[A-Za-z.]+", e.code), (key_id, e.code, e.message)
