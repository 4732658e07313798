"""The gate's audit log read back by the kit: the decision log and the approvals.

:func:`load_audit` reads a log written by :class:`warrantd.auditlog.SQLiteAuditSink`
(a file path) or :class:`warrantd.auditlog.PostgresAuditSink` (a ``postgresql://`` DSN),
verified first unless told not to, into two frames:

* ``decisions``: one row per gate decision, in the traffic schema the kit
  replays (``timestamp``, ``action``, ``tenant_id``, ``value``, ``value_text``)
  with what the gate answered and what came of it:

  ==================  ==========================  ======================================
  column              dtype                       meaning
  ==================  ==========================  ======================================
  ``timestamp``       ``datetime64[ns, UTC]``     the entry's timestamp (naive: UTC)
  ``action``          ``str``                     the action class
  ``tenant_id``       ``str`` or missing          the request's tenant
  ``value``           ``float64`` (NaN: none)     the request's value
  ``value_text``      ``str`` or missing          the value's exact decimal text
  ``verdict``         ``str``                     ``ALLOW``, ``REQUIRE_APPROVAL``, ``BLOCK``
  ``state``           ``str``                     the autonomy state it rested on
  ``approved``        ``boolean`` (nullable)      a human's answer; missing: none asked
  ``executed``        ``bool``                    the action ran
  ``error``           ``str`` or missing          the failure message
  ==================  ==========================  ======================================

  then ``reason``, ``idempotency_key``, ``params`` (JSON text), ``recorded_at``
  and ``seq`` (the row of the log).
* ``approvals``: the human approval decisions, in the schema of
  :mod:`warrantd.analytics.approvals` (``timestamp`` is the record's own, or
  when it has none the time the log stored it), then ``recorded_at`` and ``seq``.

Both are sorted by time, stably (rows sharing a time keep the log's order).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..auditlog import AuditLogError, Checkpoint, Verification, row_chunks, verify_audit
from ..auditlog.chain import KIND_APPROVAL, KIND_DECISION, is_dsn, redact
from ._engine import timestamps_ns
from .approvals import approvals_frame

__all__ = ["DECISION_COLUMNS", "AuditFrames", "load_audit"]

DECISION_COLUMNS = [
    "timestamp",
    "action",
    "tenant_id",
    "value",
    "value_text",
    "verdict",
    "state",
    "approved",
    "executed",
    "error",
]
_CHUNK = 100_000
_READ = (
    "seq",
    "kind",
    "recorded_at",
    "timestamp",
    "action",
    "tenant_id",
    "value",
    "params",
    "verdict",
    "state",
    "reason",
    "approved",
    "overridden",
    "executed",
    "failed",
    "error",
    "idempotency_key",
    "approver",
)


@dataclass(frozen=True)
class AuditFrames:
    """What :func:`load_audit` returns: the decision log, the approvals, the verification
    (None when ``verify=False``)."""

    decisions: pd.DataFrame
    approvals: pd.DataFrame
    verification: Verification | None


def _utc(text: pd.Series) -> pd.Series:
    # ISO-8601 text as the log stores it; text without an offset is UTC.
    return pd.to_datetime(text, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")


def _text(column: pd.Series) -> np.ndarray:
    return column.astype(object).where(column.notna(), None).to_numpy()


def load_audit(
    path: str | os.PathLike[str],
    *,
    verify: bool = True,
    checkpoint: Checkpoint | str | os.PathLike[str] | None = None,
) -> AuditFrames:
    """Read the audit log at ``path`` (a file, or a PostgreSQL DSN) into the decision log
    and the approvals (see above).

    With ``verify`` (the default) the chain is verified first, against
    ``checkpoint`` when given, and a broken log raises
    :class:`~warrantd.auditlog.AuditLogError` naming the first broken row; only
    the rows verified are read, even when writers append meanwhile.
    ``verify=False`` reads a log as it is, broken or not.
    """
    source = redact(str(path)) if is_dsn(path) else str(path)
    verification = None
    limit = None
    if verify:
        verification = verify_audit(path, checkpoint)
        if not verification.ok:
            raise AuditLogError(
                source,
                f"the log is broken at row {verification.row}: {verification.problem}: "
                f"{verification.reason} (verify=False reads it anyway)",
            )
        limit = verification.rows
    decisions: list[pd.DataFrame] = []
    approvals: list[pd.DataFrame] = []
    names = list(_READ)
    # In chunks, each turned into typed columns at once: a million rows as Python
    # objects would cost gigabytes.
    for chunk in row_chunks(path, names, upto=limit, size=_CHUNK):
        rows = pd.DataFrame.from_records(chunk, columns=names)
        decisions.append(_decisions(rows))
        approvals.append(_approvals(rows))
    if not decisions:  # an empty log: empty frames of the right schema
        rows = pd.DataFrame.from_records([], columns=names)
        decisions.append(_decisions(rows))
        approvals.append(_approvals(rows))
    return AuditFrames(
        _in_time_order(decisions, source), _in_time_order(approvals, source), verification
    )


def _in_time_order(chunks: list[pd.DataFrame], source: str) -> pd.DataFrame:
    frame = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
    order = np.argsort(timestamps_ns(frame["timestamp"]), kind="stable")
    frame = frame.take(order).reset_index(drop=True)
    frame.attrs["source"] = source
    return frame


def _decisions(rows: pd.DataFrame) -> pd.DataFrame:
    chosen = rows[rows["kind"] == KIND_DECISION]
    value_text = chosen["value"]
    # 1 / 0 / NULL -> True / False / missing (NULL: no approval step ran).
    flags = pd.to_numeric(chosen["approved"], errors="coerce").to_numpy(dtype="float64")
    approved = pd.arrays.BooleanArray(flags == 1, np.isnan(flags))
    frame = pd.DataFrame(
        {
            "timestamp": _utc(chosen["timestamp"]).array,
            "action": chosen["action"].astype(object).to_numpy(),
            "tenant_id": _text(chosen["tenant_id"]),
            "value": pd.to_numeric(value_text, errors="coerce").astype("float64").to_numpy(),
            "value_text": _text(value_text),
            "verdict": chosen["verdict"].astype(object).to_numpy(),
            "state": chosen["state"].astype(object).to_numpy(),
            "approved": approved,
            "executed": chosen["executed"].fillna(0).astype(bool).to_numpy(),
            "error": _text(chosen["error"]),
            "reason": _text(chosen["reason"]),
            "idempotency_key": _text(chosen["idempotency_key"]),
            "params": _text(chosen["params"]),
            "recorded_at": _utc(chosen["recorded_at"]).array,
            "seq": chosen["seq"].astype("int64").to_numpy(),
        }
    )
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
    frame["recorded_at"] = frame["recorded_at"].astype("datetime64[ns, UTC]")
    return frame


def _approvals(rows: pd.DataFrame) -> pd.DataFrame:
    chosen = rows[rows["kind"] == KIND_APPROVAL]
    recorded = _utc(chosen["recorded_at"])
    own = chosen["timestamp"]
    stamps = _utc(own.where(own.notna(), chosen["recorded_at"]))
    extras = pd.DataFrame(
        {
            "recorded_at": recorded.array,
            "seq": chosen["seq"].astype("int64").to_numpy(),
        }
    )
    frame = approvals_frame(
        stamps,
        chosen["action"],
        chosen["approved"].fillna(0).astype(bool).to_numpy(),
        chosen["overridden"].fillna(0).astype(bool).to_numpy(),
        chosen["failed"].fillna(0).astype(bool).to_numpy(),
        chosen["approver"],
        extras,
    )
    frame["recorded_at"] = frame["recorded_at"].astype("datetime64[ns, UTC]")
    return frame
