"""What every audit log sink shares: the append methods, the async wrappers, checkpoints.

:class:`ChainedSink` is the one place that turns decisions and approvals into
chained rows (:func:`chain_rows`) and checks that copied rows continue a log
(:func:`check_continues`). A backend (:mod:`~warrantd.auditlog.sqlite`,
:mod:`~warrantd.auditlog.postgres`) supplies only what is its own:

* :meth:`ChainedSink._connection`: the process's connection, opened on first use;
* :meth:`ChainedSink._write`: one append transaction that serialises writers (the
  backend's write lock), reads the head of the chain *under that lock*, inserts
  the rows the given ``build(seq, prev)`` returns and commits durably, all or
  none. The durability and the one-linear-chain guarantee live there, in the
  backend, because how to get them differs (SQLite's ``BEGIN IMMEDIATE`` and
  ``synchronous=FULL``, PostgreSQL's advisory lock and ``synchronous_commit``);
* :meth:`ChainedSink._read_head`: the last row's ``(seq, hash)``, or None.

Nothing here touches a database itself.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Generic, Protocol, TypeVar

from ..audit import AuditEntry
from ..signals import ApprovalRecord
from .chain import (
    COLUMNS,
    GENESIS,
    AuditLogError,
    Checkpoint,
    approval_values,
    entry_values,
    row_hash,
)

__all__ = ["ChainedSink", "chain_rows", "check_continues"]

T = TypeVar("T")


class _Closeable(Protocol):
    def close(self) -> None: ...


ConnT = TypeVar("ConnT", bound=_Closeable)
SinkT = TypeVar("SinkT", bound="ChainedSink[_Closeable]")

#: ``build(seq, prev)``: given the head of the chain, the rows to insert and what to return.
Build = Callable[[int, str], tuple[Sequence[Sequence[object]], T]]


def chain_rows(
    rows: Sequence[dict[str, object]], seq: int, prev: str
) -> tuple[list[tuple[object, ...]], list[int]]:
    """The stored rows (every column, in :data:`~warrantd.auditlog.chain.COLUMNS` order) that
    continue a chain whose last row is ``seq`` with hash ``prev``, and their ``seq`` numbers.

    ``rows`` are values by column (:func:`~warrantd.auditlog.chain.entry_values`,
    :func:`~warrantd.auditlog.chain.approval_values`); each row's ``prev_hash`` is the
    hash of the row before it."""
    batch: list[tuple[object, ...]] = []
    seqs: list[int] = []
    for values in rows:
        seq += 1
        hashed = [seq, *(values[name] for name in COLUMNS[1:-2]), prev]
        prev = row_hash(hashed)
        batch.append((*hashed, prev))
        seqs.append(seq)
    return batch, seqs


def check_continues(rows: Sequence[Sequence[object]], seq: int, prev: str, source: str) -> None:
    """Raise :class:`~warrantd.auditlog.chain.AuditLogError` unless stored ``rows`` start
    right after a head ``(seq, prev)`` (the copy's check; the trigger is the backstop)."""
    if rows and (rows[0][0] != seq + 1 or rows[0][-2] != prev):
        raise AuditLogError(
            source,
            f"the rows to copy start at seq {rows[0][0]!r}, not at {seq + 1} after the log's head",
        )


class ChainedSink(Generic[ConnT]):
    """The shared half of an audit log sink (see the module docstring for the other half).

    Subclasses set ``source`` (the log's name in messages), ``_lock`` (a
    ``threading.Lock`` guarding the connection), ``_conn`` and ``_pid`` (the
    connection and the process that opened it) before calling ``_connection``.
    """

    source: str
    _lock: threading.Lock
    _conn: ConnT | None
    _pid: int

    # ----------------------------------------------------------------- backend hooks

    def _connection(self) -> ConnT:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    def _write(self, build: Build[T]) -> T:  # pragma: no cover - every backend overrides it
        raise NotImplementedError

    def _read_head(self) -> tuple[int, str] | None:  # pragma: no cover - overridden
        raise NotImplementedError

    # ----------------------------------------------------------------- connection

    def close(self) -> None:
        """Close this process's connection (a later call reopens it)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self: SinkT) -> SinkT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ----------------------------------------------------------------- appends

    def _append(self, rows: Sequence[dict[str, object]]) -> list[int]:
        """Append ``rows`` (values by column) in one transaction; their ``seq`` numbers."""
        return self._write(lambda seq, prev: chain_rows(rows, seq, prev))

    def append_rows(self, rows: Sequence[Sequence[object]]) -> int:
        """Append stored rows verbatim (every column, hashes included), as a copy does.

        They must continue this log's chain (the trigger refuses them otherwise);
        returns the new row count.
        """

        def build(seq: int, prev: str) -> tuple[Sequence[Sequence[object]], int]:
            check_continues(rows, seq, prev, self.source)
            return rows, seq + len(rows)

        return self._write(build)

    def append(self, entry: AuditEntry) -> int:
        """Append one gate decision, durably; its ``seq`` (row number, from 1)."""
        return self._append([entry_values(entry)])[0]

    def append_approval(self, record: ApprovalRecord) -> int:
        """Append one human approval decision, durably; its ``seq``."""
        return self._append([approval_values(record)])[0]

    def append_many(self, items: Sequence[AuditEntry | ApprovalRecord]) -> list[int]:
        """Append decisions and approvals in one transaction (all or none); their ``seq``."""
        rows = [
            approval_values(item) if isinstance(item, ApprovalRecord) else entry_values(item)
            for item in items
        ]
        return self._append(rows) if rows else []

    async def record(self, entry: AuditEntry) -> None:
        """The ``AuditSink`` method: :meth:`append` on a worker thread, off the event loop."""
        await asyncio.to_thread(self.append, entry)

    async def record_approval(self, record: ApprovalRecord) -> None:
        """:meth:`append_approval` on a worker thread, off the event loop."""
        await asyncio.to_thread(self.append_approval, record)

    # ----------------------------------------------------------------- reads

    def checkpoint(self) -> Checkpoint:
        """(row count, head hash) now: keep it elsewhere, verify against it later."""
        head = self._read_head()
        return Checkpoint(*head) if head else Checkpoint(0, GENESIS)
