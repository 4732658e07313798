"""The audit log in one SQLite file: the embedded default, nothing to install or start.

:class:`SQLiteAuditSink` appends gate decisions (:class:`~warrantd.AuditEntry`)
and human approval decisions (:class:`~warrantd.ApprovalRecord`) to one
append-only, hash-chained table (the row, the encoding and the chain are
:mod:`warrantd.auditlog.chain`'s; this module only stores and reads them):

* **One linear chain from many writers.** Every append runs inside
  ``BEGIN IMMEDIATE``: it takes SQLite's write lock before reading the head of
  the chain, so processes and threads appending to one file queue up and each
  row chains from the row before it. An ``INSERT`` trigger refuses a row whose
  ``seq`` or ``prev_hash`` does not continue the chain, so even a writer that
  skipped the lock cannot fork it.
* **Durable.** WAL journal and ``synchronous=FULL``, set explicitly on every
  connection: once an append returns, it survives a crash of the process or
  the machine.
* **Append-only.** Triggers refuse ``UPDATE`` and ``DELETE`` on the log and its
  ``meta`` table. Someone holding the file can drop them; the chain is what
  shows what they did then (:func:`verify_sqlite`).
* **Versioned.** The ``meta`` table holds the format name and the schema
  version, so a later version can migrate a log it recognises.

A file that exists and is not a warrantd audit log (another application's
database, a text file) is never written to: opening it raises
:class:`~warrantd.auditlog.chain.AuditLogError`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from ..signals import ApprovalRecord
from .base import Build, ChainedSink, T
from .chain import (
    COLUMNS,
    GENESIS,
    KIND_APPROVAL,
    LOG_FORMAT,
    SCHEMA_VERSION,
    AuditLogError,
    BadRow,
    Checkpoint,
    Verification,
    approval_from_values,
    check_meta,
    dropped_triggers_notes,
    verify_chain,
)

__all__ = ["SQLiteAuditSink", "verify_sqlite"]

_TYPES = {name: "INTEGER" for name in ("approved", "overridden", "executed", "failed")}
_COLUMN_SQL = ",\n    ".join(
    ["seq INTEGER PRIMARY KEY"]
    + [
        f"{name} {_TYPES.get(name, 'TEXT')}"
        + (" NOT NULL" if name in ("kind", "recorded_at", "action", "prev_hash", "hash") else "")
        for name in COLUMNS[1:]
    ]
)
TRIGGERS = (
    "entries_append_only_update",
    "entries_append_only_delete",
    "entries_chain_continues",
    "meta_append_only_update",
    "meta_append_only_delete",
)
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"CREATE TABLE entries (\n    {_COLUMN_SQL}\n)",
    f"CREATE INDEX entries_approvals ON entries (action, seq) WHERE kind = '{KIND_APPROVAL}'",
    """CREATE TRIGGER entries_append_only_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'the warrantd audit log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER entries_append_only_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the warrantd audit log is append-only: DELETE refused'); END""",
    f"""CREATE TRIGGER entries_chain_continues BEFORE INSERT ON entries
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM entries)
  OR NEW.prev_hash IS NOT COALESCE(
       (SELECT hash FROM entries ORDER BY seq DESC LIMIT 1), '{GENESIS}')
BEGIN SELECT RAISE(ABORT, 'the warrantd audit log chain must continue from its last row'); END""",
    """CREATE TRIGGER meta_append_only_update BEFORE UPDATE ON meta
BEGIN SELECT RAISE(ABORT, 'the warrantd audit log meta table is append-only'); END""",
    """CREATE TRIGGER meta_append_only_delete BEFORE DELETE ON meta
