"""Decision-accurate replay: every replayed verdict is the live gate's.

The scalar truth is :meth:`warrantd.TrustLayer.evaluate` fed, for each request,
a :class:`~warrantd.analytics.HistoryMetrics` of the evidence strictly before the
request's time. The hand-worked tests pin each step of the decision flow; the
differential test compares every request of random histories, policies and
traffic (values on and around both caps, READ and CONSEQUENTIAL classes,
requests tied in time with evidence, requests between cases and after the last
one, time and case-count windows).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from warrantd import (
    ActionClass,
    ActionRequest,
    AutonomyState,
    EvalMetrics,
    RiskTier,
    TrustLayer,
    TrustPolicy,
)
from warrantd.analytics import HistoryMetrics, load_history, load_traffic
from warrantd.analytics.replay import replay
from warrantd.analytics.sweep import sweep

from ..helpers import make_thresholds

M, S, A = AutonomyState.MANUAL, AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
DAY = pd.Timedelta(days=1)
T0 = pd.Timestamp("2026-01-01", tz="UTC")


class _NoAudit:
    async def record(self, entry: object) -> None:  # pragma: no cover - never called
        pass


class _Zero:
    def metrics_for(self, action: str) -> EvalMetrics:
        return EvalMetrics(0.0, 0.0, 0)


def at(days: float) -> pd.Timestamp:
    return T0 + days * DAY


def cases(action: str, day: float, passed: list[bool], adversarial: bool = False) -> list[dict]:
    return [
        {"timestamp": at(day), "action": action, "passed": p, "adversarial": adversarial}
        for p in passed
    ]


def requests(rows: list[tuple[float, str, str | None]]) -> pd.DataFrame:
    return load_traffic(
        pd.DataFrame(
            {
                "timestamp": [at(d) for d, _, _ in rows],
                "action": [a for _, a, _ in rows],
                "value": [v for _, _, v in rows],
            }
        )
    )


# One bar: 0.9 pass rate over at least 5 cases for SUPERVISED (adversarial bar 0), and
# 0.99 over 10 for AUTONOMOUS.
BARS = make_thresholds((0.9, 0.0, 5), (0.99, 0.0, 10))


def policy(*classes: ActionClass) -> TrustPolicy:
    return TrustPolicy({c.name: c for c in classes}, BARS)


REFUND = ActionClass("refund", RiskTier.REVERSIBLE_WRITE, Decimal("100"), Decimal("1000"))
LEDGER = ActionClass("ledger", RiskTier.READ)
CANCEL = ActionClass("cancel", RiskTier.CONSEQUENTIAL, Decimal("0"), Decimal("500"), S)


def test_a_read_class_in_manual_is_allowed_and_costs_no_approval() -> None:
    history = load_history(pd.DataFrame(cases("ledger", 0, [False] * 3)))
    traffic = requests([(1, "ledger", None), (2, "ledger", "5000")])
    r = replay(history, policy(LEDGER), traffic=traffic)
    d = r.decisions
    assert d["state_in_force"].tolist() == ["MANUAL", "MANUAL"]
    assert d["verdict"].tolist() == ["ALLOW", "ALLOW"]
    assert d["reason_code"].tolist() == ["read", "read"]
    row = r.summary.iloc[0]
    assert (row["requests"], row["allowed"], row["approval_burden"]) == (2, 2, 0)
    # READ failures are let through in every state: all three eval failures.
    assert row["failures_let_through"] == 3 and row["failures_while_supervised_or_above"] == 0


def test_values_exactly_at_the_caps_are_within_them() -> None:
    # Five passes on day 0: SUPERVISED from day 0 on (not AUTONOMOUS: 5 < 10 cases).
    history = load_history(pd.DataFrame(cases("refund", 0, [True] * 5)))
    traffic = requests(
        [
            (1, "refund", "100"),  # at auto_cap: allowed in SUPERVISED
            (1, "refund", "100.00"),  # the same amount written otherwise
            (1, "refund", "100.000000000000000001"),  # a float says 100; the decimal is above
            (1, "refund", "100.01"),  # above auto_cap: approval
            (1, "refund", "1000"),  # at hard_cap: not blocked, but above auto_cap
            (1, "refund", "1000.5"),  # above hard_cap: blocked
            (1, "refund", None),  # no value: allowed in SUPERVISED
        ]
    )
    d = replay(history, policy(REFUND), traffic=traffic).decisions
    assert set(d["state_in_force"]) == {"SUPERVISED"}
    assert d["verdict"].tolist() == [
        "ALLOW",
        "ALLOW",
        "REQUIRE_APPROVAL",
        "REQUIRE_APPROVAL",
        "REQUIRE_APPROVAL",
        "BLOCK",
        "ALLOW",
    ]
    assert d["reason_code"].tolist()[2:6] == [
        "supervised_over_auto_cap",
        "supervised_over_auto_cap",
        "supervised_over_auto_cap",
        "hard_cap",
    ]


def test_a_request_tied_in_time_with_evidence_is_decided_without_it() -> None:
    # Four passes on day 0, the fifth on day 1: SUPERVISED is earned *at* day 1, so a
    # request at day 1 exactly is still MANUAL (a case never grades requests at its
    # own instant), and one a second later is SUPERVISED.
    history = load_history(
        pd.DataFrame(cases("refund", 0, [True] * 4) + cases("refund", 1, [True]))
    )
    second = 1 / 86_400
    traffic = requests([(1, "refund", "50"), (1 + second, "refund", "50"), (-1, "refund", "50")])
    r = replay(history, policy(REFUND), traffic=traffic)
    assert r.decisions["state_in_force"].tolist() == ["MANUAL", "MANUAL", "SUPERVISED"]
    assert r.decisions["verdict"].tolist() == ["REQUIRE_APPROVAL", "REQUIRE_APPROVAL", "ALLOW"]
    assert r.summary.iloc[0]["approval_burden"] == 2


def test_expiry_between_cases_changes_the_verdicts_of_requests() -> None:
    # The expiry example of the issue: 5 failures on day 0, 10 passes on day 10, 1 pass
    # on day 60, window 30D, bars 0.9 / 5 (the class capped at SUPERVISED). In force:
    # MANUAL until day 30 (10/15 < 0.9); at day 30 the window (0, 30) no longer holds
    # day 0, so SUPERVISED from day 30 on, until day 40, when (10, 40) holds nothing.
    history = load_history(
        pd.DataFrame(
            cases("refund", 0, [False] * 5)
            + cases("refund", 10, [True] * 10)
            + cases("refund", 60, [True])
        )
    )
    traffic = requests([(d, "refund", None) for d in (29.5, 30, 30.5, 39.9, 40, 45, 70)])
    capped = ActionClass("refund", RiskTier.REVERSIBLE_WRITE, max_state=S)
    r = replay(history, policy(capped), traffic=traffic, window="30D")
    assert r.decisions["state_in_force"].tolist() == [
        "MANUAL",  # (-0.5, 29.5): 10 of 15
        "SUPERVISED",  # (0, 30): the failures of day 0 have left
        "SUPERVISED",
        "SUPERVISED",
        "MANUAL",  # (10, 40) holds nothing
        "MANUAL",
        "MANUAL",  # (40, 70): 1 case, below min_samples
    ]
    moves = r.transitions[["time", "from", "to", "cause"]]
    assert [(t.day, f, to, c) for t, f, to, c in moves.itertuples(index=False)] == [
        (31, "MANUAL", "SUPERVISED", "expiry"),  # day 30 is 31 January
        (10, "SUPERVISED", "MANUAL", "expiry"),  # day 40 is 10 February
    ]


def test_traffic_after_the_last_case_sees_evidence_expire() -> None:
    # 10 passes on day 0, window 30D: SUPERVISED until day 30, MANUAL after, although
    # the history's last case is on day 0: the timeline runs to the last request.
    history = load_history(pd.DataFrame(cases("refund", 0, [True] * 10)))
    traffic = requests([(20, "refund", "5"), (31, "refund", "5")])
    r = replay(history, policy(REFUND), traffic=traffic, window="30D")
    assert r.decisions["verdict"].tolist() == ["ALLOW", "REQUIRE_APPROVAL"]


def test_cancel_in_supervised_needs_approval_for_any_positive_value() -> None:
    history = load_history(pd.DataFrame(cases("cancel", 0, [True] * 20)))
    traffic = requests([(1, "cancel", "0"), (1, "cancel", "0.01"), (1, "cancel", "600")])
    r = replay(history, policy(CANCEL), traffic=traffic)
    assert r.decisions["state_in_force"].tolist() == ["SUPERVISED"] * 3  # max_state caps it
    assert r.decisions["verdict"].tolist() == ["ALLOW", "REQUIRE_APPROVAL", "BLOCK"]
    row = r.summary.iloc[0]
    assert (row["allowed"], row["approval_burden"], row["blocked"]) == (1, 1, 1)


def test_a_class_without_evidence_asks_for_approval_on_every_request() -> None:
    history = load_history(pd.DataFrame(cases("refund", 0, [True] * 10)))
    traffic = requests([(1, "cancel", "0"), (2, "cancel", "700"), (3, "ledger", None)])
    r = replay(history, policy(REFUND, CANCEL, LEDGER), traffic=traffic)
    s = r.summary.set_index("action")
    assert bool(s.loc["cancel", "no_evidence"])
    assert (s.loc["cancel", "approval_burden"], s.loc["cancel", "blocked"]) == (1, 1)
    assert s.loc["ledger", "allowed"] == 1
    assert r.decisions["verdict"].tolist() == ["REQUIRE_APPROVAL", "BLOCK", "ALLOW"]


def test_without_traffic_the_eval_cases_stand_in_and_say_so() -> None:
    history = load_history(
        pd.DataFrame(cases("refund", 0, [True] * 5) + cases("refund", 1, [True, False]))
    )
    r = replay(history, policy(REFUND))
    assert r.stand_in
    d = r.decisions
    assert d["requests"].tolist() == [5, 2]  # one row per history moment, its cases
    assert d["verdict"].tolist() == ["REQUIRE_APPROVAL", "ALLOW"]
    row = r.summary.iloc[0]
    assert (row["requests"], row["approval_burden"], row["failures_let_through"]) == (7, 5, 1)


def test_a_decision_log_says_what_the_policy_would_have_changed() -> None:
    history = load_history(pd.DataFrame(cases("refund", 0, [True] * 5)))
    log = load_traffic(
        pd.DataFrame(
            {
                "timestamp": [at(1), at(1), at(1), at(2)],
                "action": ["refund"] * 4,
                "value": ["50", "50", "500", "2000"],
                "verdict": ["REQUIRE_APPROVAL", "ALLOW", "allow", "BLOCK"],
            }
        )
    )
    gated = replay(history, policy(REFUND), traffic=log).would_have_gated
    assert gated[["action", "actual", "replayed", "requests", "of_actual"]].values.tolist() == [
        ["refund", "ALLOW", "REQUIRE_APPROVAL", 1, 2],
        ["refund", "REQUIRE_APPROVAL", "ALLOW", 1, 1],
    ]
    assert gated["sentence"].tolist() == [
        "would have required approval for 1 of 2 requests that were allowed",
        "would have allowed 1 of 1 requests that were sent for approval",
    ]


def test_summary_counts_are_the_counts_of_the_decisions() -> None:
    rng = np.random.default_rng(5)
    history, pol, traffic, window = _random_case(rng)
    r = replay(history, pol, traffic=traffic, window=window)
    d = r.decisions
    for action, row in r.summary.set_index("action").iterrows():
        mine = d[d["action"] == action]
        assert row["requests"] == len(mine)
        for verdict, figure in (
            ("ALLOW", "allowed"),
            ("REQUIRE_APPROVAL", "approval_burden"),
            ("BLOCK", "blocked"),
        ):
            assert row[figure] == (mine["verdict"] == verdict).sum(), (action, figure)


# --------------------------------------------------------------------------- differential

# 100 random cases in `make test` (about 600 compared requests), 3,000 under WARRANTD_THOROUGH=1.
CASES = 3000 if os.environ.get("WARRANTD_THOROUGH") else 100
_VALUES = ["0", "0.01", "49.99", "50", "50.00", "50.01", "99", "100", "100.5", "250", "1000"]


def _random_case(
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, TrustPolicy, pd.DataFrame, Any]:
    n_classes = int(rng.integers(1, 4))
    classes = []
    for i in range(n_classes):
        risk = [RiskTier.READ, RiskTier.REVERSIBLE_WRITE, RiskTier.CONSEQUENTIAL][
            int(rng.integers(0, 3))
        ]
        caps = sorted(Decimal(rng.choice(_VALUES)) for _ in range(2))
        auto = caps[0] if rng.random() < 0.8 else None
        hard = caps[1] if rng.random() < 0.8 else None
        top = [M, S, A][int(rng.integers(0, 3))] if rng.random() < 0.3 else A
        classes.append(ActionClass(f"c{i}", risk, auto, hard, top))
    sup = (
        float(rng.choice([0.5, 0.7, 0.8])),
        float(rng.choice([0.0, 0.5])),
        int(rng.integers(0, 6)),
    )
    aut = (
        float(rng.choice([0.8, 0.9, 1.0])),
        float(rng.choice([0.5, 0.8])),
        sup[2] + int(rng.integers(0, 8)),
    )
    pol = TrustPolicy({c.name: c for c in classes}, make_thresholds(sup, aut))
    # Whole hours over ten days, so requests tie with evidence often.
    n_rows = int(rng.integers(1, 30))
    hours = rng.integers(0, 240, n_rows)
    rows = {
        "timestamp": [T0 + pd.Timedelta(hours=int(h)) for h in hours],
        "action": [classes[int(rng.integers(0, n_classes))].name for _ in range(n_rows)],
        "passed": rng.random(n_rows) < rng.uniform(0.5, 1.0),
        "adversarial": rng.random(n_rows) < 0.3,
    }
    history = load_history(pd.DataFrame(rows))
    n_req = int(rng.integers(1, 12))
    req_hours = np.concatenate([rng.integers(-10, 300, n_req), rng.choice(hours, 3)])
    traffic = load_traffic(
        pd.DataFrame(
            {
                "timestamp": [T0 + pd.Timedelta(hours=int(h)) for h in req_hours],
                "action": [classes[int(rng.integers(0, n_classes))].name for _ in req_hours],
                "value": [
                    None if rng.random() < 0.2 else str(rng.choice(_VALUES)) for _ in req_hours
                ],
            }
        )
    )
    window = [None, None, "2D", "36h", 3, 8][int(rng.integers(0, 6))]
    return history, pol, traffic, window


def _live_gate(
    history: pd.DataFrame, pol: TrustPolicy, traffic: pd.DataFrame, window: Any
) -> list[tuple[str, str]]:
    out = []
    for row in traffic.itertuples(index=False):
        before = history[history["timestamp"] < row.timestamp]
        metrics = (
            HistoryMetrics(before, window=window, at=row.timestamp) if len(before) else _Zero()
        )
        gate = TrustLayer(pol, metrics, _NoAudit())
        value = None if pd.isna(row.value_text) else Decimal(str(row.value_text))
        decision = gate.evaluate(ActionRequest(str(row.action), "t", value))
        out.append((decision.verdict.value, decision.autonomy_state.name))
    return out


def test_every_replayed_verdict_is_the_live_gates() -> None:
    rng = np.random.default_rng(2026)
    compared = 0
    for case in range(CASES):
        history, pol, traffic, window = _random_case(rng)
        r = replay(history, pol, traffic=traffic, window=window)
        got = list(
            zip(
                r.decisions["verdict"].astype(str),
                r.decisions["state_in_force"].astype(str),
                strict=True,
            )
        )
        assert got == _live_gate(history, pol, traffic, window), f"case {case}"
        compared += len(got)
    assert compared > CASES * 5


@pytest.mark.parametrize("seed", range(4))
def test_the_sweep_over_traffic_equals_replay_for_every_candidate(seed: int) -> None:
    rng = np.random.default_rng(seed)
    history, pol, traffic, _ = _random_case(rng)
    grid = {
        "supervised.pass_rate": [0.5, 0.7, 0.9],
        "supervised.min_samples": [0, 2, 4],
        "autonomous.min_samples": [4, 9],
        "window": [None, "2D", 3],
    }
    result = sweep(history, pol, grid, traffic=traffic, progress=False)
    assert not result.stand_in
    figures = ["requests", "allowed", "approval_burden", "blocked", "failures_let_through"]
    figures += ["requests_while_manual", "requests_while_supervised", "requests_while_autonomous"]
    for candidate, rows in result.table.groupby("candidate"):
        first = rows.iloc[0]
        thresholds = make_thresholds(
            (
                first["supervised.pass_rate"],
                0.0 + first["supervised.adversarial_pass_rate"],
                int(first["supervised.min_samples"]),
            ),
            (
                first["autonomous.pass_rate"],
                first["autonomous.adversarial_pass_rate"],
                int(first["autonomous.min_samples"]),
            ),
        )
        expected = replay(
            history,
            TrustPolicy(pol.actions, thresholds),
            traffic=traffic,
            window=None if first["window"] == "cumulative" else first["window"],
        ).summary.set_index("action")[figures]
        got = rows.set_index("action")[figures].loc[expected.index]
        pd.testing.assert_frame_equal(got, expected, check_dtype=False), candidate


def test_a_gates_audit_log_is_traffic_with_its_verdicts(tmp_path: Any) -> None:
    from ..auditlog_helpers import build_log

    build_log(tmp_path / "gate.sqlite", rows=30)
    traffic = load_traffic(tmp_path / "gate.sqlite")
    # 30 rows, approvals at seq 7, 14, 21, 28: 26 decisions, verdicts cycling by seq
    # (seq 1 asks for approval).
    assert len(traffic) == 26
    assert traffic["verdict"].astype(str).tolist()[:3] == ["REQUIRE_APPROVAL", "BLOCK", "ALLOW"]
    assert traffic["value_text"].tolist()[:2] == ["1.50", "2.50"]
    # Replayed on evidence that never clears a bar: MANUAL throughout, so every request
    # of 1.50 to 30.50 (below the hard cap of 1000) needs approval.
    history = load_history(pd.DataFrame(cases("issue_refund", -1, [False] * 3)))
    pol = TrustPolicy(
        {
            "issue_refund": ActionClass(
                "issue_refund", RiskTier.REVERSIBLE_WRITE, Decimal(100), Decimal(1000)
            )
        },
        BARS,
    )
    r = replay(history, pol, traffic=traffic)
    assert set(r.decisions["verdict"].astype(str)) == {"REQUIRE_APPROVAL"}
    gated = r.would_have_gated.set_index("actual")
    assert gated.loc["ALLOW", "requests"] == (traffic["verdict"] == "ALLOW").sum()
    assert gated.loc["BLOCK", "sentence"].startswith("would have required approval for")


# --------------------------------------------------------------------------- approvals


def _approvals(rows: list[tuple[float, str, bool]]) -> pd.DataFrame:
    from warrantd.analytics import load_approvals

    return load_approvals(
        pd.DataFrame(
            {
                "timestamp": [at(d) for d, _, _ in rows],
                "action": [a for _, a, _ in rows],
                "outcome": ["approved" if ok else "denied" for _, _, ok in rows],
            }
        )
    )


def test_approvals_hold_a_class_back_until_they_clear_the_bars_too() -> None:
    # Evals earn SUPERVISED on day 0 (5 passes). Approvals: 4 clean by day 3 (4 < 5
    # samples), the 5th on day 4: both signals earn SUPERVISED only from day 4.
    history = load_history(pd.DataFrame(cases("refund", 0, [True] * 5)))
    approvals = _approvals([(d, "refund", True) for d in (1, 2, 2.5, 3, 4)])
    traffic = requests([(3.5, "refund", "50"), (4, "refund", "50"), (4.5, "refund", "50")])
    r = replay(history, policy(REFUND), traffic=traffic, approvals=approvals)
    assert r.decisions["state_in_force"].tolist() == ["MANUAL", "MANUAL", "SUPERVISED"]
    assert r.summary.iloc[0]["first_supervised"] == at(4)
    # At the end both earn SUPERVISED, below the AUTONOMOUS bars of both: "both".
    assert r.summary.iloc[0]["held_back_by"] == "both"
    # One denial among the last five (window 5): 0.8 < 0.9, approvals hold it back.
    denied = _approvals([(d, "refund", d != 3) for d in (1, 2, 2.5, 3, 4)])
    r = replay(history, policy(REFUND), approvals=denied, approval_window=5)
    assert r.summary.iloc[0]["final_state"] == "MANUAL"
    assert r.summary.iloc[0]["held_back_by"] == "approvals"


def _random_approvals(
    rng: np.random.Generator, pol: TrustPolicy, traffic: pd.DataFrame
) -> pd.DataFrame:
    """Approval records at whole hours, half of them at the time of a request (ties)."""
    n = int(rng.integers(1, 25))
    names = sorted(pol.actions)
    request_days = ((traffic["timestamp"] - T0) / DAY).to_numpy()
    days = np.where(
        rng.random(n) < 0.5,
        rng.choice(request_days, n),
        rng.integers(-24, 300, n) / 24,
    )
    return _approvals(
        [
            (float(d), names[int(rng.integers(0, len(names)))], bool(rng.random() < 0.85))
            for d in days
        ]
    )


def _live_gate_with_approvals(
    history: pd.DataFrame,
    pol: TrustPolicy,
    traffic: pd.DataFrame,
    window: Any,
    approvals: pd.DataFrame,
    approval_window: int | None,
) -> list[tuple[str, str]]:
    from warrantd import ApprovalHistorySignal, EvalSuiteSignal
    from warrantd.analytics import approval_history

    out = []
    for row in traffic.itertuples(index=False):
        before = history[history["timestamp"] < row.timestamp]
        metrics = (
            HistoryMetrics(before, window=window, at=row.timestamp) if len(before) else _Zero()
        )
        decided = approval_history(approvals[approvals["timestamp"] < row.timestamp])
        signals = [EvalSuiteSignal(metrics), ApprovalHistorySignal(decided, window=approval_window)]
        gate = TrustLayer(pol, audit=_NoAudit(), signals=signals)
        value = None if pd.isna(row.value_text) else Decimal(str(row.value_text))
        decision = gate.evaluate(ActionRequest(str(row.action), "t", value))
        out.append((decision.verdict.value, decision.autonomy_state.name))
    return out


def test_with_approvals_every_replayed_verdict_is_the_live_gates() -> None:
    """Against TrustLayer with an eval signal and an approval signal, that is against
    GraduationEngine.combined_allowed_state, for every request."""
    rng = np.random.default_rng(77)
    for case in range(CASES // 3):
        history, pol, traffic, window = _random_case(rng)
        approvals = _random_approvals(rng, pol, traffic)
        approval_window = [None, 3, 6][int(rng.integers(0, 3))]
        r = replay(
            history,
            pol,
            traffic=traffic,
            window=window,
            approvals=approvals,
            approval_window=approval_window,
        )
        got = list(
            zip(
                r.decisions["verdict"].astype(str),
                r.decisions["state_in_force"].astype(str),
                strict=True,
            )
        )
        expected = _live_gate_with_approvals(
            history, pol, traffic, window, approvals, approval_window
        )
        assert got == expected, f"case {case}"


@pytest.mark.parametrize("seed", range(3))
def test_with_approvals_the_sweep_equals_replay_for_every_candidate(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    history, pol, traffic, _ = _random_case(rng)
    approvals = _random_approvals(rng, pol, traffic)
    grid = {"supervised.pass_rate": [0.5, 0.8, 0.9], "supervised.min_samples": [0, 2, 4]}
    result = sweep(history, pol, grid, traffic=traffic, approvals=approvals, progress=False)
    figures = ["first_supervised", "approval_burden", "allowed", "failures_let_through"]
    for _, rows in result.table.groupby("candidate"):
        first = rows.iloc[0]
        bars = make_thresholds(
            (
                first["supervised.pass_rate"],
                first["supervised.adversarial_pass_rate"],
                int(first["supervised.min_samples"]),
            ),
            (
                first["autonomous.pass_rate"],
                first["autonomous.adversarial_pass_rate"],
                int(first["autonomous.min_samples"]),
            ),
        )
        expected = replay(
            history,
            TrustPolicy(pol.actions, bars),
            traffic=traffic,
            approvals=approvals,
            window=None,
        ).summary.set_index("action")[figures]
        got = rows.set_index("action")[figures].loc[expected.index]
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
