"""Sweeps: candidate expansion, equality with replay, executors, Pareto front."""

from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from warrantd import ActionClass, GraduationThresholds, RiskTier, TrustPolicy, threshold_problems
from warrantd.analytics import load_history
from warrantd.analytics.replay import SUMMARY_FIGURES, replay
from warrantd.analytics.sweep import (
    KNOBS,
    candidates_frame,
    grid_notes,
    load_grid,
    rule_settings,
    sweep,
    to_thresholds,
)
from warrantd.errors import InputError
from warrantd.graduation import GraduationSettings

from ..helpers import A, S, all_passing_daily, make_thresholds
from .test_replay import (
    RED_TEAM_POLICY,
    STREAK_POLICY,
    at,
    random_case,
    red_team_history,
    streak_history,
)


def assert_sweep_equals_replay(history: pd.DataFrame, policy: TrustPolicy, result) -> None:  # type: ignore[no-untyped-def]
    for _, rows in result.table.groupby("candidate"):
        first = rows.iloc[0]
        # Each candidate under its own rule knobs (the policy's when the grid sweeps none).
        candidate_policy = TrustPolicy(
            policy.actions, to_thresholds(first), rule_settings(policy, first)
        )
        # Premature graduations are judged against the swept policy's bars.
        expected = replay(
            history, candidate_policy, window=first["window"], yardstick=policy
        ).summary
        got = rows.set_index("action").loc[expected["action"], SUMMARY_FIGURES]
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True),
            expected[SUMMARY_FIGURES].reset_index(drop=True),
            check_dtype=False,
            check_exact=False,
            rtol=1e-9,
        )


def test_grid_expands_over_policy_thresholds() -> None:
    valid, skipped = candidates_frame(
        STREAK_POLICY, {"supervised.pass_rate": [0.7, 0.8], "window": [None, 20]}
    )
    assert len(valid) == 4 and skipped.empty
    assert list(valid.columns) == ["candidate", *KNOBS]
    assert set(valid["autonomous.pass_rate"]) == {0.95}, "unswept knobs keep the policy's value"
    # Windows are spelled one way everywhere: cumulative, "20 cases", "30D".
    assert valid["window"].tolist() == ["cumulative", "20 cases", "cumulative", "20 cases"]


def test_invalid_candidates_are_skipped_and_counted() -> None:
    grid = {"supervised.pass_rate": [0.9, 0.99], "autonomous.pass_rate": [0.95]}
    result = sweep(streak_history(), STREAK_POLICY, grid, progress=False)
    assert result.n_skipped == 1
    assert result.skipped["reason"].tolist() == ["AUTONOMOUS pass_rate below SUPERVISED"]
    assert result.table["candidate"].nunique() == 1


