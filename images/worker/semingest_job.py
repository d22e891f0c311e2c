"""The Spark entry point of the worker image (spark-submit ... local:///opt/semingest/semingest_job.py)."""

from semingest_worker.submit import main

raise SystemExit(main())
