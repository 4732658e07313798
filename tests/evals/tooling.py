"""Run the real tools offline: Inspect AI (the ``inspect`` extra) and promptfoo (from npm).

Used by the importer tests (``tests/analytics/importers/conftest.py``) and by
``datasets/make_eval_logs.py``. Nothing here reaches the network:

- Inspect runs tasks bound to its mock model, ``mockllm/model``, which answers
  through ``custom_outputs`` and reports its own token usage (see
  ``inspect_tasks.py`` for why).
- promptfoo runs with its ``echo`` provider, with telemetry, update checks,
  sharing and remote generation switched off and its config directory (where
  it keeps a results database and logs) in a folder of our own. It is installed
  once with npm into ``.cache/promptfoo`` (``make promptfoo``), pinned below.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
INSPECT_TASKS = HERE / "inspect_tasks.py"
PROMPTFOO_CONFIG = HERE / "promptfooconfig.yaml"

#: The newest promptfoo whose engines field still accepts Node 20 (0.122 needs Node >= 22.22).
PROMPTFOO_VERSION = "0.121.20"
PROMPTFOO_CACHE = ROOT / ".cache" / "promptfoo"
#: promptfoo exits with 100 when some test failed, which these evals mean to happen.
PROMPTFOO_FAILED_TESTS = 100


class ToolError(RuntimeError):
    """A tool could not be installed or did not run."""


def promptfoo_bin(cache: Path = PROMPTFOO_CACHE) -> Path:
    """The pinned promptfoo, installed with npm into ``cache`` on first use."""
    binary = cache / "node_modules" / ".bin" / "promptfoo"
    installed = cache / "node_modules" / "promptfoo" / "package.json"
    if binary.exists() and installed.exists():
        version = json.loads(installed.read_text(encoding="utf-8")).get("version")
        if version == PROMPTFOO_VERSION:
            return binary
    npm = shutil.which("npm")
    if npm is None:
        raise ToolError("npm is not installed: promptfoo (an npm package) cannot be installed")
    cache.mkdir(parents=True, exist_ok=True)
    command = [
        npm,
        "install",
        "--prefix",
        str(cache),
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        f"promptfoo@{PROMPTFOO_VERSION}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not binary.exists():
        raise ToolError(f"npm install promptfoo@{PROMPTFOO_VERSION} failed:\n{done.stderr[-2000:]}")
    return binary


def promptfoo_env(config_dir: Path) -> dict[str, str]:
    """The environment promptfoo runs offline and quietly in."""
    env = dict(os.environ)
    env.update(
        {
            "PROMPTFOO_CONFIG_DIR": str(config_dir),
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "PROMPTFOO_DISABLE_SHARING": "1",
            "PROMPTFOO_DISABLE_REMOTE_GENERATION": "1",
            "PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION": "1",
            "PROMPTFOO_DISABLE_RUNTIME_WARNINGS": "1",
            "PROMPTFOO_CACHE_ENABLED": "false",
            "NO_COLOR": "1",
        }
    )
    return env


def inspect_bin() -> Path:
    """The ``inspect`` command of the Python running this (the ``inspect`` extra)."""
    binary = Path(sys.executable).parent / "inspect"
    if not binary.exists():
        raise ToolError(f"no {binary}: install the inspect extra (pip install -e '.[inspect]')")
    return binary


@dataclass(frozen=True)
class Run:
    """A tool run: the command, where its output went, and how long it took."""

    command: list[str]
    output: Path
    seconds: float
    stdout: str
    stderr: str


def inspect_command(
    log_dir: Path,
    log_format: str,
    tasks: str = INSPECT_TASKS.name,
    task_args: Sequence[str] = (),
    clock: Sequence[str] = (),
) -> list[str]:
    """``inspect eval TASKS --log-dir DIR --log-format FMT`` (prefixed by ``clock``, if any).

    Run it in the folder of ``tasks``: Inspect takes a task file path relative to there.
    """
    args: list[str] = []
    for arg in task_args:
        args += ["-T", arg]
    return [
        *clock,
        str(inspect_bin()),
        "eval",
        tasks,
        "--log-dir",
        str(log_dir),
        "--log-format",
        log_format,
        "--display",
        "none",
        *args,
    ]


def promptfoo_command(
    config: Path, output: Path, binary: Path | None = None, clock: Sequence[str] = ()
) -> list[str]:
    """``promptfoo eval -c CONFIG -o OUTPUT --no-cache --no-table``."""
    binary = binary or promptfoo_bin()
    return [
        *clock,
        str(binary),
        "eval",
        "-c",
        str(config),
        "-o",
        str(output),
        "--no-cache",
        "--no-table",
        "--no-progress-bar",
    ]


@dataclass(frozen=True)
class Job:
    """A command to run, what it writes, and its environment (None: ours plus INSPECT_DISPLAY)."""

    command: list[str]
    output: Path
    env: dict[str, str] | None = None
    cwd: Path = HERE


def run_all(jobs: Sequence[Job]) -> list[Run]:
    """Run the commands side by side (two cores: one tool each); raise if one fails."""
    started = time.perf_counter()
    procs = []
    for job in jobs:
        env = job.env if job.env is not None else {**os.environ, "INSPECT_DISPLAY": "none"}
        proc = subprocess.Popen(
            job.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=job.cwd,
        )
        procs.append((job, proc))
    runs = []
    for job, proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        is_promptfoo = any(Path(part).name == "promptfoo" for part in job.command)
        if proc.returncode != 0 and not (
            is_promptfoo and proc.returncode == PROMPTFOO_FAILED_TESTS
        ):
            raise ToolError(
                f"{' '.join(job.command)} exited {proc.returncode}:\n"
                f"{stderr[-3000:]}\n{stdout[-2000:]}"
            )
        runs.append(Run(job.command, job.output, time.perf_counter() - started, stdout, stderr))
    return runs
