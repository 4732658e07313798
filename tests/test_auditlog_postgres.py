"""The PostgreSQL audit log against a real server (one per session, tests/pg_server.py).

What it stores and refuses, the same tamper matrix as the SQLite log (the attacker
is the database's superuser: triggers dropped first, then one change), a role with
INSERT and SELECT only running a gate, migration both ways with every hash kept,
the kit reading a DSN, and the command line. Expected rows and kinds are worked out
by hand as in tests/test_auditlog.py (row 150 is a decision; approvals sit at
multiples of 7).
"""

from __future__ import annotations

import asyncio
import json
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
    AuditSink,
    RiskTier,
    TrustLayer,
    TrustPolicy,
    Verdict,
)
from warrantd.auditlog import (  # noqa: E402
    COLUMNS,
    GENESIS,
    AuditLogError,
    Checkpoint,
    PostgresAuditSink,
    SQLiteAuditSink,
    copy_audit,
    verify_audit,
)
from warrantd.auditlog.chain import row_hash  # noqa: E402
from warrantd.auditlog.postgres import TRIGGERS, grant_appender  # noqa: E402
from warrantd.signals import ApprovalHistorySource  # noqa: E402

from .auditlog_helpers import approval, attacker, build_log, decision, read_rows  # noqa: E402
from .helpers import make_thresholds  # noqa: E402
from .test_auditlog import EDITS, MIDDLE  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ENTRIES = "warrantd_audit.entries"
SELECT = f"SELECT {', '.join(COLUMNS)} FROM {ENTRIES} ORDER BY seq"
PLACEHOLDERS = ", ".join(["%s"] * len(COLUMNS))


def build_pg_log(dsn: str, rows: int = 300) -> PostgresAuditSink:
    """The rows of tests/auditlog_helpers.build_log, in PostgreSQL."""
    sink = PostgresAuditSink(dsn)
    sink.append_many([approval(s) if s % 7 == 0 else decision(s) for s in range(1, rows + 1)])
    return sink


def pg_attacker(dsn: str) -> Any:
    """A superuser connection with the log's triggers dropped: what an owner can do."""
    conn = psycopg.connect(dsn, autocommit=True)
    for name in TRIGGERS:
        table = "meta" if name.startswith("meta") else "entries"
        conn.execute(f"DROP TRIGGER IF EXISTS {name} ON warrantd_audit.{table}")
    return conn


def pg_rows(dsn: str) -> list[list[object]]:
    with psycopg.connect(dsn) as conn:
        return [list(row) for row in conn.execute(SELECT).fetchall()]


def pg_rewrite_all(conn: Any, rows: list[list[object]]) -> None:
    """Replace the log's rows, renumbered and re-chained with the published algorithm."""
    prev = GENESIS
    fixed = []
    for seq, row in enumerate(rows, 1):
        hashed = [seq, *row[1:-2], prev]
        prev = row_hash(hashed)
        fixed.append((*hashed, prev))
    with conn.transaction():
        conn.execute(f"DELETE FROM {ENTRIES}")
        conn.cursor().executemany(f"INSERT INTO {ENTRIES} VALUES ({PLACEHOLDERS})", fixed)


@pytest.fixture
def log(pg_dsn: str) -> str:
    build_pg_log(pg_dsn, 300).close()
    return pg_dsn


# --------------------------------------------------------------------------- storing


def test_every_field_is_stored_as_given(pg_dsn: str) -> None:
    sink = PostgresAuditSink(pg_dsn)
    assert sink.append(decision(10)) == 1
    assert sink.append_approval(approval(6)) == 2
    first, second = (dict(zip(COLUMNS, row, strict=True)) for row in pg_rows(pg_dsn))
    assert first["kind"] == "decision" and first["action"] == "issue_refund"
    assert first["tenant_id"] == "tenant-2"
    assert first["value"] == "10.50"
    assert json.loads(str(first["params"])) == {"invoice": "INV-10", "note": "café"}
    assert (first["verdict"], first["state"]) == ("REQUIRE_APPROVAL", "SUPERVISED")
    assert (first["approved"], first["executed"], first["overridden"]) == (1, 1, None)
    assert first["error"] == "card declined"
    assert first["timestamp"] == "2026-03-01T09:10:00+00:00"
    assert first["prev_hash"] == GENESIS
    assert second["kind"] == "approval"
    assert (second["approved"], second["overridden"], second["failed"]) == (1, 1, 0)
    assert second["prev_hash"] == first["hash"]
    # The same encoding as the SQLite log: the stored hash is the hash of the stored values.
    assert first["hash"] == row_hash([first[c] for c in COLUMNS[:-1]])


