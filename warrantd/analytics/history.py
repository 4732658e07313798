"""Eval histories: the one tidy schema, loaders with clear errors, and a writer.

Everything in :mod:`warrantd.analytics` reads eval results through this module.
A loaded history is a pandas DataFrame in *canonical form*:

=================  ==========================  =====================================
column             dtype                       meaning
=================  ==========================  =====================================
``timestamp``      ``datetime64[ns, UTC]``     when the case (or run) happened
``action``         ``category`` (str, sorted)  action class name, as in the policy
``adversarial``    ``bool``                    from the adversarial / red-team suite
``n``              ``int32``                   cases in the row (1 for a case row)
``n_passed``       ``int32``                   cases in the row that passed
=================  ==========================  =====================================

followed by the optional ``tenant_id`` and ``agent_version`` (categories of
their text), ``case_id`` (text) and any extra columns, untouched. Categories and
32-bit counts keep a million cases in a few tens of megabytes. Rows are sorted by time, stably, so
rows that share a timestamp keep their input order.

Two input forms load into it: one row per case with a boolean ``passed``
column, or one row per eval run with ``n`` and ``n_passed`` counts. Bad input
raises :class:`HistoryError` naming the file, the 1-based data row (the header
of a CSV file is not counted), the column and the value, with up to
:data:`MAX_PROBLEMS` problems in one message. No row is ever dropped.

Rows that repeat an earlier row's eval case (same ``action``, ``case_id`` and
``timestamp``: :func:`~warrantd.analytics.quality.repeated_cases`) are refused, since a
doubled export would count every case twice and graduate classes on half the evidence;
``duplicates="keep"`` loads them as they are (and the data-quality checks say so).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from .._io import atomic_write
from ..errors import MAX_PROBLEMS, OptionError
from ..policy import TrustPolicy
from ._engine import timestamps_ns
from .quality import CASE_ID_COLUMN, CASE_KEY_EXTRA, first_conflict, repeated_cases
from .tables import (
    FORMATS,
    NO_VALUE,
    Problem,
    ProblemCollector,
    TableError,
    carry_over_in_time_order,
    categories,
    empty_columns,
    parse_bools,
    read_table,
    shape_problem,
    start_table,
    table_format,
)

__all__ = [
    "CANONICAL_COLUMNS",
    "DUPLICATES",
    "FORMATS",
    "MAX_PROBLEMS",
    "HistoryError",
    "PolicyCoverage",
    "load_history",
    "save_history",
    "timestamps_ns",
    "validate_against",
    "write_csv",
]

CANONICAL_COLUMNS = ["timestamp", "action", "adversarial", "n", "n_passed"]
STRING_COLUMNS = ["tenant_id", "case_id", "agent_version"]
_SOURCE_COLUMNS_AS_TEXT = [
    "timestamp",
    "action",
    "passed",
    "adversarial",
    "n",
    "n_passed",
    *STRING_COLUMNS,
]


#: What :func:`load_history` does with rows repeating an earlier row's eval case.
DUPLICATES = ("error", "keep")


class HistoryError(TableError):
    """An eval history that cannot be loaded, with every problem found (up to 20 kept)."""


def _fail(source: str, message: str, column: str | None = None) -> HistoryError:
    return HistoryError(source, [Problem(None, column, NO_VALUE, message)])


def _parse_counts(
    raw: pd.Series, column: str, issues: ProblemCollector, frame: pd.DataFrame
) -> tuple[pd.Series, np.ndarray]:
    """The counts as int64, and a mask of the rows whose count is valid."""
    missing = raw.isna().to_numpy()
    numeric = pd.to_numeric(raw, errors="coerce").astype("float64")
    values = numeric.to_numpy()
    not_number = (np.isnan(values) | np.isinf(values)) & ~missing
    finite = np.isfinite(values)
    fractional = finite & (values != np.round(values))
    negative = finite & (values < 0)
    issues.add_rows(frame, missing, column, "missing value in a required field")
    issues.add_rows(frame, not_number | fractional, column, "not a whole number of cases")
    issues.add_rows(frame, negative & ~fractional, column, "negative count")
    huge = finite & (values > np.iinfo(np.int32).max)
    issues.add_rows(frame, huge & ~fractional, column, "more cases than one row can hold")
    valid = finite & ~fractional & ~negative & ~huge
    # int32: a row holds at most two billion cases, and a million rows cost 4 MB.
    return pd.Series(np.where(valid, values, 0).astype("int32"), index=raw.index), valid


def _check_repeats(
    out: pd.DataFrame, frame: pd.DataFrame, source: str, shown: Mapping[str, str]
) -> None:
    """Refuse rows repeating an earlier row's eval case: ``out`` (parsed) and ``frame``
    (as read, for the agent and run columns not parsed) are in file order."""
    if CASE_ID_COLUMN not in out.columns:
        return
    compared = ["action", CASE_ID_COLUMN, "timestamp", *CASE_KEY_EXTRA]
    keys = pd.DataFrame(
        {c: out[c] if c in out.columns else frame[c] for c in compared if c in frame.columns}
    )
    repeated = repeated_cases(keys)
    if repeated is None:
        return
    count = repeated.count
    rows = f"{count:,} {'row repeats' if count == 1 else 'rows repeat'} an earlier row"
    clash = first_conflict(out, keys, repeated.key)
    if clash is not None:
        earlier, later = clash
        said = (
            f"conflicts with row {earlier + 1}: same {repeated.columns_said(shown)}, but "
            f"{_outcomes_said(frame, earlier, later, shown)}; one eval case has one outcome at "
            "one moment: remove the wrong row, or give a re-run its own timestamp, run id "
            "or attempt"
        )
        at = later
    else:
        said = (
            f"repeats row {repeated.original + 1} (same {repeated.columns_said(shown)}); "
            f"{rows}, as a doubled export does, and would count as evidence twice: remove "
            "them, or keep them with --duplicates keep (duplicates='keep' in Python)"
        )
        at = repeated.first
    problem = Problem(
        at + 1,
        CASE_ID_COLUMN,
        out[CASE_ID_COLUMN].iat[at],
        said,
        renamed_from=shown.get(CASE_ID_COLUMN),
    )
    raise HistoryError(source, [problem])


#: A case's outcome as a file may have it (``passed`` is parsed into ``n_passed``).
_RAW_OUTCOMES = ("passed", "n", "n_passed", "adversarial")


def _outcomes_said(frame: pd.DataFrame, earlier: int, later: int, shown: Mapping[str, str]) -> str:
    """How two rows of one eval case differ in outcome, as the file has them ("passed
    'true' there, 'false' here", in its column names)."""
    differing = [
        f"{shown.get(c, c)} {str(frame[c].iat[earlier])!r} there, {str(frame[c].iat[later])!r} here"
        for c in _RAW_OUTCOMES
        if c in frame.columns and str(frame[c].iat[earlier]) != str(frame[c].iat[later])
    ]
    return "; ".join(differing)


def _canonicalize(
    raw: pd.DataFrame,
    source: str,
    shown: Mapping[str, str] | None = None,
    duplicates: str = "error",
) -> pd.DataFrame:
    columns = list(raw.columns)
    has_case_form = "passed" in columns
    has_count_form = "n" in columns or "n_passed" in columns
    required = ["timestamp", "action"]
    missing = [c for c in required if c not in columns]
    if has_case_form and has_count_form:
        raise _fail(source, "has both 'passed' and 'n'/'n_passed' columns: use one form")
    if not has_case_form:
        missing += (
            [c for c in ("n", "n_passed") if c not in columns] if has_count_form else ["passed"]
        )
    problem = shape_problem(
        raw, missing, "a history needs timestamp, action and passed, or n and n_passed"
    )
    if problem:
        raise _fail(source, problem)
    counts = ["passed"] if has_case_form else ["n", "n_passed"]
    empty = empty_columns(raw, ["timestamp", "action", *counts], ["adversarial"], shown)
    if empty:
        raise HistoryError(source, empty)
    issues, frame, out = start_table(raw, shown)
    if "adversarial" in columns:
        out["adversarial"] = parse_bools(
            frame["adversarial"], "adversarial", issues, frame, required=False
        )
    else:
        out["adversarial"] = False
    if has_case_form:
        passed = parse_bools(frame["passed"], "passed", issues, frame, required=True)
        out["n"] = np.ones(len(frame), dtype="int32")
        out["n_passed"] = passed.to_numpy().astype("int32")
    else:
        out["n"], valid_n = _parse_counts(frame["n"], "n", issues, frame)
        out["n_passed"], valid_passed = _parse_counts(frame["n_passed"], "n_passed", issues, frame)
        # Only rows with two valid counts can break the order between them.
        over = valid_n & valid_passed & (out["n_passed"] > out["n"]).to_numpy()
        issues.add_rows(frame, over, "n_passed", "n_passed is greater than n")
    if issues.total:
        raise HistoryError(source, issues.first(), issues.total)
    for column in STRING_COLUMNS:
        if column in columns:
            values = frame[column]
            if column == "case_id":  # one per case: text, not categories
                out[column] = values.where(values.isna(), values.astype(str)).astype("string")
            else:  # a handful of tenants and versions: categories cost one byte a row
                out[column] = categories(values)
    if duplicates == "error":
        _check_repeats(out, frame, source, dict(shown or {}))
    return carry_over_in_time_order(out, frame, skip=("passed",))


def load_history(
    source: pd.DataFrame | str | os.PathLike[str],
    *,
    column_map: Mapping[str, str] | None = None,
    format: str | None = None,
    encoding: str = "utf-8",
    mapping: Any = None,
    strict: bool = False,
    duplicates: str = "error",
) -> pd.DataFrame:
    """Load an eval history into canonical form (see the module docstring).

    ``source`` is a DataFrame or a path to ``.csv``, ``.parquet``, ``.jsonl`` /
    ``.ndjson`` or ``.json`` (each optionally ``.gz``), chosen by suffix unless
    ``format`` is given; text files are decoded with ``encoding``.
    ``column_map`` renames foreign columns first, e.g.
    ``{"tool": "action", "success": "passed"}`` (``--column action=tool`` on
    the command line); every column it names must exist.
    ``format="inspect"`` or ``"promptfoo"`` reads a tool's logs (a file or a
    folder), mapped by ``mapping`` (a TOML file or dict; ``strict`` makes a sample
    left out an error): see :mod:`warrantd.analytics.importers`.
    ``duplicates="keep"`` loads rows that repeat an earlier row's eval case (same
    ``action``, ``case_id`` and ``timestamp``), which are otherwise an error.
    """
    if duplicates not in DUPLICATES:
        raise OptionError(
            "duplicates", f"{duplicates!r} is not one of {', '.join(map(repr, DUPLICATES))}"
        )
    if format in ("inspect", "promptfoo") and not isinstance(source, pd.DataFrame):
        from .importers import load_logs

        return load_logs(
            source, format=format, mapping=mapping, strict=strict, column_map=column_map
        )
    if mapping is not None or strict:
        raise OptionError(
            "mapping", "mapping= and strict= apply to format='inspect' or 'promptfoo'"
        )
    try:
        raw, name, shown = read_table(
            source,
            known_columns=_SOURCE_COLUMNS_AS_TEXT,
            column_map=column_map,
            format=format,
            encoding=encoding,
        )
        frame = _canonicalize(raw, name, shown, duplicates)
    except HistoryError:
        raise
    except TableError as exc:  # a reading problem: said as a history problem
        raise HistoryError(exc.source, exc.problems, exc.total) from None
    frame.attrs["source"] = name
    return frame


# --------------------------------------------------------------------------- writing


def save_history(history: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a canonical history to ``path`` by suffix, atomically.

    Timestamps are written as ISO-8601 UTC text (or native Parquet timestamps),
    so :func:`load_history` reads back the same frame.
    """
    target = Path(path)
    fmt, compression = table_format(target, None, str(target))
    return atomic_write(target, lambda tmp: _write(history, tmp, fmt, compression))


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write any table to CSV atomically (a temporary file renamed into place)."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def _write(history: pd.DataFrame, tmp: Path, fmt: str, compression: str | None) -> None:
    if fmt == "parquet":
        history.to_parquet(tmp, index=False)
        return
    frame = history.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            # pandas spells full precision ("2026-01-05 00:35:28.5+00:00"), ISO-8601.
            frame[column] = frame[column].dt.tz_convert("UTC").astype(str)
    if fmt == "csv":
        frame.to_csv(tmp, index=False, compression=cast(Any, compression))
        return
    records = frame.to_dict(orient="records")
    text = (
        "".join(json.dumps(r, default=_json_default) + "\n" for r in records)
        if fmt == "jsonl"
        else json.dumps(records, default=_json_default)
    )
    if compression:
        import gzip

        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        tmp.write_text(text, encoding="utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON: {value!r}")


# --------------------------------------------------------------------------- policy check


@dataclass(frozen=True)
class PolicyCoverage:
    """How a history's actions line up with a policy's action classes."""

    missing_from_policy: list[str]
    missing_from_history: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing_from_policy

    def describe(self) -> str:
        parts = []
        # repr: an action name may hold a NUL or a newline, which must stay visible.
        if self.missing_from_policy:
            names = ", ".join(map(repr, self.missing_from_policy))
            parts.append(f"in the history but not the policy: {names}")
        if self.missing_from_history:
            parts.append(
                "in the policy with no history: " + ", ".join(map(repr, self.missing_from_history))
            )
        return "; ".join(parts) or "every action in the history is in the policy, and vice versa"


def validate_against(history: pd.DataFrame, policy: TrustPolicy) -> PolicyCoverage:
    """Actions the history has that the policy lacks, and the reverse."""
    seen: Iterable[str] = history["action"].unique()
    in_history = set(map(str, seen))
    return PolicyCoverage(
        missing_from_policy=sorted(in_history - set(policy.actions)),
        missing_from_history=sorted(set(policy.actions) - in_history),
    )
