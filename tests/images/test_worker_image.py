"""The worker image, run with podman the way the operator's rendered driver pod runs it.

Every container here gets the rendered pod's security settings (uid/gid 185, fsGroup, every
capability dropped, no privilege escalation, seccomp RuntimeDefault) plus a read-only root file
system, and only the pod's volumes are writable: the /tmp emptyDir (a tmpfs) and, for
``semingest run``, the volume the SQLite database is on.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import mariadb_databases
import pytest
import sqlalchemy as sa
from podman_pod import podman_run_args

from semingest_operator.policy import InstallationPolicy
from semingest_operator.render import render_run

NS = "sem"
IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png", ".bmp"}
# Metadata pixel sizes from $SEMINGEST_SHARED/sem-corpus/MANIFEST.md (metres), for files whose
# metadata describes the saved image itself (not zeiss_512px.tif: a 2x downscaled save, see
# tests/unit/test_metadata_vendors.py).
MANIFEST_PIXEL_SIZES = {
    "fei_quanta_databar.tif": 3.10059e-08,
    "tescan_amber_databar.tif": 4.537772e-09,
    "jeol_jxa_databar.tif": 9.901e-07,
    "thermo_scios_databar.tif": 2.69792e-07,
}


def _spec(source: Path, model: Path, model_file: str, labels_file: str) -> dict[str, Any]:
    return {
        "apiVersion": "semingest.io/v1alpha1",
        "kind": "SemIngest",
        "metadata": {"name": "imgtest", "namespace": NS, "uid": "u-imgtest", "generation": 1},
        "spec": {
            "backend": "native",
            "image": "localhost/semingest-worker:test",
            "source": {"hostPath": str(source), "path": "/"},
            "executors": {"strategy": "fat", "nodes": 1, "coresPerNode": 2, "memoryPerCore": "1Gi"},
            "driver": {"cores": 1, "memory": "2Gi"},
            "database": {"secretRef": {"name": "sem-db", "key": "url"}},
            "model": {"hostPath": str(model), "path": model_file, "labels": labels_file},
            "stages": {"metadata": True, "scaleBar": True, "inference": True},
        },
    }


def _driver(manifests: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(driver pod spec, its container, the executor-template ConfigMap) of a rendered run."""
    pod = next(m for m in manifests if m["kind"] == "Pod")
    config_map = next(m for m in manifests if m["kind"] == "ConfigMap")
    spec = pod["spec"]
    return spec, spec["containers"][0], config_map


def _read_only(container: dict[str, Any]) -> dict[str, Any]:
    """The container with a read-only root file system (the renderer does not set it yet)."""
    return {**container, "securityContext": {**container["securityContext"], "readOnlyRootFilesystem": True}}


@pytest.fixture(scope="module")
def source(tmp_path_factory, sem_corpus) -> Path:
    """Generated SEM images plus a mount point for the shared corpus (mounted read-only)."""
    root = tmp_path_factory.mktemp("source")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "semingest_worker.cli",
            "generate",
            str(root / "generated"),
            "--count",
            "6",
            "--seed",
            "11",
            "--size",
            "640x480",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (root / "corpus").mkdir()
    _world_readable(root)
    return root


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from inference_models import build_tiny_model

    paths = build_tiny_model(tmp_path_factory.mktemp("model"))
    _world_readable(paths.keras.parent)
    return paths


def _world_readable(root: Path) -> None:
    """pytest's temporary folders are private (0700): the containers' uid 185 must read them."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _count_images(*folders: Path) -> int:
    return sum(1 for f in folders for p in f.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _rendered(source: Path, model) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The driver pod the operator renders for a native run over ``source`` with ``model``, on an
    installation that allows these two host paths (the chart's security.allowedHostPaths)."""
    folder = model.keras.parent
    body = _spec(source, folder, f"/{model.keras.name}", f"/{model.labels.relative_to(folder)}")
    policy = InstallationPolicy(host_path_prefixes=(str(source), str(folder)))
    return _driver(render_run(body, policy=policy).manifests)


def test_tools_work_under_the_pods_security_settings(podman, worker_image, source, model):
    pod, container, _ = _rendered(source, model)
    script = (
        "set -e; id -u; id -g; java -version 2>&1 | head -n 1; tesseract --version 2>&1 | head -n 1; "
        "tesseract --list-langs 2>&1 | tail -n +2; "
        'python -c \'import tensorflow as tf, cv2, pyspark; print("tf", tf.__version__, '
        'tf.reduce_sum(tf.ones([2, 3])).numpy(), "spark", pyspark.__version__)\'; '
        "touch /probe 2>/dev/null && echo root-writable || echo root-read-only; touch /tmp/probe"
    )
    args = podman_run_args(
        pod,
        {**_read_only(container), "command": ["sh"], "args": ["-c", script], "volumeMounts": []},
        image=worker_image,
        secrets={("sem-db", "url"): "sqlite:////tmp/unused.db"},
        extra=["--mount", "type=tmpfs,destination=/tmp,tmpfs-mode=1777"],
    )
    out = podman.run("run", *args, timeout=300).stdout
    lines = out.splitlines()
    assert lines[:2] == ["185", "185"], out
    assert re.search(r'openjdk version "17\.', out), out
    assert re.search(r"^tesseract 5\.", out, re.M), out
    assert "eng" in lines, out
    assert re.search(r"^tf \S+ 6\.0 spark \S+$", out, re.M), out
    assert "root-read-only" in lines, out