def test_validity_agrees_with_the_policy_rules() -> None:
    rng = np.random.default_rng(0)
    candidates = [
        make_thresholds(
            (float(rng.choice([0.5, 0.8])), float(rng.choice([0.5, 0.8])), int(rng.choice([5, 9]))),
            (float(rng.choice([0.5, 0.8])), float(rng.choice([0.5, 0.8])), int(rng.choice([5, 9]))),
        )
        for _ in range(60)
    ]
    valid, skipped = candidates_frame(STREAK_POLICY, candidates)
    assert len(valid) == sum(not threshold_problems(t) for t in candidates)
    assert len(skipped) == sum(bool(threshold_problems(t)) for t in candidates)


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"supervised.speed": [1]}, "unknown sweep knob"),
        ({"supervised.pass_rate": [1.5]}, r"1\.5 is outside \[0, 1\]"),
        ({"autonomous.min_samples": [2.5]}, "not a whole number"),
        ({"window": ["soon"]}, "window"),
        ({"supervised.pass_rate": []}, "has no values"),
    ],
)
def test_bad_grids(grid: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        candidates_frame(STREAK_POLICY, grid)


def test_a_grid_file_reads_rule_knobs_under_graduation_and_names_what_a_typo_meant(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grid.toml"
    # The policy file's layout: bars under their state, rule knobs under [graduation].
    path.write_text(
        '[supervised]\npass_rate = [0.8, 0.9]\n[graduation]\nevidence = ["point", "wilson"]\n'
        "alpha = [0.05]\n"
    )
    grid = load_grid(path)
    assert dict(grid) == {
        "supervised.pass_rate": [0.8, 0.9],
        "evidence": ["point", "wilson"],
        "alpha": [0.05],
    }
    path.write_text("[supervised]\npass_rat = [0.8]\nalpah = [0.1]\nspeed = [1]\n")
    with pytest.raises(InputError) as raised:
        load_grid(path)
    said = str(raised.value)
    assert "supervised.pass_rat: unknown sweep knob (did you mean 'supervised.pass_rate'?)" in said
    # Nothing close: the known knobs are listed.
    assert "supervised.speed: unknown sweep knob (known: supervised.pass_rate," in said
    # A knob at the top level and under [graduation] too, and a bar under [graduation]:
    # both said, nothing silently dropped.
    path.write_text("alpha = [0.05]\n[graduation]\nalpha = [0.01]\nalpah = [0.1]\nspeed = [1]\n")
    with pytest.raises(InputError) as twice:
        load_grid(path)
    assert "alpha: given both at the top level and under [graduation]" in str(twice.value)
    assert "[graduation] alpah: unknown sweep knob (did you mean 'alpha'?)" in str(twice.value)
    assert "[graduation] speed: not a [graduation] knob (those are window," in str(twice.value)
    # The window sits under [graduation] in a policy file: it may in a grid too.
    path.write_text('[graduation]\nwindow = [100, "30D"]\n')
    assert list(load_grid(path)) == ["window"]
    path.write_text('[graduation]\nreset_on = ["agent_version"]\n')
    with pytest.raises(InputError, match=r"reset_on: not a sweep knob .* policy's"):
        load_grid(path)


def test_alpha_swept_under_the_point_rule_is_said_to_do_nothing() -> None:
    assert STREAK_POLICY.graduation.evidence == "point"
    (note,) = grid_notes(STREAK_POLICY, {"alpha": [0.01, 0.05]})
    assert note.startswith("alpha takes 2 values, but every candidate grades under evidence point")
    # Swept with a bound rule, or a single alpha: alpha does something, or nothing varies.
    assert grid_notes(STREAK_POLICY, {"alpha": [0.01, 0.05], "evidence": ["point", "wilson"]}) == []
    assert grid_notes(STREAK_POLICY, {"alpha": [0.01]}) == []
    wilson = TrustPolicy(
        STREAK_POLICY.actions, STREAK_POLICY.thresholds, GraduationSettings(evidence="wilson")
    )
    assert grid_notes(wilson, {"alpha": [0.01, 0.05]}) == []


def test_sweep_on_the_streak_by_hand() -> None:
    result = sweep(streak_history(), STREAK_POLICY, {"window": [None, 20]}, progress=False)
    t = result.table.set_index("window")
    # Worked out in test_replay: burden 27 cumulative, 35 with the 20-case window.
    assert t["cases_while_manual"].tolist() == [27, 35]
    assert t["failures_let_through"].tolist() == [13, 5]
    by = result.by_candidate
    assert by["approval_burden"].tolist() == [27, 35]
    assert by["failure_rate_while_supervised_or_above"].tolist() == [13 / 43, 5 / 35]


@pytest.mark.parametrize("seed", range(60))
def test_sweep_equals_replay_for_every_candidate(seed: int) -> None:
    history, policy, window = random_case(seed)
    rng = np.random.default_rng(1000 + seed)
    if seed % 2:  # ground truth, so the premature figures are compared too
        # (on a quarter of the seeds with gaps, where a graduation's truth is unknown)
        truths = [0.55, 0.7, 0.9, np.nan] if seed % 4 == 3 else [0.55, 0.7, 0.9]
        history["true_pass_p"] = rng.choice(truths, len(history))
    grid = {
        "supervised.pass_rate": sorted(set(rng.choice([0.0, 0.5, 0.6, 2 / 3, 0.8, 1.0], 3))),
        "supervised.min_samples": sorted(set(rng.integers(0, 12, 2).tolist())),
        "autonomous.adversarial_pass_rate": sorted(set(rng.choice([0.5, 0.75, 1.0], 2))),
        "autonomous.pass_rate": [0.8, 1.0],
        "window": [window, None],
    }
    thresholds = [
        make_thresholds((sp, policy.thresholds.adversarial_pass_rate[S], sn), (ap, aa, an))
        for sp, sn, aa, ap in itertools.product(
            grid["supervised.pass_rate"],
            grid["supervised.min_samples"],
            grid["autonomous.adversarial_pass_rate"],
            grid["autonomous.pass_rate"],
        )
        for an in [policy.thresholds.min_samples[A]]
    ]
    if all(threshold_problems(t) for t in thresholds):
        # Every candidate breaks the rules: one clear error, not an empty table.
        with pytest.raises(InputError, match="no valid candidate"):
            sweep(history, policy, grid, progress=False)
        return
    result = sweep(history, policy, grid, progress=False)
    assert_sweep_equals_replay(history, policy, result)


def test_every_candidate_is_judged_against_the_swept_policys_bars() -> None:
    # streak_history: 50 passes then 20 fails; the truth 0.75 sits between the swept
    # SUPERVISED bars 0.7 and 0.8. The policy's own bar is 0.8 (STREAK_POLICY).
    history = streak_history(truth=0.75)
    grid = {"supervised.pass_rate": [0.7, 0.8]}
    table = sweep(history, STREAK_POLICY, grid, progress=False).table.set_index(
        "supervised.pass_rate"
    )
    # Both reach SUPERVISED at case 20 (20/20) with truth 0.75 < 0.8: premature under
    # both, though 0.75 clears the looser candidate's own 0.7.
    assert table["premature_supervised"].tolist() == [True, True]
    assert table["first_supervised"].tolist() == [at(20), at(20)]
    # Under a 0.7 yardstick neither is premature.
    loose = TrustPolicy(STREAK_POLICY.actions, make_thresholds((0.7, 0.0, 20), (0.95, 0.0, 45)))
    judged = sweep(history, STREAK_POLICY, grid, progress=False, yardstick=loose).table
    assert judged["premature_supervised"].tolist() == [False, False]


@pytest.mark.parametrize("seed", range(10))
def test_scattered_candidate_lists_take_the_direct_path_and_agree(seed: int) -> None:
    history, policy, window = random_case(seed)
    rng = np.random.default_rng(seed)
    candidates = []
    for _ in range(25):
        p, a = sorted(rng.random(2)), sorted(rng.random(2))
        n = sorted(rng.integers(0, 20, 2).tolist())
        candidates.append(make_thresholds((p[0], a[0], n[0]), (p[1], a[1], n[1])))
    result = sweep(history, policy, candidates, window=window, progress=False)
    assert_sweep_equals_replay(history, policy, result)


def test_process_pool_gives_identical_results() -> None:
    history, policy, _ = random_case(7)
    grid = {
        "supervised.pass_rate": [0.5, 0.8, 1.0],
        "supervised.min_samples": [0, 3, 8],
        "window": [None, 5, "2D"],
    }
    local = sweep(history, policy, grid, progress=False)
    with ProcessPoolExecutor(max_workers=2) as pool:
        remote = sweep(history, policy, grid, progress=False, executor=pool, chunk_size=4)
    pd.testing.assert_frame_equal(local.table, remote.table)


def test_dask_executor_gives_identical_results() -> None:
    distributed = pytest.importorskip("dask.distributed")
    history, policy, _ = random_case(7)
    grid = {"supervised.pass_rate": [0.5, 0.8, 1.0], "window": [None, 5]}
    local = sweep(history, policy, grid, progress=False)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = sweep(
            history, policy, grid, progress=False, executor=client.get_executor(), chunk_size=2
        )
    pd.testing.assert_frame_equal(local.table, remote.table)


def test_stricter_candidate_never_graduates_earlier() -> None:
    history, policy, _ = random_case(11)
    result = sweep(history, policy, {"supervised.pass_rate": [0.0, 0.5, 0.8, 1.0]}, progress=False)
    first = result.table.pivot(
        index="action", columns="supervised.pass_rate", values="first_supervised"
    )
    for loose, strict in zip(first.columns[:-1], first.columns[1:], strict=True):
        reached = first[strict].notna()
        assert first.loc[reached, loose].notna().all()
        assert (first.loc[reached, loose] <= first.loc[reached, strict]).all()


def test_pareto_front_is_exactly_the_undominated_candidates() -> None:
    from warrantd.analytics.synth import generate

    history = load_history(generate(3, days=60))
    from warrantd import load_policy

    policy = load_policy("datasets/billing-agent.policy.toml")
    grid = {
        "supervised.pass_rate": [0.75, 0.8, 0.85, 0.9],
        "supervised.min_samples": [30, 100],
        "window": [None, "14D", 200],
    }
    result = sweep(history, policy, grid, progress=False)
    by = result.by_candidate
    every = result.pareto(keep_ties=True)
    points = list(zip(by["approval_burden"], by["failures_let_through"], strict=True))
    on_front = set(every["candidate"])

    def dominated(p: tuple[int, int]) -> bool:
        return any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)

    for cid, p in zip(by["candidate"], points, strict=True):
        assert (cid in on_front) == (not dominated(p))
    assert every["approval_burden"].is_monotonic_increasing
    # Deduplicated: each point of the front once, as its strictest candidate.
    front = result.pareto()
    front_points = list(zip(front["approval_burden"], front["failures_let_through"], strict=True))
    assert (
        len(front_points)
        == len(set(front_points))
        == len(
            set(
                zip(
                    every["approval_burden"],
                    every["failures_let_through"],
                    strict=True,
                )
            )
        )
    )
    strictness = result.strictness()
    for row in front.itertuples(index=False):
        tied = every[
            (every["approval_burden"] == row.approval_burden)
            & (every["failures_let_through"] == row.failures_let_through)
        ]
        assert strictness[by["candidate"] == row.candidate].iloc[0] == max(
            strictness[by["candidate"].isin(tied["candidate"])]
        )


def test_explicit_thresholds_list() -> None:
    loose = make_thresholds((0.7, 0.0, 10), (0.9, 0.0, 40))
    strict = make_thresholds((0.9, 0.0, 30), (0.99, 0.0, 60))
    result = sweep(streak_history(), STREAK_POLICY, [loose, strict], progress=False)
    first = result.table["first_supervised"].tolist()
    assert first[0] < first[1]
    assert isinstance(to_thresholds(result.table.iloc[0]), GraduationThresholds)


def test_closest_candidate_is_the_grid_point_nearest_the_policy() -> None:
    grid = {
        "supervised.pass_rate": [0.7, 0.8, 0.9],
        "supervised.min_samples": [10, 20, 40],
        "window": [None, 20],
    }
    result = sweep(streak_history(), STREAK_POLICY, grid, progress=False)
    knobs = ["supervised.pass_rate", "supervised.min_samples", "window"]

    # The policy's own bars (0.8, 20) are on the grid: that exact candidate.
    row = result.closest_candidate(STREAK_POLICY.thresholds, window=20)
    assert [row[k] for k in knobs] == [0.8, 20, "20 cases"]

    # Off the grid: 0.78 is nearest 0.8 (0.02 against 0.08); 35 samples nearest 40
    # (5 against 15); a cumulative window is the None column.
    off_grid = make_thresholds((0.78, 0.0, 35), (0.95, 0.0, 45))
    row = result.closest_candidate(off_grid, window=None)
    assert [row[k] for k in knobs] == [0.8, 40, "cumulative"]

    # A window the sweep never tried matches none: the thresholds decide, and the
    # tie between the two windows goes to the lower candidate (window None).
    row = result.closest_candidate(off_grid, window="30D")
    assert [row[k] for k in knobs] == [0.8, 40, "cumulative"]


def test_sweep_rows_by_hand() -> None:
    # red_team_history: adversarial rate min(i, 20) / i at minute i, 2i cases.
    # With the AUTONOMOUS adversarial bar at 0.9 it holds to minute 22 (in force 11-23);
    # at 0.85 to minute 23 (20/23 = 0.870; in force 11-24). Failures while AUTONOMOUS
    # are the adversarial failures from minute 21 on: 3, then 4.
    result = sweep(
        red_team_history(),
        RED_TEAM_POLICY,
        {"autonomous.adversarial_pass_rate": [0.9, 0.85]},
        progress=False,
    )
    rows = result.table.set_index("autonomous.adversarial_pass_rate")
    assert rows.loc[0.9, "first_autonomous"] == rows.loc[0.85, "first_autonomous"] == at(10)
    assert rows.loc[0.9, "days_to_autonomous"] * 1440 == pytest.approx(9)
    assert rows.loc[0.9, "adversarial_failures_while_autonomous"] == 3
    assert rows.loc[0.85, "adversarial_failures_while_autonomous"] == 4
    assert rows.loc[0.9, "adversarial_cases_while_autonomous"] == 13
    assert rows.loc[0.85, "adversarial_cases_while_autonomous"] == 14
    assert rows.loc[0.9, "adversarial_failures_let_through"] == 10
    assert rows.loc[0.9, "cases_while_manual"] == rows.loc[0.85, "cases_while_manual"] == 10


def test_compare_rules_by_hand() -> None:
    """One class, one passing case a day for 100 days, true pass rate 0.7; SUPERVISED at
    pass rate 0.8 on 10 samples, AUTONOMOUS out of reach. point graduates on the 10th
    case (day 9); wilson at alpha 0.05 when n / (n + z**2) >= 0.8, z = 1.645: n >= 10.8,
    the 11th case (day 10); anytime on the 75th (the first n with anytime_met(n, n, 0.8,
    0.05)), day 74. Each graduation is premature (0.7 is below the 0.8 bar); AUTONOMOUS
    is never reached, so its wait is the whole 99 days."""
    from warrantd import ActionClass, RiskTier
    from warrantd.analytics.sweep import compare_rules

    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=100, freq="D", tz="UTC"),
            "action": "a",
            "passed": True,
            "true_pass_p": 0.7,
        }
    )
    history = load_history(frame)
    policy = TrustPolicy(
        {"a": ActionClass("a", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 10), (0.95, 0.0, 1000)),
    )
    got = compare_rules(history, policy).set_index(["evidence", "state"])
    assert got.loc[("point", "SUPERVISED"), "median_days"] == 9.0
    assert got.loc[("wilson", "SUPERVISED"), "median_days"] == 10.0
    assert got.loc[("anytime", "SUPERVISED"), "median_days"] == 74.0
    assert list(got.xs("SUPERVISED", level="state")["premature"]) == [1, 1, 1]
    assert list(got.xs("SUPERVISED", level="state")["judged"]) == [1, 1, 1]
    autonomous = got.xs("AUTONOMOUS", level="state")
    assert list(autonomous["reached"]) == [0, 0, 0]
    assert list(autonomous["mean_days_waited"]) == [99.0, 99.0, 99.0]
    assert list(autonomous["premature"]) == [0, 0, 0]
    blind = compare_rules(load_history(frame.drop(columns="true_pass_p")), policy)
    assert blind["premature"].isna().all() and blind["judged"].isna().all()


def test_the_pick_breaks_ties_toward_the_stricter_candidate() -> None:
    # Ten passing cases, one a day; AUTONOMOUS out of reach (1,000 cases). The policy
    # in force reaches SUPERVISED at case 8: 8 cases need a human. Every candidate with
    # min_samples 2 reaches it at case 2 (2 need a human) whatever its pass bar, as all
    # cases pass: they tie on every figure, and the pick is the strictest of them.
    history = all_passing_daily(10)
    policy = TrustPolicy(
        {"w": ActionClass("w", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.9, 0.0, 8), (0.95, 0.0, 1_000)),
    )
    grid = {"supervised.pass_rate": [0.5, 0.8, 0.6], "supervised.min_samples": [2, 3]}
    result = sweep(history, policy, grid, progress=False)
    baseline = replay(history, policy).totals()
    assert baseline["approval_burden"] == 8
    pick = result.pick(baseline).candidate
    assert pick is not None
    assert (pick["supervised.pass_rate"], pick["supervised.min_samples"]) == (0.8, 2)
    assert pick["approval_burden"] == 2