def test_meta_synchronous_commit_and_schema_version(pg_dsn: str) -> None:
    sink = PostgresAuditSink(pg_dsn)
    conn = sink._connection()
    assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "on"
    meta = dict(conn.execute("SELECT key, value FROM warrantd_audit.meta").fetchall())
    assert meta["format"] == "warrantd-audit-log" and meta["schema_version"] == "1"


def test_update_delete_and_truncate_are_refused(log: str) -> None:
    with psycopg.connect(log, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="UPDATE refused on entries"):
            conn.execute(f"UPDATE {ENTRIES} SET action = 'x' WHERE seq = 3")
        with pytest.raises(psycopg.errors.RaiseException, match="DELETE refused on entries"):
            conn.execute(f"DELETE FROM {ENTRIES} WHERE seq = 300")
        with pytest.raises(psycopg.errors.RaiseException, match="TRUNCATE refused"):
            conn.execute(f"TRUNCATE {ENTRIES}")
        with pytest.raises(psycopg.errors.RaiseException, match="UPDATE refused on meta"):
            conn.execute("UPDATE warrantd_audit.meta SET value = '2'")
    assert verify_audit(log).ok


def test_an_insert_that_does_not_continue_the_chain_is_refused(log: str) -> None:
    row = pg_rows(log)[-1]
    with psycopg.connect(log, autocommit=True) as conn:
        forked = [299, *row[1:-2], "f" * 64, "e" * 64]  # a second row 299
        with pytest.raises(psycopg.errors.RaiseException, match="chain must continue"):
            conn.execute(f"INSERT INTO {ENTRIES} VALUES ({PLACEHOLDERS})", forked)
        wrong_link = [301, *row[1:-2], "f" * 64, "e" * 64]
        with pytest.raises(psycopg.errors.RaiseException, match="chain must continue"):
            conn.execute(f"INSERT INTO {ENTRIES} VALUES ({PLACEHOLDERS})", wrong_link)
    assert verify_audit(log).rows == 300


def test_checkpoint_records_for_and_the_audit_sink_method(pg_dsn: str) -> None:
    sink = PostgresAuditSink(pg_dsn)
    assert isinstance(sink, AuditSink) and isinstance(sink, ApprovalHistorySource)
    assert sink.checkpoint() == Checkpoint(0, GENESIS)
    asyncio.run(sink.record(decision(1)))
    asyncio.run(sink.record_approval(approval(2)))
    sink.append_many([approval(3, "open_ticket"), approval(4)])
    assert sink.checkpoint() == Checkpoint(4, str(pg_rows(pg_dsn)[-1][-1]))
    assert sink.records_for("issue_refund") == [approval(2), approval(4)]
    assert sink.records_for("open_ticket") == [approval(3, "open_ticket")]
    bare = ApprovalRecord("bare", approved=False)
    sink.append_approval(bare)
    assert sink.records_for("bare") == [bare]
    assert sink.verify().rows == 5


def test_a_failed_batch_appends_nothing(pg_dsn: str) -> None:
    sink = PostgresAuditSink(pg_dsn)
    sink.append(decision(1))
    with pytest.raises(TypeError):
        sink.append_many([decision(2), decision(3, key=object())])  # type: ignore[arg-type]
    assert sink.checkpoint().rows == 1
    assert sink.append(decision(4)) == 2  # the connection is usable after the failure
    assert verify_audit(pg_dsn).ok


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


def test_a_newer_schema_version_is_refused(log: str) -> None:
    pg_attacker(log).execute(
        "UPDATE warrantd_audit.meta SET value = '2' WHERE key = 'schema_version'"
    )
    with pytest.raises(AuditLogError, match="schema version '2'; this warrantd reads version 1"):
        verify_audit(log)
    with pytest.raises(AuditLogError, match="schema version"):
        PostgresAuditSink(log)


# --------------------------------------------------------------------------- tamper matrix


@pytest.mark.parametrize("column", list(EDITS))
def test_editing_any_column_of_a_middle_row_is_named(log: str, column: str) -> None:
    value, problem = EDITS[column]
    conn = pg_attacker(log)
    query = f"SELECT {column} FROM {ENTRIES} WHERE seq = %s"
    before = conn.execute(query, (MIDDLE,)).fetchone()[0]
    if column == "error":
        assert before == "card declined"
        value = "card accepted"
    assert before != value
    conn.execute(f"UPDATE {ENTRIES} SET {column} = %s WHERE seq = %s", (value, MIDDLE))
    conn.close()
    result = verify_audit(log)
    assert (result.problem, result.row) == (problem, MIDDLE), result.describe()
    assert result.rows == MIDDLE - 1


