"""Messy real data: classes with no evidence, data quality said up front, honest backtests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from warrantd import ActionClass, RiskTier, TrustPolicy, load_policy
from warrantd.analytics import generate, load_history
from warrantd.analytics.forecast import backtests, forecast, within_band
from warrantd.analytics.quality import data_quality
from warrantd.analytics.replay import replay
from warrantd.analytics.report import build_report
from warrantd.analytics.sweep import sweep

from ..helpers import make_thresholds

T0 = pd.Timestamp("2026-03-01", tz="UTC")
DAY = pd.Timedelta("1D")


def frame(rows: list[tuple[pd.Timestamp, str, int, dict[str, object]]]) -> pd.DataFrame:
    return load_history(
        pd.DataFrame(
            [{"timestamp": t, "action": a, "passed": p, **extra} for t, a, p, extra in rows]
        )
    )


def policy_of(*names: str, sup_samples: int = 5) -> TrustPolicy:
    return TrustPolicy(
        {n: ActionClass(n, RiskTier.REVERSIBLE_WRITE) for n in names},
        make_thresholds((0.5, 0.0, sup_samples), (0.9, 0.0, 50)),
    )


# --------------------------------------------------------------------------- no evidence


def two_class_history() -> pd.DataFrame:
    # "a": 8 passing cases, one a day; nothing at all for "quiet".
    return frame([(T0 + i * DAY, "a", 1, {}) for i in range(8)])


def test_a_class_with_no_evidence_stays_visible_in_replay_and_sweep() -> None:
    policy = policy_of("a", "quiet")
    r = replay(two_class_history(), policy)
    quiet = r.summary.set_index("action").loc["quiet"]
    assert bool(quiet["no_evidence"]) and quiet["cases"] == 0
    assert quiet["final_state"] == "MANUAL" and pd.isna(quiet["first_supervised"])
    # MANUAL throughout the history: from its first case (day 0) to its last (day 7).
    assert quiet["days_manual"] == pytest.approx(7.0)
    assert not r.summary.set_index("action").loc["a", "no_evidence"]
    assert "quiet" not in set(r.timeline["action"])

    s = sweep(two_class_history(), policy, {"supervised.min_samples": [3, 5]}, progress=False)
    assert sorted(s.table["action"]) == ["a", "a", "quiet", "quiet"]
    quiet_rows = s.table[s.table["action"] == "quiet"]
    assert quiet_rows["no_evidence"].all() and (quiet_rows["cases_while_manual"] == 0).all()
    assert sorted(quiet_rows["supervised.min_samples"]) == [3, 5]


def test_a_class_with_no_evidence_is_not_forecast_and_says_why() -> None:
    fc = forecast(two_class_history(), policy_of("a", "quiet"), horizon="10D", n_sims=100)
    row = fc.table.set_index("action").loc["quiet"]
    assert row["state"] == "MANUAL" and row["next_state"] == "SUPERVISED"
    assert row["blocked_on"] == "no evidence" and row["note"] == "not forecast: no eval cases"
    assert np.isnan(row["p_within_horizon"]) and "quiet" not in fc.cdfs


def test_a_class_seen_on_too_few_days_is_not_forecast() -> None:
    # 3 distinct days of 10 cases: no rate of arrival can be estimated from that.
    rows = [(T0 + d * 7 * DAY, "a", 1, {}) for d in range(3) for _ in range(10)]
    fc = forecast(frame(rows), policy_of("a", sup_samples=100), horizon="10D", n_sims=100)
    row = fc.table.iloc[0]
    assert row["note"] == (
        "not forecast: evidence on only 3 distinct days (needs 5 to estimate how fast cases arrive)"
    )
    assert row["blocked_on"] == "needs 70 more cases"
    assert np.isnan(row["p_within_horizon"]) and pd.isna(row["p50_date"])


# --------------------------------------------------------------------------- data quality


def test_data_quality_findings_by_hand() -> None:
    rows = (
        # "tied": 10 cases, 8 of them at one moment (share 0.8), on 3 days.
        [(T0, "tied", 1, {}), (T0 + DAY, "tied", 1, {})]
        + [(T0 + 2 * DAY, "tied", 1, {})] * 8
        # "gappy": days 0, 1, 2, 3, then day 63: a 60-day gap against a usual 1 day.
        + [(T0 + d * DAY, "gappy", 1, {}) for d in (0, 1, 2, 3, 63)]
        # "pooled": two agent versions at one timestamp.
        + [
            (T0 + DAY, "pooled", 1, {"agent_version": "v1"}),
            (T0 + DAY, "pooled", 1, {"agent_version": "v2"}),
        ]
        # "foreign": in the history, not in the policy; and one case in the future.
        + [(T0 + 400 * DAY, "foreign", 1, {})]
    )
    history = frame(rows)
    policy = policy_of("tied", "gappy", "pooled", "quiet", sup_samples=6)
    q = data_quality(history, policy, now=T0 + 100 * DAY)
    c = q.classes.set_index("action")
    assert c.loc["tied", "largest_tie_share"] == pytest.approx(0.8)
    assert c.loc["tied", "distinct_timestamps"] == 3 and c.loc["tied", "distinct_days"] == 3
    assert c.loc["gappy", "median_gap_days"] == pytest.approx(1.0)
    assert c.loc["gappy", "largest_gap_days"] == pytest.approx(60.0)
    assert bool(c.loc["gappy", "outlier_gap"]) and not bool(c.loc["tied", "outlier_gap"])
    assert c.loc["pooled", "pooled_timestamps"] == 1
    assert c.loc["foreign", "future_cases"] == 1
    assert bool(c.loc["pooled", "below_supervised_min_samples"])  # 2 cases < 6
    assert not bool(c.loc["tied", "below_supervised_min_samples"])  # 10 cases
    assert not bool(c.loc["quiet", "in_history"]) and not bool(c.loc["foreign", "in_policy"])
    text = "\n".join(q.findings)
    assert "1 class(es) of the policy have no evidence (MANUAL throughout): 'quiet'" in text
    assert "1 class(es) of the history are not in the policy: 'foreign'" in text
    assert "'gappy': a 60-day gap from 2026-03-04 to 2026-05-03 (its usual spacing is 1.0" in text
    assert "pool several agent_version values at one timestamp" in text and "'pooled'" in text
    assert "1 case(s) are timestamped after 2026-06-09 00:00 UTC (in the future)" in text
    assert "fewer cases than supervised.min_samples (6)" in text


def test_the_agentdojo_leaderboard_is_flagged() -> None:
    history = load_history(Path("datasets/agentdojo.csv"))
    q = data_quality(history)
    text = "\n".join(q.findings)
    assert "a 1,004-day gap from 2021-09-05 to 2024-06-05" in text
    assert "share one timestamp (2024-06-05 00:00 UTC)" in text
    assert "fewer than 5 distinct days" in text


# --------------------------------------------------------------------------- backtests


def test_the_band_is_compared_by_date_at_both_ends() -> None:
    p10, p90 = pd.Timestamp("2026-05-01", tz="UTC"), pd.Timestamp("2026-05-20", tz="UTC")
    # 03:36 on the p90 date is inside; so is 23:59 on the p10 date; the days around are not.
    assert within_band(pd.Timestamp("2026-05-20 03:36", tz="UTC"), p10, p90)
    assert within_band(pd.Timestamp("2026-05-01 23:59", tz="UTC"), p10, p90)
    assert not within_band(pd.Timestamp("2026-05-21 00:00", tz="UTC"), p10, p90)
    assert not within_band(pd.Timestamp("2026-04-30 23:59", tz="UTC"), p10, p90)
    assert within_band(pd.NaT, p10, pd.NaT) and not within_band(pd.NaT, p10, p90)
    assert within_band(pd.Timestamp("2026-09-01", tz="UTC"), p10, pd.NaT)
    assert not within_band(pd.Timestamp("2026-05-02", tz="UTC"), pd.NaT, pd.NaT)


def test_cuts_in_one_gap_are_forecast_at_each_cut_shown_as_of_the_last_evidence() -> None:
    # Cases every day for 30 days, then a 40-day gap, then 30 more days. Each cut in
    # the gap is its own forecast (made at the cut, it knows a longer quiet than the
    # cut before), and every row shows the true as-of time, the last evidence.
    days = list(range(30)) + list(range(70, 100))
    rows = [
        (T0 + d * DAY + pd.Timedelta("9h"), "a", int(i % 5 != 0), {})
        for d in days
        for i in range(4)
    ]
    history = frame(rows)
    policy = policy_of("a", sup_samples=300)
    cuts = [T0 + 35 * DAY, T0 + 45 * DAY, T0 + 60 * DAY]  # all in the gap
    bt = backtests(history, policy, cuts, horizon="20D", n_sims=100)
    assert list(bt["cut"]) == cuts, "three cuts in one gap, three forecasts"
    assert (bt["as_of"] == T0 + 29 * DAY + pd.Timedelta("9h")).all()


# --------------------------------------------------------------------------- report


def test_report_lists_left_out_and_evidence_free_classes(tmp_path: Path) -> None:
    policy = load_policy("datasets/billing-agent.policy.toml")
    history = load_history(generate(2, days=40))
    history = history[history["action"] != "cancel_subscription"].reset_index(drop=True)
    extra = history.iloc[:3].assign(action="not_in_policy")
    messy = load_history(pd.concat([history, extra], ignore_index=True))
    files = build_report(messy, policy, tmp_path / "r", n_sims=100, horizon="10D")
    html = (tmp_path / "r" / "index.html").read_text()
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Data quality" in html and "## Data quality" in md
    assert "&#39;not_in_policy&#39; (3 cases)" in html
    assert "cancel\\_subscription | consequential | MANUAL (no evidence)" in md
    row = files.replay.summary.set_index("action").loc["cancel_subscription"]
    assert bool(row["no_evidence"])
    assert "not_in_policy" not in set(files.replay.summary["action"])


def test_a_spacing_of_minutes_reads_in_minutes_and_the_report_names_every_class() -> None:
    """'gappy' has a case every 10 minutes for 12 cases, then one 30 days later: its
    usual spacing is 10 minutes (it read "0.0 days"). All eight classes have fewer cases
    than min_samples (50): a terminal line names five and counts the rest;
    names_shown=None names all."""
    names = [f"c{i}" for i in range(7)]
    rows = [(T0 + i * pd.Timedelta(minutes=10), "gappy", 1, {}) for i in range(12)]
    rows += [(T0 + 30 * DAY, "gappy", 1, {})]
    rows += [(T0 + d * DAY, n, 1, {}) for n in names for d in range(6)]
    history = frame(rows)
    policy = policy_of("gappy", *names, sup_samples=50)
    short = "\n".join(data_quality(history, policy, now=T0 + 40 * DAY).findings)
    assert (
        "'gappy': a 30-day gap from 2026-03-01 to 2026-03-31 (its usual spacing is 10.0 minutes)"
        in short
    )
    assert (
        "min_samples (50) and cannot graduate on this history: "
        "'c0', 'c1', 'c2', 'c3', 'c4' and 3 more" in short
    )
    full = "\n".join(data_quality(history, policy, now=T0 + 40 * DAY, names_shown=None).findings)
    assert "... and" not in full and " more" not in full
    assert "'c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'gappy'" in full
