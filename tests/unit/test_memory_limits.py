"""Issue 13 item 8: the largest image a Python worker takes follows the executors' size, the
operator's sizing and the worker share one rule, and a too-large image says what to raise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from semingest_api.memory import (
    PEAK_PER_DECODED_BYTE,
    max_image_bytes,
    memory_per_core_for,
    parse_spark_memory,
    python_worker_bytes,
)
from semingest_api.spec import parse_spec
from semingest_operator.render import render_run
from semingest_operator.sizing import OVERHEAD_SHARE
from semingest_worker.pipeline import PipelineConfig, process_partition, with_executor_image_limit
from semingest_worker.records import ImageFile


@pytest.mark.parametrize(
    ("text", "expected"), [("1638m", 1638 << 20), ("2g", 2 << 30), ("512", 512 << 20), ("64k", 64 << 10)]
)
def test_spark_memory_strings(text: str, expected: int) -> None:
    assert parse_spark_memory(text) == expected


def test_rule_is_consistent() -> None:
    overhead, cores = 4 << 30, 4
    assert python_worker_bytes(overhead, cores) == int(overhead * 0.75) // cores
    assert max_image_bytes(overhead, cores) * PEAK_PER_DECODED_BYTE <= python_worker_bytes(overhead, cores)
    # The memory per core the README recommends for an image lets exactly that image through.
    image = 8000 * 8000  # 8-bit 8000x8000
    per_core = memory_per_core_for(image, OVERHEAD_SHARE)
    assert max_image_bytes(int(per_core * OVERHEAD_SHARE), 1) >= image


def _executor_conf(spec_overrides: dict) -> dict[str, str]:
    doc = {
        "apiVersion": "semingest.io/v1alpha1",
        "kind": "SemIngest",
        "metadata": {"name": "m", "namespace": "ns", "uid": "u1"},
        "spec": {
            "image": "img",
            "source": {"pvc": "data"},
            "database": {"secretRef": {"name": "db"}},
            "executors": {"strategy": "tiny", "nodes": 1, "coresPerNode": 4, **spec_overrides},
        },
    }
    parse_spec(doc["spec"])
    rendered = render_run(doc, default_image="img", driver_service_account="sa")
    for manifest in rendered.manifests:
        text = str(manifest)
        if "spark.executor.memoryOverhead" in text:
            args = manifest["spec"]["containers"][0]["args"]
            return dict(a.split("=", 1) for a in args if a.startswith("spark.") and "=" in a)
    raise AssertionError("no executor configuration rendered")


def test_limit_follows_the_rendered_executor_size(tmp_path: Path) -> None:
    small = with_executor_image_limit(
        PipelineConfig(database_url="sqlite://", run_id="r"), _executor_conf({})
    )
    large = with_executor_image_limit(
        PipelineConfig(database_url="sqlite://", run_id="r"), _executor_conf({"memoryPerCore": "4Gi"})
    )
    assert small.max_image_bytes < large.max_image_bytes
    assert small.image_limit_hint and "spec.executors.memoryPerCore" in small.image_limit_hint
    # Local runs (no executor overhead) keep the decoder's default.
    local = with_executor_image_limit(PipelineConfig(database_url="sqlite://", run_id="r"), {})
    assert local.max_image_bytes == PipelineConfig(database_url="sqlite://", run_id="r").max_image_bytes


def test_an_image_over_the_executor_limit_is_recorded_with_the_field_to_raise(
    tmp_path: Path, sqlite_url: str
) -> None:
    from semingest_worker.database import create_engine, create_schema

    create_schema(create_engine(sqlite_url))
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, np.zeros((600, 600), np.uint16))  # 720 kB decoded
    config = with_executor_image_limit(
        PipelineConfig(database_url=sqlite_url, run_id="r"),
        {"spark.executor.memoryOverhead": "64m", "spark.executor.cores": "8"},  # 600 kB per image
    )
    counters = process_partition([ImageFile(path=str(path), size=path.stat().st_size, mtime_ns=1)], config)
    [reason] = counters.failures.values()
    assert reason.startswith("decompression bomb: declares 600x600 pixels of 1 sample(s) x 2 byte(s)")
    assert reason.endswith(
        "(the executors' memory per core allows this much; raise spec.executors.memoryPerCore)"
    )
