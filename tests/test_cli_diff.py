"""warrantd diff from the shell: formats, budgets and exit codes, git:REF:PATH, and the
command the CI recipe (examples/ci/policy-check.yml) runs, on a temporary git repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "ci" / "policy-check.yml"

POLICY = """
[thresholds.supervised]
pass_rate = 0.5
adversarial_pass_rate = 0.0
min_samples = 2

[thresholds.autonomous]
pass_rate = {aut}
adversarial_pass_rate = 0.0
min_samples = 4

[actions.refund]
risk = "reversible_write"
auto_cap = "100"
"""
# Cases P P P F P F P P (see tests/analytics/test_diff.py for the hand-worked states).
HISTORY = "timestamp,action,passed\n" + "".join(
    f"2026-01-{d + 1:02d}T09:00:00Z,refund,{int(c == 'P')}\n" for d, c in enumerate("PPPFPFPP")
)
TRAFFIC = "timestamp,action,value\n" + "".join(
    f"2026-01-{d + 1:02d}T12:00:00Z,refund,500\n" for d in range(8)
)


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "warrantd.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


def one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert out.stdout == ""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "base.toml").write_text(POLICY.format(aut=0.9))
    (tmp_path / "loose.toml").write_text(POLICY.format(aut=0.7))
    (tmp_path / "h.csv").write_text(HISTORY)
    (tmp_path / "t.csv").write_text(TRAFFIC)
    return {
        name: str(tmp_path / f)
        for name, f in [
            ("base", "base.toml"),
            ("loose", "loose.toml"),
            ("history", "h.csv"),
            ("traffic", "t.csv"),
        ]
    }


def test_identical_policies_exit_0(files: dict[str, str]) -> None:
    out = run(
        "diff",
        files["base"],
        files["base"],
        "-H",
        files["history"],
        "-q",
        "--fail-on",
        "any-change",
        "--fail-on",
        "loosened",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("PASS: within budget. No policy change")


def test_loosening_exits_1_and_says_which(files: dict[str, str]) -> None:
    out = run(
        "diff",
        files["base"],
        files["loose"],
        "-H",
        files["history"],
        "-T",
        files["traffic"],
        "-q",
        "--fail-on",
        "loosened",
        "--fail-on",
        "burden+0",
    )
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("FAIL: 1 budget exceeded.")
    assert (
        "exceeded loosened (all classes): thresholds.autonomous.pass_rate: 0.9 -> 0.7" in out.stdout
    )
    assert "8 -> 4 (-4)" in out.stdout  # the burden, by hand in tests/analytics/test_diff.py
    # the reverse is a tightening: burden 4 -> 8 is +100%
    back = [
        "diff",
        files["loose"],
        files["base"],
        "-H",
        files["history"],
        "-T",
        files["traffic"],
        "-q",
    ]
    assert run(*back, "--fail-on", "loosened").returncode == 0
    assert run(*back, "--fail-on", "burden+100%").returncode == 0
    assert run(*back, "--fail-on", "burden+99%").returncode == 1
    assert run(*back, "--fail-on", "burden+4").returncode == 0
    assert run(*back, "--fail-on", "burden+3").returncode == 1
    assert run(*back, "--fail-on", "any-change").returncode == 1


@pytest.mark.parametrize("fmt", ["md", "json", "junit"])
def test_formats(files: dict[str, str], fmt: str) -> None:
    out = run(
        "diff",
        files["base"],
        files["loose"],
        "-H",
        files["history"],
        "-q",
        "--format",
        fmt,
        "--fail-on",
        "loosened",
    )
    assert out.returncode == 1, out.stderr
    assert "exceeded loosened" in out.stderr  # said on stderr when stdout is for a program
    if fmt == "md":
        assert out.stdout.startswith("### warrantd diff\n\n**FAIL: 1 budget exceeded.")
        assert "<details>" in out.stdout
    elif fmt == "json":
        doc = json.loads(out.stdout)
        assert doc["schema"] == "warrantd.diff" and doc["version"] == 1 and doc["exceeded"]
    else:
        suite = ElementTree.fromstring(out.stdout.split("\n", 1)[1])
        assert suite.get("failures") == "1"


def test_bad_inputs_exit_2_with_one_line(files: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(POLICY.format(aut=1.5))
    h = files["history"]
    one_line_error(run("diff", files["base"], str(bad), "-H", h), str(bad), "1.5")
    one_line_error(run("diff", files["base"], str(tmp_path / "nope.toml"), "-H", h), "no such file")
    one_line_error(
        run("diff", "git:no-such-ref:base.toml", files["base"], "-H", h, cwd=tmp_path),
        "git:no-such-ref:base.toml",
    )
    one_line_error(
        run("diff", files["base"], files["base"], "-H", h, "--fail-on", "burden+"),
        "--fail-on",
        "'burden+'",
    )


def test_help_documents_the_exit_codes() -> None:
    out = run("diff", "--help")
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "Exit codes: 0 within every budget" in text and "1 a budget exceeded" in text
    assert "2 bad input" in text and "Example:" in text


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        env=dict(
            os.environ,
            GIT_AUTHOR_NAME="t",
            GIT_AUTHOR_EMAIL="t@example.com",
            GIT_COMMITTER_NAME="t",
            GIT_COMMITTER_EMAIL="t@example.com",
        ),
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_ci_recipe_on_a_repository_with_two_commits(tmp_path: Path) -> None:
    """The workflow's own shell step, run on a repository whose second commit loosens the
    policy: the summary gets the Markdown and the step fails with exit 1."""
    repo = tmp_path / "repo"
    (repo / "evals").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "policy.toml").write_text(POLICY.format(aut=0.9))
    (repo / "evals" / "history.csv").write_text(HISTORY)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "policy")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")  # what checkout fetches
    (repo / "policy.toml").write_text(POLICY.format(aut=0.7))
    _git(repo, "commit", "-qam", "loosen the autonomous pass rate")

    text = WORKFLOW.read_text()
    step = re.search(r"        run: \|\n((?:          .*\n|\n)+)", text)
    assert step is not None
    script = "\n".join(line[10:] for line in step.group(1).splitlines())
    assert "warrantd diff" in script
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "warrantd"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m warrantd.cli "$@"\n')
    shim.chmod(0o755)
    summary = tmp_path / "summary.md"
    env = dict(
        os.environ,
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=str(ROOT),
        GITHUB_BASE_REF="main",
        GITHUB_STEP_SUMMARY=str(summary),
        POLICY="policy.toml",
        HISTORY="evals/history.csv",
    )
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 1, done.stderr
    posted = summary.read_text()
    assert posted.startswith("### warrantd diff\n\n**FAIL: 1 budget exceeded.")
    assert "thresholds.autonomous.pass_rate" in posted

    # The same command with the policy unchanged since the base: exit 0.
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    summary.unlink()
    done = subprocess.run(
        ["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "No policy change" in summary.read_text()
