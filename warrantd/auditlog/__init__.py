"""Durable, tamper-evident audit logs behind the :class:`~warrantd.AuditSink` protocol.

One row layout, one canonical encoding, one hash chain and one verifier
(:mod:`warrantd.auditlog.chain`) are shared by every backend; a backend only
stores rows and reads them back. Two backends: :mod:`warrantd.auditlog.sqlite`
(:class:`SQLiteAuditSink`, stdlib ``sqlite3``, one file on one host) and
:mod:`warrantd.auditlog.postgres` (:class:`PostgresAuditSink`, psycopg 3 from the
``postgres`` extra, one database shared by gates on several hosts). Everything
here takes a *source*: a file path, or a DSN (``postgresql://...``).

    sink = SQLiteAuditSink("audit.db")       # or PostgresAuditSink("postgresql://...")
    trust = TrustLayer(policy, audit=sink, signals=[EvalSuiteSignal(evals),
                                                     ApprovalHistorySignal(sink, window=50)])
    ...
    keep = sink.checkpoint()                 # (rows, head): store it somewhere else
    verify_audit("audit.db", keep).ok        # later: intact and not truncated?
    copy_audit("audit.db", "postgresql://gate@db/audit")   # move it, every hash kept

Stdlib only, like the rest of the core: the PostgreSQL module (and psycopg) is
imported only when a DSN or :class:`PostgresAuditSink` is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .chain import (
    COLUMNS,
    GENESIS,
    SCHEMA_VERSION,
    AuditLogError,
    Checkpoint,
    Verification,
    is_dsn,
    read_checkpoint,
    redact,
    write_checkpoint,
)
from .sqlite import SQLiteAuditSink, open_readonly, verify_sqlite

if TYPE_CHECKING:
    from .postgres import PostgresAuditSink

__all__ = [
    "COLUMNS",
    "GENESIS",
    "SCHEMA_VERSION",
    "AuditLogError",
    "Checkpoint",
    "CopyResult",
    "PostgresAuditSink",
    "SQLiteAuditSink",
    "Verification",
    "copy_audit",
    "is_dsn",
    "open_sink",
    "read_checkpoint",
    "redact",
    "row_chunks",
    "verify_audit",
    "write_checkpoint",
]

Source = str | os.PathLike[str]


def __getattr__(name: str) -> Any:
    # PostgresAuditSink on demand: importing warrantd.auditlog must not need psycopg.
    if name == "PostgresAuditSink":
        from .postgres import PostgresAuditSink

        return PostgresAuditSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _postgres(source: str) -> Any:
    """The PostgreSQL backend module, or a one-line error when psycopg is missing."""
    try:
        from . import postgres
    except ImportError:
        raise AuditLogError(
            redact(source),
            "reading a PostgreSQL audit log needs psycopg 3: pip install 'warrantd[postgres]'",
        ) from None
    return postgres


def verify_audit(source: Source, checkpoint: Checkpoint | Source | None = None) -> Verification:
    """Verify the audit log at ``source``: intact, or the first broken row and why.

    ``source`` is a SQLite file's path or a PostgreSQL DSN (``postgresql://...``).
    ``checkpoint`` is a :class:`Checkpoint` (from ``sink.checkpoint()``) or the
    path of a checkpoint file (:func:`write_checkpoint`); with it, rows removed
    from the end of the log and a chain recomputed after the checkpoint are
    detected too. Raises :class:`AuditLogError` (an ``InputError``) when ``source``
    is not a warrantd audit log or the checkpoint file cannot be read.
    """
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        checkpoint = read_checkpoint(checkpoint)
    if is_dsn(source):
        result: Verification = _postgres(str(source)).verify_postgres(str(source), checkpoint)
        return result
    return verify_sqlite(source, checkpoint)


def open_sink(source: Source) -> SQLiteAuditSink | PostgresAuditSink:
    """The sink of ``source`` (a file path or a DSN), creating the log when there is none."""
    if is_dsn(source):
        sink: PostgresAuditSink = _postgres(str(source)).PostgresAuditSink(str(source))
        return sink
    return SQLiteAuditSink(source)


def row_chunks(
    source: Source,
    columns: Sequence[str] = COLUMNS,
    *,
    after: int = 0,
    upto: int | None = None,
    size: int = 10_000,
) -> Iterator[list[tuple[Any, ...]]]:
    """The stored rows ``after < seq <= upto`` of the log at ``source``, in ``seq`` order,
    ``size`` rows at a time, each row the values of ``columns``; read from one snapshot.
    No verification: call :func:`verify_audit` first and pass its ``rows`` as ``upto``."""
    bad = [c for c in columns if c not in COLUMNS]
    if bad:
        raise ValueError(f"not audit log columns: {', '.join(bad)}")
    if is_dsn(source):
        postgres = _postgres(str(source))
        conn = postgres.open_snapshot(str(source))
        try:
            yield from postgres.chunks(
                conn, postgres.DEFAULT_SCHEMA, columns, upto, size, after=after
            )
        finally:
            conn.close()
        return
    conn = open_readonly(source)
    try:
        conn.execute("BEGIN")  # one snapshot
        cursor = conn.execute(
            f"SELECT {', '.join(columns)} FROM entries WHERE seq > ? AND seq <= ? ORDER BY seq",
            (after, 2**62 if upto is None else upto),
        )
        while True:
            batch = cursor.fetchmany(size)
            if not batch:
                return
            yield batch
    finally:
        conn.close()


@dataclass(frozen=True)
class CopyResult:
    """What :func:`copy_audit` did: both sides verified, and how many rows it copied."""

    source: Verification
    destination: Verification
    copied: int

    def describe(self) -> str:
        """One line for people."""
        return (
            f"copied {self.copied:,} rows: {self.source.source} -> {self.destination.source}; "
            f"both intact, {self.destination.rows:,} rows, head {self.destination.head[:16]}"
        )


def copy_audit(
    source: Source,
    destination: Source,
    *,
    checkpoint: Checkpoint | Source | None = None,
    batch: int = 10_000,
) -> CopyResult:
    """Copy the audit log at ``source`` to ``destination`` (each a file path or a DSN, so
    SQLite -> PostgreSQL, PostgreSQL -> SQLite, or the same kind), every row verbatim, so
    every hash stays what it was.

    The source is verified first (against ``checkpoint`` when given) and a broken log is
    not copied. The destination is created when missing; when it already holds rows they
    must be the source's first rows (a copy run again picks up where it stopped), else
    nothing is written. Rows go over ``batch`` per transaction. The destination is
    verified afterwards against the source's row count and head hash. Raises
    :class:`AuditLogError` on any of these refusals.
    """
    if str(source) == str(destination):
        raise AuditLogError(str(source), "the source and the destination are the same log")
    origin = verify_audit(source, checkpoint)
    if not origin.ok:
        raise AuditLogError(
            origin.source,
            f"the log is broken at row {origin.row}: {origin.problem}: {origin.reason}; not copied",
        )
    sink = open_sink(destination)
    target = str(getattr(sink, "source", destination))
    try:
        there = verify_audit(destination)
        if not there.ok:
            raise AuditLogError(
                target, f"the destination is broken at row {there.row}: {there.problem}"
            )
        start = there.rows
        if start:
            prefix = verify_audit(source, Checkpoint(there.rows, there.head))
            if not prefix.ok:
                raise AuditLogError(
                    target,
                    f"the destination holds {there.rows:,} rows that are not the first rows "
                    f"of {origin.source}; nothing copied",
                )
        for rows in row_chunks(source, after=start, upto=origin.rows, size=batch):
            sink.append_rows(rows)
    finally:
        sink.close()
    final = verify_audit(destination, Checkpoint(origin.rows, origin.head))
    if not final.ok:
        raise AuditLogError(final.source, f"after the copy: {final.describe()}")
    return CopyResult(origin, final, origin.rows - start)
