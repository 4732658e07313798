"""The console script: --version and validate, success and bad-input paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from warrantd import __version__

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "datasets" / "billing-agent.policy.toml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warrantd.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0
    assert __version__ in out.stdout


def test_validate_ok() -> None:
    out = run("validate", str(POLICY))
    assert out.returncode == 0, out.stderr
    assert "valid policy with 6 action classes" in out.stdout
    assert "cancel_subscription: consequential, ceiling SUPERVISED" in out.stdout


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "no such file"),
        ("x = = y", "not valid TOML"),
        ("[actions.a]\nrisk = 'read'\n", "thresholds: missing table"),
    ],
)
def test_validate_bad_input_is_one_line_exit_2(
    tmp_path: Path, content: str | None, needle: str
) -> None:
    path = tmp_path / "bad.toml"
    if content is not None:
        path.write_text(content)
    out = run("validate", str(path))
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert str(path) in lines[0] and needle in lines[0]
    assert "Traceback" not in out.stderr


def test_several_problems_fold_into_one_readable_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,action,passed\n2026-01-01,refund,yes\nnot-a-date,refund,maybe\n")
    out = run("validate", "datasets/billing-agent.policy.toml", "--history", str(path))
    assert out.returncode == 2
    line = out.stderr.strip()
    assert line == (
        f"warrantd: error: {path}: 2 problems: "
        "row 2, column 'timestamp': 'not-a-date': not a timestamp "
        "(expected ISO-8601 text or epoch seconds); "
        "row 2, column 'passed': 'maybe': not a boolean "
        "(expected true/false, 1/0, yes/no or pass/fail)"
    )


def test_debug_shows_traceback(tmp_path: Path) -> None:
    out = run("--debug", "validate", str(tmp_path / "absent.toml"))
    assert out.returncode != 0
    assert "Traceback" in out.stderr and "PolicyError" in out.stderr


def test_unknown_option_is_one_line_exit_2() -> None:
    out = run("validate", "--bogus")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "--bogus" in out.stderr


def test_help_has_an_example() -> None:
    out = run("validate", "--help")
    assert out.returncode == 0
    assert "warrantd validate datasets/billing-agent.policy.toml" in out.stdout


@pytest.mark.parametrize(
    "args", [["--help"], ["validate", str(POLICY)], ["replay", "--help"]], ids=" ".join
)
def test_light_commands_load_no_heavy_library(args: list[str]) -> None:
    # Every call pays for what it imports: help and policy validation need neither the
    # data stack nor the charts (a second of imports on this machine).
    code = (
        "import sys\n"
        "from warrantd.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = ('pandas', 'numpy', 'matplotlib', 'jinja2', 'pyarrow', 'tqdm')\n"
        "print('HEAVY:' + ','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"
