"""The audit log in a PostgreSQL database: one shared log for gates on several hosts.

:class:`PostgresAuditSink` stores exactly the rows of the SQLite log (the row,
the canonical encoding, the chain and the verifier are
:mod:`warrantd.auditlog.chain`'s), in the tables ``entries`` and ``meta`` of
their own schema (``warrantd_audit`` unless told otherwise), so the two backends
hash alike and a log copied from one to the other keeps every hash
(:func:`warrantd.auditlog.copy_audit`).

* **One linear chain from many hosts.** Every append is one transaction that
  first takes a transaction-scoped advisory lock (``pg_advisory_xact_lock``, a
  key derived from the schema name), then reads the head of the chain, inserts
  and commits: writers on every host queue on the server, never in application
  memory. An advisory lock needs no privilege beyond connecting, so a role
  with ``INSERT`` and ``SELECT`` only (:func:`grant_appender`) is enough for a
  gate. ``seq`` is the primary key and an insert trigger refuses a row whose
  ``seq`` or ``prev_hash`` does not continue the chain, so even a writer that
  skipped the lock cannot fork it.
* **Durable.** ``synchronous_commit = on`` is set explicitly on every
  connection: an append returns after its commit record is flushed to the
  server's WAL (the server's own ``fsync`` setting is the operator's).
* **Append-only.** Triggers refuse ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on
  both tables; the gate's role cannot drop them (only the tables' owner can),
  and what an owner does then is what the chain shows.
* **Versioned.** ``meta`` holds the format name and the schema version, as in
  the SQLite file.
* **Survives a server restart.** A connection the server dropped is replaced
  and the append retried once, when the failure came before the ``COMMIT`` was
  sent (so the retry cannot write a row twice).

A schema that exists and is not a warrantd audit log is never written to.
The driver is psycopg 3, from the ``postgres`` extra; the rest of the core does
not import this module.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

from ..errors import MissingExtraError
from ..signals import ApprovalRecord
from .base import Build, ChainedSink, T
from .chain import (
    COLUMNS,
    GENESIS,
    INTEGER_COLUMNS,
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
    redact,
    verify_chain,
)

try:
    import psycopg
    from psycopg import sql
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("the PostgreSQL audit log needs psycopg 3", "postgres") from exc

__all__ = [
    "DEFAULT_SCHEMA",
    "TRIGGERS",
    "PostgresAuditSink",
    "grant_appender",
    "verify_postgres",
]

#: The PostgreSQL schema holding the log's ``entries`` and ``meta`` tables.
DEFAULT_SCHEMA = "warrantd_audit"
#: The append-only and chain triggers (verification notes any that are gone).
TRIGGERS = (
    "entries_append_only",
    "entries_no_truncate",
    "entries_chain_continues",
    "meta_append_only",
    "meta_no_truncate",
)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_NOT_NULL = ("kind", "recorded_at", "action", "prev_hash", "hash")


def _schema_name(schema: str) -> str:
    if not _IDENT.match(schema):
        raise ValueError(f"schema {schema!r}: use lowercase letters, digits and _")
    return schema


def _lock_key(schema: str) -> int:
    """The advisory lock key of a log: 64 bits of SHA-256 of its schema name, signed."""
    digest = hashlib.sha256(f"warrantd-audit-log:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _schema_sql(schema: str) -> list[sql.Composed | sql.SQL]:
    s = sql.Identifier(schema)
    columns = sql.SQL(",\n    ").join(
        [sql.SQL("seq BIGINT PRIMARY KEY")]
        + [
            sql.SQL("{} {}{}").format(
                sql.Identifier(name),
                sql.SQL("INTEGER" if name in INTEGER_COLUMNS else "TEXT"),
                sql.SQL(" NOT NULL" if name in _NOT_NULL else ""),
            )
            for name in COLUMNS[1:]
        ]
    )
    genesis = sql.Literal(GENESIS)
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s),
        sql.SQL("CREATE TABLE {}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)").format(s),
        sql.SQL("CREATE TABLE {}.entries (\n    {}\n)").format(s, columns),
        sql.SQL(
            "CREATE INDEX entries_approvals ON {}.entries (action, seq) WHERE kind = {}"
        ).format(s, sql.Literal(KIND_APPROVAL)),
        sql.SQL(
            """CREATE FUNCTION {}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the warrantd audit log is append-only: % refused on %', TG_OP, TG_TABLE_NAME;
