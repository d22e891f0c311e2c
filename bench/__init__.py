"""The benchmark (``make bench``): corpus cache, timed ingest runs, the reference, the report."""
