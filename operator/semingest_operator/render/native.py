"""The native backend: a driver Pod running spark-submit in client mode, its headless Service,
and a ConfigMap with the executor pod template. Spark itself creates the executor pods, owned by
the driver pod (``spark.kubernetes.driver.pod.name``)."""

from __future__ import annotations

from typing import Any

import yaml

from semingest_api.spec import WORKER_ENTRYPOINT, SemIngestSpec
from semingest_operator.quantities import format_cpu, spark_memory
from semingest_operator.render.common import (
    DRIVER_CONTAINER,
    EXECUTOR_CONTAINER,
    RunContext,
    container_security_context,
    env,
    event_log_conf,
    object_meta,
    placement,
    pod_security_context,
    pod_template,
    run_labels,
    spreads_executors,
    user_spark_conf,
    volume_mounts,
    volumes,
    worker_arguments,
)
from semingest_operator.sizing import Sizing

KUBERNETES_MASTER = "k8s://https://kubernetes.default.svc:443"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
POD_TEMPLATE_DIR = "/opt/semingest/pod-templates"
EXECUTOR_TEMPLATE_KEY = "executor.yaml"
DRIVER_PORT = 7078
BLOCK_MANAGER_PORT = 7079
UI_PORT = 4040


def driver_pod_name(ctx: RunContext) -> str:
    return f"{ctx.run}-driver"


def driver_service_name(ctx: RunContext) -> str:
    return f"{ctx.run}-driver-svc"


def executor_template_name(ctx: RunContext) -> str:
    return f"{ctx.run}-executor-template"


def spark_conf(spec: SemIngestSpec, ctx: RunContext, sizing: Sizing) -> dict[str, str]:
    ex = sizing.executor
    conf = {
        "spark.kubernetes.namespace": ctx.namespace,
        "spark.kubernetes.driver.pod.name": driver_pod_name(ctx),
        "spark.kubernetes.container.image": ctx.image,
        "spark.kubernetes.container.image.pullPolicy": spec.image_pull_policy,
        "spark.kubernetes.executor.podNamePrefix": ctx.run,
        "spark.kubernetes.executor.podTemplateFile": f"{POD_TEMPLATE_DIR}/{EXECUTOR_TEMPLATE_KEY}",
        "spark.kubernetes.executor.podTemplateContainerName": EXECUTOR_CONTAINER,
        "spark.kubernetes.authenticate.caCertFile": f"{SERVICE_ACCOUNT_DIR}/ca.crt",
        "spark.kubernetes.authenticate.oauthTokenFile": f"{SERVICE_ACCOUNT_DIR}/token",
        # Executors run as the driver's ServiceAccount: the chart's admission policy refuses any
        # other (without this, Spark leaves them to the namespace's "default").
        "spark.kubernetes.authenticate.executor.serviceAccountName": ctx.driver_service_account,
        "spark.driver.host": f"{driver_service_name(ctx)}.{ctx.namespace}.svc",
        "spark.driver.bindAddress": "0.0.0.0",
        "spark.driver.port": str(DRIVER_PORT),
        "spark.driver.blockManager.port": str(BLOCK_MANAGER_PORT),
        "spark.driver.cores": str(sizing.driver.cores),
        "spark.executor.instances": str(sizing.executors),
        "spark.executor.cores": str(ex.cores),
        "spark.executor.memory": spark_memory(ex.heap_bytes),
        "spark.executor.memoryOverhead": spark_memory(ex.overhead_bytes),
        "spark.kubernetes.executor.request.cores": format_cpu(ex.cpu_request_millicores),
        "spark.kubernetes.executor.limit.cores": format_cpu(ex.cpu_limit_millicores),
        "spark.default.parallelism": str(max(1, sizing.total_cores)),
        "spark.dynamicAllocation.enabled": "false",
        # Driver and executors prove a shared secret that Spark generates for each application.
        "spark.authenticate": "true",
    }
    for key, value in run_labels(ctx, "executor").items():
        conf[f"spark.kubernetes.executor.label.{key}"] = value
    conf.update(event_log_conf(spec))
    conf.update(user_spark_conf(spec))
    return conf


