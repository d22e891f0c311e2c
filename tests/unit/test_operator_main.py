"""The operator process: command line, environment, metrics."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from prometheus_client import generate_latest

from semingest_api.status import Phase
from semingest_operator.__main__ import config_from_env, configure_logging, parse_args
from semingest_operator.logcontext import object_context
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


def test_ingests_are_counted_by_phase():
    """``semingest_ingests{phase}`` counts SemIngest objects (it was misnamed semingest_runs)."""
    m = Metrics()
    m.set_phase("sem", "a", Phase.RUNNING)
    m.set_phase("sem", "b", Phase.RUNNING)
    m.set_phase("sem", "a", Phase.SUCCEEDED)
    m.reconciles.labels("timer", "ok").inc()
    m.render_errors.labels("spec.source").inc()
    text = generate_latest(m.registry).decode()
    assert 'semingest_ingests{phase="Running"} 1.0' in text
    assert 'semingest_ingests{phase="Succeeded"} 1.0' in text
    assert 'semingest_ingest_phase{name="a",namespace="sem",phase="Succeeded"} 1.0' in text
    assert 'semingest_reconciles_total{result="ok",trigger="timer"} 1.0' in text
    assert 'semingest_render_errors_total{field="spec.source"} 1.0' in text
    assert "semingest_runs{" not in text
    m.forget("sem", "b")
    text = generate_latest(m.registry).decode()
    assert 'semingest_ingests{phase="Running"} 0.0' in text and 'name="b"' not in text


def test_the_series_list_is_what_the_operator_serves():
    """Metrics.series (which the dashboard and alert check reads) names every served series."""
    import datetime as dt

    from prometheus_client.parser import text_string_to_metric_families

    from semingest_api.status import Progress, SemIngestStatus

    m = Metrics()
    t0 = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)
    done = SemIngestStatus(
        phase=Phase.FAILED,
        run_id="r1",
        start_time=t0,
        completion_time=t0,
        last_successful_time=t0,
        next_schedule_time=t0,
        progress=Progress(discovered=1, processed=1, skipped=0, failed=0, duplicates=0),
    )
    m.count("sem", "a", SemIngestStatus(), done)
    m.count("sem", "b", SemIngestStatus(), dataclasses.replace(done, phase=Phase.SUCCEEDED))
    m.observe("sem", "a", done, dt.timedelta(hours=1))
    m.reconciles.labels("timer", "ok").inc()
    m.render_errors.labels("spec.source").inc()
    served: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(m.registry).decode()):
        for sample in family.samples:
            if not sample.name.endswith("_created"):
                served.setdefault(sample.name, set()).update(sample.labels)
    assert served == {name: set(labels) for name, labels in m.series.items()}


@pytest.fixture
def root_logging():
    """kopf.configure replaces the root logger's handler: put the test runner's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_logs_name_the_object_being_reconciled(root_logging, capsys):
    args = parse_args(["--log-format", "json"])
    configure_logging(args.log_format, args.verbose)
    meta = {"namespace": "sem", "name": "ing", "uid": "u-1"}
    with object_context(meta):
        logging.getLogger("semingest_operator.controller").info("run %s: created Pod", "ing-g1")
    logging.getLogger("semingest_operator.controller").info("outside any object")
    inside, outside = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert inside["message"] == "run ing-g1: created Pod" and inside["severity"] == "info"
    assert inside["object"] == {
        "apiVersion": "semingest.io/v1alpha1",
        "kind": "SemIngest",
        "name": "ing",
        "uid": "u-1",
        "namespace": "sem",
    }
    assert "object" not in outside


def test_text_logs_are_prefixed_with_the_object_and_debug_needs_verbose(root_logging, capsys):
    configure_logging("plain", verbose=False)
    log = logging.getLogger("semingest_operator.controller")
    with object_context({"namespace": "sem", "name": "ing"}):
        log.info("waiting")
        log.debug("details")
        logging.getLogger("kopf.objects").info("Timer 'build_registry.<locals>.poll' succeeded.")
        logging.getLogger("kopf.objects").warning(
            "Timer 'build_registry.<locals>.poll' failed temporarily: x"
        )
    assert capsys.readouterr().err.splitlines() == [
        "[sem/ing] waiting",
        "[sem/ing] Timer 'build_registry.<locals>.poll' failed temporarily: x",
    ], "kopf's routine success lines only with --verbose"
    configure_logging("plain", verbose=True)
    with object_context({"namespace": "sem", "name": "ing"}):
        logging.getLogger("kopf.objects").info("Timer 'build_registry.<locals>.poll' succeeded.")
    assert capsys.readouterr().err.splitlines() == [
        "[sem/ing] Timer 'build_registry.<locals>.poll' succeeded."
    ]
    with pytest.raises(SystemExit):
        parse_args(["--log-format", "yaml"])
    assert "invalid choice: 'yaml'" in capsys.readouterr().err
