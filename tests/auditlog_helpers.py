"""Builders for the audit log tests: a varied log, an attacker's tools, and the backends."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from warrantd import (
    ActionRequest,
    ApprovalRecord,
    AuditEntry,
    AutonomyState,
    Decision,
    Verdict,
)
from warrantd.auditlog import COLUMNS, SQLiteAuditSink, open_sink
from warrantd.auditlog.chain import GENESIS, row_hash
from warrantd.auditlog.sqlite import TRIGGERS

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
VERDICTS = [Verdict.ALLOW, Verdict.REQUIRE_APPROVAL, Verdict.BLOCK]


def decision(i: int, action: str = "issue_refund", key: str | None = None) -> AuditEntry:
    """The ``i``-th gate decision: every decision column filled (error on every 5th)."""
    verdict = VERDICTS[i % 3]
    return AuditEntry(
        request=ActionRequest(
            action,
            tenant_id=f"tenant-{i % 4}",
            value=Decimal(f"{i}.50"),
            params={"invoice": f"INV-{i}", "note": "café"},
        ),
        decision=Decision(verdict, AutonomyState(i % 3), f"reason {i}"),
        approved=True if verdict is Verdict.REQUIRE_APPROVAL else None,
        executed=verdict is not Verdict.BLOCK,
        idempotency_key=key or f"key-{i:06d}",
        timestamp=T0 + timedelta(minutes=i),
        error="card declined" if i % 5 == 0 else None,
    )


def approval(i: int, action: str = "issue_refund") -> ApprovalRecord:
    """The ``i``-th human decision: every approval column filled."""
    return ApprovalRecord(
        action,
        approved=i % 4 != 1,
        overridden=i % 4 == 2,
        error=i % 4 == 3,
        timestamp=T0 + timedelta(minutes=i, seconds=30),
        approver=f"approver-{i % 2}",
    )


def build_log(path: Path, rows: int = 300) -> SQLiteAuditSink:
    """A log of ``rows`` rows: approvals at every seq divisible by 7, decisions elsewhere."""
    sink = SQLiteAuditSink(path)
    sink.append_many(varied(rows))
    return sink


def varied(rows: int) -> list[AuditEntry | ApprovalRecord]:
    """Rows 1..``rows``: approvals at every seq divisible by 7, decisions elsewhere."""
    return [approval(seq) if seq % 7 == 0 else decision(seq) for seq in range(1, rows + 1)]


def attacker(path: Path) -> sqlite3.Connection:
    """A plain connection to the file with the append-only triggers dropped."""
    conn = sqlite3.connect(path, isolation_level=None)
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    return conn


def read_rows(conn: sqlite3.Connection) -> list[list[object]]:
    cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM entries ORDER BY seq")
    return [list(row) for row in cursor]


def rechained(rows: list[list[object]]) -> list[tuple[object, ...]]:
    """``rows`` renumbered and re-chained as the published algorithm does it: what an
    attacker who read the source can do."""
    prev = GENESIS
    fixed = []
    for seq, row in enumerate(rows, 1):
        hashed = [seq, *row[1:-2], prev]
        prev = row_hash(hashed)
        fixed.append((*hashed, prev))
    return fixed


# --------------------------------------------------------------------------- backends
# The ``audit_backend`` fixture (tests/conftest.py) gives a SQLiteBackend (a file in the
# test's tmp_path) and a PostgresBackend (a fresh database on the session's server;
# skipped, saying why, when no server can be started or psycopg is missing), so one test
# proves a behaviour of both. What an attacker does is written once, in SQLite's
# spelling: ``{entries}`` / ``{meta}`` for the tables and ``?`` for parameters;
# Attacker.execute turns it into the backend's.


class Connection:
    """A plain autocommit connection to a log's database (``Backend.attacker()``: with the
    append-only triggers dropped), taking statements in SQLite's spelling."""

    def __init__(self, conn: Any, entries: str, meta: str, mark: str) -> None:
        self.conn, self.entries, self.meta, self.mark = conn, entries, meta, mark

    def sql(self, statement: str) -> str:
        return statement.format(entries=self.entries, meta=self.meta).replace("?", self.mark)

    def execute(self, statement: str, params: tuple[object, ...] | list[object] = ()) -> Any:
        if not params:  # no parameters: psycopg then reads % literally
            return self.conn.execute(self.sql(statement))
        return self.conn.execute(self.sql(statement), params)

    def rewrite_all(self, rows: list[list[object]]) -> None:
        """Replace the log's rows with ``rows``, renumbered and re-chained, in one transaction."""
        placeholders = ", ".join([self.mark] * len(COLUMNS))
        self.execute("BEGIN")
        self.execute("DELETE FROM {entries}")
        self.conn.cursor().executemany(
            f"INSERT INTO {self.entries} VALUES ({placeholders})", rechained(rows)
        )
        self.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


_SQLITE = ("entries", "meta", "?")
_POSTGRES = ("warrantd_audit.entries", "warrantd_audit.meta", "%s")


class SQLiteBackend:
    """A log in a SQLite file."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.source: Any = path
        #: What the database raises when a trigger refuses a change.
        self.refusal: type[Exception] = sqlite3.DatabaseError

    def rows(self) -> list[list[object]]:
        conn = sqlite3.connect(self.source)
        try:
            return read_rows(conn)
        finally:
            conn.close()

    def connect(self) -> Connection:
        return Connection(sqlite3.connect(self.source, isolation_level=None), *_SQLITE)

    def attacker(self) -> Connection:
        return Connection(attacker(self.source), *_SQLITE)


class PostgresBackend:
    """A log in a fresh PostgreSQL database; the attacker is its superuser."""

    name = "postgres"

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.source: Any = dsn
        self.refusal: type[Exception] = psycopg.errors.RaiseException

    def rows(self) -> list[list[object]]:
        import psycopg

        select = f"SELECT {', '.join(COLUMNS)} FROM warrantd_audit.entries ORDER BY seq"
        with psycopg.connect(self.source) as conn:
            return [list(row) for row in conn.execute(select).fetchall()]

    def connect(self) -> Connection:
        """A superuser connection (the triggers still refuse changes)."""
        import psycopg

        return Connection(psycopg.connect(self.source, autocommit=True), *_POSTGRES)

    def attacker(self) -> Connection:
        """A superuser connection with the log's triggers dropped: what an owner can do."""
        from warrantd.auditlog.postgres import TRIGGERS as PG_TRIGGERS

        conn = self.connect()
        for name in PG_TRIGGERS:
            table = "{meta}" if name.startswith("meta") else "{entries}"
            conn.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        return conn


Backend = SQLiteBackend | PostgresBackend


def build(backend: Backend, rows: int = 300) -> Any:
    """A log of ``rows`` rows at ``backend.source``, as :func:`build_log`; its open sink."""
    sink = open_sink(backend.source)
    sink.append_many(varied(rows))
    return sink
