"""``warrantd audit verify`` and ``warrantd audit checkpoint``: one line, exit 0 / 1 / 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from warrantd.auditlog import read_checkpoint

from .auditlog_helpers import attacker, build_log

ROOT = Path(__file__).resolve().parents[1]


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warrantd.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_verify_an_intact_log(tmp_path: Path) -> None:
    build_log(tmp_path / "a.db", 40).close()
    out = run("audit", "verify", tmp_path / "a.db")
    assert out.returncode == 0, out.stderr
    line = one_line(out.stdout)
    assert "intact, 40 rows" in line and "no checkpoint given" in line
    assert out.stderr == ""


def test_verify_a_broken_log_names_the_row(tmp_path: Path) -> None:
    build_log(tmp_path / "a.db", 40).close()
    attacker(tmp_path / "a.db").execute("UPDATE entries SET verdict = 'ALLOW' WHERE seq = 17")
    out = run("audit", "verify", tmp_path / "a.db")
    assert out.returncode == 1, out.stderr
    assert "BROKEN at row 17: edited" in one_line(out.stdout)
    assert "Traceback" not in out.stderr


def test_checkpoint_then_truncation_is_caught(tmp_path: Path) -> None:
    build_log(tmp_path / "a.db", 40).close()
    cp = tmp_path / "keep" / "a.checkpoint.json"
    cp.parent.mkdir()  # --out refuses a folder that does not exist
    made = run("audit", "checkpoint", tmp_path / "a.db", "--out", cp)
    assert made.returncode == 0, made.stderr
    assert read_checkpoint(cp).rows == 40
    # Never replaced without --force.
    again = run("audit", "checkpoint", tmp_path / "a.db", "--out", cp)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert run("audit", "verify", tmp_path / "a.db", "--checkpoint", cp).returncode == 0
    attacker(tmp_path / "a.db").execute("DELETE FROM entries WHERE seq >= 39")
    out = run("audit", "verify", tmp_path / "a.db", "--checkpoint", cp)
    assert out.returncode == 1
    assert "BROKEN at row 39: truncated" in one_line(out.stdout)


def test_checkpoint_printed_is_a_checkpoint_file(tmp_path: Path) -> None:
    build_log(tmp_path / "a.db", 5).close()
    out = run("audit", "checkpoint", tmp_path / "a.db")
    assert out.returncode == 0
    (tmp_path / "cp.json").write_text(out.stdout)
    assert read_checkpoint(tmp_path / "cp.json").rows == 5


def test_no_checkpoint_of_a_broken_log(tmp_path: Path) -> None:
    build_log(tmp_path / "a.db", 10).close()
    attacker(tmp_path / "a.db").execute("DELETE FROM entries WHERE seq = 4")
    out = run("audit", "checkpoint", tmp_path / "a.db", "--out", tmp_path / "cp.json")
    assert out.returncode == 1 and "BROKEN at row 4: deleted" in out.stdout
    assert not (tmp_path / "cp.json").exists()


def test_bad_input_is_exit_2_and_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n" * 50)
    (tmp_path / "empty.csv").write_bytes(b"")
    build_log(tmp_path / "a.db", 3).close()
    (tmp_path / "bad.json").write_text("{}")
    cases = [
        (("audit", "verify", tmp_path / "missing.db"), "missing.db: no such file"),
        (
            ("audit", "verify", tmp_path / "notes.txt"),
            "notes.txt: not a warrantd audit log (not a SQLite database)",
        ),
        (
            ("audit", "verify", tmp_path / "empty.csv"),
            "empty.csv: not a warrantd audit log (an empty file)",
        ),
        (("audit", "verify", tmp_path), "is a directory"),
        (
            ("audit", "verify", tmp_path / "a.db", "--checkpoint", tmp_path / "bad.json"),
            "bad.json: not a checkpoint file",
        ),
    ]
    for args, needle in cases:
        out = run(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stdout == ""
        line = one_line(out.stderr)
        assert needle in line and "Traceback" not in out.stderr, line
    assert not (tmp_path / "missing.db").exists()


def test_help_has_an_example() -> None:
    for command in ("verify", "checkpoint", "copy"):
        out = run("audit", command, "--help")
        assert out.returncode == 0
        assert "Example:" in out.stdout and f"warrantd audit {command}" in out.stdout
