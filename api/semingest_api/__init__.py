"""The SemIngest contract: what the operator and the worker agree on.

Both ``semingest_operator`` and ``semingest_worker`` import this package; neither imports the other.
It holds the spec types (validated against ``crds/semingest.yaml``), the API group/version and the
shared vocabularies, and depends only on light libraries (PyYAML, jsonschema).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version


def semingest_version() -> str:
    """The installed semingest distribution's version (one definition: pyproject.toml)."""
    try:
        return _version("semingest")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"
