"""Durable, tamper-evident audit logs behind the :class:`~warrantd.AuditSink` protocol.

One row layout, one canonical encoding, one hash chain and one verifier
(:mod:`warrantd.auditlog.chain`) are shared by every backend; a backend only
stores rows and reads them back. Today there is one: :mod:`warrantd.auditlog.sqlite`
(:class:`SQLiteAuditSink`, stdlib ``sqlite3``). A PostgreSQL backend slots in
beside it as ``postgres.py`` with its own ``LogReader``; :func:`verify_audit`
then dispatches a DSN to it.

    sink = SQLiteAuditSink("audit.db")
    trust = TrustLayer(policy, audit=sink, signals=[EvalSuiteSignal(evals),
                                                     ApprovalHistorySignal(sink, window=50)])
    ...
    keep = sink.checkpoint()                 # (rows, head): store it somewhere else
    verify_audit("audit.db", keep).ok        # later: intact and not truncated?

Stdlib only, like the rest of the core.
"""

from __future__ import annotations

import os

from .chain import (
    COLUMNS,
    GENESIS,
    SCHEMA_VERSION,
    AuditLogError,
    Checkpoint,
    Verification,
    read_checkpoint,
    write_checkpoint,
)
from .sqlite import SQLiteAuditSink, verify_sqlite

__all__ = [
    "COLUMNS",
    "GENESIS",
    "SCHEMA_VERSION",
    "AuditLogError",
    "Checkpoint",
    "SQLiteAuditSink",
    "Verification",
    "read_checkpoint",
    "verify_audit",
    "write_checkpoint",
]


def verify_audit(
    path: str | os.PathLike[str],
    checkpoint: Checkpoint | str | os.PathLike[str] | None = None,
) -> Verification:
    """Verify the audit log at ``path``: intact, or the first broken row and why.

    ``checkpoint`` is a :class:`Checkpoint` (from ``sink.checkpoint()``) or the
    path of a checkpoint file (:func:`write_checkpoint`); with it, rows removed
    from the end of the log and a chain recomputed after the checkpoint are
    detected too. Raises :class:`AuditLogError` (an ``InputError``) when ``path``
    is not a warrantd audit log or the checkpoint file cannot be read.
    """
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        checkpoint = read_checkpoint(checkpoint)
    return verify_sqlite(path, checkpoint)