def test_semingest_run_into_sqlite_on_a_volume(podman, worker_image, source, model, sem_corpus, tmp_path):
    pod, container, _ = _rendered(source, model)
    db_dir = tmp_path / "db"
    db_dir.mkdir(mode=0o777)
    db_dir.chmod(0o777)  # a fresh volume the fsGroup may write to
    run = {
        **_read_only(container),
        # No command: the image's entry point (tini, then the command) runs it.
        "command": [],
        "args": [
            "semingest",
            "run",
            "/data/source",
            "--db",
            "sqlite:////data/db/semingest.db",
            "--master",
            "local[2]",
            "--model",
            f"/data/model/{model.keras.name}",
            "--labels",
            f"/data/model/{model.labels.relative_to(model.keras.parent)}",
            "--json",
            "--no-progress",
        ],
        "volumeMounts": [m for m in container["volumeMounts"] if m["name"] in ("source", "model", "tmp")],
    }
    args = podman_run_args(
        pod,
        run,
        image=worker_image,
        host_dirs={"source": source, "model": model.keras.parent},
        secrets={("sem-db", "url"): "sqlite:////data/db/unused.db"},
        extra=[
            "--volume",
            f"{sem_corpus}:/data/source/corpus:ro",
            "--volume",
            f"{db_dir}:/data/db:rw",
            "--network",
            "none",
        ],
    )
    result = podman.run("run", *args, timeout=1200)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    expected = _count_images(source / "generated", sem_corpus)
    assert summary["status"] == "succeeded", summary
    assert summary["discovered"] == expected, summary
    assert summary["processed"] + summary["failed"] == expected, summary

    with sqlite3.connect(db_dir / "semingest.db") as conn:
        files = dict(conn.execute("SELECT path, status FROM image_files").fetchall())
        sizes = dict(
            conn.execute(
                "SELECT f.path, p.metadata_pixel_size_m FROM image_files f "
                "JOIN pixel_size p ON p.image_hash = f.image_hash"
            ).fetchall()
        )
        ocr = conn.execute("SELECT COUNT(*) FROM pixel_size WHERE ocr_pixel_size_m IS NOT NULL").fetchone()[0]
        classified = conn.execute("SELECT COUNT(*) FROM inference WHERE top1_label IS NOT NULL").fetchone()[0]
    assert len(files) == expected
    for name, value in MANIFEST_PIXEL_SIZES.items():
        got = sizes[f"/data/source/corpus/{name}"]
        assert got == pytest.approx(value, rel=1e-3), (name, got)
    assert ocr > 0, "no scale bar was read (Tesseract in the image)"
    assert classified > 0, "TensorFlow inference wrote nothing"


@pytest.fixture
def mariadb_database(mariadb_server):
    with mariadb_databases.mariadb_database(mariadb_server, "semingest_images") as url:
        yield url


def test_driver_runs_the_rendered_spark_submit_in_local_mode_into_mariadb(
    podman, worker_image, source, model, mariadb_database, tmp_path
):
    """The native backend's driver container: the operator's command and arguments with only the
    master switched from k8s:// to local, the same env (database URL from the Secret, HOME=/tmp),
    volumes (source, model, /tmp, the executor pod template) and security settings."""
    pod, container, config_map = _rendered(source, model)
    args = list(container["args"])
    master = args.index("--master")
    assert args[master + 1].startswith("k8s://"), args
    args[master + 1] = "local[2]"
    templates = tmp_path / "pod-templates"
    templates.mkdir()
    for key, text in config_map["data"].items():
        (templates / key).write_text(text)
    _world_readable(templates)
    run_args = podman_run_args(
        pod,
        {**_read_only(container), "args": args},
        image=worker_image,
        host_dirs={"source": source, "model": model.keras.parent, "pod-templates": templates},
        secrets={("sem-db", "url"): mariadb_database},
        extra=["--network", "host"],
    )
    result = podman.run("run", *run_args, timeout=1200)
    assert "semingest: run failed" not in result.stderr, result.stderr[-4000:]

    engine = sa.create_engine(mariadb_database)
    try:
        with engine.connect() as conn:
            run = conn.execute(
                sa.text("SELECT id, status, discovered, processed, failed FROM ingest_runs")
            ).one()
            n_files = conn.execute(sa.text("SELECT COUNT(*) FROM image_files")).scalar_one()
            n_inferred = conn.execute(
                sa.text("SELECT COUNT(*) FROM inference WHERE top1_label IS NOT NULL")
            ).scalar_one()
    finally:
        engine.dispose()
    expected = _count_images(source / "generated")
    assert run.id == "imgtest-g1"
    assert run.status == "succeeded", result.stderr[-4000:]
    assert (run.discovered, run.processed, run.failed) == (expected, expected, 0)
    assert n_files == expected
    assert n_inferred > 0, "TensorFlow inference wrote nothing"
