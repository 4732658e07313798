"""Forecasts on histories that arrive as eval runs: the run-arrival estimate, the
refusal rule, regimes, the trend across runs, and the backtest's scores and plan.

Every expected figure is worked out by hand in the comment above it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from warrantd import ActionClass, RiskTier, TrustPolicy
from warrantd.analytics import load_history
from warrantd.analytics.forecast import (
    _Arrivals,
    _arrivals,
    _drift,
    _jump_sd,
    _jump_sds,
    _Runs,
    _runs_of,
    _simulated_arrivals,
    _summary,
    backtest_plan,
    backtest_scores,
    chance_text,
    forecast,
)
from warrantd.errors import OptionError
from warrantd.graduation import GraduationSettings

from ..helpers import make_thresholds

T0 = pd.Timestamp("2026-03-01", tz="UTC")
POLICY = TrustPolicy(
    {"a": ActionClass("a", RiskTier.REVERSIBLE_WRITE)},
    make_thresholds((0.8, 0.0, 100), (0.95, 0.0, 400)),
)


def runs_history(
    days: list[int], sizes: list[int], passed: list[int], **extra: list[str]
) -> pd.DataFrame:
    """One run of class ``a`` at noon of each day, in counts-per-run form with a run id."""
    frame = pd.DataFrame(
        {
            "timestamp": [T0 + pd.Timedelta(days=d, hours=12) for d in days],
            "action": "a",
            "run_id": [f"r{i}" for i in range(len(days))],
            "n": sizes,
            "n_passed": passed,
            **extra,
        }
    )
    return load_history(frame)


def test_a_class_at_its_ceiling_still_counts_its_runs() -> None:
    # Seven runs of 100 cases, all passing: 700 cases clear AUTONOMOUS (0.95, 400), the
    # class's ceiling. Nothing to forecast, but its 7 runs are its 7 runs, not 0.
    h = runs_history([0, 1, 2, 3, 4, 5, 6], [100] * 7, [100] * 7)
    row = forecast(h, POLICY, horizon="30D", n_sims=50).table.iloc[0]
    assert (row["state"], row["next_state"], row["blocked_on"]) == (
        "AUTONOMOUS",
        "",
        "at its ceiling",
    )
    assert row["runs"] == 7 and np.isnan(row["runs_per_day"])


def test_run_arrival_rate_is_runs_over_whole_days_since_the_first() -> None:
    # Six runs on days 0, 10, ..., 50 of 10, 20, 30, 10, 20, 30 cases; as of day 50 the
    # class is 51 whole UTC days old (days 0..50), under the 91-day lookback: 6 runs
    # in 51 days, 120 cases in 6 runs = 20 a run, so 120 / 51 = 2.353 cases a day.
    h = runs_history([0, 10, 20, 30, 40, 50], [10, 20, 30] * 2, [5, 10, 15] * 2)
    row = forecast(h, POLICY, horizon="30D", n_sims=200).table.iloc[0]
    assert row["runs"] == 6
    assert row["runs_per_day"] == pytest.approx(6 / 51)
    assert row["cases_per_run"] == pytest.approx(20.0)
    assert row["cases_per_day"] == pytest.approx(120 / 51)
    assert row["note"] == ""


def test_run_arrival_rate_looks_back_91_days() -> None:
    # Runs every 10 days on days 0..120 (13 runs); as of day 120 the lookback is days
    # 30..120 (day > 120 - 91 = 29): 10 runs in 91 days. A burst of 231 cases on the
    # last day is one run among them, not the daily rate: (9 x 10 + 231) / 91 = 3.53.
    days = list(range(0, 121, 10))
    sizes = [10] * 12 + [231]
    h = runs_history(days, sizes, [s // 2 for s in sizes])
    row = forecast(h, POLICY, horizon="30D", n_sims=200).table.iloc[0]
    assert row["runs"] == 13
    assert row["runs_per_day"] == pytest.approx(10 / 91)
    assert row["cases_per_day"] == pytest.approx((9 * 10 + 231) / 91)


def test_without_a_run_id_the_cases_at_one_timestamp_are_one_run() -> None:
    # Five cases at noon on each of days 0..5 (no run_id): 6 runs of 5 cases over 6 days.
    stamps = [T0 + pd.Timedelta(days=d, hours=12) for d in range(6) for _ in range(5)]
    h = load_history(pd.DataFrame({"timestamp": stamps, "action": "a", "passed": True}))
    row = forecast(h, POLICY, horizon="30D", n_sims=200).table.iloc[0]
    assert (row["runs"], row["cases_per_run"], row["runs_per_day"]) == (6, 5.0, 1.0)


def test_a_run_id_joins_cases_at_different_moments() -> None:
    # Three cases a minute apart share a run id: 6 runs of 3 cases, not 18 runs of 1.
    rows = [
        (T0 + pd.Timedelta(days=d, hours=12, minutes=k), f"run-{d}")
        for d in range(6)
        for k in range(3)
    ]
    frame = pd.DataFrame(rows, columns=["timestamp", "run_id"]).assign(action="a", passed=True)
    row = forecast(load_history(frame), POLICY, horizon="30D", n_sims=200).table.iloc[0]
    assert (row["runs"], row["cases_per_run"]) == (6, 3.0)


def test_a_class_with_too_few_runs_is_not_forecast_and_says_so() -> None:
    # Four runs, each spread over two days (cases on days 0-1, 2-3, 4-5, 6-7): evidence
    # on 8 distinct days, enough days, but only 4 runs, one short of MIN_RUNS = 5.
    rows = [
        (T0 + pd.Timedelta(days=2 * r + half, hours=12), f"r{r}")
        for r in range(4)
        for half in (0, 1)
    ]
    frame = pd.DataFrame(rows, columns=["timestamp", "run_id"]).assign(action="a", passed=True)
    row = forecast(load_history(frame), POLICY, horizon="30D", n_sims=100).table.iloc[0]
    assert row["note"] == (
        "not forecast: evidence from only 4 eval runs (needs 5 to estimate how often runs "
        "arrive and how large they are)"
    )
    assert row["runs"] == 4
    assert np.isnan(row["p_within_horizon"]) and pd.isna(row["p50_date"])


def test_a_fifth_run_lifts_the_refusal() -> None:
    rows = [
        (T0 + pd.Timedelta(days=2 * r + half, hours=12), f"r{r}")
        for r in range(5)
        for half in (0, 1)
    ]
    frame = pd.DataFrame(rows, columns=["timestamp", "run_id"]).assign(action="a", passed=True)
    row = forecast(load_history(frame), POLICY, horizon="30D", n_sims=100).table.iloc[0]
    assert row["note"] == "" and row["runs"] == 5
    assert not np.isnan(row["p_within_horizon"])


def test_simulated_runs_have_the_sizes_of_observed_runs() -> None:
    # Two observed runs: 3 normal cases, or 2 adversarial ones. Every simulated day holds
    # whole runs: normal cases a multiple of 3, adversarial a multiple of 2. At 0.5 runs
    # a day, half of them normal runs, a day holds 0.5 x 0.5 x 3 = 0.75 normal cases and
    # 0.5 x 0.5 x 2 = 0.5 adversarial cases on average.
    arrivals = _Arrivals(runs=2, days=4, sizes=np.array([[3, 0], [0, 2]]), switches=0)
    rng = np.random.default_rng(0)
    sims, days = 200, 500
    paths = (np.full((sims, days), 0.5), np.full((sims, days), 0.5))
    out = _simulated_arrivals(rng, rng.poisson(0.5, (sims, days)), arrivals, paths)
    assert (out[0] % 3 == 0).all() and (out[2] % 2 == 0).all()
    assert out[0].mean() == pytest.approx(0.75, rel=0.03)
    assert out[2].mean() == pytest.approx(0.5, rel=0.03)
    assert (out[1] <= out[0]).all() and (out[3] <= out[2]).all()


def test_what_arrives_is_an_eval_day_with_the_runs_it_had() -> None:
    # Runs of 10 cases: three on day 0, one on day 10, one on day 20 (as of day 20, a
    # class 21 days old). 5 runs in 21 days (the table's pace), but they came on 3 eval
    # days: units of 30, 10 and 10 cases. Days 0..20, eval days 0, 10 and 20: of the 20
    # days followed by another, 18 are quiet (2 of them followed by an eval day, days 9
    # and 19) and 2 are eval days (neither followed by one).
    h = runs_history([0, 0, 0, 10, 20], [10] * 5, [5] * 5)
    runs = _runs_of(h, None)["a"]
    found = _arrivals(runs, int(runs.time_ns[-1]))
    assert (found.runs, found.days, found.eval_days) == (5, 21, 3)
    assert found.runs_per_day == pytest.approx(5 / 21)
    assert found.units.tolist() == [[30, 10, 10], [0, 0, 0]]
    assert found.chain == (18, 2, 2, 0)
    # Simulated days hold whole eval days: 0, 10, 20, 30, ... never 10 of a 30-case day.
    rng = np.random.default_rng(3)
    paths = (np.full((100, 300), 0.5), np.full((100, 300), 0.5))
    out = _simulated_arrivals(rng, (rng.random((100, 300)) < 0.2).astype(int), found, paths)
    assert (out[0] % 10 == 0).all()
    # At 0.2 eval days a day, each of 50/3 cases on average: 10/3 cases a day.
    assert out[0].mean() == pytest.approx(0.2 * 50 / 3, rel=0.05)


def test_the_chances_of_an_eval_day_are_drawn_from_their_posteriors() -> None:
    # The chain of the test above: 2 of 18 quiet days followed by an eval day, 0 of 2
    # eval days. Beta(2.5, 16.5) has mean 2.5 / 19 and sd sqrt(2.5 x 16.5 / (19^2 x
    # 20)); Beta(0.5, 2.5) mean 1/6 and sd sqrt(0.5 x 2.5 / (3^2 x 4)).
    arrivals = _Arrivals(
        runs=5, days=21, sizes=np.array([[10] * 5, [0] * 5]), switches=0, chain=(18, 2, 2, 0)
    )
    start, stay = arrivals.chances(np.random.default_rng(1), 40_000)
    assert start.mean() == pytest.approx(2.5 / 19, rel=0.02)
    assert start.std() == pytest.approx(np.sqrt(2.5 * 16.5 / (19**2 * 20)), rel=0.03)
    assert stay.mean() == pytest.approx(1 / 6, rel=0.03)
    assert stay.std() == pytest.approx(np.sqrt(0.5 * 2.5 / (9 * 4)), rel=0.03)


def test_the_trend_across_runs_ignores_the_gap_between_them() -> None:
    # Three runs on days 0-2 pass 14 of 20, three on days 50-52 pass 16 of 20: no run in
    # the 28 days before the last ones, yet a trend: the halves are the first three runs
    # and the last three, (48 + 0.5) / 61 - (42 + 0.5) / 61 = 6 / 61.
    h = runs_history([0, 1, 2, 50, 51, 52], [20] * 6, [14] * 3 + [16] * 3)
    row = forecast(h, POLICY, horizon="30D", n_sims=200).table.iloc[0]
    assert row["pass_rate_trend"] == pytest.approx(6 / 61)
    assert row["trend_note"] == ""


def test_too_few_runs_for_a_trend_is_said() -> None:
    # Five runs, but with trend=False nothing is estimated into the forecast: said so;
    # and runs all in one week leave the halves' middles too close together.
    h = runs_history([0, 1, 2, 3, 4], [20] * 5, [15] * 5)
    off = forecast(h, POLICY, horizon="30D", n_sims=100, trend=False).table.iloc[0]
    assert off["trend_note"] == "trend off: not asked for"
    on = forecast(h, POLICY, horizon="30D", n_sims=100).table.iloc[0]
    # halves: runs 0-1 (middle day 0.5) and 2-4 (middle day 3): 2.5 days apart
    assert on["trend_note"] == (
        "trend off for pass rate: 5 runs whose halves' middles are only 2.5 days apart "
        "(needs 7) over the last 91 days"
    )
    assert np.isnan(on["pass_rate_trend"])


def test_agent_version_starts_a_regime_and_reset_on_names_another_column() -> None:
    days = [0, 10, 20, 30, 40, 50]
    versions = ["v1", "v1", "v1", "v2", "v2", "v2"]
    models = ["m1", "m1", "m1", "m1", "m2", "m2"]
    h = runs_history(days, [20] * 6, [10] * 6, agent_version=versions, model=models)
    row = forecast(h, POLICY, horizon="30D", n_sims=100).table.iloc[0]
    assert row["regime"] == "agent_version = v2 since 2026-03-31"
    by_model = TrustPolicy(
        POLICY.actions, POLICY.thresholds, graduation=GraduationSettings(reset_on="model")
    )
    fc = forecast(h, by_model, horizon="30D", n_sims=100)
    assert fc.table.iloc[0]["regime"] == "model = m2 since 2026-04-10"
    assert fc.regime == "model"  # the report's lede names it
    none = forecast(h, POLICY, horizon="30D", n_sims=100, regime=None)
    assert none.table.iloc[0]["regime"] == "" and none.regime is None
    with pytest.raises(OptionError, match="regime"):
        forecast(h, POLICY, horizon="30D", n_sims=100, regime="nope")
    # A typo is named, and only the columns that could mark a regime are listed (not
    # the time, the class or the counts the loader made).
    with pytest.raises(OptionError) as typo:
        forecast(h, POLICY, horizon="30D", n_sims=100, regime="agent_versoin")
    assert str(typo.value) == (
        "regime: 'agent_versoin' is not a column of the history (did you mean "
        "'agent_version'? its other columns: agent_version, run_id, model)"
    )


def test_backtest_scores_by_hand() -> None:
    bt = pd.DataFrame(
        {
            "p_within_horizon": [0.9, 0.2, 0.95, 0.5],
            "graduated": [True, False, True, False],
            "within_given_band": [True, False, False, False],
            "within_band": [True, True, True, False],
            "outside_given_band": ["", "", "late", ""],
            "given_band_share": [0.8, 0.85, 0.9, 0.8],
            "band_share": [0.8, 0.5, 0.85, 0.7],
        }
    )
    s = backtest_scores(bt)
    # Brier: (0.1^2 + 0.2^2 + 0.05^2 + 0.5^2) / 4 = 0.3025 / 4; base rate 1/2, whose
    # Brier is 1/2 x 1/2 = 0.25; skill 1 - 0.075625 / 0.25 = 0.6975.
    assert s.brier == pytest.approx(0.075625)
    assert (s.base_rate, s.brier_baseline) == (0.5, 0.25)
    assert s.brier_skill == pytest.approx(0.6975)
    # Two graduated, one inside the band given graduation (the one shown); two
    # committed (p >= 0.9), one of them right. Both graduated were inside the plain
    # band, and 3 of the 4 rows, pooled.
    assert (s.graduated, s.graduated_inside, s.graduated_coverage) == (2, 1, 0.5)
    assert (s.committed, s.committed_right, s.committed_accuracy) == (2, 1, 0.5)
    assert s.unconditional_coverage == 1.0
    assert s.inside == 0.75
    # Calibrated, each graduated row (the first and third) falls inside its band with
    # the chance its share says: (0.8 + 0.9) / 2 in the given band, (0.8 + 0.85) / 2 in
    # the plain one. The rows that did not graduate do not count.
    assert s.expected_coverage == pytest.approx(0.85)
    assert s.calibrated_coverage == pytest.approx(0.825)
    # The one miss was late; 1 of 2 inside: Wilson 95% 0.5 -+ 1.96 x sqrt(0.125 +
    # 1.96^2 / 16) / (1 + 1.96^2 / 2) = 0.5 -+ 0.40547.
    assert (s.graduated_early, s.graduated_late) == (0, 1)
    assert s.coverage_interval == pytest.approx((0.09453, 0.90547), abs=1e-5)
    tenths = s.reliability.set_index("bin_lo")
    assert tenths.loc[0.9, "forecasts"] == 2
    assert tenths.loc[0.9, "mean_p"] == pytest.approx(0.925)
    assert tenths.loc[0.9, "observed"] == 1.0
    assert tenths.loc[0.5, "observed"] == 0.0 and tenths.loc[0.2, "forecasts"] == 1
    assert tenths["forecasts"].sum() == 4


def test_brier_skill_is_undefined_when_every_outcome_is_alike() -> None:
    bt = pd.DataFrame(
        {
            "p_within_horizon": [0.1, 0.3],
            "graduated": [False] * 2,
            "within_band": [True] * 2,
            "within_given_band": [False] * 2,
            "outside_given_band": [""] * 2,
            "given_band_share": [0.8] * 2,
            "band_share": [0.5, 0.6],
        }
    )
    s = backtest_scores(bt)
    assert s.brier_baseline == 0.0 and np.isnan(s.brier_skill)
    assert np.isnan(s.graduated_coverage) and np.isnan(s.committed_accuracy)
    assert np.isnan(s.unconditional_coverage) and np.isnan(s.coverage_interval[0])
    assert np.isnan(s.expected_coverage)  # no graduation to score


def test_what_a_calibrated_forecast_would_cover_by_hand() -> None:
    # P = 0.95, 0.5, 0.05, 0.3: 1.8 graduations expected. With graduation days spread
    # thin, a graduation falls inside the plain band with probability about
    # (min(P, 0.9) - 0.1) / P (the band of P = 0.5 runs from its 10th percentile to the
    # horizon): band shares 0.8 / 0.95, 0.4 / 0.5, 0 and 0.2 / 0.3. The two that
    # graduated (P 0.95 and 0.5) fall inside with chances 0.842 and 0.8: 0.821 on
    # average, and on rows of lower P far less. The band given graduation has no
    # such loss: 80% of each row's graduations.
    bt = pd.DataFrame(
        {
            "p_within_horizon": [0.95, 0.5, 0.05, 0.3],
            "graduated": [True, True, False, False],
            "within_band": [True, False, True, True],
            "within_given_band": [True, True, False, False],
            "outside_given_band": [""] * 4,
            "band_share": [0.8 / 0.95, 0.8, 0.0, 0.2 / 0.3],
            "given_band_share": [0.8] * 4,
        }
    )
    s = backtest_scores(bt)
    assert s.expected_graduated == pytest.approx(1.8)
    assert s.calibrated_coverage == pytest.approx((0.8 / 0.95 + 0.8) / 2)
    assert s.expected_coverage == pytest.approx(0.8)
    assert (s.graduated, s.unconditional_coverage) == (2, 0.5)
    assert s.graduated_coverage == 1.0


def test_the_band_given_graduation_by_hand() -> None:
    """Ten simulations, four reach the next state, on days 2, 4, 6 and 8. The plain
    percentiles (inverted cdf) over all ten: the 10th is day 2, the 50th and 90th lie
    beyond the horizon. Among the four that reach it (each a quarter): the 10th is
    day 2, the 50th day 4 (the first at or above one half), the 90th day 8."""
    first = np.array([2, 4, 6, 8] + [np.inf] * 6)
    as_of = T0 + pd.Timedelta(hours=6)
    row, cdf = _summary(first, 30, as_of, 10)
    assert row["p_within_horizon"] == 0.4
    assert row["p10_date"] == as_of + pd.Timedelta(days=2)
    assert pd.isna(row["p50_date"]) and pd.isna(row["p90_date"])
    assert row["given_p10_date"] == as_of + pd.Timedelta(days=2)
    assert row["given_p50_date"] == as_of + pd.Timedelta(days=4)
    assert row["given_p90_date"] == as_of + pd.Timedelta(days=8)
    # Both bands hold all four graduations: whole days, both ends in, so more than 80%
    # where the days are few. The plain one runs from day 2 to the horizon.
    assert row["given_band_share"] == 1.0 and row["band_share"] == 1.0
    assert cdf.set_index("day").loc[[1, 2, 7, 8, 30], "probability"].tolist() == [
        0.0,
        0.1,
        0.3,
        0.4,
        0.4,
    ]
    none, _ = _summary(np.full(10, np.inf), 30, as_of, 10)
    assert none["p_within_horizon"] == 0.0 and pd.isna(none["given_p10_date"])
    assert np.isnan(none["given_band_share"])
    # Days 1..10, one simulation each: the band is days 1 to 9 (the 90th percentile is
    # the first day with 90% at or before it), which holds 9 of the 10: 0.9, not 0.8.
    spread, _ = _summary(np.arange(1.0, 11.0), 30, as_of, 10)
    assert spread["given_p10_date"] == as_of + pd.Timedelta(days=1)
    assert spread["given_p90_date"] == as_of + pd.Timedelta(days=9)
    assert spread["given_band_share"] == 0.9


def _alternating(n: int, regimes: int, day_apart: int = 10) -> _Runs:
    """One class whose regimes (one run each, ``n`` cases) pass none, then all, ..."""
    passed = [0 if r % 2 == 0 else n for r in range(regimes)]
    counts = np.array([[n] * regimes, passed, [0] * regimes, [0] * regimes])
    stamps = np.array([(T0 + pd.Timedelta(days=day_apart * r)).value for r in range(regimes)])
    return _Runs(stamps, counts, np.arange(regimes), ("",))


def test_the_jump_size_weighs_each_change_by_its_precision() -> None:
    """DerSimonian-Laird over the changes of regime, by hand.

    Runs of 3 cases passing 0, 3, 0, 3: Jeffreys rates 0.5/4 = 1/8 and 3.5/4 = 7/8,
    logits -ln 7 and +ln 7, so the 3 changes are d = +2L, -2L, +2L (L = ln 7), each
    with sampling variance 2 / (3 x 1/8 x 7/8) = 128/21, weight w = 21/128. Weighted
    mean 2L/3; Q = w x ((4L/3)^2 + (8L/3)^2 + (4L/3)^2) = (21/128)(32/3) L^2 = 7/4 L^2;
    sum w - sum w^2 / sum w = 63/128 - 21/128 = 21/64; tau^2 = (7/4 L^2 - 2) x 64/21;
    the offset of one regime from the line is tau / sqrt 2.
    The unweighted estimate it replaced, sqrt((mean(d^2) - mean(v)) / 2), gives
    sqrt((4L^2 - 128/21) / 2) = 2.13 here, against 2.66: checked to fail this test.
    """
    tau2 = (7 / 4 * np.log(7) ** 2 - 2) * 64 / 21
    assert _jump_sd({"a": _alternating(3, 4)}) == pytest.approx(np.sqrt(tau2 / 2))
    # Two changes are too few to learn a spread from (MIN_REGIME_CHANGES = 3).
    assert _jump_sd({"a": _alternating(3, 3)}) == 0.0
    # Runs of one case (d = +-2 ln 3, v = 32/3): Q = (3/32)(32/3) ln(3)^2 = 1.21 < k - 1
    # = 2, all of the spread is sampling: no jumps.
    assert _jump_sd({"a": _alternating(1, 4)}) == 0.0


def test_the_jump_spread_is_drawn_by_the_q_profile() -> None:
    """With equal sampling variances the Q-profile has a closed form. The 3 changes
    of the runs of 3 cases above (d = +2L, -2L, +2L, v = 128/21 each) have
    sum((d - mean)^2) = S = 32/3 L^2 whatever tau^2, so Q(tau^2) = S / (v + tau^2),
    and Q = c gives tau^2 = S / c - v (0 when that is negative): for each draw c of
    chi-squared with 2 degrees of freedom, the spread is sqrt(tau^2 / 2)."""
    size = 2000
    c = np.random.default_rng(7).chisquare(2, size)
    s, v = 32 / 3 * np.log(7) ** 2, 128 / 21
    expected = np.sqrt(np.clip(s / c - v, 0, None) / 2)
    drawn = _jump_sds({"a": _alternating(3, 4)}, np.random.default_rng(7), size)
    # Solved at quantiles of the draws and read off linearly in 1 / c, which is exact
    # here (the kinks at 0 and at the cap, MAX_JUMP_SD = 10 logits, are grid points).
    assert drawn == pytest.approx(np.minimum(expected, 10.0), abs=1e-6)
    # The point estimate sits inside the draws, not at their edge.
    point = _jump_sd({"a": _alternating(3, 4)})
    assert np.quantile(drawn, 0.2) < point < np.quantile(drawn, 0.8)
    # Two changes: nothing to learn from, no jumps.
    assert not _jump_sds({"a": _alternating(3, 3)}, np.random.default_rng(7), size).any()


def test_the_drift_across_regimes_by_hand() -> None:
    """Three regimes on days 0, 10, 20 of 1, 2 and 1 cases passing 0, 1, 1: Jeffreys
    rates 1/4, 1/2, 3/4 (logits -ln 3, 0, ln 3), sampling variances 16/3, 2, 16/3.
    With tau = 0 the weights are 3/16, 1/2, 3/16: the weighted mean day is 10,
    Sxx = 2 x 3/16 x 100 = 37.5, slope = (3/16 x 10 x ln 3 x 2) / 37.5 = ln(3) / 10
    logits a day, standard error sqrt(1 / 37.5). With tau = 1 the weights are 3/19,
    1/3, 3/19: the same slope, Sxx = 600/19, a wider error sqrt(19/600)."""
    counts = np.array([[1, 2, 1], [0, 1, 1], [0, 0, 0], [0, 0, 0]])
    stamps = np.array([(T0 + pd.Timedelta(days=d)).value for d in (0, 10, 20)])
    runs = _Runs(stamps, counts, np.array([0, 1, 2]), ("v1", "v2", "v3"))
    as_of = int(stamps[-1])
    tight = _drift(runs, as_of, 0.0)
    assert tight is not None
    assert tight.slope == pytest.approx(np.log(3) / 10)
    assert tight.se == pytest.approx(np.sqrt(1 / 37.5))
    assert tight.span_days == pytest.approx(20.0)
    wide = _drift(runs, as_of, 1.0)
    assert wide is not None
    assert wide.slope == pytest.approx(np.log(3) / 10)
    assert wide.se == pytest.approx(np.sqrt(19 / 600))
    # Regimes of thousands of cases are placed on the same days (cases x nanoseconds
    # since 1970 overflowed 64 bits once, and put them thousands of days apart).
    many = _Runs(stamps, counts * 5000, runs.regime, runs.names)
    found = _drift(many, as_of, 0.0)
    assert found is not None and found.span_days == pytest.approx(20.0)
    # Two regimes are too few (MIN_REGIME_CHANGES = 3), as is one regime of many runs.
    assert _drift(runs.take(np.array([True, True, False])), as_of, 0.0) is None
    one = _Runs(stamps, counts, np.zeros(3, dtype=np.int64), ("",))
    assert _drift(one, as_of, 0.0) is None


def test_a_class_quiet_over_the_lookback_draws_the_sizes_of_its_earlier_runs() -> None:
    # Class b ran 5 runs of 10 cases on days 0-4 and nothing since; class a runs on to
    # day 200, so as of day 200 b has 0 runs in its 91-day lookback: 0 runs a day. Its
    # rate's posterior Gamma(1/2, 91) can still start runs: they are 10 cases each (the
    # forecast used to fail drawing a size from no runs).
    days = [0, 1, 2, 3, 4]
    b = runs_history(days, [10] * 5, [5] * 5).assign(action="b")
    a = runs_history(list(range(0, 201, 40)), [10] * 6, [5] * 6)
    both = pd.concat([a, b], ignore_index=True)
    policy = TrustPolicy(
        {
            "a": ActionClass("a", RiskTier.REVERSIBLE_WRITE),
            "b": ActionClass("b", RiskTier.REVERSIBLE_WRITE),
        },
        POLICY.thresholds,
    )
    row = forecast(both, policy, horizon="30D", n_sims=500).table.set_index("action").loc["b"]
    assert row["note"] == "" and row["runs"] == 5
    assert row["runs_per_day"] == 0.0
    assert 0.0 <= row["p_within_horizon"] <= 1.0


def _span(days: float) -> pd.DataFrame:
    stamps = [T0, T0 + pd.Timedelta(days=days)]
    return load_history(pd.DataFrame({"timestamp": stamps, "action": "a", "passed": True}))


def test_backtest_plan_keeps_the_horizon_when_the_history_has_room() -> None:
    # 180 days, horizon 90: cuts at days 45, 60, 75 and 90 (90 + 90 = 180).
    plan = backtest_plan(_span(179.5), 90)
    assert plan.span_days == 180 and plan.horizon_days == 90 and not plan.shortened
    assert plan.cuts == [T0 + pd.Timedelta(days=d) for d in (45, 60, 75, 90)]


def test_backtest_plan_shortens_the_horizon_of_a_short_history_and_says_so() -> None:
    # 142 days: three cuts from day 45, 15 days apart, leave 142 - 75 = 67 days.
    plan = backtest_plan(_span(141.5), 90)
    assert (plan.span_days, plan.horizon_days, plan.shortened) == (142, 67, True)
    assert plan.cuts == [T0 + pd.Timedelta(days=d) for d in (45, 60, 75)]
    # 80 days leave 5: no backtest.
    assert backtest_plan(_span(79.5), 90).cuts == []


def test_backtest_on_run_based_histories_beats_the_base_rate() -> None:
    """The honest score on run-based synthetic histories (several seeds): cuts every
    15 days from day 45, 60-day horizon, cumulative window, default regimes.

    Measured (seeds 0-3, 500 simulations, each forecast made at its cut): Brier skill
    +0.35 against the base rate; of the 29 forecasts whose class graduated within
    the horizon, 23 (79%, 95% Wilson 62-90%) fell inside the band given graduation
    (the band shown), where a calibrated forecast would put 85% (``expected_coverage``:
    whole days, both ends in, so at least 80%); of the 6 misses, 5 came late. Inside
    the plain band: 17 (59%), where a calibrated forecast would score 68%
    (``calibrated_coverage``: most rows gave P(within horizon) well under 0.9, where the
    plain band ends at the horizon). Seeds 0 and 3 are the hard ones: every class
    shares each new agent's effect, and seed 0's later agents are all better than its
    earlier ones, seed 3's all worse. The test holds what is achieved: the calibrated
    coverage inside the observed coverage's 95% interval, the coverage within the
    issue's 80% +- 10, so a change that loses the skill or the coverage fails it.
    """
    from warrantd import load_policy
    from warrantd.analytics.forecast import backtests
    from warrantd.analytics.synth import generate

    policy = load_policy("datasets/coding-agent.policy.toml")
    frames = []
    for seed in range(4):
        h = load_history(generate(seed, mode="runs"))
        start = h["timestamp"].min().floor("D")
        cuts = [start + pd.Timedelta(days=d) for d in range(45, 121, 15)]
        frames.append(backtests(h, policy, cuts, horizon="60D", n_sims=500))
    scores = backtest_scores(pd.concat(frames))
    assert scores.graduated >= 10
    assert scores.brier_skill > 0.3, scores
    assert 0.7 <= scores.graduated_coverage <= 0.9, scores
    low, high = scores.coverage_interval
    assert low <= scores.expected_coverage <= high, scores
    assert scores.unconditional_coverage >= scores.calibrated_coverage - 0.1, scores


def test_a_chance_is_never_shown_as_certain_or_impossible_when_it_is_not() -> None:
    # 2 of 1,000 simulations: "<1%", not "0%" beside a band; 998 of 1,000: ">99%".
    assert [chance_text(p) for p in (0.0, 0.002, 0.005, 0.42, 0.994, 0.998, 1.0)] == [
        "0%",
        "<1%",
        "<1%",  # rounds to 0% (half to even)
        "42%",
        "99%",
        ">99%",
        "100%",
    ]
    assert chance_text(float("nan")) == "—"


def test_changing_one_class_leaves_every_other_class_forecast_as_it_was() -> None:
    """Each class draws from its own stream (seed and name), not from its place among
    the others: capping class a at MANUAL (so it is no longer simulated) leaves b's
    forecast the same to the bit, though a comes first. (Checked to fail with one
    stream drawn class after class.) Only the spread of regime jumps is pooled over
    the classes' histories."""
    import dataclasses

    from warrantd.autonomy import AutonomyState

    days = list(range(0, 40, 2))  # 20 runs of 8 passing cases: SUPERVISED, 160 of 400
    one = runs_history(days, [8] * len(days), [8] * len(days))
    history = load_history(pd.concat([one, one.assign(action="b")], ignore_index=True))
    a = ActionClass("a", RiskTier.REVERSIBLE_WRITE)
    b = ActionClass("b", RiskTier.REVERSIBLE_WRITE)
    base = TrustPolicy({"a": a, "b": b}, POLICY.thresholds)
    capped = TrustPolicy(
        {"a": dataclasses.replace(a, max_state=AutonomyState.MANUAL), "b": b}, POLICY.thresholds
    )
    first, second = (
        forecast(history, policy, horizon="60D", n_sims=300).table.set_index("action")
        for policy in (base, capped)
    )
    assert 0 < first.loc["b", "p_within_horizon"] < 1
    assert second.loc["a", "next_state"] == ""  # a is no longer simulated
    pd.testing.assert_series_equal(second.loc["b"], first.loc["b"])
