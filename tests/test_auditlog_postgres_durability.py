"""The PostgreSQL audit log under server restarts, on a real server (the session's,
tests/pg_server.py). Many writers and ``kill -9``: tests/test_auditlog_durability.py,
for both backends.

The server is restarted between appends (``immediate``, which is a crash: no
shutdown checkpoint, recovery from the WAL; and, with ``WARRANTD_THOROUGH=1``, also
``fast``, a clean shutdown, which writes a checkpoint of every database the session
made and takes the longer for it): the same sink object goes on appending after it,
and nothing committed before is lost. An append while the server is down fails and
writes nothing.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 (the postgres extra) not installed")

from warrantd.auditlog import COLUMNS, PostgresAuditSink, verify_audit  # noqa: E402

from .auditlog_helpers import PostgresBackend, approval, decision  # noqa: E402

THOROUGH = bool(os.environ.get("WARRANTD_THOROUGH"))


def stored_keys(dsn: str) -> list[str]:
    """The idempotency keys of the stored decisions."""
    key = COLUMNS.index("idempotency_key")
    return [str(row[key]) for row in PostgresBackend(dsn).rows() if row[key] is not None]


@pytest.mark.parametrize("mode", ["immediate", "fast"] if THOROUGH else ["immediate"])
def test_a_server_restart_between_appends(postgres_server: Any, pg_dsn: str, mode: str) -> None:
    sink = PostgresAuditSink(pg_dsn)
    sink.append_many([decision(i) for i in range(1, 11)])
    assert sink.append_approval(approval(11)) == 11
    keep = sink.checkpoint()
    postgres_server.restart(mode)
    # The same sink: its connection was dropped; the append reconnects and is not doubled.
    assert sink.append(decision(12)) == 12
    assert sink.records_for("issue_refund")[-1] == approval(11)
    result = verify_audit(pg_dsn, keep)
    assert result.ok and result.rows == 12, result.describe()
    keys = [key for key in stored_keys(pg_dsn) if key.startswith("key-")]
    assert sorted(keys) == sorted(f"key-{i:06d}" for i in (*range(1, 11), 12))


def test_an_append_while_the_server_is_down_fails_and_writes_nothing(
    postgres_server: Any, pg_dsn: str
) -> None:
    sink = PostgresAuditSink(pg_dsn, timeout=2)
    sink.append(decision(1))
    postgres_server.stop("fast")
    try:
        with pytest.raises(Exception, match=r"connect|connection|server"):
            sink.append(decision(2))
    finally:
        postgres_server.start()
    assert sink.append(decision(3)) == 2
    assert verify_audit(pg_dsn).rows == 2
