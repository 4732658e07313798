"""Human approval decisions as a table: the second evidence stream.

One row per human decision on a request of an action class, in the schema
both loaders return (:func:`load_approvals` from a file,
:func:`warrantd.analytics.auditlog.load_audit` from the gate's audit log):

===============  ==========================  ==========================================
column           dtype                       meaning
===============  ==========================  ==========================================
``timestamp``    ``datetime64[ns, UTC]``     when the human decided
``action``       ``str``                     the action class, as in the policy
``approved``     ``bool``                    the human approved the request
``overridden``   ``bool``                    the approval was later overridden
``error``        ``bool``                    the approved action's execution failed
``approver``     ``str`` or missing          who decided
===============  ==========================  ==========================================

followed by any extra columns, untouched. Rows are in time order (stable). A
record is *clean* (it counts as a pass in
:func:`warrantd.approval_metrics`) when approved, not overridden and without
error. :func:`approval_history` turns the table into the core's
:class:`~warrantd.InMemoryApprovalHistory` for a live gate.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from ..signals import ApprovalRecord, InMemoryApprovalHistory
from ._engine import timestamps_ns
from .tables import (
    NO_VALUE,
    Problem,
    ProblemCollector,
    TableError,
    parse_bools,
    parse_names,
    parse_timestamps,
    read_table,
    shape_problem,
)

__all__ = [
    "APPROVAL_COLUMNS",
    "OUTCOMES",
    "ApprovalsError",
    "approval_coverage",
    "approval_history",
    "load_approvals",
]

APPROVAL_COLUMNS = ["timestamp", "action", "approved", "overridden", "error", "approver"]
#: The words of an ``outcome`` column: (approved, overridden, error) for each.
OUTCOMES: dict[str, tuple[bool, bool, bool]] = {
    "approved": (True, False, False),
    "denied": (False, False, False),
    "rejected": (False, False, False),
    "overridden": (True, True, False),
    "failed": (True, False, True),
    "error": (True, False, True),
}
_TEXT_COLUMNS = ["timestamp", "action", "outcome", "approved", "overridden", "error", "approver"]


class ApprovalsError(TableError):
    """An approvals table that cannot be loaded, with every problem found (up to 20 kept)."""


def _fail(source: str, message: str) -> ApprovalsError:
    return ApprovalsError(source, [Problem(None, None, NO_VALUE, message)])


def approvals_frame(
    timestamp: pd.Series,
    action: pd.Series,
    approved: np.ndarray,
    overridden: np.ndarray,
    error: np.ndarray,
    approver: pd.Series | None,
    extras: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The approvals table in the schema above, sorted by time (stably)."""
    frame = pd.DataFrame(
        {
            "timestamp": timestamp.array,
            "action": action.astype(object).to_numpy(),
            "approved": np.asarray(approved, dtype=bool),
            "overridden": np.asarray(overridden, dtype=bool),
            "error": np.asarray(error, dtype=bool),
            "approver": (
                pd.Series([None] * len(timestamp), dtype=object)
                if approver is None
                else approver.where(approver.notna(), None).astype(object)
            ).to_numpy(),
        }
    )
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
    if extras is not None:
        for column in extras.columns:
            frame[column] = extras[column].to_numpy()
    order = np.argsort(timestamps_ns(frame["timestamp"]), kind="stable")
    return frame.take(order).reset_index(drop=True)


