"""tests/unit holds the pure, fast tests (``make test-fast``): no MariaDB server, no Spark.

A test here that asks for the database server or a Spark session stops the collection with the
test's name (or, when it asks at run time through ``request.getfixturevalue``, fails with the same
advice): it belongs in tests/integration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).resolve().parent
NOT_HERE_FIXTURES = {"mariadb_server", "mariadb_url", "spark"}
NOT_HERE_MARKS = {"mariadb", "spark"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misplaced = []
    for item in items:
        if UNIT_DIR not in Path(item.path).resolve().parents:
            continue
        fixtures = set(getattr(item, "fixturenames", ())) & NOT_HERE_FIXTURES
        marks = {m.name for m in item.iter_markers()} & NOT_HERE_MARKS
        if fixtures or marks:
            misplaced.append(f"{item.nodeid} ({', '.join(sorted(fixtures | marks))})")
    if misplaced:
        raise pytest.UsageError(
            "tests/unit is for pure tests (no MariaDB, no Spark); move these to tests/integration:\n  "
            + "\n  ".join(misplaced)
        )


_MOVE = "tests/unit is for pure tests (no MariaDB, no Spark): move this test to tests/integration"


@pytest.fixture(scope="session")
def mariadb_server() -> str:
    """Shadows the MariaDB fixture for tests/unit (``mariadb_url`` depends on it)."""
    pytest.fail(_MOVE)


@pytest.fixture(scope="session")
def spark() -> None:
    """Shadows the Spark session fixture for tests/unit."""
    pytest.fail(_MOVE)
