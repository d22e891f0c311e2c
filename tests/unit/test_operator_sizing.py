"""Sizing tables for fat, tiny and auto, and Kubernetes quantities."""

from __future__ import annotations

import re

import pytest

from semingest_api.spec import SpecError, parse_spec
from semingest_operator.quantities import (
    GI,
    MI,
    QuantityError,
    format_cpu,
    format_memory,
    parse_cpu,
    parse_memory,
    spark_memory,
)
from semingest_operator.sizing import (
    MIN_OVERHEAD,
    NodeResources,
    node_resources,
    size,
    split_memory,
)


def spec(**executors):
    return parse_spec(
        {
            "source": {"pvc": "data"},
            "database": {"secretRef": {"name": "db"}},
            "executors": executors,
            "driver": {"cores": 1, "memory": "2Gi"},
        }
    )


@pytest.mark.parametrize(
    ("text", "bytes_"),
    [
        ("1Gi", GI),
        ("1536Mi", 1536 * MI),
        ("1.5Gi", 1536 * MI),
        ("2G", 2 * 10**9),
        ("100k", 100_000),
        ("128", 128),
        ("1e3", 1000),
    ],
)
def test_parse_memory(text, bytes_):
    assert parse_memory(text) == bytes_


@pytest.mark.parametrize(
    ("text", "milli"), [("1", 1000), ("250m", 250), ("0.5", 500), ("15900m", 15900), ("2.25", 2250)]
)
def test_parse_cpu(text, milli):
    assert parse_cpu(text) == milli


@pytest.mark.parametrize("bad", ["", "1GB", "Gi", "1.2.3", "-1Gi", "1 Gi", "ten"])
def test_bad_quantities_are_rejected(bad):
    with pytest.raises(QuantityError):
        parse_memory(bad)


def test_formatting():
    assert (format_cpu(2000), format_cpu(900), format_cpu(4500)) == ("2", "900m", "4500m")
    assert (format_memory(4 * GI), format_memory(1408 * MI), format_memory(GI + 1)) == (
        "4Gi",
        "1408Mi",
        "1025Mi",
    )
    assert format_memory(2 * 1024 * GI) == "2Ti"
    assert spark_memory(1408 * MI) == "1408m" and spark_memory(MI + 1) == "2m"  # Spark's "m" is MiB


# strategy, nodes, coresPerNode, memoryPerCore -> executors, cores each, pod memory, heap, overhead
SIZING_TABLE = [
    ("fat", 8, 24, "1Gi", 8, 24, 24 * GI, 14745 * MI, 9831 * MI),  # overhead: 40 % rounded up to MiB
    ("fat", 4, 16, "2Gi", 4, 16, 32 * GI, 19660 * MI, 13108 * MI),
    ("fat", 1, 1, "1Gi", 1, 1, GI, 614 * MI, 410 * MI),
    ("tiny", 8, 24, "1Gi", 192, 1, GI, 614 * MI, 410 * MI),
    ("tiny", 2, 8, "1536Mi", 16, 1, 1536 * MI, 921 * MI, 615 * MI),
    ("tiny", 1, 4, "900Mi", 4, 1, 900 * MI, 516 * MI, 384 * MI),  # overhead floor: 384Mi
]


@pytest.mark.parametrize(
    ("strategy", "nodes", "cores", "per_core", "n", "c", "pod", "heap", "overhead"), SIZING_TABLE
)
def test_fat_and_tiny_table(strategy, nodes, cores, per_core, n, c, pod, heap, overhead):
    s = size(spec(strategy=strategy, nodes=nodes, coresPerNode=cores, memoryPerCore=per_core))
    assert (s.executors, s.executor.cores) == (n, c)
    assert s.executor.memory_bytes == pod, "the pod asks for exactly memoryPerCore x cores"
    assert (s.executor.heap_bytes, s.executor.overhead_bytes) == (heap, overhead)
    assert s.executor.overhead_bytes >= MIN_OVERHEAD
    res = s.executor.resources()
    assert res["requests"]["memory"] == res["limits"]["memory"] == format_memory(pod)
    assert res["limits"]["cpu"] == str(c) and parse_cpu(res["requests"]["cpu"]) == 900 * c
    assert s.total_cores == nodes * cores


def test_driver_sizing_and_status_block():
    s = size(spec(strategy="fat"))
    assert (s.driver.cores, s.driver.memory_bytes) == (1, 2 * GI)
    assert s.driver.overhead_bytes == 820 * MI and s.driver.heap_bytes == 1228 * MI
    block = s.as_status()
    assert block["strategy"] == "fat" and block["executors"] == 1 and block["driverMemory"] == "1228Mi"
    assert "fat" in block["reason"]


