"""GetJobMetrics through the SDK: samples of a running pod, parsed into PodMetric/Metric."""

from alibabacloud_pai_dlc20201203 import models as M

from helpers import assert_api_error, job_request, spec, unique_name, wait_for_status


def test_job_metrics(client, jobs):
    # The server samples every 5 s by default: a 7 s job has at least one sample.
    job_id = jobs.create(job_request(unique_name("metrics"), "sleep 7", [spec()]))
    wait_for_status(client, job_id, "Succeeded", timeout=60)
    body = client.get_job_metrics(job_id, M.GetJobMetricsRequest(
        metric_type="MemoryUsage", time_step="1s")).body
    assert body.job_id == job_id and body.request_id
    [pod] = body.pod_metrics
    assert pod.pod_id == f"{job_id}-worker-0"
    assert pod.metrics and all(m.value > 0 and m.time > 1_600_000_000_000 for m in pod.metrics)

    assert_api_error(
        lambda: client.get_job_metrics(job_id, M.GetJobMetricsRequest(metric_type="Cpu")),
        status=400, codes="InvalidParameter", mentions=["MetricType", "CpuCoreUsage"])