END $$"""
        ).format(s),
        # Runs with the inserting role's rights: SELECT on entries, which a gate has.
        sql.SQL(
            """CREATE FUNCTION {s}.chain_continues() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE last_seq BIGINT; last_hash TEXT;
BEGIN
  SELECT seq, hash INTO last_seq, last_hash FROM {s}.entries ORDER BY seq DESC LIMIT 1;
  IF NEW.seq IS DISTINCT FROM COALESCE(last_seq, 0) + 1
     OR NEW.prev_hash IS DISTINCT FROM COALESCE(last_hash, {g}) THEN
    RAISE EXCEPTION 'the warrantd audit log chain must continue from its last row';
  END IF;
  RETURN NEW;
END $$"""
        ).format(s=s, g=genesis),
        sql.SQL(
            "CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON {}.entries "
            "FOR EACH ROW EXECUTE FUNCTION {}.refuse_change()"
        ).format(s, s),
        sql.SQL(
            "CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON {}.entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION {}.refuse_change()"
        ).format(s, s),
        sql.SQL(
            "CREATE TRIGGER entries_chain_continues BEFORE INSERT ON {}.entries "
            "FOR EACH ROW EXECUTE FUNCTION {}.chain_continues()"
        ).format(s, s),
        sql.SQL(
            "CREATE TRIGGER meta_append_only BEFORE UPDATE OR DELETE ON {}.meta "
            "FOR EACH ROW EXECUTE FUNCTION {}.refuse_change()"
        ).format(s, s),
        sql.SQL(
            "CREATE TRIGGER meta_no_truncate BEFORE TRUNCATE ON {}.meta "
            "FOR EACH STATEMENT EXECUTE FUNCTION {}.refuse_change()"
        ).format(s, s),
    ]


def _connect(dsn: str, source: str, timeout: float) -> psycopg.Connection[Any]:
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=max(1, int(timeout)))
    except psycopg.Error as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AuditLogError(source, f"cannot connect to the PostgreSQL log ({text})") from None
    # Said explicitly, as the SQLite log says synchronous=FULL: a returned append is on disk.
    conn.execute("SET synchronous_commit = on")
    return conn


def _tables(conn: psycopg.Connection[Any], schema: str) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    ).fetchall()
    return {str(row[0]) for row in rows}


def _check_meta(conn: psycopg.Connection[Any], schema: str, source: str) -> None:
    """Raise unless ``schema`` holds a warrantd audit log of a version this code reads."""
    if "meta" not in _tables(conn, schema):
        raise AuditLogError(
            source,
            f"not a warrantd audit log (no {schema}.meta table in that database)",
        )
    query = sql.SQL("SELECT key, value FROM {}.meta").format(sql.Identifier(schema))
    check_meta({str(k): str(v) for k, v in conn.execute(query).fetchall()}, source)


class PostgresAuditSink(ChainedSink[psycopg.Connection[Any]]):
    """An :class:`~warrantd.AuditSink` and :class:`~warrantd.ApprovalHistorySource` in PostgreSQL.

    ``PostgresAuditSink(dsn)`` opens the log in schema ``schema`` of the database
    ``dsn`` names (``postgresql://user:password@host:port/dbname``), creating the
    schema, tables and triggers when the schema holds no tables yet (that needs a
    role that may create them; a gate's role then needs only
    :func:`grant_appender`). The same methods as
    :class:`~warrantd.auditlog.SQLiteAuditSink`: :meth:`append`,
    :meth:`append_approval`, :meth:`append_many`, the async :meth:`record` and
    :meth:`record_approval`, :meth:`checkpoint`, :meth:`records_for`,
    :meth:`verify`. Safe to share between threads; each process (a forked child
    too) gets its own connection. ``timeout`` bounds connecting, in seconds.
    """

    def __init__(self, dsn: str, *, schema: str = DEFAULT_SCHEMA, timeout: float = 30.0) -> None:
        self.dsn = dsn
        self.source = redact(dsn)
        self.schema = _schema_name(schema)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._pid = -1
        # Connections inherited through fork(): kept referenced, never used or closed here
        # (closing one would end the parent's session on the shared socket).
        self._inherited: list[psycopg.Connection[Any]] = []
        s = sql.Identifier(self.schema)
        self._insert = sql.SQL("INSERT INTO {}.entries ({}) VALUES ({})").format(
            s,
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
            sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)),
        )
        self._head = sql.SQL("SELECT seq, hash FROM {}.entries ORDER BY seq DESC LIMIT 1").format(s)
        self._key = _lock_key(self.schema)
        with self._lock:
            self._connection()

    # ----------------------------------------------------------------- connection

    def _connection(self) -> psycopg.Connection[Any]:
        """The process's connection, opened (and the log created) on first use."""
        if self._conn is not None and self._pid == os.getpid():
            if not self._conn.closed:
                return self._conn
        elif self._conn is not None:
            self._inherited.append(self._conn)
        self._conn = None
        conn = _connect(self.dsn, self.source, self.timeout)
        try:
            tables = _tables(conn, self.schema)
            if tables and "meta" not in tables:
                raise AuditLogError(
                    self.source,
                    f"schema {self.schema} holds tables but not a warrantd audit log; "
                    "refusing to write to it",
                )
            if not tables:
                with conn.transaction():
                    # Two gates creating the log at once: the second waits, then finds it.
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
                    if not _tables(conn, self.schema):
                        for statement in _schema_sql(self.schema):
                            conn.execute(statement)
                        conn.cursor().executemany(
                            sql.SQL("INSERT INTO {}.meta (key, value) VALUES (%s, %s)").format(
                                sql.Identifier(self.schema)
                            ),
                            [
                                ("format", LOG_FORMAT),
                                ("schema_version", str(SCHEMA_VERSION)),
                                ("created_at", datetime.now(timezone.utc).isoformat()),
                            ],
                        )
            _check_meta(conn, self.schema, self.source)
        except psycopg.Error as exc:
            conn.close()
            raise AuditLogError(self.source, f"cannot open the PostgreSQL log ({exc})") from None
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    # ----------------------------------------------------------------- appends

    def _write(self, build: Build[T]) -> T:
        """One append transaction: the advisory lock, the head, ``build``'s rows, ``COMMIT``.

        A connection the server dropped (a restart) is replaced and the transaction
        retried once, but only when it failed before ``COMMIT`` was sent: then the
        server has rolled it back and nothing of it can be stored.
        """
        with self._lock:
            for attempt in (1, 2):
                conn = self._connection()
                committing = False
                try:
                    with conn.transaction():
                        # Serialise on the server: the lock first, then the head.
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
                        head = conn.execute(self._head).fetchone()
                        seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
                        batch, result = build(seq, prev)
                        conn.cursor().executemany(self._insert, batch)
                        committing = True
                    return result
                except psycopg.OperationalError:
                    if attempt == 2 or committing or not conn.closed:
                        raise
                    self._conn = None  # dropped by the server: reconnect and retry
        raise AssertionError("unreachable")  # pragma: no cover

    # ----------------------------------------------------------------- reads

    def _read_head(self) -> tuple[int, str] | None:
        with self._lock:
            head = self._connection().execute(self._head).fetchone()
        return (int(head[0]), str(head[1])) if head else None

    def records_for(self, action: str) -> list[ApprovalRecord]:
        """The approval records of ``action``, oldest first (``ApprovalHistorySource``)."""
        query = sql.SQL(
            "SELECT action, approved, overridden, failed, timestamp, approver "
            "FROM {}.entries WHERE kind = %s AND action = %s ORDER BY seq"
        ).format(sql.Identifier(self.schema))
        with self._lock:
            rows = self._connection().execute(query, (KIND_APPROVAL, action)).fetchall()
        return [approval_from_values(*row) for row in rows]

    def verify(self, checkpoint: Checkpoint | None = None) -> Verification:
        """:func:`verify_postgres` of this log."""
        return verify_postgres(self.dsn, checkpoint, schema=self.schema)


def grant_appender(dsn: str, role: str, *, schema: str = DEFAULT_SCHEMA) -> None:
    """Let ``role`` run a gate on the log: ``USAGE`` on the schema, ``SELECT`` and ``INSERT``
    on ``entries``, ``SELECT`` on ``meta``; nothing else (no ``UPDATE``, ``DELETE``,
    ``TRUNCATE``, and as a non-owner it cannot drop the triggers). Run it as the log's owner."""
    source = redact(dsn)
    s = sql.Identifier(_schema_name(schema))
    r = sql.Identifier(role)
    conn = _connect(dsn, source, 30.0)
    try:
        _check_meta(conn, schema, source)
        with conn.transaction():
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(s, r))
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON {}.entries TO {}").format(s, r))
            conn.execute(sql.SQL("GRANT SELECT ON {}.meta TO {}").format(s, r))
    except psycopg.Error as exc:
        raise AuditLogError(source, f"cannot grant {role!r} the appender rights ({exc})") from None
    finally:
        conn.close()