BEGIN SELECT RAISE(ABORT, 'the warrantd audit log meta table is append-only'); END""",
)
_INSERT = f"INSERT INTO entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_SELECT_ALL = f"SELECT {', '.join(COLUMNS)} FROM entries ORDER BY seq"
_HEAD = "SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1"


def _configure(conn: sqlite3.Connection) -> None:
    """WAL and synchronous=FULL, said explicitly on every connection that writes."""
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":  # e.g. a file system without shared memory
        raise sqlite3.OperationalError(f"cannot switch the log to WAL (journal_mode={mode})")
    conn.execute("PRAGMA synchronous=FULL")


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _check_meta(conn: sqlite3.Connection, source: str) -> None:
    """Raise unless ``conn`` holds a warrantd audit log of a version this code reads."""
    if "meta" not in _tables(conn):
        raise AuditLogError(
            source, "not a warrantd audit log (a SQLite database without its meta table)"
        )
    check_meta(dict(conn.execute("SELECT key, value FROM meta").fetchall()), source)


def _database_error(source: str, exc: sqlite3.DatabaseError) -> AuditLogError:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return AuditLogError(source, f"not a warrantd audit log ({text})")
    return AuditLogError(source, f"cannot be read as an audit log ({text})")


class SQLiteAuditSink(ChainedSink[sqlite3.Connection]):
    """An :class:`~warrantd.AuditSink` and :class:`~warrantd.ApprovalHistorySource` on one file.

    ``SQLiteAuditSink(path)`` creates the log (and its parent folder) when the file
    does not exist, or opens an existing warrantd audit log. Safe to share between
    threads; each process (a forked child too) gets its own connection. ``timeout`` is
    how long an append waits for other writers, in seconds.

    Gate decisions go in with :meth:`record` (the ``AuditSink`` method) or
    :meth:`append`; human approval decisions with :meth:`record_approval` or
    :meth:`append_approval`. :meth:`records_for` reads the approvals back, so
    ``ApprovalHistorySignal(sink, window=50)`` graduates on the gate's own log.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.source = str(self.path)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        with self._lock:
            self._connection()

    # ----------------------------------------------------------------- connection

    def _connection(self) -> sqlite3.Connection:
        """The process's connection, opened (and the log created) on first use."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        # A connection inherited through fork() must not be used (nor closed) here.
        self._conn = None
        source = str(self.path)
        if self.path.is_dir():
            raise AuditLogError(source, "is a directory, not an audit log")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            tables = _tables(conn)
            if tables and "meta" not in tables:
                raise AuditLogError(
                    source,
                    "is a SQLite database but not a warrantd audit log; refusing to write to it",
                )
            _configure(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not _tables(conn):
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [
                            ("format", LOG_FORMAT),
                            ("schema_version", str(SCHEMA_VERSION)),
                            ("created_at", datetime.now(timezone.utc).isoformat()),
                        ],
                    )
                _check_meta(conn, source)
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _database_error(source, exc) from None
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    # ----------------------------------------------------------------- appends

    def _write(self, build: Build[T]) -> T:
        """One append transaction: the write lock, the head, ``build``'s rows, ``COMMIT``."""
        with self._lock:
            conn = self._connection()
            # The write lock first, then the head: no other writer can slip in between.
            conn.execute("BEGIN IMMEDIATE")
            try:
                head = conn.execute(_HEAD).fetchone()
                seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
                batch, result = build(seq, prev)
                conn.executemany(_INSERT, batch)
                conn.execute("COMMIT")
            finally:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
        return result

    # ----------------------------------------------------------------- reads

    def _read_head(self) -> tuple[int, str] | None:
        with self._lock:
            head = self._connection().execute(_HEAD).fetchone()
        return (int(head[0]), str(head[1])) if head else None

    def records_for(self, action: str) -> list[ApprovalRecord]:
        """The approval records of ``action``, oldest first (``ApprovalHistorySource``)."""
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    "SELECT action, approved, overridden, failed, timestamp, approver "
                    "FROM entries WHERE kind = ? AND action = ? ORDER BY seq",
                    (KIND_APPROVAL, action),
                )
                .fetchall()
            )
        return [approval_from_values(*row) for row in rows]

    def verify(self, checkpoint: Checkpoint | None = None) -> Verification:
        """:func:`verify_sqlite` of this log."""
        return verify_sqlite(self.path, checkpoint)


# --------------------------------------------------------------------------- reading back


