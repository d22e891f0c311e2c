"""The sparkOperator backend: one kubeflow ``sparkoperator.k8s.io/v1beta2`` SparkApplication."""

from __future__ import annotations

from typing import Any

from semingest_api.spec import WORKER_ENTRYPOINT, SemIngestSpec
from semingest_operator.quantities import format_cpu, spark_memory
from semingest_operator.render.common import (
    DRIVER_CONTAINER,
    EXECUTOR_CONTAINER,
    SPARK_VERSION,
    RunContext,
    event_log_conf,
    object_meta,
    pod_template,
    run_labels,
    spreads_executors,
    user_spark_conf,
    worker_arguments,
)
from semingest_operator.sizing import PodSize, Sizing

SPARK_OPERATOR_API_VERSION = "sparkoperator.k8s.io/v1beta2"


def driver_pod_name(ctx: RunContext) -> str:
    return f"{ctx.run}-driver"


def _resources(pod: PodSize) -> dict[str, Any]:
    return {
        "cores": pod.cores,
        "coreRequest": format_cpu(pod.cpu_request_millicores),
        "coreLimit": format_cpu(pod.cpu_limit_millicores),
        "memory": spark_memory(pod.heap_bytes),
        "memoryOverhead": spark_memory(pod.overhead_bytes),
    }


def spark_conf(spec: SemIngestSpec, ctx: RunContext, sizing: Sizing) -> dict[str, str]:
    conf = {
        "spark.default.parallelism": str(max(1, sizing.total_cores)),
        "spark.kubernetes.executor.podNamePrefix": ctx.run,
        "spark.kubernetes.driver.podTemplateContainerName": DRIVER_CONTAINER,
        "spark.kubernetes.executor.podTemplateContainerName": EXECUTOR_CONTAINER,
        "spark.dynamicAllocation.enabled": "false",
        # Driver and executors prove a shared secret that Spark generates for each application.
        "spark.authenticate": "true",
    }
    conf.update(event_log_conf(spec))
    conf.update(user_spark_conf(spec))
    return conf


def render_spark_application(spec: SemIngestSpec, ctx: RunContext, sizing: Sizing) -> dict[str, Any]:
    """A SparkApplication (type Python, cluster mode) running the worker entry point.

    Volumes, mounts, env and security contexts go into the driver/executor pod ``template``
    (Spark >= 3 pod templates), never into the fields that need the spark-operator's webhook.
    """
    driver_template = pod_template(spec, ctx, DRIVER_CONTAINER, "driver", automount_token=True)
    retries: dict[str, Any] = {
        "type": "OnFailure",
        "onFailureRetries": 2,
        "onFailureRetryInterval": 30,
        "onSubmissionFailureRetries": 3,
        "onSubmissionFailureRetryInterval": 20,
    }
    if spec.active_deadline_seconds is not None:
        # The kubelet ends the driver pod at the deadline; a retry would start the clock again.
        driver_template["spec"]["activeDeadlineSeconds"] = spec.active_deadline_seconds
        retries = {"type": "Never"}
    return {
        "apiVersion": SPARK_OPERATOR_API_VERSION,
        "kind": "SparkApplication",
        "metadata": object_meta(ctx, ctx.run, "run"),
        "spec": {
            "type": "Python",
            "pythonVersion": "3",
            "mode": "cluster",
            "sparkVersion": SPARK_VERSION,
            "image": ctx.image,
            "imagePullPolicy": spec.image_pull_policy,
            "mainApplicationFile": f"local://{WORKER_ENTRYPOINT}",
            "arguments": worker_arguments(spec, ctx),
            "sparkConf": spark_conf(spec, ctx, sizing),
            # The worker is idempotent (already ingested files are skipped), so retrying is safe.
            "restartPolicy": retries,
            "driver": {
                **_resources(sizing.driver),
                "podName": driver_pod_name(ctx),
                "serviceAccount": ctx.driver_service_account,
                "labels": run_labels(ctx, "driver"),
                "template": driver_template,
            },
            "executor": {
                **_resources(sizing.executor),
                "instances": sizing.executors,
                # the driver's ServiceAccount: the chart's admission policy refuses any other
                "serviceAccount": ctx.driver_service_account,
                "deleteOnTermination": True,
                "labels": run_labels(ctx, "executor"),
                "template": pod_template(
                    spec,
                    ctx,
                    EXECUTOR_CONTAINER,
                    "executor",
                    automount_token=False,
                    spread=spreads_executors(sizing.strategy, sizing.executors),
                ),
            },
        },
    }
