"""Class names: a labels file (one label per line, as TensorFlow's retraining tool writes it)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from semingest_api.spec import DEFAULT_LABELS

from .errors import ModelLoadError


def read_labels(labels_path: str | None) -> tuple[str, ...]:
    """The labels in file order (surrounding blanks and empty lines ignored); the 10 SEM
    categories when ``labels_path`` is None. Raises ``ModelLoadError`` for a missing, unreadable,
    empty or duplicate-holding file."""
    if labels_path is None:
        return DEFAULT_LABELS
    path = Path(labels_path)
    if not path.is_file():
        raise ModelLoadError(f"labels file {path} does not exist (or is not a file)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"labels file {path} cannot be read as UTF-8 text: {exc}") from exc
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    if not labels:
        raise ModelLoadError(f"labels file {path} has no labels (expected one label per line)")
    duplicates = sorted(label for label, count in Counter(labels).items() if count > 1)
    if duplicates:
        raise ModelLoadError(f"labels file {path} repeats labels: {', '.join(duplicates)}")
    return labels