def open_readonly(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to an existing warrantd audit log (``AuditLogError`` if not one)."""
    source = str(path)
    target = Path(path)
    if not target.exists():
        raise AuditLogError(source, "no such file")
    if target.is_dir():
        raise AuditLogError(source, "is a directory, not an audit log")
    if (unlike := _not_sqlite(target)) is not None:
        raise AuditLogError(source, f"not a warrantd audit log ({unlike})")
    # mode=ro: never create or change the file being examined.
    conn = sqlite3.connect(f"{target.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        _check_meta(conn, source)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _database_error(source, exc) from None
    except BaseException:
        conn.close()
        raise
    return conn


#: The first bytes of every SQLite database file (the file format's header string).
_SQLITE_HEADER = b"SQLite format 3\x00"


def _not_sqlite(target: Path) -> str | None:
    """What the file at ``target`` is when it is no SQLite database at all, else None.

    SQLite itself reads a 0-byte file as an empty database, and then the log was only
    "a SQLite database without its meta table": wrong for an empty CSV handed over by mistake.
    """
    with target.open("rb") as fh:
        head = fh.read(len(_SQLITE_HEADER))
    if not head:
        return "an empty file"
    if head != _SQLITE_HEADER:
        return "not a SQLite database"
    return None


class _SQLiteReader:
    """The :class:`~warrantd.auditlog.chain.LogReader` of a SQLite log."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def columns(self) -> list[str]:
        return [row[1] for row in self.conn.execute("PRAGMA table_info(entries)")]

    def rows(self) -> Iterator[Sequence[object] | BadRow]:
        last: int | None = None  # the seq of the last row handed out
        cursor = self.conn.execute(_SELECT_ALL)
        while True:
            try:
                batch = cursor.fetchmany(4096)
            except sqlite3.OperationalError:
                # Text that is not UTF-8 (a byte edited in place) cannot be read back and
                # fails the whole batch: re-read from the last good row, one row at a time.
                yield from self._rows_one_by_one(last)
                return
            if not batch:
                return
            yield from batch
            last = batch[-1][0]

    def _rows_one_by_one(self, after: int | None) -> Iterator[Sequence[object] | BadRow]:
        where = "" if after is None else f"WHERE seq > {int(after)} "
        cursor = self.conn.execute(_SELECT_ALL.replace("ORDER BY", f"{where}ORDER BY"))
        while True:
            try:
                row = cursor.fetchone()
            except sqlite3.OperationalError as exc:
                found = self.conn.execute(
                    f"SELECT seq FROM entries {where}ORDER BY seq LIMIT 1"
                ).fetchone()
                yield BadRow(int(found[0]), f"a stored value cannot be read back ({exc})")
                return
            if row is None:
                return
            yield row
            after = row[0]
            where = f"WHERE seq > {int(after)} "

    def seqs_with_hash(self, digest: str) -> list[int]:
        rows = self.conn.execute("SELECT seq FROM entries WHERE hash = ? ORDER BY seq", (digest,))
        return [int(row[0]) for row in rows]


def verify_sqlite(
    path: str | os.PathLike[str], checkpoint: Checkpoint | None = None
) -> Verification:
    """Verify the SQLite log at ``path`` (see :func:`~warrantd.auditlog.chain.verify_chain`).

    Reads one consistent snapshot (appends by others meanwhile are not seen).
    Raises :class:`~warrantd.auditlog.chain.AuditLogError` when ``path`` is not a
    warrantd audit log.
    """
    source = str(path)
    conn = open_readonly(path)
    try:
        conn.execute("BEGIN")  # one snapshot for the whole walk
        if "entries" not in _tables(conn):
            return Verification(source, 0, GENESIS, "schema", None, "the entries table is gone")
        present = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
        notes = dropped_triggers_notes(TRIGGERS, present)
        return verify_chain(_SQLiteReader(conn), source, checkpoint, notes)
    except sqlite3.DatabaseError as exc:
        raise _database_error(source, exc) from None
    finally:
        conn.close()
