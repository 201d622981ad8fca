"""Fixtures for the compatibility suite: a real `opendlc serve`, official-SDK clients, jobs.

Run from the repository root (scripts/test.sh does this):
    OPENDLC_BIN=target/debug/opendlc "$(scripts/python-env.sh)" -m pytest compat -q
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

# The SDK sends even 127.0.0.1 through a proxy named in the environment, ignoring NO_PROXY.
for _var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)

import helpers  # noqa: E402  (after the proxy variables are gone)
from helpers import Jobs, Server, all_job_ids, make_client, stop_unfinished  # noqa: E402


def _shutdown(server: Server) -> None:
    """Stops the server's unfinished jobs (pods outlive the server by design), then the server."""
    if server.alive():
        try:
            client = make_client(server.endpoint, protocol=server.protocol, ca=server.ca)
            stop_unfinished(client, all_job_ids(client))
        except Exception:  # noqa: BLE001 - teardown must not mask the tests' results
            pass
    server.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    """The shared server most tests use; tests that need their own use `start_server`."""
    srv = Server(tmp_path_factory.mktemp("shared") / "data").start()
    yield srv
    _shutdown(srv)


@pytest.fixture(scope="session")
def client(server):
    return make_client(server.endpoint)


@pytest.fixture
def jobs(client) -> Jobs:
    """Creates jobs on the shared server; stops the ones still running when the test ends."""
    tracker = Jobs(client)
    yield tracker
    tracker.cleanup()


class ServerFactory:
    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.servers: list[Server] = []

    def new_data_dir(self, name: str = "own"):
        return self.tmp_path_factory.mktemp(name) / "data"

    def __call__(self, data_dir=None, *, admin_key: bool = True, args=()) -> Server:
        data_dir = data_dir or self.new_data_dir()
        srv = Server(data_dir, admin_key=admin_key, name=f"server{len(self.servers) + 1}",
                     args=args)
        self.servers.append(srv)
        return srv.start()

    def shutdown(self) -> None:
        for srv in reversed(self.servers):
            _shutdown(srv)


@pytest.fixture
def start_server(tmp_path_factory):
    """`start_server(data_dir=None, admin_key=True)` starts a server of the test's own."""
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.shutdown()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.shutdown()


# --------------------------------------------------------------------------------------------
# On failure, show what the servers said.
# --------------------------------------------------------------------------------------------

def pytest_runtest_setup(item):
    item._opendlc_started = time.time()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    since = getattr(item, "_opendlc_started", 0.0)
    for srv in Server.all_started:
        if srv.alive() or srv.started_at >= since:
            report.sections.append((f"opendlc server {srv.endpoint or srv.data_dir}",
                                    srv.describe()))


def pytest_report_header(config):
    return [f"opendlc binary: {helpers.opendlc_bin()}",
            f"host CPUs: {helpers.host_cpus()} (multi-pod jobs ask for "
            f"{helpers.pod_cpu(3)} CPU per pod when 3 must fit)"]


@pytest.fixture
def pod_tmp():
    """A directory the job's pods may write to (they run as their owners' own uids, and
    pytest's temporary directories are its user's alone): a sticky, world-writable one."""
    directory = Path(tempfile.mkdtemp(prefix="opendlc-compat-"))
    directory.chmod(0o1777)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)
