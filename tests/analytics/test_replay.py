"""Replay: hand-worked histories, and the differential test against the engine loop."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from warrantd import (
    ActionClass,
    AutonomyState,
    GraduationEngine,
    GraduationThresholds,
    RiskTier,
    TrustPolicy,
)
from warrantd.analytics import eval_metrics, load_history
from warrantd.analytics.replay import replay
from warrantd.errors import InputError

from ..helpers import make_thresholds, reference_window_counts

M, S, A = AutonomyState.MANUAL, AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
T0 = pd.Timestamp("2026-03-01", tz="UTC")
MINUTE = pd.Timedelta("1min")


def streak_history(truth: float | None = None) -> pd.DataFrame:
    """Case i (1..70) at minute i: cases 1-50 pass, cases 51-70 fail."""
    frame = pd.DataFrame(
        {
            "timestamp": [T0 + i * MINUTE for i in range(1, 71)],
            "action": "refund",
            "passed": [i <= 50 for i in range(1, 71)],
        }
    )
    if truth is not None:
        frame["true_pass_p"] = truth
    return load_history(frame)


# SUPERVISED: pass >= 0.8 over >= 20 cases; AUTONOMOUS: pass >= 0.95 over >= 45 cases.
# There are no adversarial cases, so the adversarial rate is 0.0 and its bars are 0.
STREAK_POLICY = TrustPolicy(
    {"refund": ActionClass("refund", RiskTier.REVERSIBLE_WRITE)},
    make_thresholds((0.8, 0.0, 20), (0.95, 0.0, 45)),
)


def at(i: int) -> pd.Timestamp:
    return T0 + i * MINUTE


def test_streak_cumulative_by_hand() -> None:
    r = replay(streak_history(truth=0.9), STREAK_POLICY)
    s = r.summary.set_index("action").loc["refund"]
    # SUPERVISED graded at case 20 (20/20 over 20 cases); AUTONOMOUS at case 45 (45/45).
    assert s["first_supervised"] == at(20) and s["cases_to_supervised"] == 20
    assert s["first_autonomous"] == at(45) and s["cases_to_autonomous"] == 45
    assert s["days_to_supervised"] == pytest.approx(19 / 1440)
    # After 50 passes: 50/53 = 0.943 < 0.95 drops to SUPERVISED at case 53;
    # 50/63 = 0.794 < 0.8 drops to MANUAL at case 63.
    # In force: cases 1-20 MANUAL, 21-45 SUP, 46-53 AUT, 54-63 SUP, 64-70 MANUAL.
    assert s["cases_while_manual"] == 20 + 7
    assert s["cases_while_supervised_or_above"] == 43
    assert s["failures_while_supervised_or_above"] == 13  # cases 51-63
    assert s["normal_failures_while_supervised_or_above"] == 13
    assert s["adversarial_cases_while_supervised_or_above"] == 0
    assert s["cases_while_autonomous"] == 8 and s["failures_while_autonomous"] == 3
    assert (s["demotions"], s["demotions_to_manual"], s["demotions_from_autonomous"]) == (2, 1, 1)
    # Graded MANUAL t1-t20, SUP t20-t45, AUT t45-t53, SUP t53-t63, MANUAL t63-t70 (minutes).
    assert s["days_manual"] * 1440 == pytest.approx(19 + 7)
    assert s["days_supervised"] * 1440 == pytest.approx(25 + 10)
    assert s["days_autonomous"] * 1440 == pytest.approx(8)
    # truth 0.9: above the 0.8 SUPERVISED bar, below the 0.95 AUTONOMOUS bar
    assert not s["premature_supervised"] and s["premature_autonomous"]
    assert s["final_state"] == "MANUAL" and s["cases"] == 70


def red_team_history() -> pd.DataFrame:
    """Minutes 1-30: one normal case (always passes) and one adversarial case a minute;
    the adversarial case passes at minutes 1-20 and fails at 21-30."""
    minutes = list(range(1, 31))
    frame = pd.DataFrame(
        {
            "timestamp": [at(i) for i in minutes] * 2,
            "action": "refund",
            "adversarial": [False] * 30 + [True] * 30,
            "passed": [True] * 30 + [i <= 20 for i in minutes],
        }
    )
    return load_history(frame)


# SUPERVISED: adversarial >= 0.6 over >= 10 cases; AUTONOMOUS: >= 0.9 over >= 20 cases.
RED_TEAM_POLICY = TrustPolicy(
    STREAK_POLICY.actions, make_thresholds((0.8, 0.6, 10), (0.95, 0.9, 20))
)


def test_adversarial_failures_by_hand() -> None:
    s = replay(red_team_history(), RED_TEAM_POLICY).summary.iloc[0]
    # Graded at minute i: 2i cases, adversarial rate min(i, 20) / i, normal rate 1.
    # SUPERVISED from i = 5 (10 cases); AUTONOMOUS from i = 10 (20 cases) while
    # 20 / i >= 0.9, i.e. to i = 22; SUPERVISED again from i = 23 (20/23 = 0.87).
    # In force at minute i is the grade of minute i - 1: MANUAL 1-5, SUPERVISED 6-10,
    # AUTONOMOUS 11-23, SUPERVISED 24-30.
    assert (s["first_supervised"], s["cases_to_supervised"]) == (at(5), 10)
    assert (s["first_autonomous"], s["cases_to_autonomous"]) == (at(10), 20)
    assert s["days_to_supervised"] * 1440 == pytest.approx(4)
    assert s["days_to_autonomous"] * 1440 == pytest.approx(9)
    assert s["cases_while_manual"] == 10  # minutes 1-5, two cases each
    assert s["normal_cases_while_supervised_or_above"] == 25
    assert s["normal_failures_while_supervised_or_above"] == 0
    assert s["adversarial_cases_while_supervised_or_above"] == 25
    assert s["adversarial_failures_while_supervised_or_above"] == 10  # minutes 21-30
    assert s["normal_cases_while_autonomous"] == 13
    assert s["adversarial_cases_while_autonomous"] == 13
    assert s["adversarial_failures_while_autonomous"] == 3  # minutes 21, 22, 23
    assert s["failures_while_autonomous"] == 3
    assert (s["demotions"], s["demotions_to_manual"], s["demotions_from_autonomous"]) == (1, 0, 1)


def test_adversarial_transitions_name_the_binding_bar() -> None:
    t = replay(red_team_history(), RED_TEAM_POLICY).transitions
    assert list(zip(t["time"], t["to"], t["binding"], strict=True)) == [
        (at(5), "SUPERVISED", "min_samples"),  # 8 cases at minute 4
        (at(10), "AUTONOMOUS", "min_samples"),  # 18 cases at minute 9
        (at(23), "SUPERVISED", "adversarial_pass_rate"),  # 20/23 < 0.9
    ]


def test_streak_transitions_and_binding_bars() -> None:
    t = replay(streak_history(), STREAK_POLICY).transitions
    assert list(zip(t["time"], t["from"], t["to"], t["binding"], strict=True)) == [
        (at(20), "MANUAL", "SUPERVISED", "min_samples"),  # 19 cases before case 20
        (at(45), "SUPERVISED", "AUTONOMOUS", "min_samples"),
        (at(53), "AUTONOMOUS", "SUPERVISED", "pass_rate"),
        (at(63), "SUPERVISED", "MANUAL", "pass_rate"),
    ]
    assert set(t["cause"]) == {"evidence"}
    assert t["sample_size"].tolist() == [20, 45, 53, 63]


def test_streak_window_20_by_hand() -> None:
    r = replay(streak_history(), STREAK_POLICY, window=20)
    s = r.summary.iloc[0]
    # The last 20 cases: SUPERVISED at case 20; never AUTONOMOUS (45 cases needed).
    # At case 50+k the window holds 20-k passes: below 16/20 at k = 5, case 55.
    assert s["first_supervised"] == at(20)
    assert pd.isna(s["first_autonomous"]) and pd.isna(s["cases_to_autonomous"])
    assert s["cases_while_manual"] == 20 + 15  # cases 1-20 and 56-70
    assert s["failures_while_supervised_or_above"] == 5  # cases 51-55
    assert s["demotions"] == 1
    t = r.transitions
    assert t["time"].tolist() == [at(20), at(55)]
    assert t["pass_rate"].tolist() == [1.0, 15 / 20]
    assert pd.isna(s["premature_supervised"]), "no ground truth column"


def test_time_window_expiry_is_a_transition() -> None:
    # 30 passes in the first hour, then one case 3 days later: the 1-day window has
    # emptied before it arrives, so the gate fell back to MANUAL by expiry.
    times = [T0 + i * MINUTE for i in range(30)] + [T0 + pd.Timedelta("3D")]
    h = load_history(pd.DataFrame({"timestamp": times, "action": "refund", "passed": True}))
    policy = TrustPolicy(STREAK_POLICY.actions, make_thresholds((0.8, 0.0, 20), (0.95, 0.0, 99)))
    t = replay(h, policy, window="1D").transitions
    assert t[["from", "to", "cause"]].astype(str).values.tolist() == [
        ["MANUAL", "SUPERVISED", "evidence"],
        ["SUPERVISED", "MANUAL", "expiry"],
    ]
    # Evidence expires on the clock: the case of minute i leaves the window at
    # 1D + i minutes. After the case of minute 10 leaves, 19 remain (< 20 samples).
    assert t["time"].iloc[1] == T0 + pd.Timedelta("1D") + 10 * MINUTE


def test_expiry_between_cases_is_on_the_clock() -> None:
    # 5 failures on day 0, 10 passes on day 10, 1 pass on day 60; 30-day window, bars
    # 0.9 and 5 samples. Until day 30 the window holds 10 of 15 (0.67): MANUAL. At day
    # 30 the failures leave: 10 of 10, SUPERVISED. At day 40 the passes leave too: an
    # empty window, MANUAL. No case arrives at either moment.
    day = pd.Timedelta("1D")
    h = load_history(
        pd.DataFrame(
            {
                "timestamp": [T0] * 5 + [T0 + 10 * day] * 10 + [T0 + 60 * day],
                "action": "refund",
                "passed": [False] * 5 + [True] * 11,
            }
        )
    )
    policy = TrustPolicy(STREAK_POLICY.actions, make_thresholds((0.9, 0.0, 5), (0.99, 0.0, 99)))
    r = replay(h, policy, window="30D")
    t = r.transitions
    assert t[["time", "from", "to", "cause"]].astype(str).values.tolist() == [
        [str(T0 + 30 * day), "MANUAL", "SUPERVISED", "expiry"],
        [str(T0 + 40 * day), "SUPERVISED", "MANUAL", "expiry"],
    ]
    s = r.summary.set_index("action").loc["refund"]
    assert s["first_supervised"] == T0 + 30 * day
    assert s["days_to_supervised"] == 30.0 and s["cases_to_supervised"] == 15
    assert s["days_supervised"] == 10.0 and s["demotions_to_manual"] == 1
    assert r.state_at(T0 + 30 * day - pd.Timedelta("1ns")) == {"refund": M}
    assert r.state_at(T0 + 30 * day) == {"refund": S}
    assert r.state_at(T0 + 40 * day - pd.Timedelta("1ns")) == {"refund": S}
    assert r.state_at(T0 + 40 * day) == {"refund": M}
    # The timeline has a row at each expiry moment, with no case arriving.
    tl = r.timeline
    at_30 = tl[tl["timestamp"] == T0 + 30 * day].iloc[0]
    assert at_30["n_cases"] == 0 and at_30["state"] == "SUPERVISED"


def test_ceilings_are_respected() -> None:
    h = load_history(
        pd.DataFrame(
            {
                "timestamp": [T0 + i * MINUTE for i in range(100)],
                "action": ["a", "b"] * 50,
                "passed": True,
                "adversarial": [False, False, True, True] * 25,
            }
        )
    )
    policy = TrustPolicy(
        {
            # max_state is the only ceiling (as published): CONSEQUENTIAL pinned by it
            "a": ActionClass("a", RiskTier.CONSEQUENTIAL, max_state=S),
            "b": ActionClass("b", RiskTier.READ, max_state=M),
        },
        make_thresholds((0.5, 0.5, 5), (0.9, 0.9, 10)),
    )
    s = replay(h, policy).summary.set_index("action")
    assert s.loc["a", "final_state"] == "SUPERVISED" and pd.isna(s.loc["a", "first_autonomous"])
    assert s.loc["b", "final_state"] == "MANUAL" and s.loc["b", "cases_while_manual"] == 50


def test_state_at() -> None:
    r = replay(streak_history(), STREAK_POLICY)
    assert r.state_at(at(19)) == {"refund": M}
    assert r.state_at(at(20)) == {"refund": S}
    assert r.state_at(at(50) + pd.Timedelta("30s")) == {"refund": A}
    assert r.state_at(at(70)) == {"refund": M}


def test_unknown_action_is_a_clear_error() -> None:
    h = load_history(pd.DataFrame({"timestamp": [T0], "action": ["mystery"], "passed": [1]}))
    with pytest.raises(InputError) as info:
        replay(h, STREAK_POLICY)
    assert str(info.value) == (
        "<DataFrame>: column 'action': 'mystery': an action class the policy does not define"
    )


def test_unknown_actions_say_how_many_rows_from_when() -> None:
    from warrantd.analytics._engine import check_coverage

    # Given out of order: loaded, the 1 March row comes first (T0 is 1 March 00:00 UTC).
    h = load_history(
        pd.DataFrame(
            {
                "timestamp": [T0 + pd.Timedelta("2h"), T0, T0 + pd.Timedelta("1D")],
                "action": ["mystery", "mystery", "refund"],
                "passed": [1, 0, 1],
            }
        )
    )
    with pytest.raises(InputError) as info:
        check_coverage(["mystery", "refund"], STREAK_POLICY, "logs", frame=h, column=None)
    assert str(info.value) == (
        "logs: action 'mystery': an action class the policy does not define"
        " (2 rows, the first at 2026-03-01T00:00:00Z)"
    )


# --------------------------------------------------------------------------- differential


def random_case(seed: int) -> tuple[pd.DataFrame, TrustPolicy, object]:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 45))
    frame = pd.DataFrame(
        {
            "timestamp": T0 + pd.to_timedelta(rng.integers(0, 12, size) * 6, unit="h"),
            "action": rng.choice(["a", "b", "c"], size),
            "n": rng.integers(0, 6, size),
            "adversarial": rng.random(size) < 0.35,
        }
    )
    frame["n_passed"] = rng.integers(0, frame["n"] + 1)
    history = load_history(frame)
    window = [None, int(rng.integers(1, 15)), f"{int(rng.integers(1, 4))}D"][seed % 3]
    # Bars are often set to a rate the history actually produces, so they land on a bar.
    produced = np.r_[[0.0, 0.5, 1.0], [k / m for m in range(1, 8) for k in range(m + 1)]]

    def bar() -> float:
        return float(rng.choice(produced)) if rng.random() < 0.8 else float(rng.random())

    sup = sorted([bar(), bar()]), sorted([bar(), bar()]), sorted(rng.integers(0, 25, 2).tolist())
    thresholds = GraduationThresholds(
        {S: sup[0][0], A: sup[0][1]},
        {S: sup[1][0], A: sup[1][1]},
        {S: int(sup[2][0]), A: int(sup[2][1])},
    )
    risks = [RiskTier.READ, RiskTier.REVERSIBLE_WRITE, RiskTier.CONSEQUENTIAL]
    actions = {
        name: ActionClass(
            name, risks[int(rng.integers(0, 3))], max_state=AutonomyState(int(rng.integers(0, 3)))
        )
        for name in ("a", "b", "c")
    }
    return history, TrustPolicy(actions, thresholds), window


def engine_loop(history: pd.DataFrame, policy: TrustPolicy, window: object) -> pd.DataFrame:
    """The plain per-moment loop over GraduationEngine.allowed_state.

    A class's moments: its case timestamps and, with a time window ``w``, each
    ``t + w`` up to the history's last case (when that case leaves the window).
    """
    engine = GraduationEngine(policy.thresholds)
    end = history["timestamp"].max()
    out = []
    for action in sorted(history["action"].unique()):
        mine = history[history["action"] == action]
        rows = list(mine[["timestamp", "adversarial", "n", "n_passed"]].itertuples(index=False))
        moments = set(mine["timestamp"])
        if isinstance(window, str):
            span = pd.Timedelta(window)
            moments |= {t + span for t in mine["timestamp"] if t + span <= end}
        for t in sorted(moments):
            before = eval_metrics(*reference_window_counts(rows, t, window, True))
            graded = eval_metrics(*reference_window_counts(rows, t, window, False))
            cls = policy.action(action)
            cases = mine[mine["timestamp"] == t]
            out.append(
                {
                    "action": action,
                    "timestamp": t,
                    "state_in_force": engine.allowed_state(cls, before).name,
                    "state": engine.allowed_state(cls, graded).name,
                    "n": int(cases["n"].sum()),
                    "failed": int((cases["n"] - cases["n_passed"]).sum()),
                }
            )
    return pd.DataFrame(out)


# Hundreds in CI; `make test-thorough` (WARRANTD_THOROUGH=1) runs ten times as many.
N_DIFFERENTIAL = 3000 if os.environ.get("WARRANTD_THOROUGH") else 300


@pytest.mark.parametrize("seed", range(N_DIFFERENTIAL))
def test_replay_equals_engine_loop(seed: int) -> None:
    history, policy, window = random_case(seed)
    r = replay(history, policy, window=window)
    expected = engine_loop(history, policy, window)
    got = r.timeline[["action", "timestamp", "state_in_force", "state"]].astype(
        {"state_in_force": str, "state": str}
    )
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True),
        expected[got.columns].reset_index(drop=True),
        check_dtype=False,
    )
    # Summary figures recomputed from the loop's states with plain pandas.
    s = r.summary.set_index("action")
    for action, rows in expected.groupby("action"):
        manual = rows["state_in_force"] == "MANUAL"
        assert s.loc[action, "cases_while_manual"] == rows.loc[manual, "n"].sum()
        assert (
            s.loc[action, "failures_while_supervised_or_above"] == rows.loc[~manual, "failed"].sum()
        )
        reached = rows[(rows["state_in_force"] != "MANUAL") | (rows["state"] != "MANUAL")]
        first = reached["timestamp"].min() if len(reached) else pd.NaT
        assert s.loc[action, "first_supervised"] == first or (
            pd.isna(first) and pd.isna(s.loc[action, "first_supervised"])
        )


def test_every_graduation_is_judged_not_only_the_first() -> None:
    # One case a minute: 20 passes, 10 fails, 20 passes. SUPERVISED (0.8 over 20 cases)
    # is graded at case 20 (20/20), lost at case 26 (20/26 = 0.77) and earned again at
    # case 50 (40/50 = 0.8). The truth is 0.9 until case 30 and 0.75 after: the first
    # graduation is earned, the second premature.
    outcomes = [True] * 20 + [False] * 10 + [True] * 20
    frame = pd.DataFrame(
        {
            "timestamp": [at(i) for i in range(1, 51)],
            "action": "refund",
            "passed": outcomes,
            "true_pass_p": [0.9] * 30 + [0.75] * 20,
        }
    )
    s = replay(load_history(frame), STREAK_POLICY).summary.iloc[0]
    assert s["first_supervised"] == at(20) and s["demotions_to_manual"] == 1
    assert not s["premature_supervised"]  # the first graduation, at truth 0.9
    assert s["premature_graduations_supervised"] == 1  # the second, at truth 0.75
    assert s["premature_graduations_autonomous"] == 0
    assert (s["graduations_supervised"], s["graduations_autonomous"]) == (2, 0)
    blind = replay(load_history(frame.drop(columns="true_pass_p")), STREAK_POLICY).summary
    assert blind["premature_graduations_supervised"].isna().all()
    # The second graduation's truth unknown: the class's count is unknown, not 0.
    gap = frame.assign(true_pass_p=[0.9] * 30 + [float("nan")] * 20)
    s = replay(load_history(gap), STREAK_POLICY).summary.iloc[0]
    assert s["graduations_supervised"] == 2 and pd.isna(s["premature_graduations_supervised"])
