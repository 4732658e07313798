"""Builders for the audit log tests: a varied log, and an attacker's tools."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from warrantd import (
    ActionRequest,
    ApprovalRecord,
    AuditEntry,
    AutonomyState,
    Decision,
    Verdict,
)
from warrantd.auditlog import COLUMNS, SQLiteAuditSink
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
    items = [approval(seq) if seq % 7 == 0 else decision(seq) for seq in range(1, rows + 1)]
    sink.append_many(items)
    return sink


def attacker(path: Path) -> sqlite3.Connection:
    """A plain connection to the file with the append-only triggers dropped."""
    conn = sqlite3.connect(path, isolation_level=None)
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    return conn


def read_rows(conn: sqlite3.Connection) -> list[list[object]]:
    cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM entries ORDER BY seq")
    return [list(row) for row in cursor]


def rewrite_all(conn: sqlite3.Connection, rows: list[list[object]]) -> None:
    """Replace the log's rows with ``rows``, renumbered and re-chained as the published
    algorithm does it: what an attacker who read the source can do."""
    prev = GENESIS
    fixed = []
    for seq, row in enumerate(rows, 1):
        hashed = [seq, *row[1:-2], prev]
        prev = row_hash(hashed)
        fixed.append((*hashed, prev))
    conn.execute("BEGIN")
    conn.execute("DELETE FROM entries")
    conn.executemany(
        f"INSERT INTO entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        fixed,
    )
    conn.execute("COMMIT")
