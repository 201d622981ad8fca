#!/usr/bin/env bash
# The GPU paths, end to end, on a machine with an NVIDIA GPU, its driver (NVML) and a CUDA build
# of PyTorch — which CI machines do not have:
#
#   1. a PyTorchJob pod that asks for one GPU gets CUDA_VISIBLE_DEVICES and computes on it;
#   2. GetJobMetrics has GpuCoreUsage and GpuMemoryUsage series for that pod (NVML), not zero
#      while it computed;
#   3. with EnableSanityCheck, DeviceCheck runs on the GPU (nvidia-smi, and a matrix product on
#      the GPU checked against the CPU) and passes.
#
# Usage: scripts/gpu-check.sh [OPENDLC_BINARY] [PYTHON_WITH_CUDA_TORCH]
# Defaults: target/release/opendlc, python3. Exits 0 when every check passed.
set -euo pipefail

bin="$(realpath "${1:-target/release/opendlc}")"
python="$(command -v "${2:-python3}")"
work="$(mktemp -d)"
port="${OPENDLC_GPU_CHECK_PORT:-18080}"
export OPENDLC_ACCESS_KEY_ID=gpucheck
export OPENDLC_ACCESS_KEY_SECRET=gpucheck-secret-0123456789abcdef
export OPENDLC_ENDPOINT="127.0.0.1:$port"
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --metrics-interval 1 \
    >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

failures=0
check() { # check NAME CONDITION-EXIT-STATUS DETAIL
    if [[ "$2" == 0 ]]; then printf 'ok    %s\n' "$1"; else printf 'FAIL  %s: %s\n' "$1" "$3"; failures=$((failures + 1)); fi
}
api() { # api PATH: a GET with the job's share token
    curl -s "http://127.0.0.1:$port$1"
}
submit_gpu_job() { # submit_gpu_job NAME COMMAND SETTINGS: a one-pod, one-GPU PyTorchJob
    cat >"$work/$1.json" <<EOF
{"DisplayName": "$1", "JobType": "PyTorchJob",
 "JobSpecs": [{"Type": "Worker", "PodCount": 1, "Image": "local",
               "ResourceConfig": {"CPU": "4", "Memory": "16Gi", "GPU": "1"}}],
 "Envs": {"PATH": "$(dirname "$python"):/usr/local/bin:/usr/bin:/bin"},
 "Settings": $3,
 "UserCommand": "$2"}
EOF
    "$bin" submit -f "$work/$1.json"
}

# 1. A GPU pod computing for a few seconds.
cat >"$work/burn.py" <<'EOF'
import os, time, torch
print("CUDA_VISIBLE_DEVICES=" + os.environ.get("CUDA_VISIBLE_DEVICES", ""), flush=True)
print("device " + torch.cuda.get_device_name(0), flush=True)
x = torch.randn(8192, 8192, device="cuda")
end = time.time() + 8
n = 0
while time.time() < end:
    y = x @ x
    torch.cuda.synchronize()
    n += 1
print(f"matmuls {n}", flush=True)
EOF
job="$(submit_gpu_job gpu-burn "$python $work/burn.py" '{}')"
"$bin" wait "$job" >/dev/null && status=0 || status=$?
check "a 1-GPU PyTorchJob succeeds" "$status" "$("$bin" get "$job" -o json | head -c 2000)"
logs="$("$bin" logs "$job" worker-0)"
echo "$logs" | sed 's/^/      /'
grep -q "^CUDA_VISIBLE_DEVICES=0$" <<<"$logs"
check "its pod sees CUDA_VISIBLE_DEVICES=0" $? "$logs"
grep -q "^device NVIDIA" <<<"$logs"
check "torch computes on the GPU" $? "$logs"

# 2. Its GPU metrics, read with a share token.
token="$("$bin" share "$job")"
for metric in GpuCoreUsage GpuMemoryUsage; do
    body="$(api "/api/v1/jobs/$job/metrics?MetricType=$metric&TimeStep=1s&Token=$token")"
    peak="$(python3 -c '
import json, sys
body = json.loads(sys.argv[1])
values = [float(m["Value"]) for p in body.get("PodMetrics", []) for m in p.get("Metrics", [])]
print(max(values) if values else -1)' "$body")"
    printf '      %s: peak %s over %s\n' "$metric" "$peak" \
        "$(python3 -c 'import json,sys; print(sum(len(p.get("Metrics",[])) for p in json.loads(sys.argv[1]).get("PodMetrics",[])), "samples")' "$body")"
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$peak"
    check "GetJobMetrics $metric has samples above zero" $? "$body"
done

# 3. DeviceCheck on the GPU.
job="$(submit_gpu_job gpu-sanity "echo checked" '{"EnableSanityCheck": true}')"
"$bin" wait "$job" >/dev/null && status=0 || status=$?
check "a sanity-checked GPU job succeeds" "$status" "$("$bin" get "$job" -o json | head -c 3000)"
token="$("$bin" share "$job")"
body="$(api "/api/v1/jobs/$job/sanitycheckresult?SanityCheckNumber=1&SanityCheckPhase=DeviceCheck&Token=$token")"
printf '      %s\n' "$body" | head -c 1500
echo
grep -q '"Status":"Succeeded"' <<<"$body" && grep -q 'TFLOP/s' <<<"$body" &&
    ! grep -q 'no GPU' <<<"$body"
check "DeviceCheck ran on the GPU and passed" $? "$body"

if ((failures)); then
    printf '%s check(s) failed; server log: %s/server.log\n' "$failures" "$work"
    tail -20 "$work/server.log"
    exit 1
fi
echo "all GPU checks passed"
