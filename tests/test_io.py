"""Writing without losing anything: atomic files, one file mode, folders warrantd owns."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from warrantd._io import (
    INTERRUPTED,
    MANIFEST,
    OutputError,
    OwnedDirectory,
    atomic_write,
    check_destination,
    file_mode,
    write_text,
)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_new_files_get_the_mode_the_umask_gives(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        write_text(tmp_path / "a.txt", "x")
        assert file_mode() == 0o666 & ~umask
    finally:
        os.umask(old)
    assert mode_of(tmp_path / "a.txt") == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("new but half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_an_interrupt_swallowed_by_a_library_still_stops_the_commit(tmp_path: Path) -> None:
    INTERRUPTED.set()
    try:
        with pytest.raises(KeyboardInterrupt):
            write_text(tmp_path / "out.csv", "new")
    finally:
        INTERRUPTED.clear()
    assert list(tmp_path.iterdir()) == []


def test_check_destination(tmp_path: Path) -> None:
    existing = tmp_path / "there.csv"
    existing.write_text("mine")
    with pytest.raises(OutputError, match="already exists"):
        check_destination(existing)
    assert check_destination(existing, overwrite=True) == existing
    with pytest.raises(OutputError, match="is a directory"):
        check_destination(tmp_path)
    assert check_destination(tmp_path / "new" / "deeper" / "x.csv") == (
        tmp_path / "new" / "deeper" / "x.csv"
    )
    assert not (tmp_path / "new").exists(), "the check creates nothing"
    with pytest.raises(OutputError, match=r"/proc/x\.csv: cannot be written"):
        check_destination("/proc/x.csv")
    assert existing.read_text() == "mine"


def test_owned_directory_never_touches_user_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "src").mkdir(parents=True)
    (out / "src" / "main.py").write_text("print('mine')")
    (out / "README.md").write_text("# mine")
    with pytest.raises(OutputError, match="holds files warrantd did not write"):
        OwnedDirectory.prepare(out, generator="test")
    target = OwnedDirectory.prepare(out, generator="test", force=True)
    target.commit({"index.html": b"<p>1</p>", "a.png": b"png"})
    assert (out / "src" / "main.py").read_text() == "print('mine')"
    assert (out / "README.md").read_text() == "# mine"
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["files"]) == ["a.png", "index.html"]
    # A user file named like one of ours is never replaced, even with force.
    with pytest.raises(OutputError, match=r"would replace 'README\.md'"):
        OwnedDirectory.prepare(out, generator="test", force=True).commit({"README.md": b"x"})
    assert (out / "README.md").read_text() == "# mine"


def test_a_previous_report_is_replaced_file_by_file(tmp_path: Path) -> None:
    out = tmp_path / "report"
    OwnedDirectory.prepare(out, generator="test").commit({"index.html": b"1", "old.png": b"o"})
    # Our own folder: no force needed; a file no longer produced is removed.
    OwnedDirectory.prepare(out, generator="test").commit({"index.html": b"2", "new.png": b"n"})
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, "index.html", "new.png"])
    assert (out / "index.html").read_bytes() == b"2"


def test_a_file_the_user_edited_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "report"
    OwnedDirectory.prepare(out, generator="test").commit({"report.md": b"ours"})
    (out / "report.md").write_text("ours, with my notes")
    for force in (False, True):
        with pytest.raises(OutputError, match=r"'report\.md' was changed since warrantd wrote it"):
            OwnedDirectory.prepare(out, generator="test", force=force)
    assert (out / "report.md").read_text() == "ours, with my notes"
    # Moved away, the folder is a report folder again.
    (out / "report.md").rename(tmp_path / "my-notes.md")
    OwnedDirectory.prepare(out, generator="test").commit({"report.md": b"new"})
    assert (out / "report.md").read_bytes() == b"new"


def test_a_name_collision_is_found_before_the_work(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "index.html").write_text("my page")
    (out / "notes.txt").write_text("my notes")
    with pytest.raises(OutputError, match=r"holds 'index\.html', which warrantd did not write"):
        OwnedDirectory.prepare(
            out, generator="test", force=True, may_write=lambda name: name == "index.html"
        )
    assert (out / "index.html").read_text() == "my page"


def commit_interrupted(out: Path, files: dict[str, bytes]) -> None:
    """Commit ``files`` into ``out`` as a Ctrl-C arrives (the flag the handler sets)."""
    target = OwnedDirectory.prepare(out, generator="test")
    INTERRUPTED.set()
    try:
        with pytest.raises(KeyboardInterrupt):
            target.commit(files)
    finally:
        INTERRUPTED.clear()


def test_an_interrupted_commit_leaves_the_previous_report_whole(tmp_path: Path) -> None:
    out = tmp_path / "report"
    OwnedDirectory.prepare(out, generator="test").commit({"index.html": b"1", "a.png": b"a"})
    commit_interrupted(out, {"index.html": b"2", "a.png": b"b"})
    assert (out / "index.html").read_bytes() == b"1" and (out / "a.png").read_bytes() == b"a"
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, "a.png", "index.html"])


def test_an_interrupted_first_commit_leaves_no_folder_behind(tmp_path: Path) -> None:
    # The folder (and its missing parents) were made by the commit, so an
    # interrupted commit takes them away again; an existing parent stays.
    out = tmp_path / "new" / "report"
    commit_interrupted(out, {"index.html": b"1"})
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_commit_keeps_a_folder_that_was_already_there(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    commit_interrupted(out, {"index.html": b"1"})
    assert out.is_dir() and list(out.iterdir()) == []


def test_the_current_folder_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    OwnedDirectory.prepare(".", generator="test").commit({"index.html": b"1"})
    assert (tmp_path / "index.html").read_bytes() == b"1"
    assert (tmp_path / MANIFEST).exists()


def test_a_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("mine")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        OwnedDirectory.prepare(tmp_path / "f", generator="test")
