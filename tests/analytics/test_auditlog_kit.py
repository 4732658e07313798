"""The kit reads the gate's audit log back (load_audit) and approvals from files
(load_approvals), in the schemas the kit replays."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from warrantd import (
    ActionRequest,
    ApprovalHistorySignal,
    ApprovalRecord,
    AuditEntry,
    AutonomyState,
    Decision,
    EvalMetrics,
    Verdict,
)
from warrantd.analytics import (
    APPROVAL_COLUMNS,
    DECISION_COLUMNS,
    ApprovalsError,
    approval_history,
    load_approvals,
    load_audit,
)
from warrantd.auditlog import AuditLogError, SQLiteAuditSink

from ..auditlog_helpers import approval, attacker, build_log

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def entry(
    minutes: int,
    action: str,
    verdict: Verdict,
    value: str | None,
    approved: bool | None = None,
    executed: bool = True,
    error: str | None = None,
    tenant: str = "acme",
) -> AuditEntry:
    return AuditEntry(
        ActionRequest(action, tenant, None if value is None else Decimal(value)),
        Decision(verdict, AutonomyState.SUPERVISED, "why"),
        approved,
        executed,
        f"k{minutes}",
        T0 + timedelta(minutes=minutes),
        error,
    )


@pytest.fixture
def small_log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    sink = SQLiteAuditSink(path)
    sink.append(entry(10, "issue_refund", Verdict.REQUIRE_APPROVAL, "250.00", approved=True))
    sink.append_approval(ApprovalRecord("issue_refund", True, timestamp=T0, approver="ann"))
    sink.append(entry(5, "read_ledger", Verdict.ALLOW, None))  # earlier in time, later in the log
    sink.append(entry(20, "issue_refund", Verdict.BLOCK, "1E+4", executed=False, error="capped"))
    sink.append_approval(ApprovalRecord("issue_refund", False))  # no timestamp of its own
    sink.close()
    return path


def test_the_decision_log_in_the_traffic_schema(small_log: Path) -> None:
    frames = load_audit(small_log)
    d = frames.decisions
    assert list(d.columns[: len(DECISION_COLUMNS)]) == DECISION_COLUMNS
    assert str(d["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert d["value"].dtype == "float64"
    # Sorted by time: the read_ledger decision (minute 5) comes first.
    assert list(d["action"]) == ["read_ledger", "issue_refund", "issue_refund"]
    assert list(d["seq"]) == [3, 1, 4]
    assert list(d["timestamp"]) == [T0 + timedelta(minutes=m) for m in (5, 10, 20)]
    assert math.isnan(d["value"].iloc[0]) and pd.isna(d["value_text"].iloc[0])
    assert list(d["value"].iloc[1:]) == [250.0, 10_000.0]
    assert list(d["value_text"].iloc[1:]) == ["250.00", "1E+4"]  # exactly as the request had it
    assert list(d["verdict"]) == ["ALLOW", "REQUIRE_APPROVAL", "BLOCK"]
    assert list(d["state"]) == ["SUPERVISED"] * 3
    assert d["approved"].dtype == "boolean"
    approved = d["approved"].tolist()
    assert pd.isna(approved[0]) and approved[1] is True and pd.isna(approved[2])
    assert list(d["executed"]) == [True, True, False]
    assert pd.isna(d["error"].iloc[0]) and d["error"].iloc[2] == "capped"
    assert list(d["tenant_id"]) == ["acme"] * 3
    assert frames.verification is not None and frames.verification.rows == 5


def test_the_approvals_in_their_schema(small_log: Path) -> None:
    a = load_audit(small_log).approvals
    assert list(a.columns[: len(APPROVAL_COLUMNS)]) == APPROVAL_COLUMNS
    assert list(a["seq"]) == [2, 5]
    assert a["timestamp"].iloc[0] == T0
    # No timestamp of its own: the time the log stored it.
    assert a["timestamp"].iloc[1] == a["recorded_at"].iloc[1]
    assert list(a["approved"]) == [True, False]
    assert list(a["overridden"]) == [False, False] and list(a["error"]) == [False, False]
    assert a["approver"].iloc[0] == "ann" and pd.isna(a["approver"].iloc[1])


def test_a_broken_log_is_refused_unless_asked(small_log: Path) -> None:
    attacker(small_log).execute("UPDATE entries SET verdict = 'ALLOW' WHERE seq = 4")
    with pytest.raises(AuditLogError, match="broken at row 4: edited"):
        load_audit(small_log)
    frames = load_audit(small_log, verify=False)
    assert frames.verification is None
    assert list(frames.decisions["verdict"]) == ["ALLOW", "REQUIRE_APPROVAL", "ALLOW"]


def test_naive_timestamps_are_utc(tmp_path: Path) -> None:
    sink = SQLiteAuditSink(tmp_path / "a.db")
    naive = datetime(2026, 3, 1, 9, 0)
    sink.append(
        AuditEntry(
            ActionRequest("x", "t"),
            Decision(Verdict.ALLOW, AutonomyState.MANUAL, ""),
            None,
            True,
            "k",
            naive,
        )
    )
    paris = timezone(timedelta(hours=1))
    sink.append_approval(
        ApprovalRecord("x", True, timestamp=datetime(2026, 3, 1, 11, 0, tzinfo=paris))
    )
    frames = load_audit(tmp_path / "a.db")
    assert frames.decisions["timestamp"].iloc[0] == pd.Timestamp("2026-03-01 09:00", tz="UTC")
    assert frames.approvals["timestamp"].iloc[0] == pd.Timestamp("2026-03-01 10:00", tz="UTC")


def test_an_empty_log(tmp_path: Path) -> None:
    SQLiteAuditSink(tmp_path / "a.db").close()
    frames = load_audit(tmp_path / "a.db")
    assert len(frames.decisions) == 0 and list(frames.decisions.columns[:10]) == DECISION_COLUMNS
    assert len(frames.approvals) == 0


def test_approvals_from_the_log_feed_the_same_signal(tmp_path: Path) -> None:
    sink = build_log(tmp_path / "a.db", 120)
    table = load_audit(tmp_path / "a.db").approvals
    from_table = ApprovalHistorySignal(approval_history(table), window=10)
    live = ApprovalHistorySignal(sink, window=10)
    # 17 approvals at seq 7, 14, ..., 119; the last 10 are i = 56..119 step 7.
    # approval(i): clean when i % 4 == 0 (i % 4 == 1 denied, 2 overridden, 3 failed).
    clean = sum(1 for i in range(56, 120, 7) if i % 4 == 0)
    assert clean == 3  # 56, 84, 112
    assert live.metrics_for("issue_refund") == EvalMetrics(0.3, 0.0, 10)
    assert from_table.metrics_for("issue_refund") == EvalMetrics(0.3, 0.0, 10)
    assert approval_history(table).records_for("issue_refund")[-1] == approval(119)


# --------------------------------------------------------------------------- load_approvals


def test_load_approvals_with_outcomes(tmp_path: Path) -> None:
    path = tmp_path / "approvals.csv"
    path.write_text(
        "timestamp,action,outcome,approver,ticket\n"
        "2026-03-02T10:00:00Z,issue_refund,approved,ann,T-1\n"
        "2026-03-01T10:00:00Z,issue_refund,Denied,bob,T-2\n"
        "2026-03-03T10:00:00Z,issue_refund,overridden,,T-3\n"
        "2026-03-04T10:00:00Z,cancel,FAILED,ann,T-4\n"
    )
    a = load_approvals(path)
    assert list(a.columns) == [*APPROVAL_COLUMNS, "ticket"]
    assert list(a["ticket"]) == ["T-2", "T-1", "T-3", "T-4"]  # sorted by time
    assert list(a["approved"]) == [False, True, True, True]
    assert list(a["overridden"]) == [False, False, True, False]
    assert list(a["error"]) == [False, False, False, True]
    assert a["approver"].iloc[0] == "bob" and pd.isna(a["approver"].iloc[2])
    assert a["timestamp"].iloc[0] == pd.Timestamp("2026-03-01 10:00", tz="UTC")


def test_load_approvals_with_flags_and_a_column_map(tmp_path: Path) -> None:
    path = tmp_path / "approvals.jsonl"
    path.write_text(
        '{"when": "2026-03-01T10:00:00Z", "tool": "x", "approved": true, "error": false}\n'
        '{"when": "2026-03-02T10:00:00Z", "tool": "x", "approved": "no", "error": "yes"}\n'
    )
    a = load_approvals(path, column_map={"when": "timestamp", "tool": "action"})
    assert list(a["approved"]) == [True, False]
    assert list(a["error"]) == [False, True]
    assert list(a["overridden"]) == [False, False]


def test_load_approvals_names_file_row_column_and_value(tmp_path: Path) -> None:
    path = tmp_path / "approvals.csv"
    path.write_text(
        "timestamp,action,outcome\n"
        "2026-03-01T10:00:00Z,x,approved\n"
        "2026-03-01T10:00:00Z,x,maybe\n"
        "yesterday,x,approved\n"
    )
    with pytest.raises(ApprovalsError) as caught:
        load_approvals(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: 2 problems: ")
    assert "row 2, column 'outcome': 'maybe': not an outcome" in message
    assert "row 3, column 'timestamp': 'yesterday': not a timestamp" in message


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("timestamp,action\n2026-03-01,x\n", "missing required column(s) outcome"),
        ("timestamp,action,outcome,approved\n2026-03-01,x,approved,1\n", "use one form"),
        ("timestamp,action,outcome\n", "no rows"),
    ],
)
def test_load_approvals_structural_errors(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "approvals.csv"
    path.write_text(text)
    with pytest.raises(ApprovalsError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_approvals(path)


def test_a_file_of_the_logs_approvals_loads_the_same(tmp_path: Path) -> None:
    build_log(tmp_path / "a.db", 60).close()
    from_log = load_audit(tmp_path / "a.db").approvals[APPROVAL_COLUMNS]
    written = from_log.copy()
    written["timestamp"] = written["timestamp"].astype(str)
    written.to_csv(tmp_path / "approvals.csv", index=False)
    from_file = load_approvals(tmp_path / "approvals.csv")
    pd.testing.assert_frame_equal(from_file, from_log, check_dtype=False)
