"""``make accuracy``: the whole per-image pipeline over the shared corpus, scored per vendor.

Runs ``process_partition`` (decode, metadata, scale bar, database write: what each Spark task
runs) over every file of ``$SEMINGEST_SHARED/sem-corpus`` into a throw-away SQLite database,
reads the ``pixel_size`` and ``instrument_meta`` rows back, and scores them against the ground
truth in ``tests/sem_corpus_truth.py``:

* metadata exact: the stored metadata pixel size is the saved pixels' one (within 0.1 %);
* OCR within 3 %: the scale-bar pixel size is within 3 % of the truth;
* false reads: a scale-bar pixel size that is off by more than 3 % (or on an image with no bar),
  or a metadata pixel size that is wrong;
* unreadable: no scale-bar pixel size, with the stored reason.

Prints the per-vendor table and the per-file lines (markdown); ``--json`` writes them as JSON.

    python bench/accuracy.py [--corpus DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sem_corpus_truth import CORPUS, METADATA_TOLERANCE, OCR_TOLERANCE, Truth  # noqa: E402


@dataclass(frozen=True)
class FileScore:
    name: str
    vendor: str
    metadata: str  # exact, wrong, missing, none (no metadata expected, none stored), false
    ocr: str  # right, wrong, refused, no-bar (correctly nothing)
    metadata_m: float | None
    ocr_m: float | None
    label: str | None
    reason: str | None
    believed_m: float | None = None
    believed: str | None = None
    printed: str | None = None  # a field width / pixel size printed in the bar (second witness)
    printed_m: float | None = None


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a / b - 1.0) <= tol


def score(name: str, truth: Truth, row: dict) -> FileScore:
    meta, ocr = row.get("metadata_pixel_size_m"), row.get("ocr_pixel_size_m")
    if truth.metadata_m is None:
        m = "false" if meta is not None else "none"
    elif meta is None:
        m = "missing"
    else:
        m = "exact" if _close(meta, truth.metadata_m, METADATA_TOLERANCE) else "wrong"
    if ocr is None:
        o = "refused" if truth.bar_m is not None else "no-bar"
    elif truth.bar_m is None:
        o = "wrong"
    else:
        o = "right" if _close(ocr, truth.bar_m, OCR_TOLERANCE) else "wrong"
    value, unit = row.get("scale_bar_value"), row.get("scale_bar_unit")
    return FileScore(
        name=name,
        vendor=truth.vendor,
        metadata=m,
        ocr=o,
        metadata_m=meta,
        ocr_m=ocr,
        label=f"{value:g} {unit}" if value is not None and unit else None,
        reason=row.get("reason"),
        believed_m=row.get("believed_pixel_size_m"),
        believed=row.get("believed_source"),
        printed=row.get("printed_field"),
        printed_m=row.get("printed_pixel_size_m"),
    )


def run_pipeline(corpus: Path, workdir: Path) -> dict[str, dict]:
    """name -> the file's pixel_size row (plus the instrument metadata pixel size)."""
    import sqlalchemy as sa

    from semingest_worker.database import create_engine, create_schema
    from semingest_worker.discovery import DEFAULT_INCLUDE, list_images
    from semingest_worker.pipeline import PipelineConfig, process_partition

    url = f"sqlite:///{workdir / 'accuracy.db'}"
    engine = create_engine(url)
    create_schema(engine)
    files = list_images(str(corpus), DEFAULT_INCLUDE).files
    process_partition(iter(files), PipelineConfig(database_url=url, run_id="accuracy", model=None))
    rows: dict[str, dict] = {}
    with engine.connect() as conn:
        query = sa.text(
            "SELECT f.path, f.status, f.error, p.* FROM image_files f "
            "LEFT JOIN pixel_size p ON p.image_hash = f.image_hash"
        )
        for r in conn.execute(query).mappings():
            rows[os.path.basename(r["path"])] = dict(r)
    engine.dispose()
    return rows


def table(scores: list[FileScore]) -> str:
    vendors = sorted({s.vendor for s in scores})
    out = [
        "| vendor | files | metadata exact | metadata wrong | OCR within 3 % | OCR false reads | unreadable |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for v in [*vendors, None]:
        mine = [s for s in scores if v is None or s.vendor == v]
        with_meta = [s for s in mine if s.metadata in ("exact", "wrong", "missing")]
        with_bar = [s for s in mine if s.ocr in ("right", "wrong", "refused") and CORPUS[s.name].bar_m]
        exact = sum(s.metadata == "exact" for s in mine)
        right = sum(s.ocr == "right" for s in mine)
        false = sum(s.ocr == "wrong" for s in mine)
        meta_wrong = sum(s.metadata in ("wrong", "false") for s in mine)
        unread = sum(s.ocr == "refused" for s in mine)
        name = v if v is not None else "**all**"
        out.append(
            f"| {name} | {len(mine)} | {exact}/{len(with_meta)} | {meta_wrong} | {right}/{len(with_bar)} | {false} | {unread} |"
        )
    return "\n".join(out)


def details(scores: list[FileScore]) -> str:
    out = [
        "| file | metadata | OCR | label | OCR pixel size | printed field | reason / believed |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in scores:
        px = f"{s.ocr_m:.4g}" if s.ocr_m is not None else "—"
        why = s.reason or ""
        if s.believed:
            why = f"{why} believed: {s.believed}".strip()
        printed = f"{s.printed} ({s.printed_m:.4g})" if s.printed and s.printed_m else "—"
        out.append(
            f"| {s.name} | {s.metadata} | {s.ocr} | {s.label or '—'} | {px} | {printed} | {why.replace('|', '/')} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = os.environ.get("SEMINGEST_SHARED", "")
    ap.add_argument("--corpus", default=os.path.join(shared, "sem-corpus") if shared else None)
    ap.add_argument("--json", help="also write the scores as JSON to this file")
    args = ap.parse_args(argv)
    if not args.corpus or not os.path.isfile(os.path.join(args.corpus, "MANIFEST.md")):
        print("no corpus: set SEMINGEST_SHARED (the folder holding sem-corpus/MANIFEST.md)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="semingest-accuracy-") as tmp:
        rows = run_pipeline(Path(args.corpus), Path(tmp))
    missing = sorted(set(CORPUS) - set(rows))
    scores = [score(n, CORPUS[n], rows[n]) for n in sorted(CORPUS) if n in rows]
    print(table(scores))
    print()
    print(details(scores))
    if missing:
        print(f"\nnot found in the corpus: {', '.join(missing)}")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(s) for s in scores], indent=1))
    wrong = [s.name for s in scores if s.ocr == "wrong" or s.metadata in ("wrong", "false")]
    return 1 if wrong or missing else 0


if __name__ == "__main__":
    sys.exit(main())
