"""The operator process: command line, environment, metrics."""

from __future__ import annotations

from prometheus_client import generate_latest

from semingest_operator.__main__ import config_from_env, parse_args
from semingest_operator.metrics import Metrics


def test_command_line_like_other_operators():
    args = parse_args(["--namespace", "sem", "-n", "lab-*"])
    assert args.namespace == ["sem", "lab-*"] and not args.all_namespaces
    assert args.liveness == "http://0.0.0.0:8080/healthz" and args.metrics_port == 9090
    assert parse_args(["--all-namespaces"]).all_namespaces


def test_environment(monkeypatch):
    monkeypatch.setenv("SEMINGEST_DEFAULT_IMAGE", "reg/worker:2")
    monkeypatch.setenv("SEMINGEST_DRIVER_SERVICE_ACCOUNT", "drv")
    cfg = config_from_env(5.0)
    assert (cfg.default_image, cfg.driver_service_account, cfg.poll_seconds) == ("reg/worker:2", "drv", 5.0)
    monkeypatch.delenv("SEMINGEST_DEFAULT_IMAGE")
    monkeypatch.delenv("SEMINGEST_DRIVER_SERVICE_ACCOUNT")
    cfg = config_from_env(10.0)
    assert cfg.default_image is None and cfg.driver_service_account == "semingest-driver"


def test_metrics_count_runs_by_phase():
    m = Metrics()
    m.set_phase("sem", "a", "Running")
    m.set_phase("sem", "b", "Running")
    m.set_phase("sem", "a", "Succeeded")
    m.reconciles.labels("timer", "ok").inc()
    m.render_errors.labels("spec.source").inc()
    text = generate_latest(m.registry).decode()
    assert 'semingest_runs{phase="Running"} 1.0' in text
    assert 'semingest_runs{phase="Succeeded"} 1.0' in text
    assert 'semingest_reconciles_total{result="ok",trigger="timer"} 1.0' in text
    assert 'semingest_render_errors_total{field="spec.source"} 1.0' in text
    m.set_phase("sem", "b", None)
    assert 'semingest_runs{phase="Running"} 0.0' in generate_latest(m.registry).decode()
