"""The forecast grades simulated days exactly as a replay would grade those cases.

Differential: simulated arrivals, written into the history as real cases at
``as_of + k days``, replayed, and read back with ``Replay.state_at`` at each
simulated day end, give the states the forecast's grading step computed, for
cumulative, case-count and time windows, with and without arrivals (no arrivals:
each day's state is ``state_at(as_of + k days)`` of the history itself, evidence
expiring on the clock).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from warrantd import ActionClass, AutonomyState, RiskTier, TrustPolicy
from warrantd.analytics import load_history
from warrantd.analytics._engine import NS_PER_DAY, evidence_of
from warrantd.analytics.forecast import _graded_days
from warrantd.analytics.replay import replay
from warrantd.graduation import GraduationSettings

from ..helpers import make_thresholds

T0 = pd.Timestamp("2026-03-01", tz="UTC")
WINDOWS = [None, 3, 12, "2D", "36h", "5D"]
SEEDS = range(200 if os.environ.get("WARRANTD_THOROUGH") else 25)


def random_history(rng: np.random.Generator) -> pd.DataFrame:
    size = int(rng.integers(3, 40))
    frame = pd.DataFrame(
        {
            "timestamp": T0 + pd.to_timedelta(rng.integers(0, 8 * 24, size) * 30, unit="min"),
            "action": "a",
            "n": rng.integers(1, 5, size),
            "adversarial": rng.random(size) < 0.3,
        }
    )
    frame["n_passed"] = rng.integers(0, frame["n"] + 1)
    return load_history(frame)


def with_simulated_days(
    history: pd.DataFrame, arrivals: np.ndarray, sim: int, as_of: pd.Timestamp
) -> pd.DataFrame:
    """``history`` plus simulation ``sim``'s cases as rows at ``as_of + k days``."""
    rows = []
    for k in range(arrivals.shape[2]):
        n_norm, pass_norm, n_adv, pass_adv = (int(arrivals[i, sim, k]) for i in range(4))
        when = as_of + pd.Timedelta(days=k + 1)
        if n_norm:
            rows.append((when, False, n_norm, pass_norm))
        if n_adv:
            rows.append((when, True, n_adv, pass_adv))
    extra = pd.DataFrame(rows, columns=["timestamp", "adversarial", "n", "n_passed"])
    extra["action"] = "a"
    combined = pd.concat(
        [history[["timestamp", "action", "adversarial", "n", "n_passed"]], extra],
        ignore_index=True,
    )
    return load_history(combined)