def test_editing_an_approval_row_is_named(log: str) -> None:
    pg_attacker(log).execute(f"UPDATE {ENTRIES} SET failed = 0 WHERE seq = 147")
    result = verify_audit(log)
    assert (result.problem, result.row) == ("edited", 147)


def test_a_column_type_change_is_named(log: str) -> None:
    # approved 1 becomes the text '1': same digits, another type, another encoding.
    # Row 1 is the first with a value there (decision(1) asks for approval).
    pg_attacker(log).execute(f"ALTER TABLE {ENTRIES} ALTER COLUMN approved TYPE TEXT")
    result = verify_audit(log)
    assert (result.problem, result.row) == ("edited", 1)


def test_deleting_middle_rows_is_named(log: str) -> None:
    pg_attacker(log).execute(f"DELETE FROM {ENTRIES} WHERE seq = %s", (MIDDLE,))
    result = verify_audit(log)
    assert (result.problem, result.row) == ("deleted", MIDDLE)
    assert "row 150 is missing" in result.reason
    pg_attacker(log).execute(f"DELETE FROM {ENTRIES} WHERE seq BETWEEN 151 AND 152")
    assert "rows 150-152 are missing" in verify_audit(log).reason


def test_deleting_the_newest_row_is_named_against_a_checkpoint(log: str) -> None:
    keep = verify_audit(log)
    pg_attacker(log).execute(f"DELETE FROM {ENTRIES} WHERE seq = 300")
    result = verify_audit(log, Checkpoint(keep.rows, keep.head))
    assert (result.problem, result.row) == ("truncated", 300)
    alone = verify_audit(log)
    assert alone.ok and alone.rows == 299
    assert any("no checkpoint" in note for note in alone.notes)


def test_swapping_two_rows_is_named(log: str) -> None:
    conn = pg_attacker(log)
    conn.execute(f"UPDATE {ENTRIES} SET seq = -1 WHERE seq = 150")
    conn.execute(f"UPDATE {ENTRIES} SET seq = 150 WHERE seq = 151")
    conn.execute(f"UPDATE {ENTRIES} SET seq = 151 WHERE seq = -1")
    result = verify_audit(log)
    assert (result.problem, result.row) == ("reordered", 150)
    assert "chains from row 151" in result.reason


def test_inserting_a_row_without_recomputing_the_rest_is_named(log: str) -> None:
    conn = pg_attacker(log)
    rows = pg_rows(log)
    forged = list(rows[MIDDLE - 1])
    forged[COLUMNS.index("verdict")] = "ALLOW"
    rows.insert(MIDDLE - 1, forged)
    pg_rewrite_all(conn, rows[:MIDDLE])
    for seq, row in enumerate(rows[MIDDLE:], MIDDLE + 1):
        conn.execute(f"INSERT INTO {ENTRIES} VALUES ({PLACEHOLDERS})", [seq, *row[1:]])
    result = verify_audit(log)
    assert (result.problem, result.row) == ("inserted", MIDDLE)


def test_a_forged_row_with_a_recomputed_chain_is_named_against_the_checkpoint(log: str) -> None:
    keep = verify_audit(log)
    conn = pg_attacker(log)
    rows = pg_rows(log)
    forged = list(rows[MIDDLE - 1])
    forged[COLUMNS.index("verdict")] = "ALLOW"
    rows.insert(MIDDLE - 1, forged)
    pg_rewrite_all(conn, rows)
    result = verify_audit(log, Checkpoint(keep.rows, keep.head))
    assert (result.problem, result.row) == ("rewritten", 300)
    assert verify_audit(log).ok


def test_an_edit_with_its_own_hash_recomputed_breaks_the_next_link(log: str) -> None:
    rows = pg_rows(log)
    edited = rows[MIDDLE - 1]
    edited[COLUMNS.index("action")] = "read_ledger"
    pg_attacker(log).execute(
        f"UPDATE {ENTRIES} SET action = %s, hash = %s WHERE seq = %s",
        ("read_ledger", row_hash(edited[:-1]), MIDDLE),
    )
    result = verify_audit(log)
    assert (result.problem, result.row) == ("unlinked", MIDDLE + 1)


def test_an_added_column_and_dropped_triggers(log: str) -> None:
    conn = pg_attacker(log)
    alone = verify_audit(log)
    assert alone.ok and any("triggers were dropped" in note for note in alone.notes)
    conn.execute(f"ALTER TABLE {ENTRIES} ADD COLUMN note TEXT")
    result = verify_audit(log)
    assert result.problem == "schema" and "columns added: note" in result.reason


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
