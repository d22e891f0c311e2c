"""Executor and driver sizing for the fat, tiny and auto strategies (pure functions).

Every memory figure the user gives (``memoryPerCore`` x cores, ``driver.memory``) is the whole
pod's memory: the JVM heap plus the overhead that holds the JVM's off-heap memory and the Python
workers (one per core: image decoding, OpenCV, Tesseract, TensorFlow). The pod asks for exactly
that much (request = limit), so a pod sized from a node's numbers fits that node. CPU requests are
90 % of the cores so that a fat executor still fits next to the node's DaemonSets; the limit is
the full cores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from semingest_api.spec import SemIngestSpec, SpecError
from semingest_operator.quantities import MI, format_cpu, format_memory, parse_memory

# Python workers and JVM off-heap get this share of a pod's memory (at least MIN_OVERHEAD).
OVERHEAD_SHARE = 0.4
MIN_OVERHEAD = 384 * MI  # Spark's own minimum memoryOverhead
MIN_HEAP = 512 * MI
CPU_REQUEST_PER_CORE = 900  # millicores requested per Spark core (limit: 1000)
# auto: executor widths tried, best first; a node keeps this much memory for system pods.
AUTO_EXECUTOR_CORES = (5, 4)
AUTO_MIN_MEMORY_PER_CORE = 512 * MI
NODE_MEMORY_RESERVE_SHARE = 0.05
NODE_MEMORY_RESERVE_MIN = 256 * MI


@dataclass(frozen=True)
class NodeResources:
    """A schedulable node's allocatable resources (status.allocatable)."""

    name: str
    cpu_millicores: int
    memory_bytes: int


@dataclass(frozen=True)
class PodSize:
    """One Spark pod (driver or executor)."""

    cores: int  # spark.{driver,executor}.cores: task slots
    heap_bytes: int  # spark.{driver,executor}.memory
    overhead_bytes: int  # spark.{driver,executor}.memoryOverhead

    @property
    def memory_bytes(self) -> int:
        """The pod's memory request and limit."""
        return self.heap_bytes + self.overhead_bytes

    @property
    def cpu_request_millicores(self) -> int:
        return self.cores * CPU_REQUEST_PER_CORE

    @property
    def cpu_limit_millicores(self) -> int:
        return self.cores * 1000

    def resources(self) -> dict[str, dict[str, str]]:
        """Kubernetes container resources (requests and limits)."""
        memory = format_memory(self.memory_bytes)
        return {
            "requests": {"cpu": format_cpu(self.cpu_request_millicores), "memory": memory},
            "limits": {"cpu": format_cpu(self.cpu_limit_millicores), "memory": memory},
        }


@dataclass(frozen=True)
class Sizing:
    strategy: str
    executors: int
    executor: PodSize
    driver: PodSize
    reason: str

    @property
    def total_cores(self) -> int:
        return self.executors * self.executor.cores

    def as_status(self) -> dict[str, object]:
        """The ``status.sizing`` block."""
        return {
            "strategy": self.strategy,
            "executors": self.executors,
            "executorCores": self.executor.cores,
            "executorMemory": format_memory(self.executor.heap_bytes),
            "executorMemoryOverhead": format_memory(self.executor.overhead_bytes),
            "driverCores": self.driver.cores,
            "driverMemory": format_memory(self.driver.heap_bytes),
            "driverMemoryOverhead": format_memory(self.driver.overhead_bytes),
            "reason": self.reason,
        }


