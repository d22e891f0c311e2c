"""Discovery on the driver: recursive listing, case-insensitive include/exclude globs, sidecars,
and skipping files already ingested (same path, size and mtime)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from semingest_worker.discovery import DEFAULT_INCLUDE, list_images, plan_ingest
from semingest_worker.globs import Glob, GlobSet
from semingest_worker.identity import path_key


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.tif", "a.tif", True),
        ("**/*.tif", "x/y/a.TIF", True),
        ("*.tif", "deep/er/a.Tif", True),
        ("**/*.tif", "a.tiff", False),
        ("raw/**", "raw/x/y.tif", True),
        ("raw/*.tif", "raw/x/y.tif", False),
        ("raw/*.tif", "raw/y.tif", True),
        ("**/thumb_?.png", "t/thumb_1.png", True),
        ("**/[!a]*.bmp", "d/b.bmp", True),
        ("**/[!a]*.bmp", "d/a.bmp", False),
        ("**/x[]]y.tif", "x]y.tif", True),
        ("**/*(1).tif", "q/a(1).tif", True),
        ("**/*.tif", "x/a.tif/b.png", False),
        ("**/[a-c]*.tif", "x/B.tif", True),
        ("**/[a-c]*.tif", "x/d.tif", False),
        ("raw/**/*.tif", "raw/a.tif", True),
        ("raw/**/*.tif", "raw/x/y/a.tif", True),
        ("raw/**/*.tif", "other/raw/a.tif", False),
        ("**", "any/thing", True),
        ("a**b", "a/x/b", True),
        ("x[y", "d/x[y", True),
        ("*.tif", "line\nbreak.tif", True),
    ],
)
def test_globs(pattern: str, path: str, matches: bool) -> None:
    assert Glob(pattern).matches(path) is matches
    assert GlobSet(["*.nothing", pattern]).matches(path) is matches


@pytest.mark.parametrize("pattern", [*DEFAULT_INCLUDE, "*.tif", "**/*(1).tif", "**/*", "*", "**/*.TIF"])
def test_a_file_name_ending_pattern_matches_as_the_automaton_does(pattern: str) -> None:
    glob = Glob(pattern)
    assert glob._suffix is not None  # the fast path applies to these
    paths = [
        "a.tif",
        "x/y/a.TIF",
        "a.tiff",
        "x/a.tif/b.png",
        ".tif",
        "d/.tif",
        "a(1).tif",
        "z/",
        "",
        "ä/ß.Tif",
    ]
    for path in paths:
        assert glob.matches(path) is glob._automaton_matches(path), (pattern, path)


@pytest.mark.parametrize("pattern", ["raw/*.tif", "**/thumb_?.png", "**/[!a]*.bmp", "a**b", "**/a*b.tif"])
def test_other_patterns_use_the_automaton(pattern: str) -> None:
    assert Glob(pattern)._suffix is None


def test_listing_is_recursive_filtered_sorted_and_finds_sidecars(tmp_path: Path) -> None:
    _touch(tmp_path / "b.tif")
    _touch(tmp_path / "A.TIFF")
    _touch(tmp_path / "sub" / "deeper" / "c.jpg")
    _touch(tmp_path / "sub" / "jeol.bmp")
    _touch(tmp_path / "sub" / "jeol.txt", b"$CM_MAG 1000")
    _touch(tmp_path / "sub" / "notes.txt")
    _touch(tmp_path / "thumbs" / "t.tif")
    _touch(tmp_path / "x'; DROP TABLE images; --.tif")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")  # a directory loop must not hang or duplicate
    listing = list_images(str(tmp_path), DEFAULT_INCLUDE, ["thumbs/**"])
    rel = [os.path.relpath(f.path, tmp_path) for f in listing.files]
    assert rel == sorted(rel, key=os.fsencode)
    assert set(rel) == {
        "A.TIFF",
        "b.tif",
        "sub/deeper/c.jpg",
        "sub/jeol.bmp",
        "x'; DROP TABLE images; --.tif",
    }
    jeol = next(f for f in listing.files if f.path.endswith("jeol.bmp"))
    assert jeol.sidecars == (str(tmp_path / "sub" / "jeol.txt"),)
    b = next(f for f in listing.files if f.path.endswith("b.tif"))
    st = os.stat(tmp_path / "b.tif")
    assert (b.size, b.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_tiff_only_include_and_missing_folder(tmp_path: Path) -> None:
    _touch(tmp_path / "a.tif")
    _touch(tmp_path / "b.png")
    listing = list_images(str(tmp_path), ["**/*.tif", "**/*.tiff"])
    assert [os.path.basename(f.path) for f in listing.files] == ["a.tif"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_images(str(tmp_path / "nope"), DEFAULT_INCLUDE)


def test_plan_skips_same_path_size_mtime_and_redoes_changed_files(tmp_path: Path) -> None:
    a = _touch(tmp_path / "a.tif", b"aaaa")
    b = _touch(tmp_path / "b.tif", b"bbbb")
    c = _touch(tmp_path / "c.tif", b"cccc")
    listing = list_images(str(tmp_path), DEFAULT_INCLUDE)
    sa, sb = os.stat(a), os.stat(b)
    known = {
        path_key(str(a)): (sa.st_size, sa.st_mtime_ns, None),  # unchanged: skipped
        path_key(str(b)): (sb.st_size, sb.st_mtime_ns - 1, None),  # touched since: ingested again
    }
    plan = plan_ingest(listing, known)
    assert (plan.discovered, plan.skipped, plan.changed) == (3, 1, 1)
    assert [os.path.basename(f.path) for f in plan.todo] == ["b.tif", "c.tif"]
    assert str(c) in {f.path for f in plan.todo}


def test_non_utf8_file_names_are_listed(tmp_path: Path) -> None:
    raw = os.fsencode(str(tmp_path)) + b"/caf\xe9.tif"
    with open(raw, "wb") as fh:
        fh.write(b"x")
    listing = list_images(str(tmp_path), DEFAULT_INCLUDE)
    assert len(listing.files) == 1
    assert os.fsencode(listing.files[0].path) == raw


def test_an_edited_sidecar_makes_its_image_ingested_again(tmp_path: Path) -> None:
    from semingest_worker.identity import sidecar_stamp

    image = _touch(tmp_path / "jeol.bmp", b"BM....")
    sidecar = _touch(tmp_path / "jeol.txt", b"$CM_MAG 1000")
    listing = list_images(str(tmp_path), DEFAULT_INCLUDE)
    (f,) = listing.files
    st = os.stat(image)
    known = {path_key(str(image)): (st.st_size, st.st_mtime_ns, sidecar_stamp(f.sidecars))}
    assert plan_ingest(listing, known).skipped == 1
    sidecar.write_bytes(b"$CM_MAG 2000 (fixed)")
    assert plan_ingest(list_images(str(tmp_path), DEFAULT_INCLUDE), known).todo == listing.files
    sidecar.unlink()
    assert plan_ingest(list_images(str(tmp_path), DEFAULT_INCLUDE), known).changed == 1


def test_globs_match_in_linear_time() -> None:
    """A pattern that makes a backtracking regex run for hours on a 4000-character name (ReDoS:
    the old regex translation needed seconds at 40) is answered at once."""
    import threading

    hostile = Glob("*a*a*a*a*a*a*a*a*b")
    answers: list[bool] = []
    worker = threading.Thread(target=lambda: answers.append(hostile.matches("a" * 4000)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert answers == [False], "matching did not finish: the glob matcher backtracks"
    assert hostile.matches("a" * 4000 + "b")


def test_special_files_and_links_are_listed_with_their_problem(tmp_path: Path) -> None:
    src = tmp_path / "src"
    _touch(src / "good.tif")
    os.mkfifo(src / "pipe.tif")
    (src / "dangling.tif").symlink_to(src / "gone.tif")
    (src / "loop_a.tif").symlink_to(src / "loop_b.tif")
    (src / "loop_b.tif").symlink_to(src / "loop_a.tif")
    _touch(tmp_path / "secret.tif")
    (src / "escape.tif").symlink_to(tmp_path / "secret.tif")
    (src / "root").symlink_to("/")  # a link to / is never walked
    (src / "inside.tif").symlink_to(src / "good.tif")  # a link inside the tree is followed
    listing = list_images(str(src), DEFAULT_INCLUDE)
    problems = {os.path.basename(f.path): f.problem for f in listing.files}
    assert problems["good.tif"] is None and problems["inside.tif"] is None
    assert problems["pipe.tif"] == "not a regular file: a FIFO (named pipe)"
    assert problems["dangling.tif"].startswith("a dangling symbolic link")
    assert problems["loop_a.tif"].startswith("a symbolic link loop")
    assert problems["escape.tif"].startswith("a symbolic link out of the source folder")
    assert all(not f.path.startswith(str(src / "root") + "/") for f in listing.files)
    assert any("root: a symbolic link out of the source folder" in u for u in listing.unreadable)
