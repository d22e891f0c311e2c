"""``semingest render -f ingest.yaml``: print the manifests the operator would create (a dry run)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import yaml

from semingest_api.spec import API_VERSION, KIND, SpecError
from semingest_operator.policy import InstallationPolicy
from semingest_operator.render import render_run
from semingest_operator.render.run import DEFAULT_DRIVER_SERVICE_ACCOUNT


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the executor pod template) as readable literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(manifest: dict[str, Any]) -> str:
    return yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, width=120)


def _documents(path: str) -> list[dict[str, Any]]:
    if path == "-":
        docs = list(yaml.safe_load_all(sys.stdin))
    else:
        with open(path, encoding="utf-8") as fh:
            docs = list(yaml.safe_load_all(fh))
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == KIND]


# What `render` shows for the worker image when neither the spec nor --default-image names one.
PLACEHOLDER_IMAGE = "WORKER-IMAGE-PLACEHOLDER:set-spec.image"


def render_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="semingest render", description=__doc__)
    p.add_argument(
        "-f", "--filename", required=True, help="a YAML file with SemIngest documents ('-' for stdin)"
    )
    p.add_argument(
        "--default-image",
        default=os.environ.get("SEMINGEST_DEFAULT_IMAGE"),
        help="worker image when the spec has none",
    )
    p.add_argument(
        "--driver-service-account",
        default=os.environ.get("SEMINGEST_DRIVER_SERVICE_ACCOUNT") or DEFAULT_DRIVER_SERVICE_ACCOUNT,
    )
    p.add_argument(
        "--allow-host-path",
        action="append",
        default=[],
        metavar="PREFIX",
        help="allow hostPath volumes under PREFIX, as the chart's security.allowedHostPaths (repeatable)",
    )
    p.add_argument(
        "--allow-spark-conf",
        action="append",
        default=[],
        metavar="PATTERN",
        help="allow more sparkConf keys, as the chart's security.extraAllowedSparkConf (repeatable)",
    )
    args = p.parse_args(argv)
    policy = InstallationPolicy.from_env().with_extra(
        tuple(args.allow_spark_conf), tuple(args.allow_host_path)
    )
    try:
        docs = _documents(args.filename)
    except (OSError, yaml.YAMLError) as exc:
        print(f"error: cannot read {args.filename}: {exc}", file=sys.stderr)
        return 2
    if not docs:
        print(f"error: {args.filename} holds no {KIND} ({API_VERSION}) document", file=sys.stderr)
        return 2
    chunks: list[str] = []
    for doc in docs:
        name = (doc.get("metadata") or {}).get("name", "?")
        if doc.get("apiVersion") != API_VERSION:
            print(f"error: {KIND} {name}: apiVersion must be {API_VERSION}", file=sys.stderr)
            return 1
        image = args.default_image
        if not image and not (doc.get("spec") or {}).get("image"):
            # A dry run needs no registry: show where the image goes, and say so.
            image = PLACEHOLDER_IMAGE
            print(
                f"warning: {KIND} {name}: no spec.image and no --default-image: rendered with the "
                f"placeholder {PLACEHOLDER_IMAGE} (the operator uses the chart's worker image)",
                file=sys.stderr,
            )
        try:
            rendered = render_run(
                doc,
                default_image=image,
                driver_service_account=args.driver_service_account,
                policy=policy,
            )
        except SpecError as exc:
            print(f"error: {KIND} {name}: invalid spec: {exc.field}: {exc.message}", file=sys.stderr)
            return 1
        for i, manifest in enumerate(rendered.manifests):
            text = to_yaml(manifest)
            if i == 0:
                text = f"# SemIngest {name}: run {rendered.run}; {rendered.sizing.reason}\n{text}"
            chunks.append(text)
    sys.stdout.write("---\n".join(chunks))
    return 0


def main() -> int:  # pragma: no cover - `semingest render` goes through the worker's CLI
    return render_main(sys.argv[1:])
