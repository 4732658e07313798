"""The audit log, in both backends: what it stores, what it refuses, every tamper it names.

The tests taking ``audit_backend`` run once on a SQLite file and once on a fresh
PostgreSQL database (tests/conftest.py; the PostgreSQL run skips, saying why, where no
server can be started); the rest are SQLite's own, and tests/test_auditlog_postgres.py
holds PostgreSQL's own. The tamper matrix plays an attacker holding the log (for
PostgreSQL, the database's superuser): the append-only triggers are dropped first, then
one thing is changed; verification must say it is broken, at which row and what kind of
break. Expected rows and kinds are worked out by hand from what each tamper does to the
rows around it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from warrantd import (
    ActionClass,
    ApprovalHistorySignal,
    ApprovalRecord,
    AuditSink,
    AutonomyState,
    EvalMetrics,
    RiskTier,
    TrustLayer,
    TrustPolicy,
    Verdict,
)
from warrantd.auditlog import (
    COLUMNS,
    GENESIS,
    SCHEMA_VERSION,
    AuditLogError,
    Checkpoint,
    SQLiteAuditSink,
    open_sink,
    read_checkpoint,
    verify_audit,
    write_checkpoint,
)
from warrantd.auditlog.chain import canonical_bytes, row_hash
from warrantd.errors import InputError
from warrantd.signals import ApprovalHistorySource

from .auditlog_helpers import (
    Backend,
    approval,
    attacker,
    build,
    build_log,
    decision,
    read_rows,
)
from .helpers import make_thresholds

MIDDLE = 150  # a decision row (approvals sit at multiples of 7: 147, 154)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    build_log(path, 300).close()
    return path


@pytest.fixture
def built(audit_backend: Backend) -> Backend:
    """A 300-row log (tests/auditlog_helpers.varied) in each backend."""
    build(audit_backend, 300).close()
    return audit_backend


# --------------------------------------------------------------------------- storing


def test_every_field_is_stored_as_given(audit_backend: Backend) -> None:
    sink = open_sink(audit_backend.source)
    assert sink.append(decision(10)) == 1
    assert sink.append_approval(approval(6)) == 2
    first, second = (dict(zip(COLUMNS, row, strict=True)) for row in audit_backend.rows())
    assert first["kind"] == "decision"
    assert first["action"] == "issue_refund"
    assert first["tenant_id"] == "tenant-2"
    assert first["value"] == "10.50"  # the exact decimal text
    assert json.loads(str(first["params"])) == {"invoice": "INV-10", "note": "café"}
    assert first["verdict"] == "REQUIRE_APPROVAL"  # the published value
    assert first["state"] == "SUPERVISED"
    assert first["reason"] == "reason 10"
    assert (first["approved"], first["executed"], first["overridden"]) == (1, 1, None)
    assert first["error"] == "card declined"
    assert first["idempotency_key"] == "key-000010"
    assert first["timestamp"] == "2026-03-01T09:10:00+00:00"
    assert first["prev_hash"] == GENESIS
    assert second["kind"] == "approval"
    assert (second["approved"], second["overridden"], second["failed"]) == (1, 1, 0)
    assert second["approver"] == "approver-0"
    assert second["prev_hash"] == first["hash"]
    assert second["verdict"] is None and second["tenant_id"] is None
    # One encoding in every backend: the stored hash is the hash of the stored values.
    assert first["hash"] == row_hash([first[c] for c in COLUMNS[:-1]])


def test_no_approval_step_is_stored_as_null(audit_backend: Backend) -> None:
    open_sink(audit_backend.source).append(decision(3))  # ALLOW: approved=None
    (row,) = audit_backend.rows()
    assert dict(zip(COLUMNS, row, strict=True))["approved"] is None


def test_the_canonical_encoding_is_ascii_json_with_types_kept() -> None:
    values: list[object] = [None] * (len(COLUMNS) - 1)
    values[0], values[4] = 1, "café"
    text = canonical_bytes(values).decode("ascii")
    assert text.startswith('["warrantd-audit-row/1",1,null,null,null,"caf\\u00e9",')
    # The integer 1 and the text "1" encode differently, so a type change is a change.
    other = list(values)
    other[0] = "1"
    assert canonical_bytes(other) != canonical_bytes(values)


def test_meta_wal_synchronous_full_and_schema_version(tmp_path: Path) -> None:
    sink = SQLiteAuditSink(tmp_path / "a.db")
    conn = sink._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    assert meta["format"] == "warrantd-audit-log"
    assert meta["schema_version"] == str(SCHEMA_VERSION) == "1"


def test_update_and_delete_are_refused(built: Backend) -> None:
    conn = built.connect()
    with pytest.raises(built.refusal, match="append-only: UPDATE refused"):
        conn.execute("UPDATE {entries} SET action = 'x' WHERE seq = 3")
    with pytest.raises(built.refusal, match="append-only: DELETE refused"):
        conn.execute("DELETE FROM {entries} WHERE seq = 300")
    with pytest.raises(built.refusal, match="append-only"):
        conn.execute("UPDATE {meta} SET value = '2' WHERE key = 'schema_version'")
    conn.close()
    assert verify_audit(built.source).ok


def test_an_insert_that_does_not_continue_the_chain_is_refused(built: Backend) -> None:
    row = built.rows()[-1]
    conn = built.connect()
    placeholders = ", ".join("?" * len(COLUMNS))
    forked = [299, *row[1:-2], "f" * 64, "e" * 64]  # a second row 299
    with pytest.raises(built.refusal, match="chain must continue"):
        conn.execute(f"INSERT INTO {{entries}} VALUES ({placeholders})", forked)
    wrong_link = [301, *row[1:-2], "f" * 64, "e" * 64]
    with pytest.raises(built.refusal, match="chain must continue"):
        conn.execute(f"INSERT INTO {{entries}} VALUES ({placeholders})", wrong_link)
    conn.close()
    assert verify_audit(built.source).rows == 300


def test_checkpoint_is_the_row_count_and_head(audit_backend: Backend) -> None:
    sink = open_sink(audit_backend.source)
    assert sink.checkpoint() == Checkpoint(0, GENESIS)
    sink.append_many([decision(1), approval(2)])
    rows, head = sink.checkpoint()
    assert (rows, head) == (2, audit_backend.rows()[-1][-1])
    assert sink.verify().rows == 2


def test_record_is_the_audit_sink_method(audit_backend: Backend) -> None:
    sink = open_sink(audit_backend.source)
    assert isinstance(sink, AuditSink)
    assert isinstance(sink, ApprovalHistorySource)
    asyncio.run(sink.record(decision(1)))
    asyncio.run(sink.record_approval(approval(2)))
    assert sink.checkpoint().rows == 2
    assert sink.records_for("issue_refund") == [approval(2)]


def test_records_for_reads_approvals_of_one_action_oldest_first(audit_backend: Backend) -> None:
    sink = open_sink(audit_backend.source)
    sink.append_many(
        [approval(1), decision(2), approval(3, "open_ticket"), approval(4), approval(5)]
    )
    assert sink.records_for("issue_refund") == [approval(1), approval(4), approval(5)]
    assert sink.records_for("open_ticket") == [approval(3, "open_ticket")]
    assert sink.records_for("nothing") == []
    # A record without a timestamp or approver reads back the same.
    bare = ApprovalRecord("bare", approved=False)
    sink.append_approval(bare)
    assert sink.records_for("bare") == [bare]


def test_a_live_gate_graduates_on_the_approvals_in_its_own_log(tmp_path: Path) -> None:
    """Bars 0.80 / 5 samples for SUPERVISED, window 5: four clean approvals are not
    enough, five are; one denial among the last five gives 4/5 = 0.80, still enough;
    a second gives 3/5 = 0.60 and MANUAL again."""
    sink = SQLiteAuditSink(tmp_path / "a.db")
    policy = TrustPolicy(
        actions={"refund": ActionClass("refund", RiskTier.REVERSIBLE_WRITE, Decimal("100"))},
        thresholds=make_thresholds(sup=(0.80, 0.70, 5), aut=(0.99, 0.90, 1000)),
    )
    gate = TrustLayer(policy, audit=sink, signals=[ApprovalHistorySignal(sink, window=5)])
    from warrantd import ActionRequest

    req = ActionRequest("refund", "acme", Decimal("50"))
    for _ in range(4):
        sink.append_approval(ApprovalRecord("refund", approved=True))
    assert gate.evaluate(req).autonomy_state is AutonomyState.MANUAL
    sink.append_approval(ApprovalRecord("refund", approved=True))
    assert gate.evaluate(req).verdict is Verdict.ALLOW
    sink.append_approval(ApprovalRecord("refund", approved=False))
    assert gate.evaluate(req).autonomy_state is AutonomyState.SUPERVISED
    sink.append_approval(ApprovalRecord("refund", approved=True, overridden=True))
    assert gate.evaluate(req).autonomy_state is AutonomyState.MANUAL
    assert ApprovalHistorySignal(sink, window=5).metrics_for("refund") == EvalMetrics(0.6, 0.0, 5)
    assert verify_audit(tmp_path / "a.db").ok


def test_threads_share_one_sink_and_one_chain(tmp_path: Path) -> None:
    sink = SQLiteAuditSink(tmp_path / "a.db")
    other = SQLiteAuditSink(tmp_path / "a.db")  # a second connection in the same process

    def write(target: SQLiteAuditSink, base: int) -> None:
        for i in range(100):
            target.append(decision(base + i, key=f"t{base}-{i}"))

    threads = [
        threading.Thread(target=write, args=(s, base))
        for s, base in ((sink, 0), (sink, 1000), (other, 2000), (other, 3000))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = verify_audit(tmp_path / "a.db")
    assert result.ok and result.rows == 400
    keys = [row[COLUMNS.index("idempotency_key")] for row in read_rows(sqlite3.connect(sink.path))]
    assert sorted(keys) == sorted(f"t{b}-{i}" for b in (0, 1000, 2000, 3000) for i in range(100))


def test_a_failed_batch_appends_nothing(audit_backend: Backend) -> None:
    sink = open_sink(audit_backend.source)
    sink.append(decision(1))
    with pytest.raises(TypeError):
        sink.append_many([decision(2), decision(3, key=object())])  # type: ignore[arg-type]
    assert sink.checkpoint().rows == 1
    assert sink.append(decision(4)) == 2  # the connection is usable after the failure
    assert verify_audit(audit_backend.source).ok


# --------------------------------------------------------------------------- refusing


def test_a_foreign_database_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ann')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(AuditLogError, match="not a warrantd audit log; refusing to write"):
        SQLiteAuditSink(path)
    assert path.read_bytes() == before
    with pytest.raises(AuditLogError, match="without its meta table"):
        verify_audit(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n" * 100)
    with pytest.raises(AuditLogError, match="not a warrantd audit log"):
        SQLiteAuditSink(path)
    assert path.read_text() == "my notes\n" * 100
    with pytest.raises(AuditLogError, match="not a warrantd audit log"):
        verify_audit(path)


def test_verify_says_what_a_file_that_is_no_database_is(tmp_path: Path) -> None:
    # Before: an empty file was "a SQLite database without its meta table" (SQLite reads
    # 0 bytes as an empty database), which it is not.
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(AuditLogError) as info:
        verify_audit(empty)
    assert str(info.value) == f"{empty}: not a warrantd audit log (an empty file)"
    text = tmp_path / "notes.csv"
    text.write_text("timestamp,action\n")
    with pytest.raises(AuditLogError) as info:
        verify_audit(text)
    assert str(info.value) == f"{text}: not a warrantd audit log (not a SQLite database)"
    assert empty.read_bytes() == b"" and text.read_text() == "timestamp,action\n"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(AuditLogError, match="no such file"):
        verify_audit(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()  # verification never creates a file
    with pytest.raises(AuditLogError, match="is a directory"):
        verify_audit(tmp_path)
    with pytest.raises(AuditLogError, match="is a directory"):
        SQLiteAuditSink(tmp_path)


def test_a_newer_schema_version_is_refused(built: Backend) -> None:
    built.attacker().execute("UPDATE {meta} SET value = '2' WHERE key = 'schema_version'")
    with pytest.raises(AuditLogError, match="schema version '2'; this warrantd reads version 1"):
        verify_audit(built.source)
    with pytest.raises(AuditLogError, match="schema version"):
        open_sink(built.source)


def test_errors_are_input_errors() -> None:
    assert issubclass(AuditLogError, InputError)


# --------------------------------------------------------------------------- tamper matrix

# Per column: the new value given to row 150 (a decision), and the break it must show.
EDITS: dict[str, tuple[object, str]] = {
    # seq 150 moved past the end: position 150 now holds seq 151, a gap.
    "seq": (100_000, "deleted"),
    "kind": ("approval", "edited"),
    "recorded_at": ("2020-01-01T00:00:00+00:00", "edited"),
    "timestamp": ("2026-03-01T09:00:00+00:00", "edited"),
    "action": ("read_ledger", "edited"),  # moving evidence to another class
    "tenant_id": ("tenant-9", "edited"),
    "value": ("15.50", "edited"),
    "params": ("{}", "edited"),
    "verdict": ("BLOCK", "edited"),  # relabelling a verdict (row 150 was ALLOW)
    "state": ("AUTONOMOUS", "edited"),
    "reason": ("", "edited"),
    "approved": (0, "edited"),
    "overridden": (1, "edited"),  # NULL on a decision: filling it is a change too
    "executed": (0, "edited"),
    "failed": (1, "edited"),
    "error": ("card declined", "edited"),  # row 150 had an error: 150 % 5 == 0
    "idempotency_key": ("key-000149", "edited"),
    "approver": ("mallory", "edited"),
    # A link pointing nowhere: the row does not chain from row 149.
    "prev_hash": ("a" * 64, "unlinked"),
    # Values intact, hash changed: the values no longer match it.
    "hash": ("b" * 64, "edited"),
}


def test_the_matrix_covers_every_stored_column() -> None:
    assert set(EDITS) == set(COLUMNS)


@pytest.mark.parametrize("column", list(EDITS))
def test_editing_any_column_of_a_middle_row_is_named(built: Backend, column: str) -> None:
    value, problem = EDITS[column]
    conn = built.attacker()
    before = conn.execute("SELECT " + column + " FROM {entries} WHERE seq = ?", (MIDDLE,))
    before = before.fetchone()[0]
    if column == "error":
        assert before == "card declined"  # then change it otherwise
        value = "card accepted"
    assert before != value
    conn.execute("UPDATE {entries} SET " + column + " = ? WHERE seq = ?", (value, MIDDLE))
    conn.close()
    result = verify_audit(built.source)
    assert not result.ok
    assert (result.problem, result.row) == (problem, MIDDLE), result.describe()
    assert result.rows == MIDDLE - 1  # rows verified before the break


def test_editing_an_approval_row_is_named(built: Backend) -> None:
    # Relabel a denial (row 147: 147 % 4 == 3, an approved record that failed) as clean.
    built.attacker().execute("UPDATE {entries} SET failed = 0 WHERE seq = 147")
    result = verify_audit(built.source)
    assert (result.problem, result.row) == ("edited", 147)


def test_a_type_change_with_the_same_bytes_is_named(log: Path) -> None:
    conn = attacker(log)
    conn.execute("UPDATE entries SET value = CAST('150.50' AS BLOB) WHERE seq = ?", (MIDDLE,))
    conn.close()
    result = verify_audit(log)
    assert (result.problem, result.row) == ("edited", MIDDLE)


def test_text_that_is_not_utf8_is_named(log: Path) -> None:
    conn = attacker(log)
    conn.execute("UPDATE entries SET action = CAST(X'FF69' AS TEXT) WHERE seq = ?", (MIDDLE,))
    conn.close()
    result = verify_audit(log)
    assert (result.problem, result.row) == ("edited", MIDDLE)
    assert "cannot be read back" in result.reason


def test_deleting_a_middle_row_is_named(built: Backend) -> None:
    built.attacker().execute("DELETE FROM {entries} WHERE seq = ?", (MIDDLE,))
    result = verify_audit(built.source)
    assert (result.problem, result.row) == ("deleted", MIDDLE)
    assert "row 150 is missing" in result.reason


def test_deleting_several_middle_rows_names_the_range(built: Backend) -> None:
    built.attacker().execute("DELETE FROM {entries} WHERE seq BETWEEN 150 AND 152")
    result = verify_audit(built.source)
    assert (result.problem, result.row) == ("deleted", 150)
    assert "rows 150-152 are missing" in result.reason


def test_deleting_the_newest_row_is_named_against_a_checkpoint(built: Backend) -> None:
    keep = verify_audit(built.source)
    checkpoint = Checkpoint(keep.rows, keep.head)
    built.attacker().execute("DELETE FROM {entries} WHERE seq = 300")
    result = verify_audit(built.source, checkpoint)
    assert (result.problem, result.row) == ("truncated", 300)
    assert "holds 299 rows, the checkpoint 300: row 300 was removed" in result.reason
    # Without the checkpoint, nothing in the log can show it, and the result says so.
    alone = verify_audit(built.source)
    assert alone.ok and alone.rows == 299
    assert any("no checkpoint" in note for note in alone.notes)


def test_swapping_two_rows_is_named(built: Backend) -> None:
    conn = built.attacker()
    conn.execute("UPDATE {entries} SET seq = -1 WHERE seq = 150")
    conn.execute("UPDATE {entries} SET seq = 150 WHERE seq = 151")
    conn.execute("UPDATE {entries} SET seq = 151 WHERE seq = -1")
    conn.close()
    result = verify_audit(built.source)
    # Position 150 holds the old row 151, whose link points at the old row 150, now at 151.
    assert (result.problem, result.row) == ("reordered", 150)
    assert "chains from row 151" in result.reason


def test_inserting_a_row_without_recomputing_the_rest_is_named(built: Backend) -> None:
    rows = built.rows()
    conn = built.attacker()
    forged = list(rows[MIDDLE - 1])
    forged[COLUMNS.index("verdict")] = "ALLOW"
    # Insert at position 150, chained properly from 149; rows after it keep their links.
    rows.insert(MIDDLE - 1, forged)
    conn.rewrite_all(rows[:MIDDLE])
    placeholders = ", ".join("?" * len(COLUMNS))
    for seq, row in enumerate(rows[MIDDLE:], MIDDLE + 1):
        conn.execute(f"INSERT INTO {{entries}} VALUES ({placeholders})", [seq, *row[1:]])
    conn.close()
    result = verify_audit(built.source)
    # Position 151 holds the old row 150, whose link points at row 149: row 150 was inserted.
    assert (result.problem, result.row) == ("inserted", MIDDLE)
    assert "1 row(s) before it were inserted" in result.reason


def test_a_forged_row_with_a_recomputed_chain_is_named_against_the_checkpoint(
    built: Backend,
) -> None:
    keep = verify_audit(built.source)
    checkpoint = Checkpoint(keep.rows, keep.head)
    rows = built.rows()
    forged = list(rows[MIDDLE - 1])
    forged[COLUMNS.index("verdict")] = "ALLOW"
    rows.insert(MIDDLE - 1, forged)
    conn = built.attacker()
    conn.rewrite_all(rows)
    conn.close()
    result = verify_audit(built.source, checkpoint)
    assert (result.problem, result.row) == ("rewritten", 300)
    # The chain alone is consistent: that is exactly what a checkpoint is for.
    assert verify_audit(built.source).ok


def test_an_edit_with_its_own_hash_recomputed_breaks_the_next_link(built: Backend) -> None:
    rows = built.rows()
    edited = rows[MIDDLE - 1]
    edited[COLUMNS.index("action")] = "read_ledger"
    built.attacker().execute(
        "UPDATE {entries} SET action = ?, hash = ? WHERE seq = ?",
        ("read_ledger", row_hash(edited[:-1]), MIDDLE),
    )
    result = verify_audit(built.source)
    assert (result.problem, result.row) == ("unlinked", MIDDLE + 1)


def test_an_added_column_is_named(built: Backend) -> None:
    built.attacker().execute("ALTER TABLE {entries} ADD COLUMN note TEXT")
    result = verify_audit(built.source)
    assert result.problem == "schema" and result.row is None
    assert "columns added: note" in result.reason


def test_dropped_triggers_alone_leave_the_chain_intact_with_a_note(built: Backend) -> None:
    built.attacker().close()
    result = verify_audit(built.source)
    assert result.ok
    assert any("triggers were dropped" in note for note in result.notes)


def test_an_intact_log_and_its_checkpoint(built: Backend) -> None:
    sink = open_sink(built.source)
    checkpoint = sink.checkpoint()
    sink.append(decision(301))  # appends after the checkpoint are fine
    result = verify_audit(built.source, checkpoint)
    assert result.ok and result.rows == 301 and result.notes == ()
    assert "intact, 301 rows" in result.describe()


# --------------------------------------------------------------------------- checkpoint files


def test_checkpoint_files_round_trip(tmp_path: Path, log: Path) -> None:
    checkpoint = SQLiteAuditSink(log).checkpoint()
    path = write_checkpoint(checkpoint, tmp_path / "cp.json")
    assert read_checkpoint(path) == checkpoint
    assert verify_audit(log, path).ok


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ('{"rows": 1, "head": "' + "0" * 64 + '"}', "no 'format'"),
        ('{"format": "warrantd-audit-checkpoint", "rows": -1, "head": ""}', "'rows': -1"),
        ('{"format": "warrantd-audit-checkpoint", "rows": 1, "head": "xyz"}', "'head': 'xyz'"),
    ],
)
def test_bad_checkpoint_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cp.json"
    path.write_text(text)
    with pytest.raises(AuditLogError, match=message):
        read_checkpoint(path)


def test_missing_checkpoint_file(tmp_path: Path, log: Path) -> None:
    with pytest.raises(AuditLogError, match="no such checkpoint file"):
        verify_audit(log, tmp_path / "nope.json")


def test_timestamps_keep_their_offset(tmp_path: Path) -> None:
    sink = SQLiteAuditSink(tmp_path / "a.db")
    record = ApprovalRecord("x", True, timestamp=datetime(2026, 1, 1, 12, tzinfo=timezone.utc))
    sink.append_approval(record)
    assert sink.records_for("x")[0].timestamp == record.timestamp


def test_the_audited_gate_example_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[1] / "examples" / "audited_gate.py"
    out = subprocess.run(
        [sys.executable, str(example), str(tmp_path / "audit.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    # Seeded: 20 approvals while MANUAL (and one BLOCK above hard_cap), then SUPERVISED.
    assert "issue_refund became SUPERVISED at request 21" in out.stdout
    assert "intact, 283 rows" in out.stdout and "matches the checkpoint" in out.stdout
    assert verify_audit(tmp_path / "audit.db", tmp_path / "audit.checkpoint.json").ok
    again = subprocess.run(
        [sys.executable, str(example), str(tmp_path / "audit.db")], capture_output=True, text=True
    )
    assert again.returncode == 1 and "exists" in again.stderr
