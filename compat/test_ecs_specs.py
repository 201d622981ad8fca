"""ListEcsSpecs: a catalog of real Alibaba instance types, with availability on this host."""

import glob

from alibabacloud_pai_dlc20201203 import models as M


def list_specs(client, **kwargs) -> M.ListEcsSpecsResponseBody:
    body = client.list_ecs_specs(M.ListEcsSpecsRequest(**kwargs)).body
    assert body is not None, "ListEcsSpecs body did not parse into the SDK model"
    return body


def host_has_gpu() -> bool:
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def test_cpu_catalog(client):
    body = list_specs(client, accelerator_type="CPU", page_size=100)
    assert body.request_id and body.ecs_specs
    assert body.total_count == len(body.ecs_specs)
    for s in body.ecs_specs:
        assert s.accelerator_type == "CPU" and not s.gpu, s.to_map()
        assert s.instance_type.startswith("ecs.") and s.cpu > 0 and s.memory > 0, s.to_map()
    by_type = {s.instance_type: s for s in body.ecs_specs}
    c6 = by_type.get("ecs.c6.large")
    assert c6 is not None, sorted(by_type)
    assert (c6.cpu, c6.memory) == (2, 4), c6.to_map()
    assert c6.is_available is True, "ecs.c6.large (2 vCPU, 4 GiB) fits this host"


def test_instance_types_filter(client):
    body = list_specs(client, instance_types="ecs.c6.large,ecs.g6.large")
    assert body.total_count == 2
    got = {s.instance_type: (s.cpu, s.memory) for s in body.ecs_specs}
    assert got == {"ecs.c6.large": (2, 4), "ecs.g6.large": (2, 8)}, got


def test_sort_by_and_order(client):
    for sort_by, key in (("CPU", "cpu"), ("Memory", "memory")):
        for order, reverse in (("asc", False), ("desc", True)):
            specs = list_specs(client, sort_by=sort_by, order=order, page_size=100).ecs_specs
            values = [getattr(s, key) for s in specs]
            assert values == sorted(values, reverse=reverse), (sort_by, order, values)


def test_paging(client):
    everything = list_specs(client, sort_by="CPU", order="asc", page_size=100)
    total = everything.total_count
    assert total == len(everything.ecs_specs) and total > 2
    pages = [list_specs(client, sort_by="CPU", order="asc", page_size=2, page_number=n)
             for n in (1, 2)]
    assert [p.total_count for p in pages] == [total, total]
    first, second = ([s.instance_type for s in p.ecs_specs] for p in pages)
    assert len(first) == 2 and len(second) == 2 and not set(first) & set(second)
    assert first + second == [s.instance_type for s in everything.ecs_specs[:4]]


def test_gpu_specs(client):
    body = list_specs(client, accelerator_type="GPU", page_size=100)
    assert body.ecs_specs, "the catalog should list GPU instance types"
    for s in body.ecs_specs:
        assert s.accelerator_type == "GPU" and s.gpu >= 1 and s.gpu_type, s.to_map()
    biggest = max(body.ecs_specs, key=lambda s: (s.gpu, s.cpu, s.memory))
    assert biggest.gpu >= 8, f"expected an 8-GPU instance type, biggest is {biggest.to_map()}"
    if not host_has_gpu():
        # Checked where it holds (CI): a host without GPUs can run no GPU instance type.
        unavailable = [s.instance_type for s in body.ecs_specs if s.is_available is not False]
        assert not unavailable, f"no GPU on this host, yet available: {unavailable}"
    else:
        assert biggest.is_available is False, biggest.to_map()
