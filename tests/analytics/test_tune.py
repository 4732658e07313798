"""The tuner's logic without a browser: knobs, validity, figures, diff and saving."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any

import pandas as pd
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
    # Said as the pair, led by the bar that was moved (the core files it under the
    # AUTONOMOUS key, which the user did not touch).
    assert state.problems == ["supervised.pass_rate 0.96 is above autonomous.pass_rate 0.95"]
    assert state.trial.totals() == before  # the last valid figures stay
    with pytest.raises(ValueError, match="not a valid policy"):
        state.save("never-written.toml")
    # Now the AUTONOMOUS bar is the one moved (still below 0.96): led by it.
    assert state.set(**{"autonomous.pass_rate": 0.9}) is False
    assert state.problems == ["autonomous.pass_rate 0.9 is below supervised.pass_rate 0.96"]
    assert state.set(**{"supervised.min_samples": 610, "supervised.pass_rate": 0.85}) is False
    assert state.problems == ["supervised.min_samples 610 is above autonomous.min_samples 600"]
    assert state.set(**{"supervised.min_samples": 150, "autonomous.pass_rate": 0.95}) is True
    assert state.problems == []


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
    diff = state.diff({"window": 500})
    assert diff.to_dict("records") == [
        {"key": "graduation.window", "before": "30D", "after": "500 cases", "change": "either"}
    ]


def test_policy_diff_lists_every_key_with_warrantd_diff_s_directions() -> None:
    """Two policies built by hand from the bundled file (bars 0.85 / 0.75 / 150 and
    0.95 / 0.9 / 600, no [graduation] table): the rows, in file order, are the
    thresholds, then the settings; a lower bar loosens, a higher one tightens, a
    window goes either way, anytime against point tightens, a larger demotion margin
    loosens."""
    base = load_policy(DATA / "billing-agent.policy.toml")
    t = base.thresholds
    new = dataclasses.replace(
        base,
        thresholds=dataclasses.replace(
            t,
            pass_rate={S: 0.87, A: 0.95},
            min_samples={S: 100, A: 600},
        ),
        graduation=dataclasses.replace(
            base.graduation, window="30D", evidence="anytime", demotion_margin=0.02
        ),
    )
    assert policy_diff(base, new).to_dict("records") == [
        {"key": "thresholds.supervised.pass_rate", "before": "0.85", "after": "0.87",
         "change": "tightens"},
        {"key": "thresholds.supervised.min_samples", "before": "150", "after": "100",
         "change": "loosens"},
        {"key": "graduation.window", "before": "cumulative", "after": "30D", "change": "either"},
        {"key": "graduation.evidence", "before": "point", "after": "anytime",
         "change": "tightens"},
        {"key": "graduation.demotion_margin", "before": "0.0", "after": "0.02",
         "change": "loosens"},
    ]  # fmt: skip
    assert policy_diff(base, base).empty
    assert list(policy_diff(base, base).columns) == ["key", "before", "after", "change"]


def test_the_saved_file_s_changes_include_the_window_the_tuner_was_given(
    state: TunerState, tmp_path: Path
) -> None:
    """The trial's case: the notebook's window="30D" over a file without a window,
    evidence anytime and margin 0.02 saved. Against the policy in force (the file
    plus that window) two keys change; the saved file changes three against the
    file as given: the window as well."""
    state.set(**{"graduation.evidence": "anytime", "graduation.demotion_margin": 0.02})
    assert state.diff()["key"].tolist() == ["graduation.evidence", "graduation.demotion_margin"]
    out = tmp_path / "saved.policy.toml"
    state.save(out)
    saved = state.diff(base=state.given)
    assert saved.to_dict("records") == [
        {"key": "graduation.window", "before": "cumulative", "after": "30D", "change": "either"},
        {"key": "graduation.evidence", "before": "point", "after": "anytime",
         "change": "tightens"},
        {"key": "graduation.demotion_margin", "before": "0.0", "after": "0.02",
         "change": "loosens"},
    ]  # fmt: skip
    # The file as written says the same (what `warrantd diff` would read).
    assert policy_diff(load_policy(DATA / "billing-agent.policy.toml"), load_policy(out)).equals(
        saved
    )
    state.set(**{"graduation.evidence": "point", "graduation.demotion_margin": 0.0})


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
        assert not (state.diff(values)["change"] == "loosens").any()


def test_premature_is_judged_against_the_policy_in_force_at_every_position() -> None:
    from .test_replay import STREAK_POLICY, streak_history

    # 50 passes then 20 fails, true pass rate 0.75; SUPERVISED 0.8 over 20 cases is
    # reached at case 20 (20/20): premature, 0.75 being below the bar in force.
    tuner = TunerState(streak_history(truth=0.75), STREAK_POLICY, grid={})
    assert tuner.set(**{"supervised.pass_rate": 0.7}) is True
    row = tuner.figures().loc["refund"]
    # Lowering the bar to 0.7 (which 0.75 clears) still graduates at case 20, and that
    # graduation is still premature by the bar in force: a looser bar never looks safer.
    pair = (
        row["premature_graduations_supervised"],
        row["premature_graduations_supervised_in_force"],
    )
    assert pair == (1, 1)


def test_save_refuses_a_path_that_can_be_no_file_and_makes_no_folder(
    state: TunerState, tmp_path: Path
) -> None:
    missing = tmp_path / "nodir" / "x.toml"
    cases = [
        ("", "the path is empty: give a file name"),
        (str(tmp_path), f"{tmp_path}: is a directory (give a file name)"),
        (str(missing), f"{missing}: its folder '{tmp_path / 'nodir'}' does not exist; "
         "create it first"),
    ]  # fmt: skip
    for given, said in cases:
        with pytest.raises(OutputError) as caught:
            state.save(given)
        assert str(caught.value) == said
    assert list(tmp_path.iterdir()) == []  # no folder made, nothing written


def _app(state: TunerState, out: Path) -> object:
    pytest.importorskip("ipywidgets")
    from warrantd.analytics.tune import Tuner

    return Tuner(state, out)


def test_building_and_moving_the_app_outside_a_kernel_prints_nothing(
    state: TunerState, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A plain script (no IPython kernel here): building the app and moving a control
    write nothing to stdout or stderr (IPython's display would print the figures table
    and clear_output an escape code)."""
    capfd.readouterr()
    tuner: Any = _app(state, tmp_path / "x.toml")
    tuner.controls["supervised.pass_rate"].value = "0.87"
    assert capfd.readouterr() == ("", "")
    # The table is there, as HTML: the figures that changed first.
    shown = tuner.all_figures.value
    assert shown.index("<th>days to supervised before</th>") < shown.index("<th>demotions before")
    tuner.controls["supervised.pass_rate"].value = "0.85"


