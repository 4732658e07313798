"""Traffic: the requests a gate was (or would have been) asked, one row each.

Evidence (eval histories, :mod:`~warrantd.analytics.history`) decides which state
each action class is in over time; traffic is what the gate is asked while it is
in that state. :func:`~warrantd.analytics.replay.replay` gives every request the
verdict the live gate would have returned. A loaded traffic table is a pandas
DataFrame in canonical form:

===============  ==========================  ===========================================
column           dtype                       meaning
===============  ==========================  ===========================================
``timestamp``    ``datetime64[ns, UTC]``     when the request reached the gate
``action``       ``category`` (str, sorted)  action class name, as in the policy
``tenant_id``    ``category``                optional: who asked
``value``        ``float64``                 optional: the request's value; NaN when it
                                             has none (the gate's ``value=None``)
``value_text``   ``string``                  the value exactly as written (a decimal);
                                             ties with a cap are decided on it
``verdict``      ``category``                optional: what the gate actually returned
                                             (``ALLOW`` / ``REQUIRE_APPROVAL`` /
                                             ``BLOCK``): a decision log
===============  ==========================  ===========================================

followed by any extra columns, untouched. Rows are sorted by time, stably.
A warrantd audit log (:class:`~warrantd.auditlog.SQLiteAuditSink`; ``.sqlite``,
``.sqlite3`` or ``.db``, or ``format="audit"``; or a ``postgresql://`` DSN of a
:class:`~warrantd.auditlog.PostgresAuditSink` log) is read as its decision log, verified
first: the gate's own record of what it was asked and what it said.
Bad input raises :class:`TrafficError` naming the file, the 1-based data row, the
column and the value, with up to 20 problems in one message; no row is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..decision import Verdict
from .tables import (
    NO_VALUE,
    Problem,
    ProblemCollector,
    TableError,
    carry_over_in_time_order,
    categories,
    empty_columns,
    read_table,
    shape_problem,
    start_table,
)

__all__ = [
    "TRAFFIC_COLUMNS",
    "VERDICTS",
    "TrafficError",
    "is_audit_log",
    "load_traffic",
    "traffic_notes",
]

TRAFFIC_COLUMNS = ["timestamp", "action", "tenant_id", "value", "value_text", "verdict"]
#: The published verdict values, in the order tables list them.
VERDICTS = [v.value for v in (Verdict.ALLOW, Verdict.REQUIRE_APPROVAL, Verdict.BLOCK)]
_KNOWN = ("timestamp", "action", "tenant_id", "value", "verdict")


class TrafficError(TableError):
    """Traffic that cannot be loaded, with every problem found (up to 20 kept)."""


def _fail(source: str, message: str) -> TrafficError:
    return TrafficError(source, [Problem(None, None, NO_VALUE, message)])


def load_traffic(
    source: pd.DataFrame | str | os.PathLike[str],
    *,
    column_map: Mapping[str, str] | None = None,
    format: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Load traffic (or a decision log) into canonical form: see the module docstring.

    ``source`` is a DataFrame or a ``.csv`` / ``.parquet`` / ``.jsonl`` / ``.json``
    file (each optionally ``.gz``), by suffix unless ``format`` is given.
    ``column_map`` renames foreign columns first, e.g. ``{"tool": "action",
    "amount": "value"}``.
    """
    if not isinstance(source, pd.DataFrame) and is_audit_log(source, format):
        return _from_audit_log(source)
    try:
        raw, name, shown = read_table(
            source,
            known_columns=_KNOWN,
            column_map=column_map,
            format=format,
            encoding=encoding,
            what="traffic",
        )
        frame = _canonicalize(raw, name, shown)
    except TrafficError:
        raise
    except TableError as exc:  # a reading problem: said as a traffic problem
        raise TrafficError(exc.source, exc.problems, exc.total) from None
    frame.attrs["source"] = name
    frame.attrs["stand_in"] = False
    return frame


_AUDIT_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def is_audit_log(source: object, format: str | None = None) -> bool:
    """Whether ``source`` names a warrantd audit log (a SQLite file by suffix, a
    PostgreSQL DSN, or ``format="audit"``) rather than a table."""
    if format == "audit":
        return True
    if format is not None or isinstance(source, pd.DataFrame):
        return False
    from ..auditlog.chain import is_dsn

    return is_dsn(source) or str(source).lower().endswith(_AUDIT_SUFFIXES)