def test_too_little_memory_names_the_field():
    with pytest.raises(SpecError) as err:
        size(spec(strategy="tiny", memoryPerCore="512Mi"))
    assert err.value.field == "spec.executors.memoryPerCore" and "too small" in err.value.message
    with pytest.raises(SpecError) as err:
        split_memory(700 * MI, 1, "spec.driver.memory")
    assert err.value.field == "spec.driver.memory"


def node(name, cpu, mem):
    return NodeResources(name, parse_cpu(cpu), parse_memory(mem))


# nodes allocatable, spec nodes -> executors, cores each, placement text
AUTO_TABLE = [
    # two 16-core nodes: 15 usable cores on the driver's node -> 3 x 5 there, 3 x 5 on the other
    ([node("a", "16", "64Gi"), node("b", "16", "64Gi")], 2, 6, 5, "a: 3, b: 3"),
    # 8-core nodes: 4-core executors pack them better (5 x 4 = 20 cores against 3 x 5 = 15)
    ([node("a", "8", "32Gi"), node("b", "8", "32Gi"), node("c", "8", "32Gi")], 3, 5, 4, "a: 1, b: 2, c: 2"),
    # at most `nodes` nodes, the largest first
    (
        [node("small", "4", "16Gi"), node("big", "32", "128Gi"), node("mid", "16", "64Gi")],
        2,
        9,
        5,
        "big: 6, mid: 3",
    ),
    # a node smaller than 4 cores: one executor with all its cores
    ([node("tiny", "3", "8Gi")], 1, 1, 2, "tiny: 1"),
    # memory-bound: 16 cores but 8Gi -> fewer executors (>= 512Mi per core), fewer next to the driver
    ([node("a", "16", "8Gi"), node("b", "16", "8Gi")], 2, 5, 5, "a: 2, b: 3"),
]


@pytest.mark.parametrize(("nodes", "max_nodes", "n", "c", "placement"), AUTO_TABLE)
def test_auto_table(nodes, max_nodes, n, c, placement):
    s = size(spec(strategy="auto", nodes=max_nodes), nodes)
    assert (s.executors, s.executor.cores) == (n, c)
    assert placement in s.reason
    assert s.executor.memory_bytes >= c * 512 * MI
    # every node's executors (and the driver on the first) fit its allocatable memory and cpu
    placed = re.search(r"\(([^()]+: \d+)\)", s.reason).group(1)
    counts = dict(p.split(": ") for p in placed.split(", "))
    by_name = {x.name: x for x in nodes}
    for i, (name, count) in enumerate(counts.items()):
        used_mem = int(count) * s.executor.memory_bytes + (s.driver.memory_bytes if i == 0 else 0)
        used_cpu = int(count) * s.executor.cpu_request_millicores + (
            s.driver.cpu_request_millicores if i == 0 else 0
        )
        assert used_mem <= by_name[name].memory_bytes and used_cpu <= by_name[name].cpu_millicores


def test_auto_without_node_data_uses_the_spec_as_nodes():
    s = size(spec(strategy="auto", nodes=3, coresPerNode=16, memoryPerCore="2Gi"), None)
    assert (s.executors, s.executor.cores) == (9, 5)
    assert "no node data" in s.reason


def test_auto_with_no_room_is_a_spec_error():
    with pytest.raises(SpecError) as err:
        size(spec(strategy="auto"), [])
    assert err.value.field == "spec.executors.strategy"
    with pytest.raises(SpecError):
        size(spec(strategy="auto"), [node("x", "1", "1Gi")])


def test_node_resources_skips_unschedulable_nodes():
    ready = {
        "conditions": [{"type": "Ready", "status": "True"}],
        "allocatable": {"cpu": "15900m", "memory": "62Gi"},
    }
    assert node_resources({"metadata": {"name": "a"}, "status": ready}) == NodeResources("a", 15900, 62 * GI)
    assert (
        node_resources({"metadata": {"name": "b"}, "spec": {"unschedulable": True}, "status": ready}) is None
    )
    tainted = {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}
    assert node_resources({"metadata": {"name": "c"}, "spec": tainted, "status": ready}) is None
    prefer = {"taints": [{"key": "x", "effect": "PreferNoSchedule"}]}
    assert node_resources({"metadata": {"name": "d"}, "spec": prefer, "status": ready}) is not None
    not_ready = {**ready, "conditions": [{"type": "Ready", "status": "False"}]}
    assert node_resources({"metadata": {"name": "e"}, "status": not_ready}) is None