def test_the_app_counts_keys_in_words_and_notes_settings_that_do_not_do_what_they_seem(
    state: TunerState, tmp_path: Path
) -> None:
    tuner: Any = _app(state, tmp_path / "x.toml")
    controls = tuner.controls
    controls["supervised.pass_rate"].value = "0.87"
    assert "Valid policy; 1 key changed against the policy in force." in tuner.status.value
    controls["autonomous.pass_rate"].value = "0.96"
    assert "2 keys changed against the policy in force." in tuner.status.value
    controls["supervised.pass_rate"].value = "0.85"
    controls["autonomous.pass_rate"].value = "0.95"
    assert "the same as the policy in force." in tuner.status.value
    assert "Note" not in tuner.status.value
    # alpha under the point rule: a key of the file (it is written), but no figure moves.
    before = state.figures()
    controls["graduation.alpha"].value = "0.01"
    assert "1 key changed" in tuner.status.value
    assert (
        "Note: graduation.alpha: 0.01 does nothing under the point rule (only wilson and "
        "anytime read a level)." in tuner.status.value
    )
    pd.testing.assert_frame_equal(state.figures(), before)
    assert state.diff().to_dict("records") == [
        {"key": "graduation.alpha", "before": "0.05", "after": "0.01", "change": "tightens"}
    ]
    tuner.path.value = str(tmp_path / "alpha.policy.toml")
    tuner.save_button.click()
    assert load_policy(tmp_path / "alpha.policy.toml").graduation.alpha == 0.01
    # Under anytime it does matter: no note of it; but the tuner's 30D window is one.
    controls["graduation.evidence"].value = "anytime"
    assert "does nothing under the point rule" not in tuner.status.value
    assert "Note: graduation.evidence: anytime under a 30D window: the guarantee" in (
        tuner.status.value
    )
    controls["graduation.evidence"].value = "point"
    controls["graduation.alpha"].value = "0.05"
    assert "the same as the policy in force." in tuner.status.value
    assert "Note" not in tuner.status.value


