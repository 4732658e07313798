"""When runs arrive and when the forecast is made: the chain of eval days, the quiet
since the last evidence (``forecast(now=...)``), the band compared in simulated days
since ``as_of``, the chance that an eval day brings a new regime, and the line a new
regime starts around.

Every expected figure is worked out by hand in the comment above it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from warrantd import ActionClass, RiskTier, TrustPolicy
from warrantd.analytics import load_history
from warrantd.analytics.forecast import (
    NS_PER_DAY,
    _Arrivals,
    _arrivals,
    _line,
    _open_days,
    _Runs,
    _runs_of,
    forecast,
    within_band,
)
from warrantd.errors import OptionError

from ..helpers import make_thresholds
from .test_forecast_runs import POLICY, T0, runs_history

DAY = pd.Timedelta("1D")


# ------------------------------------------------------------------ the chain of eval days


def test_the_share_of_each_simulated_day_after_the_forecast_is_made() -> None:
    # Made 2.5 days after as_of: days 1 and 2 (ending at as_of + 1, + 2 days) are over,
    # day 3 is open for its last half, days 4 and 5 whole.
    assert _open_days(0, int(2.5 * NS_PER_DAY), 5).tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert _open_days(0, 0, 3).tolist() == [1.0, 1.0, 1.0]


def sure_chain(start: float, stay: float) -> _Arrivals:
    """A chain whose chances are known to within a hair: 10^6 days of each kind."""
    big = 1_000_000
    chain = (big, int(start * big), big, int(stay * big))
    return _Arrivals(1, 10, np.array([[1], [0]]), 0, chain=chain)


def test_eval_days_follow_the_chain() -> None:
    # start 0.1, stay 0.7: after an eval day the next is one 70% of the time, after a
    # quiet day 10% of the time; in the long run 0.1 / (0.1 + 0.3) = 25% of days. Day 1
    # follows the last evidence's day, an eval day: 70%.
    days = sure_chain(0.1, 0.7).started(np.random.default_rng(0), 4000, 200)
    assert set(np.unique(days)) <= {0, 1}
    before, after = days[:, :-1], days[:, 1:]
    assert after[before == 0].mean() == pytest.approx(0.1, abs=0.005)
    assert after[before == 1].mean() == pytest.approx(0.7, abs=0.01)
    assert days[:, 100:].mean() == pytest.approx(0.25, abs=0.01)
    assert days[:, 0].mean() == pytest.approx(0.7, abs=0.02)


def test_no_eval_day_before_the_forecast_is_made() -> None:
    # Made 2.5 days after as_of: days 1-2 are known quiet (never an eval day); the chain
    # restarts from a quiet day, so day 3 is one with chance 0.1, kept for the half of it
    # that is open: 0.05. Day 4: 0.1 x 0.7 + 0.9 x 0.1 = 0.16 (day 3's chain state is
    # an eval day 10% of the time, thinned or not).
    open_days = _open_days(0, int(2.5 * NS_PER_DAY), 10)
    days = sure_chain(0.1, 0.7).started(np.random.default_rng(1), 40_000, 10, open_days)
    assert not days[:, :2].any()
    assert days[:, 2].mean() == pytest.approx(0.05, abs=0.005)
    assert days[:, 3].mean() == pytest.approx(0.16, abs=0.01)


def test_the_quiet_since_the_last_evidence_counts_in_the_chain() -> None:
    # Runs on days 0-4, every day. Made on day 4: days 0..4, four of them followed by
    # another, all eval days followed by eval days: (0, 0, 4, 4). Made on day 8: days
    # 0..8, of the 8 followed by another, 5 are eval days (4 followed by one: days 1-4)
    # and 3 quiet (days 5-7, none followed by an eval day): (3, 0, 5, 4). Day 8 counts
    # as quiet though only half of it has passed (see _arrivals: measured, that fits).
    h = runs_history([0, 1, 2, 3, 4], [10] * 5, [10] * 5)
    runs = _runs_of(h, None)["a"]
    assert _arrivals(runs, int(runs.time_ns[-1])).chain == (0, 0, 4, 4)
    later = _arrivals(runs, int(runs.time_ns[-1]) + 4 * NS_PER_DAY)
    assert (later.days, later.chain) == (9, (3, 0, 5, 4))


# ------------------------------------------------------------------ forecast(now=...)


def test_a_forecast_made_later_knows_nothing_came() -> None:
    # Five daily runs of 10 passing cases: 50 cases, 50 short of SUPERVISED's 100. Days
    # count from as_of (day 4, noon): the horizon is 10 days. Made at as_of, runs came
    # every day so far and the class most likely gets there; made 4 days later with
    # nothing new, the chain has seen 3 quiet days and only 6 days are left: less likely.
    # Made 10 days later no simulated day is open: it cannot get there.
    h = runs_history([0, 1, 2, 3, 4], [10] * 5, [10] * 5)
    as_of = T0 + pd.Timedelta(days=4, hours=12)
    at = forecast(h, POLICY, horizon="10D", n_sims=2000)
    assert at.now == at.as_of == as_of
    p_at = at.table.iloc[0]["p_within_horizon"]
    later = forecast(h, POLICY, horizon="10D", n_sims=2000, now=as_of + 4 * DAY)
    assert later.as_of == as_of and later.now == as_of + 4 * DAY
    p_later = later.table.iloc[0]["p_within_horizon"]
    assert p_at > 0.8 and p_later < p_at - 0.3
    # The pace is measured up to when it is made: 5 runs in days 0..8, not 0..4.
    assert at.table.iloc[0]["runs_per_day"] == pytest.approx(5 / 5)
    assert later.table.iloc[0]["runs_per_day"] == pytest.approx(5 / 9)
    # The band's dates still count from as_of: day k is as_of + k days.
    p10 = later.table.iloc[0]["p10_date"]
    assert pd.isna(p10) or (((p10 - as_of) / DAY).is_integer() and p10 > as_of + 4 * DAY)
    gone = forecast(h, POLICY, horizon="10D", n_sims=500, now=as_of + 10 * DAY)
    assert gone.table.iloc[0]["p_within_horizon"] == 0.0
    with pytest.raises(OptionError, match="now"):
        forecast(h, POLICY, horizon="10D", n_sims=100, now=as_of - pd.Timedelta("1h"))


# ------------------------------------------------------------------ the band, in days since as_of


def test_the_band_is_compared_in_simulated_days_since_as_of() -> None:
    # as_of at 20:00; the band is days 1 to 3 (p10 = as_of + 1 day, p90 = as_of + 3 days).
    as_of = pd.Timestamp("2026-05-01 20:00", tz="UTC")
    p10, p90 = as_of + DAY, as_of + 3 * DAY
    # A graduation 3 hours after as_of (23:00 the same date) is on simulated day 1:
    # inside, though its UTC date (May 1) is before p10's (May 2).
    three_hours = as_of + pd.Timedelta("3h")
    assert within_band(three_hours, p10, p90, as_of=as_of)
    assert not within_band(three_hours, p10, p90)  # by date: "early"
    # 1 hour past as_of + 3 days is day 4: outside, though it shares p90's date.
    late = p90 + pd.Timedelta("1h")
    assert not within_band(late, p10, p90, as_of=as_of)
    assert within_band(late, p10, p90)  # by date: "inside"
    # Exactly as_of + 3 days is day 3, inside; no graduation is inside only when the
    # p90 lies beyond the horizon; no p10, nothing inside.
    assert within_band(p90, p10, p90, as_of=as_of)
    assert within_band(pd.NaT, p10, pd.NaT, as_of=as_of)
    assert not within_band(pd.NaT, p10, p90, as_of=as_of)
    assert within_band(as_of + 40 * DAY, p10, pd.NaT, as_of=as_of)
    assert not within_band(three_hours, pd.NaT, pd.NaT, as_of=as_of)


# ------------------------------------------------------------------ regimes


def test_a_new_regime_comes_on_an_eval_day_with_its_chance() -> None:
    # Runs on days 0, 0, 10, 20, 30 with agents v1, v2, v2, v3, v3: changes on day 0
    # (v1 -> v2, the second run) and day 20: 2 of the 4 eval days brought a regime.
    h = runs_history(
        [0, 0, 10, 20, 30], [10] * 5, [5] * 5, agent_version=["v1", "v2", "v2", "v3", "v3"]
    )
    found = _arrivals(_runs_of(h, "agent_version")["a"], int(h["timestamp"].max().value))
    assert (found.eval_days, found.switches, found.switch_days) == (4, 2, 2)


def test_the_line_weighs_each_regime_as_one_draw() -> None:
    """Regime A (v1): two runs of 3 cases passing none, 6 cases, Jeffreys rate 0.5/7 =
    1/14, logit -ln 13, sampling variance 1 / (6 x 1/14 x 13/14) = 98/39. Regime B (v2):
    one run of 3 passing all, rate 3.5/4 = 7/8, logit ln 7, variance 1 / (3 x 7/8 x 1/8) =
    64/21.

    With tau = 0 the line is their precision-weighted mean, weights 39/98 and 21/64;
    with a spread of regimes far above the sampling variances the weights are equal and
    the line is (ln 7 - ln 13) / 2, whatever A's runs. (Pooling the 9 cases, as the line
    did, gives logit(3.5 / 10) = ln(0.35 / 0.65): checked to fail this test.) A run of v1
    again after v2 is still regime A, not a third regime."""
    counts = np.array([[3, 3, 3], [0, 0, 3], [0, 0, 0], [0, 0, 0]])
    stamps = np.array([(T0 + pd.Timedelta(days=d)).value for d in (0, 10, 20)])
    runs = _Runs(stamps, counts, np.array([0, 0, 1]), ("v1", "v2"))
    as_of = int(stamps[-1])
    w_a, w_b = 39 / 98, 21 / 64
    line, age = _line(runs, as_of, 0.0)
    assert line == pytest.approx((w_a * -np.log(13) + w_b * np.log(7)) / (w_a + w_b))
    # A's cases sit on days 0 and 10 (middle day 5), B's on day 20: weighted middle
    # (5 w_a + 20 w_b) / (w_a + w_b), that many days before day 20.
    assert age == pytest.approx(20 - (5 * w_a + 20 * w_b) / (w_a + w_b))
    wide, _ = _line(runs, as_of, 1000.0)
    assert wide == pytest.approx((np.log(7) - np.log(13)) / 2, abs=1e-4)
    again = _Runs(
        np.append(stamps, (T0 + 30 * DAY).value),
        np.array([[3, 3, 3, 3], [0, 0, 3, 0], [0] * 4, [0] * 4]),
        np.array([0, 0, 1, 0]),
        ("v1", "v2"),
    )
    # A now has 9 cases passing none: rate 0.5/10, logit -ln 19; still two regimes.
    assert _line(again, int(again.time_ns[-1]), 1000.0)[0] == pytest.approx(
        (np.log(7) - np.log(19)) / 2, abs=1e-4
    )


def test_a_graduation_hours_after_as_of_is_scored_on_day_one() -> None:
    """End to end. Runs of 10 passing cases at 20:00 on days 0-29 (300 cases); one more
    run at 23:00 on day 29 brings 10 more. SUPERVISED needs 305 cases: the class gets
    there at 23:00 on day 29, 3 hours after the last evidence before the cut (21:00).

    Forecast at the cut: an eval day follows an eval day with chance Beta(29.5, 0.5)
    (mean 0.98), and simulated day 1 (to 20:00 on day 30) is open for 23 of its 24
    hours: day 1 is the 10th percentile, so the band starts at as_of + 1 day, on day
    30's date. By UTC date the graduation (day 29) was "early"; in the simulation's
    own unit it is on day 1, inside the band."""
    stamps = [T0 + pd.Timedelta(days=d, hours=20) for d in range(30)]
    stamps.append(T0 + pd.Timedelta(days=29, hours=23))
    full = load_history(
        pd.DataFrame(
            {
                "timestamp": stamps,
                "action": "a",
                "run_id": [f"r{i}" for i in range(31)],
                "n": 10,
                "n_passed": 10,
            }
        )
    )
    policy = TrustPolicy(
        {"a": ActionClass("a", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 305), (0.95, 0.0, 4000)),
    )
    from warrantd.analytics.forecast import backtest

    cut = T0 + pd.Timedelta(days=29, hours=21)
    row = backtest(full, policy, cut, horizon="10D", n_sims=1000).iloc[0]
    as_of = T0 + pd.Timedelta(days=29, hours=20)
    assert row["as_of"] == as_of and row["cut"] == cut
    assert row["p10_date"] == as_of + DAY
    assert row["actual_date"] == as_of + pd.Timedelta("3h")
    assert bool(row["graduated"]) and bool(row["within_band"])
    assert not within_band(row["actual_date"], row["p10_date"], row["p90_date"])  # by date
    # Nearly every simulation graduates within the horizon: the band given graduation
    # starts on the same day.
    assert row["p_within_horizon"] > 0.99 and row["given_p10_date"] == as_of + DAY
    assert bool(row["within_given_band"])


def _stand_in_forecast(band: tuple[int, int, int], plain: tuple[int, int | None]):  # type: ignore[no-untyped-def]
    """A forecast function giving one class P = 0.5, the band given graduation on days
    ``band`` (10th, 50th, 90th percentile) and the plain band from day ``plain[0]`` to
    ``plain[1]`` (None: beyond the horizon), whatever the history: so a backtest's
    scoring is checked against days worked out by hand, not against a simulation."""
    from warrantd.analytics.forecast import Forecast

    def fake(history: pd.DataFrame, policy: TrustPolicy, **options):  # type: ignore[no-untyped-def]
        as_of = history["timestamp"].max()
        day = lambda k: pd.NaT if k is None else as_of + k * DAY  # noqa: E731
        table = pd.DataFrame(
            [
                {
                    "action": "a",
                    "state": "MANUAL",
                    "next_state": "SUPERVISED",
                    "note": "",
                    "p_within_horizon": 0.5,
                    "p10_date": day(plain[0]),
                    "p50_date": pd.NaT,
                    "p90_date": day(plain[1]),
                    "given_p10_date": day(band[0]),
                    "given_p50_date": day(band[1]),
                    "given_p90_date": day(band[2]),
                    "given_band_share": 0.8,
                    "band_share": 0.9,
                }
            ]
        )
        horizon = pd.Timedelta(options["horizon"])
        return Forecast(table, {}, as_of, horizon, None, 1, 0)

    return fake


@pytest.mark.parametrize(
    ("band", "inside_given", "miss"),
    [((2, 3, 4), False, "late"), ((8, 9, 10), False, "early"), ((3, 6, 6), True, "")],
)
def test_a_backtest_scores_the_band_given_graduation_apart_from_the_plain_band(
    monkeypatch: pytest.MonkeyPatch, band: tuple[int, int, int], inside_given: bool, miss: str
) -> None:
    """Runs of 10 passing cases at noon on days 0-29 (300 cases), then one on day 35 at
    noon: SUPERVISED (305 cases) is reached then, 6 days after the last evidence before
    a cut at day 29 18:00 (as of day 29 noon): simulated day 6. The plain band runs from
    day 2 to beyond the horizon, so day 6 is inside it every time; the band given
    graduation holds it only when it spans day 6: days 2-4 miss it late, days 8-10
    early, days 3-6 hold it (both ends in). (Checked to fail when the given band is
    scored with the plain band's p90.)"""
    import importlib

    # The module, not the function warrantd.analytics re-exports under the same name.
    module = importlib.import_module("warrantd.analytics.forecast")
    days = [*range(30), 35]
    h = runs_history(days, [10] * 31, [10] * 31)
    policy = TrustPolicy(
        {"a": ActionClass("a", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 305), (0.95, 0.0, 4000)),
    )
    monkeypatch.setattr(module, "forecast", _stand_in_forecast(band, (2, None)))
    row = module.backtest(h, policy, T0 + pd.Timedelta(days=29, hours=18), horizon="20D").iloc[0]
    assert row["actual_date"] == T0 + pd.Timedelta(days=35, hours=12)
    assert bool(row["graduated"]) and bool(row["within_band"])
    assert bool(row["within_given_band"]) is inside_given
    assert row["outside_given_band"] == miss
    assert row["given_p50_date"] == T0 + pd.Timedelta(days=29 + band[1], hours=12)


# ------------------------------------------------------------------ made after evidence expired


def test_a_forecast_made_after_evidence_expired_never_reaches_a_state_in_the_past() -> None:
    # Five daily runs of 30 passing cases (days 0-4, noon): 150 cases, SUPERVISED under a
    # 30-day window at as_of (day 4 noon). By day 44 every case has left the window
    # (the last at day 34 noon), so the class is MANUAL when the forecast is made. The
    # days before then were graded on the old evidence: SUPERVISED on day 1. None of
    # them can be when the class "reaches" SUPERVISED: it was already past.
    h = runs_history([0, 1, 2, 3, 4], [30] * 5, [30] * 5)
    made = T0 + 44 * DAY
    fc = forecast(h, POLICY, horizon="60D", window="30D", n_sims=400, now=made)
    row = fc.table.iloc[0]
    assert (row["state"], row["next_state"]) == ("MANUAL", "SUPERVISED")
    assert pd.isna(row["p10_date"]) or row["p10_date"] > made
    # Five eval days, then 39 quiet ones: another run within 20 days is unlikely.
    assert row["p_within_horizon"] < 0.5


def test_a_backtest_cut_after_an_expiry_scores_what_came_after_the_cut() -> None:
    # As above, and the suite comes back on days 60-69. Cut at day 44: the class went
    # MANUAL at day 31 noon (120 cases were left at day 30 noon, 90 at day 31 noon), and
    # reached SUPERVISED again on day 63 at noon (4 runs: 120 cases). The outcome is that
    # second graduation, not the state the class still held at the day-30 expiry.
    from warrantd.analytics.forecast import backtest

    days = [0, 1, 2, 3, 4, *range(60, 70)]
    h = runs_history(days, [30] * len(days), [30] * len(days))
    bt = backtest(h, POLICY, T0 + 44 * DAY, horizon="60D", window="30D", n_sims=200)
    assert len(bt) == 1
    assert bt.iloc[0]["actual_date"] == T0 + pd.Timedelta(days=63, hours=12)