def split_memory(total_bytes: int, cores: int, field: str) -> PodSize:
    """Split a pod's memory into JVM heap and overhead; SpecError(field) when it is too small."""
    total = (total_bytes // MI) * MI
    overhead = max(MIN_OVERHEAD, -(-int(total * OVERHEAD_SHARE) // MI) * MI)
    heap = total - overhead
    if heap < MIN_HEAP:
        raise SpecError(
            field,
            f"{format_memory(total_bytes)} per pod is too small: Spark needs at least "
            f"{format_memory(MIN_HEAP + MIN_OVERHEAD)} (JVM heap {format_memory(MIN_HEAP)} plus "
            f"{format_memory(MIN_OVERHEAD)} overhead for the JVM and Python)",
        )
    return PodSize(cores=cores, heap_bytes=heap, overhead_bytes=overhead)


def driver_size(spec: SemIngestSpec) -> PodSize:
    return split_memory(parse_memory(spec.driver.memory), spec.driver.cores, "spec.driver.memory")


def size_fat(spec: SemIngestSpec) -> Sizing:
    """One executor per node with all its cores and memoryPerCore x cores."""
    ex = spec.executors
    per_core = parse_memory(ex.memory_per_core)
    executor = split_memory(per_core * ex.cores_per_node, ex.cores_per_node, "spec.executors.memoryPerCore")
    return Sizing(
        strategy="fat",
        executors=ex.nodes,
        executor=executor,
        driver=driver_size(spec),
        reason=f"fat: {ex.nodes} executor(s) of {ex.cores_per_node} cores and "
        f"{format_memory(per_core * ex.cores_per_node)}, one per node",
    )


def size_tiny(spec: SemIngestSpec) -> Sizing:
    """One 1-core executor per core, memoryPerCore each."""
    ex = spec.executors
    per_core = parse_memory(ex.memory_per_core)
    executor = split_memory(per_core, 1, "spec.executors.memoryPerCore")
    count = ex.nodes * ex.cores_per_node
    return Sizing(
        strategy="tiny",
        executors=count,
        executor=executor,
        driver=driver_size(spec),
        reason=f"tiny: {count} executor(s) of 1 core and {format_memory(per_core)} "
        f"({ex.nodes} node(s) x {ex.cores_per_node} cores)",
    )


def _node_memory_reserve(memory_bytes: int) -> int:
    return max(NODE_MEMORY_RESERVE_MIN, int(memory_bytes * NODE_MEMORY_RESERVE_SHARE))


def _plan(cores: int, usable: Sequence[tuple[str, int, int]]) -> tuple[dict[str, int], int]:
    """Executors per node for executors of ``cores`` cores, and the memory each can have."""
    counts: dict[str, int] = {}
    for name, slots, memory in usable:
        by_cpu = slots // cores
        by_memory = memory // (cores * AUTO_MIN_MEMORY_PER_CORE)
        n = min(by_cpu, by_memory)
        if n > 0:
            counts[name] = n
    if not counts:
        return {}, 0
    memory_each = min(memory // counts[name] for name, _, memory in usable if name in counts)
    return counts, (memory_each // MI) * MI


def size_auto(spec: SemIngestSpec, nodes: Sequence[NodeResources] | None) -> Sizing:
    """Pack executors of about 4-5 cores onto the (at most ``nodes``) largest schedulable nodes.

    ``nodes`` are the schedulable nodes' allocatable resources; None (no cluster at hand, e.g.
    ``semingest render``) treats the spec's nodes x coresPerNode x memoryPerCore as the nodes.
    The driver is placed on the largest node and its pod is subtracted from that node first.
    """
    ex = spec.executors
    driver = driver_size(spec)
    if nodes is None:
        per_node_memory = parse_memory(ex.memory_per_core) * ex.cores_per_node
        nodes = [
            NodeResources(f"node-{i}", ex.cores_per_node * 1000, per_node_memory) for i in range(ex.nodes)
        ]
        source = f"no node data: assumed {ex.nodes} node(s) of {ex.cores_per_node} cores, {format_memory(per_node_memory)}"
    else:
        source = f"{len(nodes)} schedulable node(s)"
    chosen = sorted(nodes, key=lambda n: (-n.cpu_millicores, -n.memory_bytes, n.name))[: ex.nodes]
    if not chosen:
        raise SpecError(
            "spec.executors.strategy", "auto: there are no schedulable nodes to size executors for"
        )
    usable: list[tuple[str, int, int]] = []
    for i, node in enumerate(chosen):
        cpu = node.cpu_millicores - (driver.cpu_request_millicores if i == 0 else 0)
        memory = node.memory_bytes - _node_memory_reserve(node.memory_bytes)
        memory -= driver.memory_bytes if i == 0 else 0
        usable.append((node.name, max(0, cpu) // 1000, max(0, memory)))

    best: tuple[int, int, dict[str, int], int] | None = None  # (total cores, width, counts, memory)
    widths = list(AUTO_EXECUTOR_CORES)
    smallest = min(slots for _, slots, _ in usable)
    if 0 < smallest < min(widths):
        widths.append(smallest)  # small nodes: one executor with all their cores
    for width in widths:
        counts, memory_each = _plan(width, usable)
        total = sum(counts.values()) * width
        if counts and (best is None or total > best[0]):
            best = (total, width, counts, memory_each)
    if best is None:
        raise SpecError(
            "spec.executors.strategy",
            "auto: no schedulable node has room for an executor next to the driver "
            f"(largest: {format_cpu(chosen[0].cpu_millicores)} cpu, {format_memory(chosen[0].memory_bytes)})",
        )
    total, width, counts, memory_each = best
    executor = split_memory(memory_each, width, "spec.executors.strategy")
    executors = sum(counts.values())
    placement = ", ".join(f"{name}: {n}" for name, n in counts.items())
    return Sizing(
        strategy="auto",
        executors=executors,
        executor=executor,
        driver=driver,
        reason=f"auto: {source}, used {len(counts)}; {executors} executor(s) of {width} cores and "
        f"{format_memory(executor.memory_bytes)} ({placement}); driver on {chosen[0].name}",
    )


def size(spec: SemIngestSpec, nodes: Sequence[NodeResources] | None = None) -> Sizing:
    """The sizing for the spec's strategy (``nodes`` only matters for auto)."""
    if spec.executors.strategy == "fat":
        return size_fat(spec)
    if spec.executors.strategy == "tiny":
        return size_tiny(spec)
    return size_auto(spec, nodes)


def node_resources(node: dict) -> NodeResources | None:
    """A Node object's allocatable resources, or None when pods cannot be scheduled on it.

    Unschedulable (cordoned), NotReady and NoSchedule/NoExecute-tainted nodes are left out.
    """
    from semingest_operator.quantities import QuantityError, parse_cpu

    spec = node.get("spec") or {}
    status = node.get("status") or {}
    if spec.get("unschedulable"):
        return None
    if any(t.get("effect") in ("NoSchedule", "NoExecute") for t in spec.get("taints") or []):
        return None
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    if ready and ready[0].get("status") != "True":
        return None
    alloc = status.get("allocatable") or {}
    try:
        return NodeResources(
            name=(node.get("metadata") or {}).get("name", "?"),
            cpu_millicores=parse_cpu(alloc.get("cpu", "0")),
            memory_bytes=parse_memory(alloc.get("memory", "0")),
        )
    except QuantityError:
        return None
