"""The status contract (semingest_api.status): one vocabulary, matching the CRD and ingest_runs."""

from __future__ import annotations

import datetime as dt

import pytest

from semingest_api.spec import openapi_schema
from semingest_api.status import (
    PROGRESS_KEYS,
    Phase,
    Progress,
    SemIngestStatus,
    SparkMeasures,
    format_duration,
)

T0 = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)


def status_schema():
    return openapi_schema()["properties"]["status"]["properties"]


def test_phases_are_the_crds_phases():
    assert list(status_schema()["phase"]["enum"]) == [p.value for p in Phase]
    assert {p for p in Phase if p.terminal} == {Phase.SUCCEEDED, Phase.FAILED}


def test_progress_keys_are_the_crds_counters_and_ingest_runs_columns():
    from semingest_worker.database import runs, schema

    assert set(status_schema()["progress"]["properties"]) == {*PROGRESS_KEYS, "summary", "updateTime"}
    assert set(PROGRESS_KEYS) <= {c.name for c in schema.ingest_runs.columns}
    assert runs.COUNTERS == PROGRESS_KEYS


def test_every_status_field_is_in_the_crd():
    full = SemIngestStatus(
        phase=Phase.RUNNING,
        message="m",
        observed_generation=2,
        run_id="r-g2",
        run_generation=2,
        spark_application="r-g2",
        driver_pod="r-g2-driver",
        start_time=T0,
        completion_time=T0,
        last_schedule_time=T0,
        last_successful_time=T0,
        next_schedule_time=T0,
        duration="4m12s",
        last_run_now="2026-03-02T10:30",
        progress=Progress(discovered=3, update_time=T0),
        spark_measures=SparkMeasures(tasks=1),
        stage_seconds={"decode": 1.5},
        sizing={"strategy": "fat"},
        conditions=({"type": "Running", "status": "True"},),
    )
    assert set(full.to_status()) == set(status_schema())


def test_from_body_reads_the_status_and_to_patch_writes_it_back():
    raw = {
        "phase": "Submitted",
        "runId": "ing-g1",
        "runGeneration": 1,
        "startTime": "2026-03-02T10:30:00Z",
        "progress": {
            "discovered": 10,
            "processed": 4,
            "summary": "4/10",
            "updateTime": "2026-03-02T10:31:00Z",
        },
        "conditions": [{"type": "Submitted", "status": "True"}],
    }
    status = SemIngestStatus.from_body({"status": raw})
    assert status.phase is Phase.SUBMITTED and status.start_time == T0 and status.run_active
    assert status.progress is not None and status.progress.counts() == {"discovered": 10, "processed": 4}
    assert status.to_patch() == raw
    assert SemIngestStatus.from_body({}) == SemIngestStatus() and SemIngestStatus().to_patch() == {}


def test_to_patch_since_writes_only_the_changes_and_clears_with_null():
    before = SemIngestStatus.from_body(
        {"status": {"phase": "Succeeded", "runId": "a", "completionTime": "2026-03-02T10:30:00Z"}}
    )
    assert before.to_patch(since=before) == {}
    after = SemIngestStatus(phase=Phase.SUBMITTED, run_id="b", start_time=T0)
    assert after.to_patch(since=before) == {
        "phase": "Submitted",
        "runId": "b",
        "startTime": "2026-03-02T10:30:00Z",
        "completionTime": None,
    }


def test_bad_status_values_are_rejected_by_name():
    with pytest.raises(ValueError, match="Paused"):
        SemIngestStatus.from_body({"status": {"phase": "Paused"}})
    with pytest.raises(ValueError, match="progress processed"):
        Progress.from_counts({"processed": [1]})


def test_the_drivers_report_is_a_status_patch():
    from semingest_worker.status_reporter import StatusReporter

    body = StatusReporter.body({"discovered": 5, "failed": 1.0, "other": 9}, {"decode": 1.23456}, "Running")
    status = body["status"]
    assert status["phase"] == "Running" and status["stageSeconds"] == {"decode": 1.235}
    assert {k: v for k, v in status["progress"].items() if k != "updateTime"} == {
        "discovered": 5,
        "failed": 1,
        "summary": "0/5",
    }
    assert status["progress"]["updateTime"].endswith("Z")
    assert "phase" not in StatusReporter.body({}, {}, None)["status"]
    with pytest.raises(ValueError, match="phase must be one of Pending, Submitted"):
        StatusReporter.body({}, {}, "Paused")


def test_progress_summary_is_processed_of_discovered():
    assert Progress(processed=4).summary is None, "nothing to show before discovery"
    assert Progress(discovered=10).to_status() == {"discovered": 10, "summary": "0/10"}
    assert Progress(discovered=10, processed=4).summary == "4/10"
    assert Progress.from_status({"discovered": 10, "processed": 4, "summary": "old"}).summary == "4/10"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45.7, "45s"), (60, "1m"), (252, "4m12s"), (7500, "2h5m"), (7200, "2h"), (273600, "3d4h")],
)
def test_durations_read_like_kubectls(seconds, text):
    assert format_duration(seconds) == text


def test_the_printer_columns_read_status_fields_that_exist():
    from semingest_api.spec import load_crd

    version = load_crd()["spec"]["versions"][0]
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")] == [
        "Phase",
        "Progress",
        "Failed",
        "Duration",
        "Last Success",
        "Age",
    ]
    schema = version["schema"]["openAPIV3Schema"]
    for name, path in columns.items():
        if path.startswith(".metadata"):
            continue
        node = schema
        for part in path.strip(".").split("."):
            assert part in node["properties"], f"column {name}: {path} is not in the CRD"
            node = node["properties"][part]


def test_spark_measures_round_trip_through_the_status():
    from semingest_api.status import SparkMeasures

    measures = SparkMeasures(stages=2, tasks=8, executor_run_seconds=15.2024, executor_cpu_seconds=0.6183)
    raw = measures.to_status()
    assert raw["executorRunSeconds"] == 15.202 and raw["tasks"] == 8
    assert set(raw) == set(status_schema()["sparkMeasures"]["properties"])
    assert SparkMeasures.from_status(raw) == SparkMeasures(
        stages=2, tasks=8, executor_run_seconds=15.202, executor_cpu_seconds=0.618
    )
    status = SemIngestStatus.from_body({"status": {"sparkMeasures": raw}})
    assert status.spark_measures is not None and status.to_patch()["sparkMeasures"] == raw


def test_the_drivers_last_report_carries_sparks_measures():
    from semingest_worker.report import spark_line
    from semingest_worker.status_reporter import StatusReporter

    measures = {
        "stages": 2,
        "tasks": 8,
        "executorRunSeconds": 15.2,
        "executorCpuSeconds": 0.6,
        "shuffleReadBytes": 1292,
    }
    status = StatusReporter.body({"discovered": 5}, {}, None, measures)["status"]
    assert status["sparkMeasures"]["tasks"] == 8 and status["sparkMeasures"]["executorRunSeconds"] == 15.2
    assert "sparkMeasures" not in StatusReporter.body({"discovered": 5}, {}, None)["status"]
    assert spark_line(measures) == (
        "  spark: 8 tasks, executor run 15.2 s (CPU 0.6 s, GC 0.0 s, deserialising 0.0 s), "
        "shuffle 1.3 kB read, input 0 B"
    )