def test_the_app_s_save_says_a_bad_path_at_once_and_asks_before_replacing(
    state: TunerState, tmp_path: Path
) -> None:
    tuner: Any = _app(state, tmp_path / "x.toml")
    missing = tmp_path / "nodir" / "x.toml"
    for given, said in [
        ("", "the path is empty: give a file name"),
        ("  ", "the path is empty: give a file name"),
        (str(tmp_path), f"{tmp_path}: is a directory (give a file name)"),
        (str(missing), f"{missing}: its folder '{tmp_path / 'nodir'}' does not exist; "
         "create it first"),
    ]:  # fmt: skip
        tuner.path.value = given
        tuner.save_button.click()
        # One line at once: no "exists. Replace it?" first.
        assert (
            tuner.message.value == f'<span class="wd-problem">Not saved: {html.escape(said)}</span>'
        )
        assert tuner.confirm.layout.display == "none"
    assert list(tmp_path.iterdir()) == []
    mine = tmp_path / "mine.toml"
    mine.write_text("# mine\n")
    tuner.path.value = str(mine)
    tuner.save_button.click()
    assert tuner.message.value == f"<b>{mine}</b> exists. Replace it?"
    assert tuner.confirm.layout.display == "flex"
    tuner.keep_button.click()
    assert mine.read_text() == "# mine\n" and tuner.message.value == "Nothing written."
    # A new file: saved, and the list is against the policy as given (the window too).
    tuner.controls["supervised.pass_rate"].value = "0.87"
    assert "graduation.window" not in tuner.diff_view.value  # in force: 30D both sides
    tuner.path.value = str(tmp_path / "new.toml")
    tuner.save_button.click()
    assert tuner.message.value == f"Saved <b>{tmp_path / 'new.toml'}</b>."
    shown = tuner.diff_view.value
    assert "What the saved file changes against the policy given to tune()" in shown
    assert "<td>graduation.window</td><td>cumulative</td><td>30D</td>" in shown
    assert "class='wd-either'>either<" in shown
    assert "<td>thresholds.supervised.pass_rate</td><td>0.85</td><td>0.87</td>" in shown
    tuner.controls["supervised.pass_rate"].value = "0.85"


def test_replace_answers_only_for_the_file_it_asked_about(
    state: TunerState, tmp_path: Path
) -> None:
    tuner: Any = _app(state, tmp_path / "x.toml")
    first, second = tmp_path / "first.toml", tmp_path / "second.toml"
    first.write_text("# first\n")
    second.write_text("# second\n")
    tuner.path.value = str(tmp_path / "earlier.toml")
    tuner.save_button.click()
    assert "What the saved file changes" in tuner.diff_view.value
    tuner.path.value = str(first)
    tuner.save_button.click()
    assert tuner.message.value == f"<b>{first}</b> exists. Replace it?"
    # The earlier save's list is gone: it would read as if it were about this file.
    assert "What the saved file changes" not in tuner.diff_view.value
    # The path is edited before the answer: "Replace it" asks about the new file.
    tuner.path.value = str(second)
    tuner.replace_button.click()
    assert tuner.message.value == f"<b>{second}</b> exists. Replace it?"
    assert first.read_text() == "# first\n" and second.read_text() == "# second\n"
    tuner.replace_button.click()  # now the answer is about this file
    assert tuner.message.value == f"Saved <b>{second}</b>."
    assert load_policy(second).thresholds == state.policy.thresholds
    assert first.read_text() == "# first\n"


def test_the_pick_carries_its_rule_and_swept_rule_values_are_reachable(
    state: TunerState,
) -> None:
    from warrantd.analytics.sweep import Pick

    grid = {"alpha": [0.001, 0.05], "demotion_margin": [0.0, 0.03]}
    knobs = {k.key: k for k in knobs_for(state.given, grid, "30D")}
    assert 0.001 in knobs["graduation.alpha"].options
    assert 0.03 in knobs["graduation.demotion_margin"].options
    # A pick under anytime with a margin: going to it sets the rule too, not only bars.
    row = state.sweep.by_candidate.iloc[0].copy()
    row["evidence"], row["alpha"], row["demotion_margin"] = "anytime", 0.1, 0.02
    kept = state.pick
    try:
        state.pick = Pick(row, "crafted")
        values = state.pick_values()
        assert values is not None
        chosen = state.policy_for(values).graduation
        assert (chosen.evidence, chosen.alpha, chosen.demotion_margin) == ("anytime", 0.1, 0.02)
    finally:
        state.pick = kept
