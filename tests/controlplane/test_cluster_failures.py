"""A control plane that cannot start is a failure naming the component and its last log lines
(the ``control_plane`` fixture turns it into pytest.fail, never a skip)."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane import ControlPlane, ControlPlaneError, cluster

pytestmark = pytest.mark.controlplane


def test_a_component_that_exits_is_reported_with_its_log(tmp_path: Path, monkeypatch):
    broken = tmp_path / "etcd"
    broken.write_text("#!/bin/sh\necho 'etcd: unknown flag --no-such-flag' >&2\nexit 2\n")
    broken.chmod(0o755)
    monkeypatch.setattr(
        cluster,
        "ensure_built",
        lambda _logs: {"etcd": str(broken), "kube-apiserver": "-", "kube-controller-manager": "-"},
    )
    with pytest.raises(ControlPlaneError) as failure, ControlPlane.start(tmp_path / "cp"):
        pass
    assert "etcd exited (2)" in str(failure.value)
    assert "unknown flag --no-such-flag" in str(failure.value)


def test_stop_leaves_no_process_behind(tmp_path: Path):
    sleeper = cluster.Process(
        "sleeper", ["sh", "-c", "sleep 300 & sleep 300"], tmp_path / "sleeper.log"
    ).start()
    pid = sleeper.pid
    sleeper.stop(timeout=5)
    assert not sleeper.alive()
    assert _live_group_members(pid) == [], "a process of the group survived"


def _live_group_members(pgid: int) -> list[int]:
    """Processes of the group that still run (zombies waiting for init to reap them are dead)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(stat.parent.name))
    return members
