"""What every importer shares: case rows, samples left out, per-log summaries, problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["Collected", "LogSummary", "UnmappedSample", "flag"]

#: Why a sample is left out of the history (``UnmappedSample.kind``), as the summary words it.
KINDS = {
    "error": "errored",
    "no_score": "no score",
    "no_action": "no action class",
    "no_timestamp": "no timestamp",
}


class UnmappedSample(NamedTuple):
    """A sample (an Inspect sample epoch, or a promptfoo result) left out of the history."""

    log_file: str
    sample_id: str
    epoch: int | None  # None for promptfoo
    label: str  # "sample 'crash' epoch 2" / "test 3 (prompt 0, provider 'echo')"
    kind: str  # a key of KINDS
    reason: str


class LogSummary(NamedTuple):
    """One log file read: what it is and how many of its samples were loaded."""

    log_file: str
    task: str
    eval_id: str
    model: str
    status: str  # Inspect: success / error / cancelled / started; promptfoo: complete
    samples: int
    loaded: int
    left_out: int


@dataclass
class Collected:
    """Rows, samples left out and problems gathered over every log file of one load."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    # where each row came from: (log_file, label, {column: selector used})
    origins: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    unmapped: list[UnmappedSample] = field(default_factory=list)
    logs: list[LogSummary] = field(default_factory=list)
    # (log_file or None for the whole source, line)
    problems: list[tuple[str | None, str]] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)

    def problem(self, log_file: str | None, line: str) -> None:
        self.problems.append((log_file, line))


_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f", ""}


def flag(value: object) -> bool | None:
    """A metadata flag as a bool: True/False, 1/0, "true"/"false", "yes"/"no"; None if not one."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def text(value: object) -> str | None:
    """A field value as an action name or timestamp text; None when absent or empty."""
    if value is None or isinstance(value, (dict, list)):
        return None
    shown = str(value).strip()
    return shown or None