# --------------------------------------------------------------------------- reading back


class _PostgresReader:
    """The :class:`~warrantd.auditlog.chain.LogReader` of a PostgreSQL log (one snapshot)."""

    def __init__(self, conn: psycopg.Connection[Any], schema: str) -> None:
        self.conn = conn
        self.schema = schema

    def columns(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = 'entries' ORDER BY ordinal_position",
            (self.schema,),
        ).fetchall()
        return [str(row[0]) for row in rows]

    def rows(self) -> Iterator[Sequence[object] | BadRow]:
        yield from chunks(self.conn, self.schema, COLUMNS, None, 4096, flat=True)

    def seqs_with_hash(self, digest: str) -> list[int]:
        query = sql.SQL("SELECT seq FROM {}.entries WHERE hash = %s ORDER BY seq").format(
            sql.Identifier(self.schema)
        )
        return [int(row[0]) for row in self.conn.execute(query, (digest,)).fetchall()]


def chunks(
    conn: psycopg.Connection[Any],
    schema: str,
    columns: Sequence[str],
    limit: int | None,
    size: int,
    *,
    after: int = 0,
    flat: bool = False,
) -> Iterator[Any]:
    """Rows ``after < seq <= limit`` in ``seq`` order through a server-side cursor, ``size``
    at a time (so a million rows never sit in memory at once); must run inside a
    transaction. Yields lists of rows, or single rows with ``flat``."""
    query = sql.SQL("SELECT {} FROM {}.entries WHERE seq > %s AND seq <= %s ORDER BY seq").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(schema)
    )
    with conn.cursor(name="warrantd_audit_rows") as cursor:
        cursor.itersize = size
        cursor.execute(query, (after, 2**62 if limit is None else limit))
        while True:
            batch = cursor.fetchmany(size)
            if not batch:
                return
            if flat:
                yield from batch
            else:
                yield batch


