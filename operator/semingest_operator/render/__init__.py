"""Pure rendering: a SemIngest (spec + identity) and a sizing in, Kubernetes manifests out."""

from semingest_operator.render.common import RunContext, run_labels, run_name
from semingest_operator.render.native import render_native
from semingest_operator.render.run import RenderedRun, render_run
from semingest_operator.render.spark_application import render_spark_application

__all__ = [
    "RenderedRun",
    "RunContext",
    "render_native",
    "render_run",
    "render_spark_application",
    "run_labels",
    "run_name",
]
