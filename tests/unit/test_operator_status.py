"""Status mapping: Spark side -> phase, conditions, start timeout; cron schedules."""

from __future__ import annotations

import datetime as dt

import pytest

from semingest_operator import schedule
from semingest_operator import status as st

NOW = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)


def app(state=None, error=None):
    body = {"metadata": {"name": "r"}}
    if state is not None:
        body["status"] = {"applicationState": {"state": state, **({"errorMessage": error} if error else {})}}
    return body


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        (None, "Submitted"),
        ("", "Submitted"),
        ("SUBMITTED", "Submitted"),
        ("PENDING_RERUN", "Submitted"),
        ("RUNNING", "Running"),
        ("SUCCEEDING", "Running"),
        ("FAILING", "Running"),
        ("COMPLETED", "Succeeded"),
        ("FAILED", "Failed"),
        ("SUBMISSION_FAILED", "Failed"),
        ("SUSPENDED", "Suspended"),
        ("UNKNOWN", "Submitted"),
        ("SOMETHING_NEW", "Submitted"),
    ],
)
def test_spark_application_states(state, phase):
    assert st.observe_spark_application(app(state), None).phase == phase


def test_spark_failure_carries_the_error_message():
    obs = st.observe_spark_application(app("FAILED", "driver pod failed: OOMKilled"), None)
    assert (
        obs.phase == "Failed"
        and obs.message == "driver pod failed: OOMKilled"
        and obs.reason == "SparkFailed"
    )
    assert st.observe_spark_application(None, None).reason == "SparkApplicationGone"


def pod(phase="Pending", waiting=None, terminated=None, scheduled=None):
    status = {"phase": phase}
    if waiting or terminated:
        state = {"waiting": waiting} if waiting else {"terminated": terminated}
        status["containerStatuses"] = [{"name": "spark-kubernetes-driver", "state": state}]
    if scheduled:
        status["conditions"] = [{"type": "PodScheduled", "status": "False", **scheduled}]
    return {"metadata": {"name": "r-driver"}, "status": status}


def test_driver_pod_phases():
    assert st.observe_driver_pod(pod("Running")).phase == "Running"
    assert st.observe_driver_pod(pod("Succeeded")).phase == "Succeeded"
    assert st.observe_driver_pod(None).phase == "Failed"
    failed = st.observe_driver_pod(pod("Failed", terminated={"exitCode": 137, "reason": "OOMKilled"}))
    assert failed.phase == "Failed" and failed.reason == "OOMKilled" and "code 137" in failed.message
    pending = st.observe_driver_pod(pod(waiting={"reason": "ContainerCreating"}))
    assert (pending.phase, pending.reason) == ("Submitted", "DriverPending")


@pytest.mark.parametrize(
    ("driver", "reason", "text"),
    [
        (
            pod(waiting={"reason": "ImagePullBackOff", "message": "Back-off pulling image"}),
            "ImagePullBackOff",
            "Back-off",
        ),
        (pod(waiting={"reason": "ErrImagePull", "message": "not found"}), "ErrImagePull", "not found"),
        (
            pod(
                scheduled={
                    "reason": "Unschedulable",
                    "message": "0/3 nodes: pod has unbound immediate PersistentVolumeClaims",
                }
            ),
            "Unschedulable",
            "unbound immediate PersistentVolumeClaims",
        ),
        (
            pod(waiting={"reason": "CreateContainerConfigError", "message": 'secret "sem-db" not found'}),
            "CreateContainerConfigError",
            'secret "sem-db" not found',
        ),
    ],
)
def test_start_timeout_fails_with_the_pods_reason(driver, reason, text):
    obs = st.observe_driver_pod(driver)
    assert obs.phase == "Submitted" and reason in obs.message  # shown while waiting
    early = st.apply_start_timeout(
        obs,
        started_at=NOW - dt.timedelta(seconds=599),
        now=NOW,
        timeout_seconds=600,
        driver_pod=driver,
        backend="native",
    )
    assert early.phase == "Submitted"
    late = st.apply_start_timeout(
        obs,
        started_at=NOW - dt.timedelta(seconds=601),
        now=NOW,
        timeout_seconds=600,
        driver_pod=driver,
        backend="native",
    )
    assert (
        late.phase == "Failed" and late.reason == reason and text in late.message and "600s" in late.message
    )


def test_start_timeout_without_a_driver_pod_points_at_the_spark_operator():
    obs = st.observe_spark_application(app("SUBMITTED"), None)
    late = st.apply_start_timeout(
        obs,
        started_at=NOW - dt.timedelta(hours=1),
        now=NOW,
        timeout_seconds=600,
        driver_pod=None,
        backend="sparkOperator",
    )
    assert late.phase == "Failed" and late.reason == "DriverStartTimeout" and "spark-operator" in late.message
    running = st.observe_spark_application(app("RUNNING"), None)
    assert (
        st.apply_start_timeout(
            running,
            started_at=NOW - dt.timedelta(hours=1),
            now=NOW,
            timeout_seconds=600,
            driver_pod=None,
            backend="x",
        )
        == running
    )


def by_type(conds):
    return {c["type"]: c for c in conds}


