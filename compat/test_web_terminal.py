"""GetWebTerminal through the SDK, and its WebSocket driven by a plain WebSocket client."""

import json
import time

import websocket
from alibabacloud_pai_dlc20201203 import models as M

from helpers import assert_api_error, job_request, spec, unique_name


def read_until(ws, needle, timeout=15):
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        ws.settimeout(max(deadline - time.monotonic(), 0.1))
        message = json.loads(ws.recv())
        assert message["operation"] == "stdout", message
        seen += message["data"]
    return seen


def test_shared_web_terminal(client, jobs):
    job_id = jobs.create(job_request(unique_name("term"), "sleep 60", [spec(count=2)]))
    jobs.watch(job_id).status("Running", timeout=30)
    pod_id = f"{job_id}-worker-1"
    url = client.get_web_terminal(job_id, pod_id,
                                  M.GetWebTerminalRequest(is_shared=True)).body.web_terminal_url
    assert url.startswith("ws://")
    ws = websocket.create_connection(url, timeout=10, http_no_proxy=["127.0.0.1", "localhost"])
    try:
        ws.send(json.dumps({"operation": "resize", "cols": 90, "rows": 20}))
        ws.send(json.dumps({"operation": "stdin", "data": "echo rank=$RANK of $WORLD_SIZE\n"}))
        read_until(ws, "rank=1 of 2")
    finally:
        ws.close()
    # Shared URLs open once.
    try:
        websocket.create_connection(url, timeout=10)
        raise AssertionError("a shared web terminal URL opened twice")
    except websocket.WebSocketBadStatusException as e:
        assert e.status_code == 403

    assert_api_error(lambda: client.get_web_terminal(job_id, f"{job_id}-worker-7",
                                                     M.GetWebTerminalRequest()),
                     status=404, codes="EntityNotFound.Pod")
