"""Session fixtures that make real logs with the real tools, once per test run.

``inspect eval`` runs ``tests/evals/inspect_tasks.py`` twice (``--log-format eval``
and ``json``) and ``promptfoo eval`` runs ``tests/evals/promptfooconfig.yaml``,
the three side by side, offline (see ``tests/evals/tooling.py``). promptfoo comes
from npm, installed once into ``.cache/promptfoo`` (``make promptfoo``); without
npm the promptfoo tests are skipped, saying so.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.evals import tooling


@dataclass
class EvalLogs:
    inspect_eval: Path  # a folder of .eval archives
    inspect_json: Path  # a folder of .json logs
    promptfoo: Path | None  # a results.json, None without npm
    promptfoo_missing: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="session")
def eval_logs(tmp_path_factory: pytest.TempPathFactory) -> EvalLogs:
    root = tmp_path_factory.mktemp("eval-logs")
    jobs = []
    for fmt in ("eval", "json"):
        log_dir = root / f"inspect-{fmt}"
        log_dir.mkdir()
        jobs.append(tooling.Job(tooling.inspect_command(log_dir, fmt), log_dir))
    promptfoo: Path | None = None
    missing = ""
    if shutil.which("npm") is None and not (tooling.PROMPTFOO_CACHE / "node_modules").exists():
        missing = "npm is not installed, so promptfoo cannot be"
    else:
        binary = tooling.promptfoo_bin()
        promptfoo = root / "promptfoo" / "results.json"
        promptfoo.parent.mkdir()
        config_dir = root / "promptfoo-home"
        command = tooling.promptfoo_command(tooling.PROMPTFOO_CONFIG, promptfoo, binary)
        jobs.append(tooling.Job(command, promptfoo, tooling.promptfoo_env(config_dir)))
    runs = tooling.run_all(jobs)
    seconds = {run.output.name: round(run.seconds, 1) for run in runs}
    return EvalLogs(root / "inspect-eval", root / "inspect-json", promptfoo, missing, seconds)


@pytest.fixture
def promptfoo_results(eval_logs: EvalLogs) -> Path:
    if eval_logs.promptfoo is None:
        pytest.skip(eval_logs.promptfoo_missing)
    return eval_logs.promptfoo