def open_snapshot(dsn: str, schema: str = DEFAULT_SCHEMA) -> psycopg.Connection[Any]:
    """A connection to an existing log, in a read-only repeatable-read transaction (one
    snapshot); ``AuditLogError`` if the database holds no warrantd audit log there."""
    source = redact(dsn)
    conn = _connect(dsn, source, 30.0)
    try:
        _check_meta(conn, schema, source)
        conn.autocommit = False
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
    except psycopg.Error as exc:
        conn.close()
        raise AuditLogError(source, f"cannot be read as an audit log ({exc})") from None
    except BaseException:
        conn.close()
        raise
    return conn


def verify_postgres(
    dsn: str, checkpoint: Checkpoint | None = None, *, schema: str = DEFAULT_SCHEMA
) -> Verification:
    """Verify the PostgreSQL log ``dsn`` names (see :func:`~warrantd.auditlog.chain.verify_chain`).

    Reads one consistent snapshot (appends by others meanwhile are not seen).
    Raises :class:`~warrantd.auditlog.chain.AuditLogError` when the database cannot
    be reached or holds no warrantd audit log.
    """
    source = redact(dsn)
    schema = _schema_name(schema)
    conn = open_snapshot(dsn, schema)
    try:
        if "entries" not in _tables(conn, schema):
            return Verification(source, 0, GENESIS, "schema", None, "the entries table is gone")
        present = {
            str(row[0])
            for row in conn.execute(
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND NOT t.tgisinternal",
                (schema,),
            ).fetchall()
        }
        notes = dropped_triggers_notes(TRIGGERS, present)
        return verify_chain(_PostgresReader(conn, schema), source, checkpoint, notes)
    except psycopg.Error as exc:
        raise AuditLogError(source, f"cannot be read as an audit log ({exc})") from None
    finally:
        conn.close()
