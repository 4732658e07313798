"""Convert aider's published benchmark leaderboards into a warrantd eval history.

A real, public, longitudinal history of one coding-agent scaffold: aider
(https://github.com/Aider-AI/aider, Apache License 2.0) publishes the result of
every benchmark run it puts on its leaderboards in YAML files under
``aider/website/_data/``: ``edit_leaderboard.yml`` (133 Exercism Python
exercises, 2023-2024), ``polyglot_leaderboard.yml`` (225 exercises in six
languages, from December 2024) and ``refactor_leaderboard.yml`` (89 refactoring
tasks). Each entry is one dated run (``dirname`` starts with its start time,
``YYYY-MM-DD-HH-MM-SS--``) of one model behind the scaffold with one edit format,
with its number of test cases and its pass rate after the second try.

The leaderboards keep only the runs on show at each moment, so this reads every
version of the three files in the repository's git history and keeps every run
that was ever published (by ``dirname``; the latest published figures win).

Mapping, one run -> one history row (counts per run):

* ``action`` = ``<benchmark>/<edit_format>`` (``polyglot/diff``, ``edit/whole``,
  ...): the scaffold's way of editing code on one suite is the "action class";
* ``n`` = ``test_cases``; ``n_passed`` = ``pass_num_2`` when published, else
  ``pass_rate_2`` (``pass_rate_1`` for the refactoring suite, which has one try)
  x ``test_cases`` / 100, rounded (a run whose rate is further from a whole number
  of cases than the one-decimal rounding explains is skipped, and named on stderr);
* ``timestamp`` = the run's start from ``dirname`` (UTC assumed), ``run_id`` =
  ``dirname``, ``agent_version`` = ``model`` (so a change of model is a new
  regime), ``adversarial`` = False.

The data is not shipped with warrantd (it is aider's; regenerate it here). Usage:

    python examples/convert_aider_leaderboard.py AIDER_GIT_DIR OUT.csv

where ``AIDER_GIT_DIR`` is a clone (or bare git directory) of Aider-AI/aider.
Then, e.g.:

    warrantd forecast -p examples/aider-leaderboard.policy.toml -H OUT.csv --horizon 60D
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

FILES = {
    "edit": "aider/website/_data/edit_leaderboard.yml",
    "polyglot": "aider/website/_data/polyglot_leaderboard.yml",
    "refactor": "aider/website/_data/refactor_leaderboard.yml",
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={repo}", *args], check=True, capture_output=True, text=True
    ).stdout


def _git_dir(path: Path) -> Path:
    return path / ".git" if (path / ".git").is_dir() else path


def _passed(benchmark: str, entry: dict[str, Any]) -> int | None:
    n = int(entry["test_cases"])
    if entry.get("pass_num_2") is not None:
        return int(entry["pass_num_2"])
    rate = entry.get("pass_rate_1" if benchmark == "refactor" else "pass_rate_2")
    exact = float(rate) * n / 100
    # Rates are published to one decimal: at most 0.05% of n cases off.
    if abs(exact - round(exact)) > 0.0005 * n + 1e-9:
        print(
            f"skipped {entry['dirname']}: pass rate {rate}% of {n} cases is {exact:.2f} "
            "cases, not a whole number",
            file=sys.stderr,
        )
        return None
    return round(exact)


def _start(dirname: str) -> pd.Timestamp:
    return pd.Timestamp(pd.to_datetime(dirname[:19], format="%Y-%m-%d-%H-%M-%S"), tz="UTC")


def convert(repo: Path) -> pd.DataFrame:
    git_dir = _git_dir(repo)
    runs: dict[tuple[str, str], dict[str, Any]] = {}
    for benchmark, path in FILES.items():
        # Oldest version first, so the latest published figures of a run win.
        commits = _git(git_dir, "log", "--reverse", "--format=%H", "--", path).split()
        for commit in commits:
            try:
                text = _git(git_dir, "show", f"{commit}:{path}")
            except subprocess.CalledProcessError:  # the commit deleted or moved it
                continue
            try:
                entries = yaml.safe_load(text) or []
            except yaml.YAMLError:
                continue  # a version that did not parse was not published either
            for entry in entries:
                if not isinstance(entry, dict) or not entry.get("dirname"):
                    continue
                if entry.get("test_cases") in (None, 0) or entry.get("edit_format") is None:
                    continue
                runs[(benchmark, str(entry["dirname"]))] = {"benchmark": benchmark, **entry}
    rows = []
    for (benchmark, dirname), entry in runs.items():
        try:
            when = _start(dirname)
        except ValueError:
            continue  # no start time in the name: the run cannot be dated
        n = int(entry["test_cases"])
        passed = _passed(benchmark, entry)
        if passed is None:
            continue
        if not 0 <= passed <= n:
            raise SystemExit(f"{dirname}: {passed} passed of {n}")
        rows.append(
            {
                "timestamp": when,
                "action": f"{benchmark}/{entry['edit_format']}",
                "run_id": dirname,
                "adversarial": False,
                "n": n,
                "n_passed": passed,
                "agent_version": str(entry.get("model", "")),
            }
        )
    return pd.DataFrame(rows).sort_values(["timestamp", "action"], kind="stable")


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    frame = convert(Path(sys.argv[1]))
    out = Path(sys.argv[2])
    if out.exists():
        raise SystemExit(f"{out} exists: not overwritten")
    frame.to_csv(out, index=False)
    counts = frame.groupby("action").size()
    print(
        f"{len(frame)} runs of {frame['agent_version'].nunique()} models, "
        f"{frame['timestamp'].min():%Y-%m-%d} to {frame['timestamp'].max():%Y-%m-%d}; "
        + ", ".join(f"{a} {c}" for a, c in counts.items())
    )


if __name__ == "__main__":
    main()
