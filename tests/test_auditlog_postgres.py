"""The PostgreSQL audit log's own tests, against a real server (one per session,
tests/pg_server.py).

What both backends share (what is stored and refused, the tamper matrix) is proven
once for both in tests/test_auditlog.py (the ``audit_backend`` fixture); here: the
durability setting, TRUNCATE, a foreign schema, an unreachable server, a column type
change, a role with INSERT and SELECT only running a gate, migration both ways with
every hash kept, the kit reading a DSN, and the command line. Expected rows are worked
out by hand as in tests/test_auditlog.py (approvals sit at multiples of 7).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 (the postgres extra) not installed")

from warrantd import (  # noqa: E402
    ActionClass,
    ActionRequest,
    ApprovalHistorySignal,
    ApprovalRecord,
    RiskTier,
    TrustLayer,
    TrustPolicy,
    Verdict,
)
from warrantd.auditlog import (  # noqa: E402
    AuditLogError,
    PostgresAuditSink,
    SQLiteAuditSink,
    copy_audit,
    verify_audit,
)
from warrantd.auditlog.postgres import grant_appender  # noqa: E402

from .auditlog_helpers import (  # noqa: E402
    PostgresBackend,
    approval,
    attacker,
    build,
    build_log,
    decision,
    read_rows,
)
from .helpers import make_thresholds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = "warrantd_audit.entries"


def pg_attacker(dsn: str) -> Any:
    """A superuser connection with the log's triggers dropped: what an owner can do."""
    return PostgresBackend(dsn).attacker().conn


def pg_rows(dsn: str) -> list[list[object]]:
    return PostgresBackend(dsn).rows()


@pytest.fixture
def log(pg_dsn: str) -> str:
    build(PostgresBackend(pg_dsn), 300).close()
    return pg_dsn


# --------------------------------------------------------------------------- storing


def test_meta_synchronous_commit_and_schema_version(pg_dsn: str) -> None:
    sink = PostgresAuditSink(pg_dsn)
    conn = sink._connection()
    assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"
    meta = dict(conn.execute("SELECT key, value FROM warrantd_audit.meta").fetchall())
    assert meta["format"] == "warrantd-audit-log" and meta["schema_version"] == "1"


def test_truncate_is_refused(log: str) -> None:
    # UPDATE and DELETE: tests/test_auditlog.py, for both backends; TRUNCATE is PostgreSQL's.
    with psycopg.connect(log, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="TRUNCATE refused on entries"):
            conn.execute(f"TRUNCATE {ENTRIES}")
        with pytest.raises(psycopg.errors.RaiseException, match="TRUNCATE refused on meta"):
            conn.execute("TRUNCATE warrantd_audit.meta")
    assert verify_audit(log).ok


# --------------------------------------------------------------------------- refusing


def test_a_foreign_schema_is_never_written(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA warrantd_audit")
        conn.execute("CREATE TABLE warrantd_audit.users (name TEXT)")
    with pytest.raises(AuditLogError, match="not a warrantd audit log; refusing to write"):
        PostgresAuditSink(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'warrantd_audit'"
        ).fetchall()
    assert tables == [("users",)]
    with pytest.raises(AuditLogError, match=r"no warrantd_audit\.meta table"):
        verify_audit(pg_dsn)


def test_an_empty_database_and_an_unreachable_server(pg_dsn: str) -> None:
    with pytest.raises(AuditLogError, match="not a warrantd audit log"):
        verify_audit(pg_dsn)  # verification never creates the log
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'warrantd_audit'"
        ).fetchone() == (0,)
    with pytest.raises(AuditLogError, match="cannot connect") as caught:
        verify_audit("postgresql://someone:s3cret@127.0.0.1:1/nothing")
    assert "s3cret" not in str(caught.value) and "someone:***@" in str(caught.value)


# --------------------------------------------------------------------------- tampering


def test_a_column_type_change_is_named(log: str) -> None:
    # approved 1 becomes the text '1': same digits, another type, another encoding.
    # Row 1 is the first with a value there (decision(1) asks for approval).
    pg_attacker(log).execute(f"ALTER TABLE {ENTRIES} ALTER COLUMN approved TYPE TEXT")
    result = verify_audit(log)
    assert (result.problem, result.row) == ("edited", 1)


# --------------------------------------------------------------------------- a gate's role