def load_approvals(
    source: pd.DataFrame | str | os.PathLike[str],
    *,
    column_map: Mapping[str, str] | None = None,
    format: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Load human approval decisions (CSV, Parquet, JSON Lines, JSON; optionally gzip).

    One row per decision with ``timestamp``, ``action`` and either an ``outcome``
    (one of :data:`OUTCOMES`: ``approved``, ``denied`` / ``rejected``,
    ``overridden``, ``failed`` / ``error``; any case) or an ``approved`` boolean
    with optional ``overridden`` and ``error`` booleans; ``approver`` is optional.
    ``column_map`` renames foreign columns first (``{"tool": "action"}``). Bad
    input raises :class:`ApprovalsError` naming the file, row, column and value,
    up to 20 problems at once; no row is dropped.
    """
    raw, name, shown = read_table(
        source,
        known_columns=_TEXT_COLUMNS,
        column_map=column_map,
        format=format,
        encoding=encoding,
        what="approvals table",
    )
    columns = list(raw.columns)
    has_outcome, has_flags = "outcome" in columns, "approved" in columns
    if has_outcome and has_flags:
        raise _fail(name, "has both 'outcome' and 'approved' columns: use one form")
    missing = [c for c in ("timestamp", "action") if c not in columns]
    if not has_outcome and not has_flags:
        missing.append("outcome")
    if has_outcome:
        flags = [c for c in ("overridden", "error") if c in columns]
        if flags:
            raise _fail(
                name, f"has 'outcome' and {', '.join(map(repr, flags))}: the outcome says both"
            )
    problem = shape_problem(
        raw, missing, "an approvals table needs timestamp, action and outcome, or approved"
    )
    if problem:
        raise _fail(name, problem)
    frame = raw.reset_index(drop=True)
    issues = ProblemCollector(shown)
    timestamp = parse_timestamps(frame["timestamp"], issues, frame)
    action = parse_names(frame["action"], issues, frame)
    n = len(frame)
    if has_outcome:
        text = frame["outcome"].astype(str).str.strip().str.lower()
        absent = frame["outcome"].isna().to_numpy()
        known = text.isin(list(OUTCOMES)).to_numpy()
        issues.add_rows(frame, absent, "outcome", "missing value in a required field")
        issues.add_rows(
            frame,
            ~known & ~absent,
            "outcome",
            f"not an outcome (expected one of {', '.join(OUTCOMES)})",
        )
        table = np.array(list(OUTCOMES.values()), dtype=bool)
        codes = pd.Categorical(text.where(known), categories=list(OUTCOMES)).codes
        flags_of = table[np.where(codes >= 0, codes, 0)]
        approved, overridden, error = flags_of[:, 0], flags_of[:, 1], flags_of[:, 2]
    else:
        approved = parse_bools(frame["approved"], "approved", issues, frame, True).to_numpy()
        overridden, error = (
            parse_bools(frame[c], c, issues, frame, False).to_numpy()
            if c in columns
            else np.zeros(n, dtype=bool)
            for c in ("overridden", "error")
        )
    if issues.total:
        raise ApprovalsError(name, issues.first(), issues.total)
    approver = frame["approver"].astype(object) if "approver" in columns else None
    used = {"timestamp", "action", "outcome", "approved", "overridden", "error", "approver"}
    extras = frame[[c for c in columns if c not in used]]
    out = approvals_frame(timestamp, action, approved, overridden, error, approver, extras)
    out.attrs["source"] = name
    return out


def approval_history(frame: pd.DataFrame) -> InMemoryApprovalHistory:
    """The records of an approvals table as the core's in-memory approval history
    (oldest first), for ``ApprovalHistorySignal`` in a live gate."""
    history = InMemoryApprovalHistory()
    stamps = frame["timestamp"].dt.to_pydatetime()
    approvers = frame["approver"].tolist()
    for i, (action, approved, overridden, error) in enumerate(
        zip(
            frame["action"].tolist(),
            frame["approved"].tolist(),
            frame["overridden"].tolist(),
            frame["error"].tolist(),
            strict=True,
        )
    ):
        approver = approvers[i]
        history.add(
            ApprovalRecord(
                str(action),
                bool(approved),
                bool(overridden),
                bool(error),
                stamps[i],
                None if approver is None or approver != approver else str(approver),
            )
        )
    return history


def approval_coverage(approvals: pd.DataFrame, actions: Iterable[str]) -> str | None:
    """A one-line note when ``approvals`` leave classes of ``actions`` without a record.

    Under a gate that needs both signals, a class with no approval records never
    leaves MANUAL, which is right by the rule but easy to miss; the note names the
    classes and the span the records cover. ``None`` when every class has records.
    """
    wanted = sorted(set(actions))
    present = set(approvals["action"].unique()) if len(approvals) else set()
    bare = [name for name in wanted if name not in present]
    if not bare:
        return None
    shown = ", ".join(map(repr, bare[:5])) + (f" and {len(bare) - 5} more" if len(bare) > 5 else "")
    span = "none at all"
    if len(approvals):
        first, last = approvals["timestamp"].min(), approvals["timestamp"].max()
        span = f"records only from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
    return (
        f"approvals: no records for {len(bare)} of {len(wanted)} classes ({shown}), "
        f"which stay MANUAL; {span}"
    )
