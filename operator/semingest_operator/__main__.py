"""``semingest-operator``: run the kopf operator (like ``kopf run``) with a liveness endpoint and
Prometheus metrics.

Environment: SEMINGEST_DEFAULT_IMAGE (worker image for specs without one),
SEMINGEST_DRIVER_SERVICE_ACCOUNT (the Spark driver pods' ServiceAccount, default semingest-driver),
SEMINGEST_POLL_SECONDS (how often the Spark side is checked, default 10).
"""

from __future__ import annotations

import argparse
import os
import sys

import kopf

from semingest_api import semingest_version
from semingest_operator import logcontext
from semingest_operator.controller import OperatorConfig
from semingest_operator.handlers import build_registry
from semingest_operator.metrics import Metrics
from semingest_operator.policy import InstallationPolicy
from semingest_operator.render.run import DEFAULT_DRIVER_SERVICE_ACCOUNT


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="semingest-operator", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"semingest-operator {semingest_version()}")
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        help="watch this namespace (repeatable; globs allowed)",
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    p.add_argument(
        "--liveness", default="http://0.0.0.0:8080/healthz", help="liveness endpoint URL ('' to disable)"
    )
    p.add_argument("--metrics-port", type=int, default=9090, help="Prometheus metrics port (0 to disable)")
    p.add_argument(
        "--poll-seconds", type=float, default=float(os.environ.get("SEMINGEST_POLL_SECONDS", "10"))
    )
    p.add_argument(
        "--log-format",
        choices=sorted(LOG_FORMATS),
        default="full",
        help="log lines: full (time, level, logger), plain (message only) or json (one object a line, "
        "with the SemIngest as 'object'); text lines are prefixed with [namespace/name]",
    )
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


LOG_FORMATS = {"full": kopf.LogFormat.FULL, "plain": kopf.LogFormat.PLAIN, "json": kopf.LogFormat.JSON}


def configure_logging(log_format: str, verbose: bool) -> None:
    """kopf's own logging configuration (its formatters know per-object references), plus the
    filter that gives our records the SemIngest being reconciled."""
    kopf.configure(verbose=verbose, log_format=LOG_FORMATS[log_format], log_prefix=None)
    logcontext.install(verbose=verbose)


def config_from_env(poll_seconds: float) -> OperatorConfig:
    return OperatorConfig(
        default_image=os.environ.get("SEMINGEST_DEFAULT_IMAGE") or None,
        driver_service_account=os.environ.get("SEMINGEST_DRIVER_SERVICE_ACCOUNT")
        or DEFAULT_DRIVER_SERVICE_ACCOUNT,
        poll_seconds=poll_seconds,
        policy=InstallationPolicy.from_env(),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_format, args.verbose)
    metrics = Metrics()
    if args.metrics_port:
        metrics.serve(args.metrics_port)
    registry = build_registry(config_from_env(args.poll_seconds), metrics)
    if not args.all_namespaces and not args.namespace:
        args.namespace = [os.environ.get("POD_NAMESPACE") or "default"]
    kopf.run(
        registry=registry,
        clusterwide=args.all_namespaces,
        namespaces=args.namespace,
        standalone=True,
        liveness_endpoint=args.liveness or None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