def test_a_role_with_insert_and_select_only_runs_a_gate(log: str, postgres_server: Any) -> None:
    role = "gate_" + log.rsplit("/", 1)[-1]
    with psycopg.connect(log, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    grant_appender(log, role)
    gate_dsn = log.replace("//warrantd@", f"//{role}@")
    sink = PostgresAuditSink(gate_dsn)
    policy = TrustPolicy(
        actions={"refund": ActionClass("refund", RiskTier.REVERSIBLE_WRITE, Decimal("100"))},
        thresholds=make_thresholds(sup=(0.80, 0.70, 5), aut=(0.99, 0.90, 1000)),
    )
    gate = TrustLayer(policy, audit=sink, signals=[ApprovalHistorySignal(sink, window=5)])
    for _ in range(5):
        sink.append_approval(ApprovalRecord("refund", approved=True))
    # Five clean approvals in its own log: SUPERVISED, so a refund under the cap is allowed.
    assert gate.evaluate(ActionRequest("refund", "acme", Decimal("50"))).verdict is Verdict.ALLOW
    asyncio.run(sink.record(decision(1, action="refund")))
    assert sink.checkpoint().rows == 306
    assert verify_audit(gate_dsn).ok  # the gate's role can verify too
    with psycopg.connect(gate_dsn, autocommit=True) as conn:
        for statement in (
            f"UPDATE {ENTRIES} SET action = 'x' WHERE seq = 1",
            f"DELETE FROM {ENTRIES} WHERE seq = 306",
            f"TRUNCATE {ENTRIES}",
            "INSERT INTO warrantd_audit.meta VALUES ('x', 'y')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner"):
            conn.execute(f"DROP TRIGGER entries_append_only ON {ENTRIES}")
    assert verify_audit(log).ok


# --------------------------------------------------------------------------- migration


def test_copy_sqlite_to_postgres_and_back_keeps_every_row_and_hash(
    tmp_path: Path, pg_dsn: str
) -> None:
    build_log(tmp_path / "a.db", 300).close()
    original = read_rows(__import__("sqlite3").connect(tmp_path / "a.db"))
    there = copy_audit(tmp_path / "a.db", pg_dsn)
    assert there.copied == 300 and there.destination.rows == 300
    assert there.destination.head == there.source.head == original[-1][-1]
    assert pg_rows(pg_dsn) == original
    back = copy_audit(pg_dsn, tmp_path / "b.db")
    assert back.copied == 300
    assert read_rows(__import__("sqlite3").connect(tmp_path / "b.db")) == original
    # Both copies go on as logs: an append continues each chain.
    assert PostgresAuditSink(pg_dsn).append(decision(301)) == 301
    assert SQLiteAuditSink(tmp_path / "b.db").append(decision(301)) == 301
    assert verify_audit(pg_dsn).ok and verify_audit(tmp_path / "b.db").ok


def test_copy_picks_up_where_it_stopped_and_refuses_a_foreign_prefix(
    tmp_path: Path, pg_dsn: str
) -> None:
    sink = build_log(tmp_path / "a.db", 100)
    assert copy_audit(tmp_path / "a.db", pg_dsn).copied == 100
    sink.append_many([decision(101), approval(102)])
    again = copy_audit(tmp_path / "a.db", pg_dsn)
    assert again.copied == 2 and again.destination.rows == 102
    # A destination with rows of another log: nothing written.
    build_log(tmp_path / "other.db", 5)
    with pytest.raises(AuditLogError, match="not the first rows"):
        copy_audit(tmp_path / "other.db", pg_dsn)
    assert verify_audit(pg_dsn).rows == 102


def test_a_broken_source_is_not_copied(tmp_path: Path, pg_dsn: str) -> None:
    build_log(tmp_path / "a.db", 50).close()
    attacker(tmp_path / "a.db").execute("UPDATE entries SET verdict = 'ALLOW' WHERE seq = 17")
    with pytest.raises(AuditLogError, match=r"broken at row 17: edited: .*; not copied"):
        copy_audit(tmp_path / "a.db", pg_dsn)
    with pytest.raises(AuditLogError, match="not a warrantd audit log"):
        verify_audit(pg_dsn)  # not even created


# --------------------------------------------------------------------------- the kit


def test_load_audit_reads_a_dsn_as_it_reads_the_file(tmp_path: Path, pg_dsn: str) -> None:
    pd = pytest.importorskip("pandas")
    from warrantd.analytics import load_audit, load_traffic

    build_log(tmp_path / "a.db", 300).close()
    copy_audit(tmp_path / "a.db", pg_dsn)
    from_file, from_pg = load_audit(tmp_path / "a.db"), load_audit(pg_dsn)
    pd.testing.assert_frame_equal(from_file.decisions, from_pg.decisions)
    pd.testing.assert_frame_equal(from_file.approvals, from_pg.approvals)
    # 300 rows, approvals at the 42 multiples of 7.
    assert (len(from_pg.decisions), len(from_pg.approvals)) == (258, 42)
    assert from_pg.verification is not None and from_pg.verification.rows == 300
    traffic = load_traffic(pg_dsn)
    assert len(traffic) == 258 and traffic.attrs["source"] == pg_dsn
    # A broken PostgreSQL log is refused by the kit, naming the row.
    pg_attacker(pg_dsn).execute(f"UPDATE {ENTRIES} SET action = 'x' WHERE seq = 20")
    with pytest.raises(AuditLogError, match="broken at row 20: edited"):
        load_audit(pg_dsn)
    assert len(load_audit(pg_dsn, verify=False).decisions) == 258


# --------------------------------------------------------------------------- the command line


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warrantd.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_the_cli_verifies_checkpoints_and_copies_a_dsn(tmp_path: Path, pg_dsn: str) -> None:
    build_log(tmp_path / "a.db", 40).close()
    copied = run("audit", "copy", tmp_path / "a.db", pg_dsn)
    assert copied.returncode == 0, copied.stderr
    assert "copied 40 rows" in copied.stdout and "both intact, 40 rows" in copied.stdout
    out = run("audit", "verify", pg_dsn)
    assert out.returncode == 0 and "intact, 40 rows" in out.stdout
    cp = tmp_path / "pg.checkpoint.json"
    assert run("audit", "checkpoint", pg_dsn, "--out", cp).returncode == 0
    pg_attacker(pg_dsn).execute(f"DELETE FROM {ENTRIES} WHERE seq = 40")
    out = run("audit", "verify", pg_dsn, "--checkpoint", cp)
    assert out.returncode == 1 and "BROKEN at row 40: truncated" in out.stdout
    back = run("audit", "copy", pg_dsn, tmp_path / "back.db")
    assert back.returncode == 0 and "copied 39 rows" in back.stdout
    missing = run("audit", "verify", pg_dsn.rsplit("/", 1)[0] + "/no_such_database")
    assert missing.returncode == 2 and "cannot connect" in missing.stderr
    assert "Traceback" not in missing.stderr