def spark_submit_args(spec: SemIngestSpec, ctx: RunContext, sizing: Sizing) -> list[str]:
    args = [
        "--master",
        KUBERNETES_MASTER,
        "--deploy-mode",
        "client",
        "--name",
        ctx.run,
        # Client mode: the driver JVM is started by spark-submit, so its heap is set here.
        "--driver-memory",
        spark_memory(sizing.driver.heap_bytes),
    ]
    for key, value in sorted(spark_conf(spec, ctx, sizing).items()):
        args += ["--conf", f"{key}={value}"]
    return [*args, WORKER_ENTRYPOINT, *worker_arguments(spec, ctx)]


def render_executor_template(spec: SemIngestSpec, ctx: RunContext, sizing: Sizing) -> dict[str, Any]:
    template = pod_template(
        spec,
        ctx,
        EXECUTOR_CONTAINER,
        "executor",
        automount_token=False,
        spread=spreads_executors(sizing.strategy, sizing.executors),
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(ctx, executor_template_name(ctx), "executor-template"),
        "data": {EXECUTOR_TEMPLATE_KEY: yaml.safe_dump(template, sort_keys=False)},
    }


def render_driver_service(ctx: RunContext) -> dict[str, Any]:
    """Headless: executors reach the client-mode driver at <service>.<namespace>.svc."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(ctx, driver_service_name(ctx), "driver"),
        "spec": {
            "clusterIP": "None",
            # resolvable as soon as the driver pod has an IP (it has no readiness probe to wait for)
            "publishNotReadyAddresses": True,
            "selector": {k: v for k, v in run_labels(ctx, "driver").items()},
            "ports": [
                {"name": "driver-rpc", "port": DRIVER_PORT, "targetPort": DRIVER_PORT, "protocol": "TCP"},
                {
                    "name": "blockmanager",
                    "port": BLOCK_MANAGER_PORT,
                    "targetPort": BLOCK_MANAGER_PORT,
                    "protocol": "TCP",
                },
                {"name": "spark-ui", "port": UI_PORT, "targetPort": UI_PORT, "protocol": "TCP"},
            ],
        },
    }


def render_driver_pod(spec: SemIngestSpec, ctx: RunContext, sizing: Sizing) -> dict[str, Any]:
    mounts = [
        *volume_mounts(spec, "driver"),
        {"name": "pod-templates", "mountPath": POD_TEMPLATE_DIR, "readOnly": True},
    ]
    pod_volumes = [
        *volumes(spec, "driver"),
        {"name": "pod-templates", "configMap": {"name": executor_template_name(ctx)}},
    ]
    deadline = (
        {}
        if spec.active_deadline_seconds is None
        else {"activeDeadlineSeconds": spec.active_deadline_seconds}
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": object_meta(ctx, driver_pod_name(ctx), "driver"),
        "spec": {
            "serviceAccountName": ctx.driver_service_account,
            "restartPolicy": "Never",
            # The kubelet ends the driver (and so the run: its executors go with it) at the deadline.
            **deadline,
            **placement(spec, ctx, "driver"),
            "securityContext": pod_security_context(),
            "volumes": pod_volumes,
            "containers": [
                {
                    "name": DRIVER_CONTAINER,
                    "image": ctx.image,
                    "imagePullPolicy": spec.image_pull_policy,
                    "command": ["spark-submit"],
                    "args": spark_submit_args(spec, ctx, sizing),
                    "env": env(spec),
                    "ports": [
                        {"name": "driver-rpc", "containerPort": DRIVER_PORT, "protocol": "TCP"},
                        {"name": "blockmanager", "containerPort": BLOCK_MANAGER_PORT, "protocol": "TCP"},
                        {"name": "spark-ui", "containerPort": UI_PORT, "protocol": "TCP"},
                    ],
                    "resources": sizing.driver.resources(),
                    "volumeMounts": mounts,
                    "securityContext": container_security_context(),
                }
            ],
        },
    }


def render_native(spec: SemIngestSpec, ctx: RunContext, sizing: Sizing) -> list[dict[str, Any]]:
    """ConfigMap, Service, then the driver Pod (the order they are created in)."""
    return [
        render_executor_template(spec, ctx, sizing),
        render_driver_service(ctx),
        render_driver_pod(spec, ctx, sizing),
    ]