def test_conditions_follow_the_phase_and_keep_transition_times():
    sub = by_type(st.conditions("Submitted", "Submitted", "m", generation=1, now=NOW))
    assert {t: c["status"] for t, c in sub.items()} == {
        "Submitted": "True",
        "Running": "False",
        "Succeeded": "False",
        "Failed": "False",
    }
    later = NOW + dt.timedelta(minutes=5)
    run = by_type(
        st.conditions("Running", "DriverRunning", "m", generation=1, now=later, previous=list(sub.values()))
    )
    assert (
        run["Running"]["status"] == "True" and run["Running"]["lastTransitionTime"] == "2026-03-02T10:35:00Z"
    )
    assert run["Submitted"]["lastTransitionTime"] == "2026-03-02T10:30:00Z", "unchanged status keeps its time"
    done = by_type(
        st.conditions("Succeeded", "Completed", "ok", generation=1, now=later, previous=list(run.values()))
    )
    assert done["Succeeded"]["status"] == "True" and done["Running"]["status"] == "False"
    assert all(c["observedGeneration"] == 1 for c in done.values())
    sus = by_type(
        st.conditions("Suspended", "Suspended", "s", generation=2, now=later, previous=list(done.values()))
    )
    assert sus["Succeeded"]["status"] == "True", (
        "kubectl wait --for=condition=Succeeded still sees the last run"
    )
    bad = by_type(st.conditions("Failed", "InvalidSpec", "spec.x: bad", generation=3, now=later))
    assert bad["Failed"]["status"] == "True" and bad["Submitted"]["status"] == "False"


# --- cron ---------------------------------------------------------------------------------------


def t(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 * * * *", "2026-03-02 10:30", "2026-03-02 11:00"),
        ("0 * * * *", "2026-03-02 11:00", "2026-03-02 12:00"),
        ("*/15 * * * *", "2026-03-02 10:31", "2026-03-02 10:45"),
        ("30 2 * * *", "2026-03-02 10:30", "2026-03-03 02:30"),
        ("0 0 1 * *", "2026-03-02 10:30", "2026-04-01 00:00"),
        ("0 9 * * mon-fri", "2026-03-06 10:00", "2026-03-09 09:00"),  # Friday -> Monday
        ("0 0 * * 7", "2026-03-02 10:30", "2026-03-08 00:00"),  # 7 = Sunday
        ("0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00"),
        ("0 0 13 * 5", "2026-03-02 00:00", "2026-03-06 00:00"),  # day-of-month OR day-of-week
        ("@daily", "2026-03-02 10:30", "2026-03-03 00:00"),
        ("0 12 * jan,jul *", "2026-03-02 10:30", "2026-07-01 12:00"),
    ],
)
def test_next_tick(expr, after, expected):
    assert schedule.next_tick(expr, t(after)) == t(expected)


@pytest.mark.parametrize(
    "bad", ["* * * *", "61 * * * *", "* 24 * * *", "*/0 * * * *", "5-1 * * * *", "a b c d e", "0 0 31 2 *"]
)
def test_bad_cron_is_rejected(bad):
    with pytest.raises(ValueError):
        schedule.next_tick(bad, NOW)


def test_due_tick_takes_only_the_latest_missed_tick():
    assert schedule.due_tick("0 * * * *", t("2026-03-02 10:05"), t("2026-03-02 10:59")) is None
    assert schedule.due_tick("0 * * * *", t("2026-03-02 10:05"), t("2026-03-02 11:00")) == t(
        "2026-03-02 11:00"
    )
    # a run that took three hours: one run for the latest tick, not three
    assert schedule.due_tick("0 * * * *", t("2026-03-02 10:05"), t("2026-03-02 13:20")) == t(
        "2026-03-02 13:00"
    )
    # months of downtime: still just the latest tick, found quickly
    assert schedule.due_tick("* * * * *", t("2025-01-01 00:00"), t("2026-03-02 10:30")) == t(
        "2026-03-02 10:30"
    )


def test_a_schedule_in_a_time_zone_follows_daylight_saving_time():
    # 02:00 in Berlin: 01:00 UTC in winter, 00:00 UTC in summer; 29 March 2026 has no 02:00 at all
    assert schedule.next_tick("0 2 * * *", t("2026-03-02 10:30"), "Europe/Berlin") == t("2026-03-03 01:00")
    assert schedule.next_tick("0 2 * * *", t("2026-03-28 10:30"), "Europe/Berlin") == t("2026-03-29 01:00")
    assert schedule.next_tick("0 2 * * *", t("2026-03-29 10:30"), "Europe/Berlin") == t("2026-03-30 00:00")
    assert schedule.due_tick("0 2 * * *", t("2026-03-02 10:30"), t("2026-03-03 01:05"), "Europe/Berlin") == t(
        "2026-03-03 01:00"
    )
    assert (
        schedule.due_tick("0 2 * * *", t("2026-03-02 10:30"), t("2026-03-03 00:59"), "Europe/Berlin") is None
    )


def test_unknown_time_zones_are_named():
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        schedule.zone("Mars/Olympus")
    assert schedule.zone(None) is dt.UTC


def test_the_period_of_a_schedule():
    assert schedule.period("*/15 * * * *", NOW) == dt.timedelta(minutes=15)
    assert schedule.period("@daily", NOW) == dt.timedelta(days=1)
    assert schedule.period("0 9 * * mon-fri", t("2026-03-05 10:00")) == dt.timedelta(days=3)  # Fri -> Mon
