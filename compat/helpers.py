"""Shared helpers for the compatibility suite: the server process, SDK clients, jobs, waiting.

The suite drives a real `opendlc serve` with nothing but the official PAI-DLC Python SDK, so these
helpers only ever build SDK request models and read SDK response models.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from alibabacloud_pai_dlc20201203 import models as M
from alibabacloud_pai_dlc20201203.client import Client
from Tea.exceptions import TeaException

try:  # tea-openapi >= 0.4
    from alibabacloud_tea_openapi.utils_models import Config
except ImportError:  # older tea-openapi
    from alibabacloud_tea_openapi.models import Config

REPO = Path(__file__).resolve().parent.parent

ADMIN_KEY_ID = "testak"
ADMIN_KEY_SECRET = "testsk"

TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
# The order a job's statuses may appear in, one list per outcome. A status may be skipped, but
# never revisited once a later one was seen (no Restarting in these tests).
SUCCESS_PATH = ["Creating", "Queuing", "Bidding", "EnvPreparing", "SanityChecking", "Running",
                "SucceededReserving", "Succeeded"]
FAILURE_PATH = ["Creating", "Queuing", "Bidding", "EnvPreparing", "SanityChecking", "Running",
                "FailedReserving", "Failed"]
STOP_PATH = ["Creating", "Queuing", "Bidding", "EnvPreparing", "SanityChecking", "Running",
             "Stopping", "Stopped"]

API_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
EVENT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d .+")
URL_IN_OUTPUT = re.compile(r"https?://(\S+)")

# The job image: the local runtime runs commands on the host, but DLC requires an image per role.
IMAGE = os.environ.get("OPENDLC_TEST_IMAGE", "python:3.11-slim")
POLL_INTERVAL = 0.1


# --------------------------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------------------------

def opendlc_bin() -> Path:
    """The binary under test: $OPENDLC_BIN (relative to the cwd or the repo), else target/debug."""
    raw = os.environ.get("OPENDLC_BIN", "target/debug/opendlc")
    path = Path(raw)
    if not path.is_absolute():
        path = path if path.exists() else REPO / raw
    return path.resolve()


class Server:
    """One `opendlc serve --listen 127.0.0.1:0 --data-dir DIR` process.

    stdout is read line by line until the first `http://HOST:PORT` appears, then drained by a
    thread for as long as the process lives (so the pipe never fills); stderr goes to a log file
    next to the data dir, whose tail the conftest attaches to failing tests.
    """

    all_started: list["Server"] = []

    def __init__(self, data_dir: Path, *, admin_key: bool = True, name: str = "server",
                 args: Iterable[str] = ()):
        self.data_dir = Path(data_dir)
        self.admin_key = admin_key
        self.args = list(args)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.{name}.log"
        self.stdout_lines: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.endpoint = ""
        self.started_at = 0.0
        # "https" (and the CA file its certificate is trusted with) when args serve TLS.
        self.protocol = "https" if "--tls-cert" in self.args else "http"
        self.ca: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> "Server":
        binary = opendlc_bin()
        if not binary.is_file():
            raise AssertionError(
                f"opendlc binary not found at {binary}: run `cargo build -p opendlc` "
                f"or set OPENDLC_BIN")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENDLC_LISTEN", "OPENDLC_DATA_DIR",
                            "OPENDLC_ACCESS_KEY_ID", "OPENDLC_ACCESS_KEY_SECRET")}
        # TensorBoards run the tensorboard installed beside this venv's python.
        env.setdefault("OPENDLC_TENSORBOARD", str(Path(sys.executable).with_name("tensorboard")))
        # Pods run as their owners and do not see home directories: they may read this venv and
        # the Python it was made from (which may live in one), as an administrator would declare.
        env.setdefault("OPENDLC_POD_READABLE", f"{sys.prefix}:{sys.base_prefix}")
        if self.admin_key:
            env["OPENDLC_ACCESS_KEY_ID"] = ADMIN_KEY_ID
            env["OPENDLC_ACCESS_KEY_SECRET"] = ADMIN_KEY_SECRET
        log = open(self.log_path, "ab")
        self.started_at = time.time()
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir),
             *self.args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env,
            start_new_session=True)  # a Ctrl-C in the terminal is for pytest, not the server
        log.close()
        Server.all_started.append(self)

        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                line = ""
                if remaining <= 0:
                    self.kill()
                    raise AssertionError(
                        f"opendlc serve printed no http:// address within {timeout:.0f}s\n"
                        + self.describe())
                continue
            if line is None:
                self.proc.wait(timeout=5)
                raise AssertionError(
                    f"opendlc serve exited with {self.proc.returncode} before printing its "
                    f"address\n" + self.describe())
            match = URL_IN_OUTPUT.search(line)
            if match:
                self.endpoint = match.group(1).rstrip("/")
                return self

    def _drain(self, lines: queue.Queue) -> None:
        assert self.proc and self.proc.stdout
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stdout_lines.append(line)
            lines.put(line)
        lines.put(None)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9: no chance to clean up, as in a crash."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    # -- diagnostics --------------------------------------------------------------------------

    def admin(self, *args: str) -> str:
        """Runs `opendlc admin ARGS` on this server's data directory; returns its stdout."""
        done = subprocess.run([str(opendlc_bin()), "admin", "--data-dir", str(self.data_dir), *args],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"opendlc admin {args}: {done.stderr}"
        return done.stdout

    def add_user(self, name: str) -> tuple[str, str]:
        """Creates a user; returns their access key id and secret."""
        out = self.admin("user", "add", name)
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        return fields["access key id"].strip(), fields["access key secret"].strip()

    def log_tail(self, head: int = 15, tail: int = 40) -> str:
        """The start of stderr (where a panic message is) and its end (the latest lines)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        if len(lines) <= head + tail:
            return "\n".join(lines)
        return "\n".join(lines[:head] + [f"[... {len(lines) - head - tail} lines ...]"] +
                         lines[-tail:])

    def describe(self) -> str:
        state = "running" if self.alive() else f"exited ({self.proc and self.proc.returncode})"
        return (f"server {self.endpoint or '(no address)'} {state}, data dir {self.data_dir}\n"
                f"--- stdout ---\n" + "\n".join(self.stdout_lines[-20:]) +
                f"\n--- stderr (tail of {self.log_path}) ---\n" + self.log_tail())


# --------------------------------------------------------------------------------------------
# Clients and errors
# --------------------------------------------------------------------------------------------

def make_client(endpoint: str, key_id: str = ADMIN_KEY_ID,
                key_secret: str = ADMIN_KEY_SECRET, *, protocol: str = "http",
                ca: str | None = None) -> Client:
    """An SDK client configured the way a user points it at opendlc: endpoint and http only
    (or https, trusting the CA certificates in the file `ca`)."""
    return Client(Config(
        access_key_id=key_id,
        access_key_secret=key_secret,
        endpoint=endpoint,
        protocol=protocol,
        ca=ca,
        region_id="cn-hangzhou",
        connect_timeout=5000,
        read_timeout=15000,
    ))


def api_error(call: Callable[[], object]) -> TeaException:
    """Runs an SDK call that must fail and returns the exception the SDK raised."""
    try:
        result = call()
    except TeaException as e:
        return e
    body = getattr(result, "body", None)
    raise AssertionError(f"expected an API error, got success: {body and body.to_map()}")


def assert_api_error(call: Callable[[], object], *, status: int, codes: str | Iterable[str],
                     mentions: Iterable[str] = ()) -> TeaException:
    """The call fails with HTTP `status`, a Code in `codes`, and a message naming `mentions`."""
    codes = {codes} if isinstance(codes, str) else set(codes)
    e = api_error(call)
    detail = f"{type(e).__name__}: code={e.code!r} status={getattr(e, 'status_code', None)!r} " \
             f"message={e.message!r}"
    assert getattr(e, "status_code", None) == status, detail
    assert e.code in codes, detail
    for word in mentions:
        assert word in (e.message or ""), f"message should name {word!r}; {detail}"
    return e


# --------------------------------------------------------------------------------------------
# Building jobs
# --------------------------------------------------------------------------------------------

def unique_name(prefix: str) -> str:
    """A DisplayName no other test uses: letters, digits and '-' only."""
    return f"{prefix}-{secrets.token_hex(4)}"


def host_cpus() -> int:
    return len(os.sched_getaffinity(0))


def pod_cpu(pods: int) -> str:
    """A CPU request small enough that `pods` pods fit this host at once (CI has 2 cores)."""
    return "1" if host_cpus() >= pods else "0.5"


def spec(role: str = "Worker", count: int = 1, *, cpu: str | None = "1", memory: str = "1Gi",
         ecs_spec: str | None = None) -> M.JobSpec:
    resources = None if ecs_spec else M.ResourceConfig(cpu=cpu, memory=memory)
    return M.JobSpec(type=role, pod_count=count, image=IMAGE, ecs_spec=ecs_spec,
                     resource_config=resources)


def job_request(name: str, command: str, specs: list[M.JobSpec] | None = None, *,
                job_type: str = "PyTorchJob", envs: dict[str, str] | None = None,
                tags: dict[str, str] | None = None, priority: int | None = None
                ) -> M.CreateJobRequest:
    return M.CreateJobRequest(
        display_name=name,
        job_type=job_type,
        job_specs=specs if specs is not None else [spec()],
        user_command=command,
        envs=envs,
        priority=priority,
        settings=M.JobSettings(tags=tags) if tags else None,
    )


# --------------------------------------------------------------------------------------------
# Watching jobs
# --------------------------------------------------------------------------------------------

def get_job(client: Client, job_id: str) -> M.GetJobResponseBody:
    body = client.get_job(job_id, M.GetJobRequest(need_detail=True)).body
    assert body is not None, "GetJob body did not parse into the SDK model (a list/object " \
                             "field has the wrong JSON type)"
    return body


def describe_job(job: M.GetJobResponseBody) -> str:
    history = [(h.status, h.start_time, h.end_time) for h in job.status_history or []]
    pods = [(p.pod_id, p.type, p.status) for p in job.pods or []]
    return (f"job {job.job_id} status={job.status} reason={job.reason_code}: "
            f"{job.reason_message}\n  history={history}\n  pods={pods}")


class Watch:
    """Polls GetJob until a condition holds, remembering every distinct status it saw."""

    def __init__(self, client: Client, job_id: str):
        self.client = client
        self.job_id = job_id
        self.observed: list[str] = []
        self.last: M.GetJobResponseBody | None = None

    def poll(self) -> M.GetJobResponseBody:
        job = get_job(self.client, self.job_id)
        if not self.observed or self.observed[-1] != job.status:
            self.observed.append(job.status)
        self.last = job
        return job

    def until(self, condition: Callable[[M.GetJobResponseBody], bool], *, timeout: float,
              what: str) -> M.GetJobResponseBody:
        deadline = time.monotonic() + timeout
        while True:
            job = self.poll()
            if condition(job):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; "
                                     f"observed {self.observed}\n{describe_job(job)}")
            time.sleep(POLL_INTERVAL)

    def status(self, *statuses: str, timeout: float = 30.0) -> M.GetJobResponseBody:
        wanted = set(statuses)
        return self.until(lambda j: j.status in wanted, timeout=timeout,
                          what=f"status in {sorted(wanted)}")

    def finished(self, timeout: float = 30.0) -> M.GetJobResponseBody:
        return self.status(*TERMINAL, timeout=timeout)


def wait_for_status(client: Client, job_id: str, *statuses: str,
                    timeout: float = 30.0) -> M.GetJobResponseBody:
    return Watch(client, job_id).status(*statuses, timeout=timeout)


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(POLL_INTERVAL)


class Jobs:
    """Creates jobs through one client and stops whatever is still running at teardown."""

    def __init__(self, client: Client):
        self.client = client
        self.ids: list[str] = []

    def create(self, request: M.CreateJobRequest) -> str:
        body = self.client.create_job(request).body
        assert body is not None and body.job_id, f"CreateJob returned no JobId: {body}"
        self.ids.append(body.job_id)
        return body.job_id

    def watch(self, job_id: str) -> Watch:
        return Watch(self.client, job_id)

    def cleanup(self) -> None:
        stop_unfinished(self.client, self.ids)


def stop_unfinished(client: Client, job_ids: Iterable[str], timeout: float = 20.0) -> None:
    """Best effort: stop every listed job that has not finished and wait for it to settle."""
    pending = []
    for job_id in job_ids:
        try:
            if get_job(client, job_id).status not in TERMINAL:
                client.stop_job(job_id)
                pending.append(job_id)
        except Exception:  # noqa: BLE001 - teardown must not hide the test's own failure
            pass
    deadline = time.monotonic() + timeout
    for job_id in pending:
        while time.monotonic() < deadline:
            try:
                if get_job(client, job_id).status in TERMINAL:
                    break
            except Exception:  # noqa: BLE001
                break
            time.sleep(POLL_INTERVAL)


def all_job_ids(client: Client) -> list[str]:
    """Every job the server lists (default window), page by page."""
    ids, page = [], 1
    while True:
        body = client.list_jobs(M.ListJobsRequest(page_number=page, page_size=100)).body
        items = body.jobs or []
        ids += [j.job_id for j in items]
        if len(items) < 100 or page >= 50:
            return ids
        page += 1


# --------------------------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------------------------

def parse_api_time(value: str | None, field: str) -> datetime:
    assert value and API_TIME.match(value), f"{field} should look like 2024-01-01T00:00:00Z, " \
                                            f"got {value!r}"
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def api_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_follows(statuses: list[str], path: list[str], what: str) -> None:
    """Every status is on `path`, and they appear in path order (skipping is fine)."""
    unknown = [s for s in statuses if s not in path]
    assert not unknown, f"{what}: unexpected statuses {unknown} in {statuses}"
    positions = [path.index(s) for s in statuses]
    assert positions == sorted(positions), f"{what}: out of order: {statuses} (path {path})"


def pod_logs(client: Client, job_id: str, pod_id: str, max_lines: int | None = None) -> list[str]:
    body = client.get_pod_logs(job_id, pod_id, M.GetPodLogsRequest(max_lines=max_lines)).body
    assert body is not None, "GetPodLogs body did not parse into the SDK model"
    return list(body.logs or [])
