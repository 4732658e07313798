"""Metrics from counts, windows, Wilson intervals, and the live MetricsProvider."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from warrantd import ActionClass, ActionRequest, EvalMetrics, RiskTier, TrustLayer, TrustPolicy
from warrantd import AutonomyState as St
from warrantd.analytics import (
    HistoryMetrics,
    eval_metrics,
    load_history,
    metrics_at,
    metrics_timeline,
    wilson_interval,
)
from warrantd.graduation import GraduationSettings
from warrantd.protocols import TrustSignal

from ..helpers import make_thresholds, reference_window_counts


def history(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    """(time, action, passed, adversarial) case rows."""
    t, a, p, adv = zip(*rows, strict=True)
    return load_history(
        pd.DataFrame({"timestamp": t, "action": a, "passed": p, "adversarial": adv})
    )


def test_eval_metrics_definition() -> None:
    # 8 of 10 normal passed, 3 of 4 adversarial passed: 14 cases in all.
    assert eval_metrics(10, 8, 4, 3) == EvalMetrics(0.8, 0.75, 14)
    assert eval_metrics(0, 0, 0, 0) == EvalMetrics(0.0, 0.0, 0)
    assert eval_metrics(5, 5, 0, 0) == EvalMetrics(1.0, 0.0, 5), "no adversarial cases -> 0.0"


def test_wilson_known_values() -> None:
    lo, hi = wilson_interval(8, 10)
    assert (round(float(lo), 4), round(float(hi), 4)) == (0.4902, 0.9433)
    lo, hi = wilson_interval(0, 0)
    assert (float(lo), float(hi)) == (0.0, 1.0)
    lo, hi = wilson_interval(50, 50, level=0.9)
    # at p = 1 the lower bound is n / (n + z^2) = 50 / 52.7055
    assert float(hi) == pytest.approx(1.0) and round(float(lo), 4) == 0.9487
    with pytest.raises(ValueError, match="level"):
        wilson_interval(1, 2, level=1.5)


def test_narrower_interval_with_more_cases() -> None:
    lo12, hi12 = wilson_interval(9, 12)
    lo1200, hi1200 = wilson_interval(900, 1200)
    assert hi1200 - lo1200 < (hi12 - lo12) / 5


H = [
    ("2026-01-01", "a", 1, 0),
    ("2026-01-01", "a", 0, 1),
    ("2026-01-02", "a", 1, 0),
    ("2026-01-05", "a", 0, 0),
    ("2026-01-03", "b", 1, 0),
]


def test_cumulative_timeline_by_hand() -> None:
    tl = metrics_timeline(history(H))
    assert tl["action"].tolist() == ["a", "a", "a", "b"]
    assert tl["n_cases"].tolist() == [2, 1, 1, 1]
    assert tl["sample_size"].tolist() == [2, 3, 4, 1]
    # a: normal passes 1/1, 2/2, 2/3; adversarial 0/1 throughout
    assert tl["pass_rate"].tolist() == [1.0, 1.0, 2 / 3, 1.0]
    assert tl["adversarial_pass_rate"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_case_count_window_keeps_timestamps_whole() -> None:
    tl = metrics_timeline(history(H), window=2)
    # Jan 2: its 1 case is not enough, so all of Jan 1 (2 cases) joins: 3 cases.
    # Jan 5: Jan 5 + Jan 2 = 2 cases.
    assert tl["sample_size"].tolist() == [2, 3, 2, 1]
    assert tl["pass_rate"].tolist()[2] == 0.5
    assert tl["n_adversarial"].tolist() == [1, 1, 0, 0]


def test_time_window_is_left_open() -> None:
    tl = metrics_timeline(history(H), window="2D")
    # Jan 5 window is (Jan 3, Jan 5]: only itself. Jan 2 window (Dec 31, Jan 2]: all three.
    assert tl["sample_size"].tolist() == [2, 3, 1, 1]
    tl1 = metrics_timeline(history(H), window="1D")
    assert tl1["sample_size"].tolist() == [2, 1, 1, 1], "(Jan 1, Jan 2] excludes Jan 1"


@pytest.mark.parametrize("bad", [0, -3, "soon", "-1D", True])
def test_bad_window(bad: object) -> None:
    with pytest.raises(ValueError, match="window"):
        metrics_timeline(history(H), window=bad)  # type: ignore[arg-type]


def test_metrics_at() -> None:
    h = history(H)
    # the counts behind the rates come along (what the wilson and anytime rules read)
    assert metrics_at(h) == {
        "a": EvalMetrics(2 / 3, 0.0, 4, 3, 2, 1, 0),
        "b": EvalMetrics(1.0, 0.0, 1, 1, 1, 0, 0),
    }
    assert metrics_at(h, "2026-01-02T12:00") == {
        "a": EvalMetrics(1.0, 0.0, 3, 2, 2, 1, 0),
        "b": EvalMetrics(0.0, 0.0, 0, 0, 0, 0, 0),
    }
    # time window measured back from `at`, not from the last case
    assert metrics_at(h, "2026-01-04", window="1D")["a"] == EvalMetrics.from_counts(0, 0, 0, 0)
    last = metrics_at(h, window=1)["a"]
    assert (last.pass_rate, last.adversarial_pass_rate, last.sample_size) == (0.0, 0.0, 1)


def test_history_metrics_drives_a_trust_layer() -> None:
    rows = [(f"2026-01-01T00:{i:02d}", "refund", 1, i % 5 == 0) for i in range(60)]
    h = history(rows)  # 48 normal passes, 12 adversarial passes: 60 cases
    policy = TrustPolicy(
        {
            "refund": ActionClass("refund", RiskTier.REVERSIBLE_WRITE, Decimal(100)),
            "other": ActionClass("other", RiskTier.REVERSIBLE_WRITE),
        },
        make_thresholds((0.8, 0.7, 50), (0.95, 0.9, 200)),
    )

    class Audit:
        async def record(self, entry: object) -> None: ...

    trust = TrustLayer(policy, HistoryMetrics(h), Audit())  # type: ignore[arg-type]
    assert trust.evaluate(ActionRequest("refund", "t", Decimal(5))).autonomy_state is St.SUPERVISED
    assert trust.evaluate(ActionRequest("other", "t")).autonomy_state is St.MANUAL
    assert HistoryMetrics(h).metrics_for("never-seen") == EvalMetrics(0.0, 0.0, 0, 0, 0, 0, 0)


def test_history_metrics_is_a_trust_signal() -> None:
    """warrantd-core 0.3.0 signals: metrics_for plus adversarial; with counts, so an
    anytime policy can be driven by a history."""
    rows = [(f"2026-01-01T{i // 60:02d}:{i % 60:02d}", "refund", 1, i % 5 == 0) for i in range(600)]
    h = history(rows)  # 480 normal and 120 adversarial cases, all passing
    plain = history([(f"2026-01-01T00:{i:02d}", "refund", 1, False) for i in range(60)])
    assert isinstance(HistoryMetrics(h), TrustSignal)
    assert HistoryMetrics(h).adversarial is True
    assert HistoryMetrics(plain).adversarial is False
    thresholds = make_thresholds((0.8, 0.7, 50), (0.95, 0.9, 200))
    actions = {"refund": ActionClass("refund", RiskTier.REVERSIBLE_WRITE)}

    class Audit:
        async def record(self, entry: object) -> None: ...

    # 480 of 480 clears 0.95 under the anytime rule (0.95^480 is 2e-11), 120 of 120
    # clears 0.90 (0.9^120 = 3e-6 against a prior mass near 1 of about 1e-3): AUTONOMOUS
    anytime = TrustPolicy(actions, thresholds, GraduationSettings(evidence="anytime"))
    trust = TrustLayer(anytime, audit=Audit(), signals=[HistoryMetrics(h)])  # type: ignore[arg-type]
    assert trust.evaluate(ActionRequest("refund", "t")).autonomy_state is St.AUTONOMOUS
    # a signal without adversarial coverage is judged without the adversarial bar
    point = TrustPolicy(actions, thresholds)
    trust = TrustLayer(point, audit=Audit(), signals=[HistoryMetrics(plain)])  # type: ignore[arg-type]
    assert trust.evaluate(ActionRequest("refund", "t")).autonomy_state is St.SUPERVISED


# --------------------------------------------------------------------------- differential


def reference_timeline(h: pd.DataFrame, window: int | str | None) -> list[tuple]:
    """Recompute every window from scratch, one timestamp at a time."""
    out = []
    for action in sorted(h["action"].unique()):
        mine = h[h["action"] == action]
        rows = list(mine[["timestamp", "adversarial", "n", "n_passed"]].itertuples(index=False))
        for t in sorted(mine["timestamp"].unique()):
            out.append((action, t, *reference_window_counts(rows, t, window, False)))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_windows_match_from_scratch_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 60))
    frame = pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10, size), unit="D"),
            "action": rng.choice(["a", "b", "c"], size),
            "n": rng.integers(0, 5, size),
            "adversarial": rng.random(size) < 0.3,
        }
    )
    frame["n_passed"] = rng.integers(0, frame["n"] + 1)
    h = load_history(frame)
    window = [None, int(rng.integers(1, 12)), f"{int(rng.integers(1, 5))}D"][seed % 3]
    tl = metrics_timeline(h, window=window)
    got = list(
        tl[
            [
                "action",
                "timestamp",
                "n_normal",
                "passed_normal",
                "n_adversarial",
                "passed_adversarial",
            ]
        ].itertuples(index=False, name=None)
    )
    assert got == reference_timeline(h, window)
