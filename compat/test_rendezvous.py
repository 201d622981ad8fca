"""Two pods of a PyTorchJob really meet at MASTER_ADDR:MASTER_PORT, as torch.distributed would."""

import re
import shlex

from helpers import job_request, pod_cpu, pod_logs, spec, unique_name

# Rank 0 listens on MASTER_PORT (all interfaces, like torch's TCPStore) and hands a fresh token to
# whoever connects; rank 1 connects to MASTER_ADDR:MASTER_PORT (retrying while rank 0 starts) and
# answers. Both print the token, so the test can check they talked to each other.
RENDEZVOUS = r"""
import os, secrets, socket, time
rank = int(os.environ["RANK"])
addr, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
print(f"rank={rank} world={os.environ['WORLD_SIZE']} master={addr}:{port}", flush=True)
if rank == 0:
    server = socket.create_server(("", port))
    server.settimeout(30)
    conn, _ = server.accept()
    token = secrets.token_hex(8)
    with conn:
        conn.sendall(token.encode() + b"\n")
        reply = conn.makefile().readline().strip()
    print(f"TOKEN={token} REPLY={reply}", flush=True)
else:
    deadline = time.time() + 30
    while True:
        try:
            conn = socket.create_connection((addr, port), timeout=2)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    with conn:
        stream = conn.makefile("rwb")
        token = stream.readline().decode().strip()
        stream.write(f"rank{rank}-got-{token}\n".encode())
        stream.flush()
    print(f"TOKEN={token}", flush=True)
"""


def test_master_and_worker_meet_over_master_addr(client, jobs):
    cpu = pod_cpu(2)
    job_id = jobs.create(job_request(
        unique_name("rendezvous"), "python3 -c " + shlex.quote(RENDEZVOUS),
        [spec("Master", 1, cpu=cpu), spec("Worker", 1, cpu=cpu)]))
    job = jobs.watch(job_id).finished(timeout=60)

    master = pod_logs(client, job_id, f"{job_id}-master-0")
    worker = pod_logs(client, job_id, f"{job_id}-worker-0")
    assert job.status == "Succeeded", f"{job.reason_message}\nmaster: {master}\nworker: {worker}"

    sent = [m for m in (re.search(r"TOKEN=([0-9a-f]{16}) REPLY=(\S+)", line) for line in master)
            if m]
    got = [m for m in (re.search(r"TOKEN=([0-9a-f]{16})$", line) for line in worker) if m]
    assert sent and got, f"master: {master}\nworker: {worker}"
    token, reply = sent[0].groups()
    assert got[0].group(1) == token, "the worker received a different token"
    assert reply == f"rank1-got-{token}", "the master did not hear back from rank 1"
