"""The tuner's logic without a browser: knobs, validity, figures, diff and saving."""

from __future__ import annotations

from pathlib import Path

import pytest

import warrantd.analytics as wa
from warrantd import AutonomyState, load_policy
from warrantd._io import OutputError
from warrantd.analytics.tune import TunerState, knobs_for, policy_diff

DATA = Path(__file__).resolve().parents[2] / "datasets"
S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS


@pytest.fixture(scope="module")
def state() -> TunerState:
    history = wa.load_history(DATA / "billing-agent.csv")
    policy = load_policy(DATA / "billing-agent.policy.toml")
    grid = wa.load_grid(DATA / "billing-agent.grid.toml")
    return TunerState(history, policy, grid=grid, window="30D")


def test_knobs_start_at_the_policy_and_reach_every_grid_value() -> None:
    policy = load_policy(DATA / "billing-agent.policy.toml")
    grid = wa.load_grid(DATA / "billing-agent.grid.toml")
    knobs = {k.key: k for k in knobs_for(policy, grid, "30D")}
    assert knobs["supervised.pass_rate"].start == 0.85
    assert knobs["autonomous.min_samples"].start == 600
    assert knobs["window"].start == "30D"
    for key, values in grid.items():
        options = knobs[key].options
        for value in values:
            expected = wa.parse_window(value) if key == "window" else value
            assert expected in options, (key, value)
    assert 0.825 in knobs["supervised.pass_rate"].options  # off the 0.01 lattice


def test_a_supervised_bar_above_the_autonomous_one_is_explained_not_replayed(
    state: TunerState,
) -> None:
    before = state.trial.totals()
    assert state.set(**{"supervised.pass_rate": 0.96}) is False
    assert state.problems == [
        "autonomous.pass_rate: AUTONOMOUS bar 0.95 is lower than the SUPERVISED bar 0.96"
    ]
    assert state.trial.totals() == before  # the last valid figures stay
    with pytest.raises(ValueError, match="not a valid policy"):
        state.save("never-written.toml")
    assert state.set(**{"supervised.pass_rate": 0.85}) is True and state.problems == []


def test_figures_move_with_the_knobs_and_diff_marks_the_direction(state: TunerState) -> None:
    state.set(**{"supervised.pass_rate": 0.85, "supervised.min_samples": 150})
    same = state.figures().loc["all classes"]
    assert same["approval_burden"] == same["approval_burden_in_force"]
    assert state.diff().empty
    state.set(**{"supervised.min_samples": 300})
    moved = state.figures().loc["all classes"]
    # A higher samples bar keeps classes MANUAL longer: more requests need a human.
    assert moved["approval_burden"] > moved["approval_burden_in_force"]
    state.set(**{"supervised.pass_rate": 0.8})
    diff = state.diff().set_index("key")
    assert diff.loc["thresholds.supervised.min_samples"].tolist() == ["150", "300", "tightens"]
    assert diff.loc["thresholds.supervised.pass_rate"].tolist() == ["0.85", "0.8", "loosens"]
    state.set(**{"supervised.pass_rate": 0.85, "supervised.min_samples": 150})


def test_window_changes_are_not_called_tighter_or_looser(state: TunerState) -> None:
    knobs = state.knobs
    start = dict(state.start)
    diff = policy_diff(knobs, start, {**start, "window": 500})
    assert diff.to_dict("records") == [
        {"key": "graduation.window", "before": "30D", "after": "500 cases", "change": "changes"}
    ]


def test_save_round_trips_and_never_overwrites_unasked(state: TunerState, tmp_path: Path) -> None:
    out = tmp_path / "tuned.policy.toml"
    out.write_text("# mine\n")
    state.set(**{"autonomous.pass_rate": 0.97, "window": "60D"})
    with pytest.raises(OutputError):
        state.save(out)
    assert out.read_text() == "# mine\n"
    state.save(out, overwrite=True)
    written = load_policy(out)
    assert written.thresholds.pass_rate == {S: 0.85, A: 0.97}
    assert written.thresholds.min_samples == {S: 150, A: 600}
    assert written.graduation.window == "60D"
    assert written.actions == state.policy.actions
    state.set(**{"autonomous.pass_rate": 0.95, "window": "30D"})


def test_the_pick_never_loosens_a_bar_silently(state: TunerState) -> None:
    values = state.pick_values()
    if values is None:
        assert "no candidate beats" in state.pick.reason
    else:
        assert not (policy_diff(state.knobs, state.start, values)["change"] == "loosens").any()


def test_premature_is_judged_against_the_policy_in_force_at_every_position() -> None:
    from .test_replay import STREAK_POLICY, streak_history

    # 50 passes then 20 fails, true pass rate 0.75; SUPERVISED 0.8 over 20 cases is
    # reached at case 20 (20/20): premature, 0.75 being below the bar in force.
    tuner = TunerState(streak_history(truth=0.75), STREAK_POLICY, grid={})
    assert tuner.set(**{"supervised.pass_rate": 0.7}) is True
    row = tuner.figures().loc["refund"]
    # Lowering the bar to 0.7 (which 0.75 clears) still graduates at case 20, and that
    # graduation is still premature by the bar in force: a looser bar never looks safer.
    assert (bool(row["premature_supervised"]), bool(row["premature_supervised_in_force"])) == (
        True,
        True,
    )
