#!/usr/bin/env bash
# Pin the images' Python packages to the versions installed in .venv (the ones the tests passed with).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Versions the images install: the ones the test suite passed with (pip's constraints format)."
  echo "# Regenerate after changing dependencies in pyproject.toml: images/update_constraints.sh"
  .venv/bin/pip freeze --exclude-editable --disable-pip-version-check | grep -v '^semingest=='
} > images/constraints.txt
echo "wrote images/constraints.txt"
