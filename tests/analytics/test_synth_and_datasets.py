"""The synthetic generator and the bundled datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from warrantd import load_policy
from warrantd.analytics import (
    counts_per_run,
    generate,
    load_history,
    load_traffic,
    validate_against,
)
from warrantd.analytics.synth import BILLING_AGENT, random_profiles

DATA = Path(__file__).resolve().parents[2] / "datasets"


def test_same_seed_same_frame_other_seed_differs() -> None:
    pd.testing.assert_frame_equal(generate(3), generate(3))
    assert not generate(3)["passed"].equals(generate(4)["passed"])


def test_generated_history_shape_and_truth() -> None:
    cases = generate(0)
    assert 15_000 < len(cases) < 25_000
    assert sorted(cases["action"].unique()) == sorted(p.name for p in BILLING_AGENT)
    assert cases["timestamp"].is_monotonic_increasing
    span = cases["timestamp"].max() - cases["timestamp"].min()
    assert pd.Timedelta("170D") < span <= pd.Timedelta("180D")
    for column in ("true_pass_p", "true_adv_pass_p"):
        assert cases[column].between(0.0, 1.0).all()
    assert cases["agent_version"].nunique() > 1, "releases happen"
    assert cases["timestamp"].duplicated().any(), "some cases share a timestamp"
    assert cases["case_id"].is_unique


def test_learning_curve_improves_pass_rate() -> None:
    cases = generate(1)
    refunds = cases[(cases["action"] == "issue_refund") & ~cases["adversarial"]]
    first, last = refunds.iloc[:500]["passed"].mean(), refunds.iloc[-500:]["passed"].mean()
    assert last > first + 0.15


def test_release_causes_a_dip_in_truth() -> None:
    cases = generate(2)
    one = cases[cases["action"] == "cancel_subscription"]
    changed = one["agent_version"].ne(one["agent_version"].shift()) & one.index.isin(one.index[1:])
    before = one["true_pass_p"].shift()[changed]
    after = one["true_pass_p"][changed]
    assert (after < before).all()


def test_weekday_schedule_has_no_weekend_cases() -> None:
    cases = generate(0)
    lookup = cases[cases["action"] == "lookup_customer"]
    # Runs start on weekdays; a run may spill past midnight, hence the run start.
    starts = lookup.groupby("run_id")["timestamp"].min()
    assert (starts.dt.day_of_week < 5).all()


def test_counts_per_run_preserves_totals() -> None:
    cases = generate(5)
    runs = counts_per_run(cases)
    assert runs["n"].sum() == len(cases)
    assert runs["n_passed"].sum() == cases["passed"].sum()
    assert (runs.groupby(["run_id", "adversarial"]).size() == 1).all()
    canonical = load_history(runs)
    assert canonical["n"].sum() == len(cases)


def test_random_profiles_scale() -> None:
    profiles = random_profiles(50, seed=1)
    assert len({p.name for p in profiles}) == 50
    cases = generate(0, profiles=profiles, days=30)
    assert cases["action"].nunique() == 50


def test_bundled_billing_agent_matches_its_policy_and_generator() -> None:
    history = load_history(DATA / "billing-agent.csv")
    policy = load_policy(DATA / "billing-agent.policy.toml")
    coverage = validate_against(history, policy)
    assert coverage.missing_from_policy == [] and coverage.missing_from_history == []
    regenerated = load_history(generate(7))
    pd.testing.assert_frame_equal(history, regenerated, check_dtype=False)


def test_bundled_runs_dataset_equals_case_dataset_in_totals() -> None:
    cases = load_history(DATA / "billing-agent.csv")
    runs = load_history(DATA / "billing-agent-runs.csv")
    assert runs["n"].sum() == cases["n"].sum() == len(cases)
    by_action = runs.groupby(["action", "adversarial"])[["n", "n_passed"]].sum()
    expected = cases.groupby(["action", "adversarial"])[["n", "n_passed"]].sum()
    pd.testing.assert_frame_equal(by_action, expected)


def test_agentdojo_dataset_loads_with_whole_counts() -> None:
    h = load_history(DATA / "agentdojo.csv")
    assert len(h) == 56
    assert set(h.loc[~h["adversarial"], "n"]) == {97}
    assert set(h.loc[h["adversarial"], "n"]) == {629}
    # claude-3-7-sonnet: utility 88.66% of 97 = 86; ASR 7.31% of 629 = 46 hijacked
    row = h[(h["action"] == "claude-3-7-sonnet-20250219")].set_index("adversarial")
    assert int(row.loc[False, "n_passed"]) == 86
    assert int(row.loc[True, "n_passed"]) == 629 - 46
    assert np.issubdtype(h["n_passed"].dtype, np.integer)


def test_generated_traffic_has_values_around_the_caps_and_quiet_weekends() -> None:
    from warrantd.analytics.synth import generate_traffic

    traffic = load_traffic(generate_traffic(3, days=28))
    assert traffic["timestamp"].is_monotonic_increasing
    refunds = traffic.loc[traffic["action"] == "issue_refund", "value"]
    assert refunds.notna().all()
    # Log-normal around 55: most within the auto_cap of 100, a few above the hard_cap.
    assert 0.6 < (refunds <= 100).mean() < 0.85 and (refunds > 1000).sum() >= 1
    cancels = traffic.loc[traffic["action"] == "cancel_subscription", "value"]
    assert 0.1 < (cancels == 0).mean() < 0.4
    assert traffic.loc[traffic["action"] == "read_ledger", "value"].isna().all()
    weekend = traffic["timestamp"].dt.day_of_week >= 5
    per_weekday = (~weekend).sum() / 20
    per_weekend_day = weekend.sum() / 8
    assert per_weekend_day < 0.6 * per_weekday
    pd.testing.assert_frame_equal(
        load_traffic(generate_traffic(3, days=28)), traffic, check_dtype=False
    )


def test_bundled_traffic_is_the_generator_with_the_verdicts_a_cumulative_gate_returned() -> None:
    from warrantd.analytics import replay
    from warrantd.analytics.synth import generate_traffic

    traffic = load_traffic(DATA / "billing-agent.traffic.csv")
    regenerated = load_traffic(generate_traffic(7))
    columns = ["timestamp", "action", "tenant_id", "value", "value_text"]
    pd.testing.assert_frame_equal(traffic[columns], regenerated[columns], check_dtype=False)
    history = load_history(DATA / "billing-agent.csv")
    policy = load_policy(DATA / "billing-agent.policy.toml")
    returned = replay(history, policy, traffic=traffic, window=None).decisions["verdict"]
    assert (traffic["verdict"].astype(str) == returned.astype(str)).all()
