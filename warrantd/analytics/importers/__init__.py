"""Eval logs of other tools as histories: Inspect AI and promptfoo.

``load_history(path, format="inspect" | "promptfoo", mapping=...)`` lands here.
``path`` is one log file or a folder of them (searched recursively). Each
importer turns a log into *case rows* (``timestamp``, ``action``, ``passed``,
``adversarial`` and provenance: ``log_file``, ``task``, ``eval_id``,
``sample_id``, ``epoch`` / ``prompt_idx``, ``model``, ``score``) and hands them
to :func:`warrantd.analytics.history.load_history`, so every row is validated
and canonicalised in one place. How a log maps onto those columns is a
:class:`~.mapping.LogMapping` (a small TOML file; see :mod:`.mapping`).

Nothing is dropped silently:

- A sample that errored, has no score, or has no action class or timestamp is
  left out of the frame and listed in ``frame.attrs["unmapped"]`` (a tuple of
  :class:`UnmappedSample`: file, sample id, epoch, label, kind, reason);
  :func:`import_summary` words the count on one line. With ``strict=True`` (or
  ``strict = true`` in the mapping) any such sample is an error instead.
- A log that cannot be read (a truncated ``.eval`` archive, a version this
  reader does not know, not a log at all) and a score value the mapping does not
  cover are errors: :class:`~warrantd.analytics.history.HistoryError`, one line
  per problem naming the file and the sample, up to 20.

``frame.attrs`` also carries ``"format"``, ``"mapping"`` (the mapping used, as
plain values), ``"logs"`` (a tuple of :class:`LogSummary`, one per file read)
and ``"skipped_files"`` (files in the folder the tool would not read as logs,
e.g. a ``.json`` not named like an Inspect log). They are tuples of named tuples,
not DataFrames, because pandas compares ``attrs`` when it concatenates frames
and a DataFrame there makes that comparison raise; :func:`unmapped_frame` and
:func:`logs_frame` turn them into DataFrames.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..history import HistoryError, load_history
from ..tables import Problem
from .base import KINDS, Collected, LogSummary, UnmappedSample
from .mapping import LOG_FORMATS, LogMapping, MappingError, default_mapping, load_mapping

__all__ = [
    "LOG_FORMATS",
    "LogMapping",
    "LogSummary",
    "MappingError",
    "UnmappedSample",
    "default_mapping",
    "import_summary",
    "load_logs",
    "load_mapping",
    "logs_frame",
    "unmapped_frame",
]

_TOOL = {"inspect": "Inspect", "promptfoo": "promptfoo"}
_MAX_LINES = 20


def load_logs(
    source: str | os.PathLike[str],
    *,
    format: str,
    mapping: LogMapping | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    strict: bool = False,
    column_map: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """A folder of logs (or one log file) of ``format`` as a canonical history.

    ``mapping`` is a TOML file, a dict with the same keys, or ``None`` for the
    tool's defaults. ``strict`` (or ``strict = true`` in the mapping) makes any
    sample left out an error. ``column_map`` renames the case-row columns before
    canonicalisation, e.g. ``{"model": "agent_version"}``.
    """
    if format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {format!r} (expected {' or '.join(LOG_FORMATS)})")
    chosen = load_mapping(mapping, format)
    path = Path(source)
    name = str(path)
    tool = _TOOL[format]
    if not path.exists():
        raise HistoryError(name, [Problem(None, None, None, "no such file or folder")])
    found = Collected()
    if format == "inspect":
        from .inspect import find_inspect_logs, read_inspect_logs

        files = find_inspect_logs(path, found)
        if not files:
            raise _error(name, [(None, f"no {tool} logs (.eval, or .json named like one) here")])
        read_inspect_logs(files, chosen, found)
    else:
        from .promptfoo import find_promptfoo_results, read_promptfoo_results

        files = find_promptfoo_results(path, found)
        if not files:
            raise _error(name, [(None, "no promptfoo results files (.json) here")])
        read_promptfoo_results(files, chosen, found)
    if found.problems:
        raise _error(name, found.problems)
    if (strict or chosen.strict) and found.unmapped:
        lines: list[tuple[str | None, str]] = [
            (u.log_file, f"{u.label}: {u.reason} (strict: no sample may be left out)")
            for u in found.unmapped
        ]
        raise _error(name, lines)
    if not found.rows:
        if not found.unmapped:
            raise _error(name, [(None, f"the {tool} logs here hold no samples")])
        first = found.unmapped[0]
        line = (
            f"no case could be mapped: {_plural(len(found.unmapped), 'sample')} left out "
            f"({_counts(found.unmapped)}); first: {first.log_file}: {first.label}: {first.reason}"
        )
        raise _error(name, [(None, line)])
    frame = _canonical(found, name, column_map)
    frame.attrs.update(
        {
            "source": name,
            "format": format,
            "mapping": chosen.as_dict(),
            "mapping_source": chosen.source,
            "unmapped": tuple(found.unmapped),
            "logs": tuple(found.logs),
            "skipped_files": tuple(found.skipped_files),
        }
    )
    return frame


def _canonical(found: Collected, name: str, column_map: Mapping[str, str] | None) -> pd.DataFrame:
    raw = pd.DataFrame.from_records(found.rows)
    try:
        return load_history(raw, column_map=column_map)
    except HistoryError as exc:
        # Name the file and sample behind each bad row, not the row of an internal frame.
        lines: list[tuple[str | None, str]] = []
        for problem in exc.problems:
            if problem.row is None:
                lines.append((None, problem.describe()))
                continue
            log_file, where, fields = found.origins[problem.row - 1]
            column = problem.column or ""
            origin = f" (from {fields[column]})" if column in fields else ""
            shown = "" if problem.value is None else f" {problem.value!r}"
            lines.append((log_file, f"{where}: {column}{shown}{origin}: {problem.message}"))
        raise _error(name, lines) from None


def _error(source: str, lines: list[tuple[str | None, str]]) -> HistoryError:
    """One HistoryError: headed by the file when every line is about one file."""
    files = {f for f, _ in lines}
    if len(files) == 1 and None not in files:
        head = next(iter(files))
        texts = [line for _, line in lines]
    else:
        head = source
        texts = [f"{f}: {line}" if f and f != source else line for f, line in lines]
    problems = [Problem(None, None, None, line) for line in texts]
    return HistoryError(head or source, problems)


def _counts(unmapped: tuple[UnmappedSample, ...] | list[UnmappedSample]) -> str:
    counted = Counter(u.kind for u in unmapped)
    return ", ".join(f"{n} {KINDS.get(kind, kind)}" for kind, n in counted.most_common())


def import_summary(history: pd.DataFrame) -> str | None:
    """One line on what a log import read and left out; None for other histories.

    For example ``logs: 9 cases from 3 Inspect logs; 3 samples left out (3 errored),
    e.g. logs/a.eval: sample 'crash' epoch 1: errored: RuntimeError('...')``.
    """
    attrs = history.attrs
    if attrs.get("format") not in LOG_FORMATS:
        return None
    logs = attrs.get("logs", ())
    unmapped = attrs.get("unmapped", ())
    skipped = attrs.get("skipped_files", ())
    cases = _plural(int(history["n"].sum()), "case")
    line = (
        f"{attrs.get('source')}: {cases} from {_plural(len(logs), _TOOL[attrs['format']] + ' log')}"
    )
    if unmapped:
        first = unmapped[0]
        line += (
            f"; {_plural(len(unmapped), 'sample')} left out ({_counts(unmapped)}), "
            f"e.g. {first.log_file}: {first.label}: {first.reason}"
        )
    else:
        line += "; none left out"
    if skipped:
        more = ", ..." if len(skipped) > 1 else ""
        line += f"; {_plural(len(skipped), 'file')} not read as logs ({skipped[0]}{more})"
    return line


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def unmapped_frame(history: pd.DataFrame) -> pd.DataFrame:
    """``history.attrs["unmapped"]`` as a DataFrame (empty if nothing was left out)."""
    return pd.DataFrame(
        list(history.attrs.get("unmapped", ())), columns=list(UnmappedSample._fields)
    )


def logs_frame(history: pd.DataFrame) -> pd.DataFrame:
    """``history.attrs["logs"]`` as a DataFrame: one row per log file read."""
    return pd.DataFrame(list(history.attrs.get("logs", ())), columns=list(LogSummary._fields))