@pytest.mark.parametrize("window", WINDOWS, ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_simulated_days_grade_as_replay_does(window: object, seed: int) -> None:
    rng = np.random.default_rng(seed)
    history = random_history(rng)
    bars = sorted(rng.choice([0.0, 0.5, 0.6, 0.75, 1.0], 2))
    samples = sorted(rng.integers(0, 15, 2).tolist())
    thresholds = make_thresholds((bars[0], bars[0] / 2, samples[0]), (bars[1], bars[1], samples[1]))
    policy = TrustPolicy({"a": ActionClass("a", RiskTier.REVERSIBLE_WRITE)}, thresholds)
    as_of = history["timestamp"].max()
    days, sims = 6, 3
    n = rng.integers(0, 4, (2, sims, days))
    n[:, 0, :] = 0  # simulation 0: no arrivals at all
    passed = rng.integers(0, n + 1)
    arrivals = np.stack([n[0], passed[0], n[1], passed[1]])
    graded = _graded_days(evidence_of(history), 0, arrivals, as_of.value, window, thresholds, 2)
    for sim in range(sims):
        replayed = replay(with_simulated_days(history, arrivals, sim, as_of), policy, window=window)
        expected = [
            int(replayed.state_at(as_of + pd.Timedelta(days=k + 1))["a"]) for k in range(days)
        ]
        assert graded[sim].tolist() == expected, (sim, window)


def test_no_arrivals_means_each_day_is_the_history_graded_then() -> None:
    # Passes on day 0, failures on day 1, with a 2-day window: the failures keep the
    # class MANUAL until they expire at day 3 (as_of + 2 days), leaving nothing: MANUAL.
    day = pd.Timedelta("1D")
    frame = pd.DataFrame(
        {
            "timestamp": [T0] * 4 + [T0 + day] * 4,
            "action": "a",
            "passed": [True] * 4 + [False] * 4,
        }
    )
    history = load_history(frame)
    thresholds = make_thresholds((0.9, 0.0, 4), (0.99, 0.0, 99))
    policy = TrustPolicy({"a": ActionClass("a", RiskTier.REVERSIBLE_WRITE)}, thresholds)
    none = np.zeros((4, 1, 3), dtype=np.int64)
    graded = _graded_days(evidence_of(history), 0, none, (T0 + day).value, "2D", thresholds, 2)
    r = replay(history, policy, window="2D")
    assert (
        graded[0].tolist()
        == [int(r.state_at(T0 + day + k * day)["a"]) for k in (1, 2, 3)]
        == [0, 0, 0]
    )
    assert int(AutonomyState.MANUAL) == 0 and day.value == NS_PER_DAY


@pytest.mark.parametrize("rule", ["wilson", "anytime"])
@pytest.mark.parametrize("window", WINDOWS, ids=str)
@pytest.mark.parametrize("seed", range(10))
def test_simulated_days_grade_as_replay_does_under_the_bounds(
    rule: str, window: object, seed: int
) -> None:
    """The same differential under the policy's evidence rule (alpha 0.3, low bars, so the
    bounds do promote on a few dozen cases), on what a forecast reads: the first day
    each state above the one held at ``as_of`` is reached. (A bound rule holds a state on
    the point estimate, which replay carries from the history and the simulated days do
    not; a state is only ever *reached* by its bound, so the first days agree.)"""
    rng = np.random.default_rng(500 + seed)
    history = random_history(rng)
    bars = sorted(rng.choice([0.0, 0.2, 0.3, 0.5], 2))
    samples = sorted(rng.integers(0, 15, 2).tolist())
    thresholds = make_thresholds((bars[0], bars[0] / 2, samples[0]), (bars[1], bars[1], samples[1]))
    settings = GraduationSettings(evidence=rule, alpha=0.3)
    policy = TrustPolicy({"a": ActionClass("a", RiskTier.REVERSIBLE_WRITE)}, thresholds, settings)
    as_of = history["timestamp"].max()
    days, sims = 6, 3
    n = rng.integers(0, 6, (2, sims, days))
    passed = rng.integers(n // 2, n + 1)
    arrivals = np.stack([n[0], passed[0], n[1], passed[1]])
    graded = _graded_days(
        evidence_of(history), 0, arrivals, as_of.value, window, thresholds, 2, settings
    )
    held = int(replay(history, policy, window=window).state_at(as_of)["a"])

    def first_days(states: list[int]) -> list[int | None]:
        return [
            next((k for k, s in enumerate(states) if s >= level), None)
            for level in range(held + 1, 3)
        ]

    for sim in range(sims):
        replayed = replay(with_simulated_days(history, arrivals, sim, as_of), policy, window=window)
        expected = [
            int(replayed.state_at(as_of + pd.Timedelta(days=k + 1))["a"]) for k in range(days)
        ]
        graded_first, replayed_first = first_days(graded[sim].tolist()), first_days(expected)
        if isinstance(window, str):
            # Under a time window evidence also leaves between the simulated days; a state
            # reached at such a moment and then held is seen by replay, not by a grade
            # taken at each day's end: the days graded are never early, at most late.
            never = days
            for got, want in zip(graded_first, replayed_first, strict=True):
                assert (never if got is None else got) >= (never if want is None else want)
        else:
            assert graded_first == replayed_first, (sim, window)
