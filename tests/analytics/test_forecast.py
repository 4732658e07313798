"""Forecasts: where each class stands, simulated futures, and the backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from warrantd import ActionClass, AutonomyState, RiskTier, TrustPolicy, load_policy
from warrantd.analytics import generate, load_history
from warrantd.analytics.forecast import backtest, forecast

from ..helpers import all_passing_daily, make_thresholds

T0 = pd.Timestamp("2026-03-01", tz="UTC")


def daily_history(days: int, per_day: int, pass_every: int, action: str = "refund") -> pd.DataFrame:
    """``per_day`` cases a day from noon; a case fails when its running index is a
    multiple of ``pass_every`` (so 1 in ``pass_every`` fails)."""
    stamps, passed = [], []
    for d in range(days):
        for k in range(per_day):
            stamps.append(T0 + pd.Timedelta(days=d, hours=12, seconds=k))
            passed.append((d * per_day + k) % pass_every != 0)
    return load_history(pd.DataFrame({"timestamp": stamps, "action": action, "passed": passed}))


POLICY = TrustPolicy(
    {"refund": ActionClass("refund", RiskTier.REVERSIBLE_WRITE)},
    make_thresholds((0.8, 0.0, 100), (0.95, 0.0, 400)),
)


def test_needs_more_cases_and_accrual_rate() -> None:
    # 6 days x 10 cases, 1 in 10 fails: pass rate 0.9, 60 cases -> 40 short of 100.
    fc = forecast(daily_history(6, 10, 10), POLICY, horizon="30D", n_sims=400)
    row = fc.table.iloc[0]
    assert (row["state"], row["next_state"]) == ("MANUAL", "SUPERVISED")
    assert row["blocked_on"] == "needs 40 more cases"
    assert row["cases_per_day"] == pytest.approx(10.0)
    # At 10 cases a day the 40 missing cases take 4 days; the rate is well above 0.8.
    assert row["p_within_horizon"] > 0.95
    assert T0 + pd.Timedelta("6D") <= row["p50_date"] <= T0 + pd.Timedelta("12D")


def test_rate_below_bar_is_reported_with_its_interval() -> None:
    # 1 in 2 fails: pass rate 0.5 < 0.8 and unlikely to get there.
    fc = forecast(daily_history(20, 10, 2), POLICY, horizon="30D", n_sims=300)
    row = fc.table.iloc[0]
    assert row["blocked_on"].startswith("pass rate 0.50 < 0.80 (95% CI 0.")
    assert row["p_within_horizon"] == 0.0
    assert pd.isna(row["p50_date"])


def test_at_ceiling() -> None:
    policy = TrustPolicy(
        {
            "refund": ActionClass(
                "refund", RiskTier.REVERSIBLE_WRITE, max_state=AutonomyState.MANUAL
            )
        },
        POLICY.thresholds,
    )
    row = forecast(daily_history(3, 5, 10), policy, n_sims=50).table.iloc[0]
    assert row["next_state"] == "" and row["blocked_on"] == "at its ceiling"
    assert np.isnan(row["p_within_horizon"])


def test_same_seed_same_forecast_other_seed_differs() -> None:
    # pass rate 6/7 = 0.857 against a 0.87 bar: whether it gets there is uncertain
    h = daily_history(10, 8, 7)
    policy = TrustPolicy(POLICY.actions, make_thresholds((0.87, 0.0, 50), (0.95, 0.0, 400)))
    a = forecast(h, policy, horizon="60D", n_sims=300, seed=1)
    b = forecast(h, policy, horizon="60D", n_sims=300, seed=1)
    c = forecast(h, policy, horizon="60D", n_sims=300, seed=2)
    assert 0.05 < a.table["p_within_horizon"].iloc[0] < 0.95
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not a.cdf("refund")["probability"].equals(c.cdf("refund")["probability"])


def two_phase_history(early: int, late: int, per_day: int = 20, days: int = 28) -> pd.DataFrame:
    """``days`` days passing ``early`` of ``per_day`` cases a day, then ``days`` days
    passing ``late`` of them."""
    stamps, passed = [], []
    for d in range(2 * days):
        good = early if d < days else late
        for k in range(per_day):
            stamps.append(T0 + pd.Timedelta(days=d, hours=12, seconds=k))
            passed.append(k < good)
    return load_history(pd.DataFrame({"timestamp": stamps, "action": "refund", "passed": passed}))


def test_a_class_that_is_learning_graduates_sooner_with_the_trend() -> None:
    # 0.70 then 0.80 over 28-day spans; the bar is 0.85 on a 28-day window.
    # Held still, 0.80 on 560 cases (posterior sd ~0.017) rarely reaches 0.85: only a
    # lucky draw plus a lucky month of new cases.
    # The trend: (logit 0.80 - logit 0.70) / 28 = (1.386 - 0.847) / 28 = 0.019 a day,
    # applied from the window's middle (14 days back) for at most 28 days: logit 1.925,
    # p = 0.873, so the 28-day window clears 0.85 within about four weeks.
    h = two_phase_history(14, 16)
    policy = TrustPolicy(POLICY.actions, make_thresholds((0.85, 0.0, 100), (0.95, 0.0, 400)))
    still = forecast(h, policy, window="28D", n_sims=500, trend=False).table.iloc[0]
    moving = forecast(h, policy, window="28D", n_sims=500).table.iloc[0]
    assert still["p_within_horizon"] < 0.15
    assert moving["p_within_horizon"] > 0.9
    # The table shows the change it rests on: (448 + 0.5) / 561 - (392 + 0.5) / 561,
    # the two spans' Jeffreys-smoothed rates; no adversarial cases, no adversarial trend.
    assert moving["pass_rate_trend"] == pytest.approx(56 / 561)
    assert np.isnan(moving["adversarial_pass_rate_trend"])
    assert moving["p50_date"] <= T0 + pd.Timedelta(days=56 + 40)


def test_a_class_that_is_slipping_graduates_later_with_the_trend() -> None:
    # 0.95 then 0.90, cumulative; 1,120 cases of the 1,500 needed (19 more days at 20 a
    # day), pass bar 0.91. Held at 0.90 the cumulative rate is still (1,036 + 342) / 1,500
    # = 0.919 when the cases are in. Sliding by (logit 0.90 - logit 0.95) / 28 = -0.027 a
    # day it is about (1,036 + 380 x 0.85) / 1,500 = 0.906 by then, and falling.
    h = two_phase_history(19, 18)
    policy = TrustPolicy(POLICY.actions, make_thresholds((0.91, 0.0, 1500), (0.95, 0.0, 9000)))
    still = forecast(h, policy, n_sims=500, trend=False).table.iloc[0]
    moving = forecast(h, policy, n_sims=500).table.iloc[0]
    assert still["blocked_on"] == "needs 380 more cases"
    assert still["p_within_horizon"] > 0.9
    assert moving["p_within_horizon"] < 0.2


def test_a_steady_class_is_not_moved_by_the_trend() -> None:
    # 0.90 in both spans: the slope is 0 +- its standard error, so both forecasts agree.
    h = two_phase_history(18, 18)
    policy = TrustPolicy(POLICY.actions, make_thresholds((0.89, 0.0, 1500), (0.95, 0.0, 9000)))
    still = forecast(h, policy, n_sims=1000, trend=False).table.iloc[0]
    moving = forecast(h, policy, n_sims=1000).table.iloc[0]
    assert abs(moving["p_within_horizon"] - still["p_within_horizon"]) < 0.15


@pytest.mark.parametrize("window", [None, 50, "7D"])
def test_cdf_is_monotone_and_ends_at_p_within_horizon(window: object) -> None:
    fc = forecast(daily_history(8, 10, 9), POLICY, horizon="40D", n_sims=500, window=window)
    cdf = fc.cdf("refund")
    assert len(cdf) == 40
    assert cdf["probability"].is_monotonic_increasing
    assert cdf["probability"].iloc[-1] == pytest.approx(fc.table["p_within_horizon"].iloc[0])


def test_bad_arguments() -> None:
    h = daily_history(2, 2, 2)
    with pytest.raises(ValueError, match="horizon"):
        forecast(h, POLICY, horizon="1h")
    with pytest.raises(ValueError, match="n_sims"):
        forecast(h, POLICY, n_sims=0)


def test_backtest_calibration_on_synthetic_histories() -> None:
    """Cut synthetic histories, forecast, compare with the replay of what happened.

    The 10-90 band should hold the outcome about 80% of the time. Held still, pass
    rates make the forecast late on classes that are still learning; the trend is
    what brings it near the mark.
    """
    policy = load_policy("datasets/billing-agent.policy.toml")
    results: dict[bool, list[pd.DataFrame]] = {True: [], False: []}
    for seed in (1, 2):
        h = load_history(generate(seed))
        for cut in ("2026-03-06", "2026-04-05"):  # days 60 and 90
            for trend in (True, False):
                results[trend].append(backtest(h, policy, cut, window="30D", trend=trend))
    table = pd.concat(results[True])
    stationary = pd.concat(results[False])
    calibration = table["within_band"].mean()
    assert len(table) >= 15
    # Measured: 15 of 20 inside the band with the trend, 11 of 20 without.
    assert calibration >= 0.65, f"calibration {calibration:.2f}"
    assert calibration > stationary["within_band"].mean() + 0.1
    never = table[table["actual_date"].isna()]
    assert (never["p_within_horizon"] < 0.9).all(), "confident forecasts that never happened"


def test_blocked_on_follows_the_policys_evidence_rule() -> None:
    """Ten passing cases over ten days, bar 0.8 over 5 cases: the estimate (1.0) meets the
    bar, but the Wilson lower bound of 10 / 10 at alpha 0.05 is about 0.72-0.79 (two- or
    one-sided), below 0.8: under `wilson` the class is still MANUAL and the forecast must
    say the bound is what holds it, never "clears every bar"."""
    from warrantd import GraduationSettings

    history = all_passing_daily(10)
    policy = TrustPolicy(
        {"w": ActionClass("w", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 5), (0.95, 0.0, 50)),
        GraduationSettings(evidence="wilson"),
    )
    row = forecast(history, policy, n_sims=20, horizon="5D").table.iloc[0]
    assert (row["state"], row["next_state"]) == ("MANUAL", "SUPERVISED")
    assert row["blocked_on"] == (
        "pass rate 1.00 >= 0.80, but its wilson lower bound (alpha 0.05) is below the bar"
    )


@pytest.mark.parametrize("rule", ["point", "wilson"])
def test_the_state_now_is_the_replays_under_resets_and_every_rule(rule: str) -> None:
    """The forecast starts from the state the policy grades (evidence restarted per
    agent_version, held under a bound rule): the replay's state at the last case."""
    from pathlib import Path

    from warrantd import load_policy
    from warrantd.analytics import load_history, replay
    from warrantd.policy import with_graduation

    data = Path(__file__).resolve().parents[2] / "datasets"
    history = load_history(data / "coding-agent-runs.csv")
    policy = with_graduation(
        load_policy(data / "coding-agent.policy.toml"), reset_on="agent_version", evidence=rule
    )
    table = forecast(history, policy, n_sims=20).table.set_index("action")["state"]
    replayed = replay(history, policy).state_at(history["timestamp"].max())
    assert {a: s.name for a, s in replayed.items()} == table.to_dict()
    assert len(set(table)) > 1  # not all one state: the comparison can tell


