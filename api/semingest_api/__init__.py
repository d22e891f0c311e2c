"""The SemIngest contract: what the operator and the worker agree on.

Both ``semingest_operator`` and ``semingest_worker`` import this package; neither imports the other.
It holds the spec types (validated against ``crds/semingest.yaml``), the API group/version and the
shared vocabularies, and depends only on light libraries (PyYAML, jsonschema).
"""
