"""Prometheus metrics of the operator: reconciles, runs by phase, render errors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from semingest_api.status import Phase


class Metrics:
    """One operator's metrics, in their own registry (so tests can have several)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.reconciles = Counter(
            "semingest_reconciles",
            "Reconciliations of SemIngests, by trigger and result",
            ["trigger", "result"],
            registry=self.registry,
        )
        self.runs = Gauge(
            "semingest_runs",
            "SemIngests by the phase of their current run",
            ["phase"],
            registry=self.registry,
        )
        self.runs_started = Counter(
            "semingest_runs_started", "Spark runs created, by backend", ["backend"], registry=self.registry
        )
        self.render_errors = Counter(
            "semingest_render_errors",
            "Specs that could not be rendered, by field",
            ["field"],
            registry=self.registry,
        )
        # Per-process cache: the last phase of each SemIngest (namespace, name), for the gauge.
        self._phases: dict[tuple[str, str], Phase] = {}
        for phase in Phase:
            self.runs.labels(phase.value).set(0)

    def set_phase(self, namespace: str, name: str, phase: Phase | None) -> None:
        key = (namespace, name)
        if phase is None:
            self._phases.pop(key, None)
        else:
            self._phases[key] = phase
        for p in Phase:
            self.runs.labels(p.value).set(sum(1 for v in self._phases.values() if v == p))

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        start_http_server(port, addr=addr, registry=self.registry)