def test_what_blocks_a_class_is_read_from_the_evidence_since_its_reset() -> None:
    """v1: 100 passing cases over 10 days; v2: 5 passing cases. SUPERVISED needs 0.8 over
    20 cases. Evidence restarts at v2 (reset_on): 5 cases, so MANUAL, 15 short; the
    whole history (105 passes) would clear every bar."""
    from warrantd import ActionClass, RiskTier, TrustPolicy
    from warrantd.analytics import load_history
    from warrantd.graduation import GraduationSettings

    times = list(pd.date_range("2026-01-01", periods=100, freq="2h", tz="UTC"))
    times += list(pd.date_range("2026-01-10", periods=5, freq="D", tz="UTC"))
    history = load_history(
        pd.DataFrame(
            {
                "timestamp": times,
                "action": "w",
                "passed": True,
                "agent_version": ["v1"] * 100 + ["v2"] * 5,
            }
        )
    )
    policy = TrustPolicy(
        {"w": ActionClass("w", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 20), (0.95, 0.0, 500)),
        GraduationSettings(reset_on="agent_version"),
    )
    row = forecast(history, policy, n_sims=200).table.iloc[0]
    assert (row["state"], row["next_state"]) == ("MANUAL", "SUPERVISED")
    assert row["blocked_on"] == "needs 15 more cases"
    # The simulated days add to the 5 cases since the reset, not to all 105: no
    # simulation graduates on the first day.
    assert row["given_p10_date"] > history["timestamp"].max() + pd.Timedelta(days=1)
