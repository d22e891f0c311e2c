"""``semingest run`` with a ``FaultPlan``: what the fault-tolerance tests start as a subprocess.

    python tests/integration/faulty_run.py [--kill-after-files N] [--slow-ms-per-file M] -- run PATH [options]

The options after ``--`` are exactly ``semingest run``'s; the plan is added to the run's config
(production code reads no fault settings from anywhere else).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from semingest_worker import cli
from semingest_worker.dbopts import database_url
from semingest_worker.faults import FaultPlan
from semingest_worker.report import run_and_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="faulty_run.py")
    p.add_argument("--kill-after-files", type=int)
    p.add_argument("--slow-ms-per-file", type=int, default=0)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    run_args = cli._parser().parse_args(command)  # the `semingest run` options, parsed as the CLI does
    if run_args.command != "run":
        p.error("the command after -- must be `run ...`")
    run_args.db = database_url(run_args)
    logging.basicConfig(level=logging.WARNING, format="semingest: %(levelname)s %(name)s: %(message)s")
    plan = FaultPlan(kill_after_files=args.kill_after_files, slow_ms_per_file=args.slow_ms_per_file)
    config = dataclasses.replace(cli.job_config(run_args), faults=plan)
    return run_and_report(config, as_json=run_args.json, progress=not run_args.no_progress)


if __name__ == "__main__":
    sys.exit(main())