def _from_audit_log(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The decision log of a warrantd audit log, verified, in the traffic schema."""
    from ..auditlog.chain import is_dsn, redact
    from .auditlog import load_audit

    frame = load_audit(path).decisions.copy()
    frame["action"] = categories(frame["action"])
    frame["tenant_id"] = categories(frame["tenant_id"])
    frame["verdict"] = pd.Categorical(frame["verdict"].astype(object), categories=VERDICTS)
    frame.attrs["source"] = redact(str(path)) if is_dsn(path) else str(path)
    frame.attrs["stand_in"] = False
    return frame


def _canonicalize(raw: pd.DataFrame, source: str, shown: Mapping[str, str]) -> pd.DataFrame:
    columns = list(raw.columns)
    problem = shape_problem(
        raw,
        [c for c in ("timestamp", "action") if c not in columns],
        "traffic needs timestamp and action, and may have tenant_id, value and verdict",
    )
    if problem:
        raise _fail(source, problem)
    empty = empty_columns(raw, ["timestamp", "action"], ["verdict"], shown)
    if empty:
        raise TrafficError(source, empty)
    issues, frame, out = start_table(raw, shown)
    if "tenant_id" in columns:
        out["tenant_id"] = categories(frame["tenant_id"])
    if "value" in columns:
        out["value"], out["value_text"] = _parse_values(frame["value"], issues, frame)
    else:
        out["value"] = np.full(len(frame), np.nan)
        out["value_text"] = pd.array([pd.NA] * len(frame), dtype="string")
    if "verdict" in columns:
        out["verdict"] = _parse_verdicts(frame["verdict"], issues, frame)
    if issues.total:
        raise TrafficError(source, issues.first(), issues.total)
    return carry_over_in_time_order(out, frame)


def _parse_values(
    raw: pd.Series, issues: ProblemCollector, frame: pd.DataFrame
) -> tuple[np.ndarray, pd.Series]:
    """The values as float64 (NaN: no value) and their exact decimal text.

    An empty cell is a request without a value. Text that is not a finite decimal
    number is a problem; so is a boolean.
    """
    missing = raw.isna().to_numpy()
    if pd.api.types.is_bool_dtype(raw.dtype):
        issues.add_rows(frame, ~missing, "value", "not a decimal amount")
        return np.full(len(raw), np.nan), pd.Series(pd.NA, index=raw.index, dtype="string")
    text = raw.astype("string").str.strip()
    missing = missing | (text == "").fillna(True).to_numpy(dtype=bool)
    numbers = pd.to_numeric(text.where(~missing), errors="coerce").astype("float64").to_numpy()
    bad = ~missing & ~np.isfinite(numbers)
    issues.add_rows(frame, bad, "value", "not a decimal amount (e.g. 250 or 99.95)")
    exact = text.where(~missing & ~bad)
    return np.where(missing | bad, np.nan, numbers), exact


def _parse_verdicts(raw: pd.Series, issues: ProblemCollector, frame: pd.DataFrame) -> pd.Series:
    missing = raw.isna().to_numpy()
    text = raw.astype("string").str.strip().str.upper()
    known = text.isin(VERDICTS).fillna(False).to_numpy()
    issues.add_rows(frame, missing, "verdict", "missing value (leave out the column if unknown)")
    issues.add_rows(
        frame,
        ~missing & ~known,
        "verdict",
        f"not a verdict (expected one of {', '.join(VERDICTS)})",
    )
    return pd.Series(
        pd.Categorical(text.where(known).to_numpy(dtype=object), categories=VERDICTS),
        index=raw.index,
    )


def traffic_notes(traffic: pd.DataFrame, history: pd.DataFrame | None = None) -> list[str]:
    """What is odd about ``traffic`` without being wrong, one sentence each (empty: nothing).

    Not errors: the gate takes any value and any time, and replay gives each request the
    verdict the gate would have given. But a negative amount is usually a sign error in
    an export, and requests outside the history's evidence period are judged on
    evidence that stops (or has not started) at their time, which a reader should know.
    """
    notes = []
    values = traffic["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    negative = np.flatnonzero(values < 0)
    if negative.size:
        first = traffic.iloc[int(negative[0])]
        notes.append(
            f"{negative.size:,} request(s) have a negative value (the first: {first['action']} "
            f"at {_when(first['timestamp'])}, value {first['value_text']}); the gate compares "
            "it with the caps as given"
        )
    if history is not None and len(history) and len(traffic):
        start, end = history["timestamp"].min(), history["timestamp"].max()
        times = traffic["timestamp"]
        # Requests a little after the last case are the normal tail of a log; a day or
        # more means the history stops short of the traffic.
        before, after = int((times < start).sum()), int((times > end + _STALE).sum())
        if before:
            notes.append(
                f"{before:,} request(s) come before the history's first eval case "
                f"({_when(start)}): no eval evidence stands behind them"
            )
        if after:
            gap = (times.max() - end) / pd.Timedelta(days=1)
            notes.append(
                f"{after:,} request(s) come more than a day after the history's last eval case "
                f"({_when(end)}), up to {gap:,.0f} days later: they are judged on "
                "evidence that stops there"
            )
    return notes


_STALE = pd.Timedelta(days=1)


def _when(moment: pd.Timestamp) -> str:
    return pd.Timestamp(moment).strftime("%Y-%m-%d %H:%M UTC")
