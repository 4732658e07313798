"""Evidence-rule overrides: ``warrantd.policy.with_graduation`` and the command line's
--evidence / --alpha / --demotion-margin / --reset-on on replay, sweep, report, forecast
and diff."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from warrantd import load_policy
from warrantd.errors import OptionError
from warrantd.graduation import GraduationSettings
from warrantd.policy import graduation_setting, settings_notes, settings_problems, with_graduation

from .test_cli_commands import GRID, HISTORY, POLICY, ROOT, one_line_error, run


def test_with_graduation_replaces_only_what_is_given() -> None:
    policy = load_policy(ROOT / POLICY)
    assert with_graduation(policy) is policy
    assert with_graduation(policy, evidence=None, alpha=None) is policy
    changed = with_graduation(policy, evidence="anytime", alpha="0.01", reset_on="agent_version")
    assert changed.graduation == GraduationSettings(
        window=policy.graduation.window,
        evidence="anytime",
        alpha=0.01,
        demotion_margin=policy.graduation.demotion_margin,
        reset_on="agent_version",
    )
    assert changed.thresholds == policy.thresholds and changed.actions == policy.actions


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("evidence", "bayes", "unknown rule 'bayes' (expected one of point, wilson, anytime)"),
        ("alpha", "1", "1.0 is not a level strictly between 0 and 1"),
        ("alpha", "nan", "nan is not a number"),
        ("alpha", "often", "'often' is not a number"),
        ("demotion_margin", "-0.5", "-0.5 is not a rate in [0, 1]"),
        ("reset_on", "", "'' is not a column name"),
        ("window", "30D", "not a [graduation] setting (expected evidence, alpha, "),
    ],
)
def test_graduation_setting_refuses_with_the_policy_rules(
    key: str, value: str, problem: str
) -> None:
    with pytest.raises(OptionError) as caught:
        graduation_setting(key, value)
    assert caught.value.option == key
    assert caught.value.problem.startswith(problem)


def test_a_quoted_number_is_said_to_be_text() -> None:
    assert settings_problems(GraduationSettings(alpha="0.05")) == [  # type: ignore[arg-type]
        ("graduation.alpha", "'0.05' is text, not a number (write it without quotes)")
    ]
    assert settings_problems(GraduationSettings(demotion_margin="x")) == [  # type: ignore[arg-type]
        ("graduation.demotion_margin", "'x' is not a number")
    ]


def test_settings_that_do_nothing_or_void_the_guarantee_are_noted() -> None:
    assert settings_notes(GraduationSettings()) == []
    assert settings_notes(GraduationSettings(evidence="anytime")) == []  # cumulative
    assert settings_notes(GraduationSettings(evidence="wilson", alpha=0.01)) == []
    (alpha,) = settings_notes(GraduationSettings(alpha=0.01))
    assert alpha == (
        "graduation.alpha",
        "0.01 does nothing under the point rule (only wilson and anytime read a level)",
    )
    for window, shown in (("30D", "30D"), (500, "500 cases")):
        ((key, text),) = settings_notes(GraduationSettings(evidence="anytime", window=window))
        assert key == "graduation.evidence"
        assert text.startswith(f"anytime under a {shown} window: the guarantee")


def test_the_command_line_warns_of_anytime_under_a_window_even_quietly(tmp_path: Path) -> None:
    out = run("replay", "-p", POLICY, "-H", HISTORY, "--evidence", "anytime", "--window", "30D")
    assert out.returncode == 0, out.stderr
    # Put to the options that made it, not to the policy file (which sets neither).
    warned = [line for line in out.stderr.splitlines() if "anytime under" in line]
    assert warned == [
        "--evidence anytime --window 30D: anytime under a 30D window: the guarantee (a class "
        "below its bar is ever promoted with probability at most alpha) holds for one "
        "unbroken stream, not across window starts; for it to hold use a cumulative window, "
        "with reset_on for new agent versions"
    ]
    quiet = run("replay", "-p", POLICY, "-H", HISTORY, "--alpha", "0.01", "-q")
    assert quiet.returncode == 0
    assert "--alpha 0.01: 0.01 does nothing under the point rule" in quiet.stderr
    assert POLICY not in quiet.stderr
    policy = tmp_path / "p.toml"
    policy.write_text((ROOT / POLICY).read_text() + "\n[graduation]\nalpha = 0.2\n")
    valid = run("validate", str(policy))
    assert valid.returncode == 0
    assert "  note: graduation.alpha: 0.2 does nothing under the point rule" in valid.stdout
    # diff: each side's own notes, the base's too.
    both = run("diff", str(policy), POLICY, "-H", HISTORY, "-q")
    assert both.returncode == 0, both.stderr
    assert f"{policy}: graduation.alpha: 0.2 does nothing" in both.stderr
    # A grid sweeping windows under anytime says which of them carry no guarantee, and
    # the --window it does not use is not warned about.
    grid = tmp_path / "g.toml"
    grid.write_text('window = ["cumulative", "30D", 500]\n')
    swept = run("sweep", "-p", POLICY, "-H", HISTORY, "-g", str(grid), "-q",
                "--evidence", "anytime", "--window", "60D")  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    assert (
        f"{grid}: anytime candidates under trailing windows (30D, 500 cases): the guarantee"
        in swept.stderr
    )
    assert "anytime under a 60D window" not in swept.stderr


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        (["replay", "-p", POLICY, "-H", HISTORY], "--evidence", "bayes"),
        (["sweep", "-p", POLICY, "-H", HISTORY, "--grid", GRID], "--alpha", "0"),
        (["report", "-p", POLICY, "-H", HISTORY, "--out", "unused"], "--demotion-margin", "1.5"),
        (["diff", POLICY, POLICY, "-H", HISTORY], "--alpha", "often"),
        (["forecast", "-p", POLICY, "-H", HISTORY], "--reset-on", ""),
    ],
)
def test_a_bad_rule_option_is_one_line_naming_option_and_value(
    command: list[str], option: str, value: str
) -> None:
    out = run(*command, option, value)
    one_line_error(out, f"'{option}'", value if value else "''")
    assert out.stdout == ""


def test_replay_follows_the_rule_given_on_the_command_line() -> None:
    """--evidence anytime --alpha 0.01 prints what the library replays under that rule, and
    (on this history) graduates later than the policy's point rule, never earlier."""
    from warrantd.analytics import load_history, replay

    args = ["replay", "-p", POLICY, "-H", HISTORY, "--format", "json", "-q"]
    plain = run(*args)
    ruled = run(*args, "--evidence", "anytime", "--alpha", "0.01")
    assert plain.returncode == 0 and ruled.returncode == 0, ruled.stderr
    got = pd.DataFrame(json.loads(ruled.stdout)).set_index("action")
    before = pd.DataFrame(json.loads(plain.stdout)).set_index("action")
    policy = with_graduation(load_policy(ROOT / POLICY), evidence="anytime", alpha=0.01)
    expected = replay(load_history(ROOT / HISTORY), policy).summary.set_index("action")
    first = pd.to_datetime(got["first_supervised"], utc=True, format="ISO8601").dt.as_unit("ns")
    pd.testing.assert_series_equal(
        first, expected["first_supervised"], check_names=False, check_dtype=False
    )
    assert (got["approval_burden"] == expected["approval_burden"]).all()
    earlier = pd.to_datetime(before["first_supervised"], utc=True, format="ISO8601")
    assert (first.isna() | (first >= earlier)).all()
    assert (first.isna() & earlier.notna()).any() or (first > earlier).any()


def test_sweep_grades_under_the_rule_given_and_says_when_the_grid_sweeps_it(
    tmp_path: Path,
) -> None:
    out_csv = tmp_path / "sweep.csv"
    args = ["sweep", "-p", POLICY, "-H", HISTORY, "--grid", GRID, "-q", "--out", str(out_csv)]
    out = run(*args, "--evidence", "wilson", "--alpha", "0.1")
    assert out.returncode == 0, out.stderr
    table = pd.read_csv(out_csv)
    assert set(table["evidence"]) == {"wilson"} and set(table["alpha"]) == {0.1}
    grid = tmp_path / "grid.toml"
    grid.write_text('evidence = ["point", "anytime"]\n')
    out = run(*args[:6], str(grid), "-q", "--evidence", "wilson")
    assert out.returncode == 0, out.stderr
    assert "--evidence is not used: the grid sweeps its own evidence knob" in out.stderr
    assert "evidence" in io.StringIO(out.stdout).readline()


def test_diff_grades_both_policies_under_the_rule_given(tmp_path: Path) -> None:
    """The same policy on both sides changes nothing under any rule; a SUPERVISED bar
    moved from 0.85 to 0.80 is judged under --evidence anytime when given (the json
    output's new state differs from the point rule's)."""
    looser = tmp_path / "looser.toml"
    text = (ROOT / POLICY).read_text()
    assert "pass_rate = 0.85" in text
    looser.write_text(text.replace("pass_rate = 0.85", "pass_rate = 0.8", 1))
    args = ["diff", POLICY, str(looser), "-H", HISTORY, "--format", "json", "-q"]
    point = run(*args)
    anytime = run(*args, "--evidence", "anytime")
    assert point.returncode == 0 and anytime.returncode == 0, anytime.stderr
    assert json.loads(point.stdout) != json.loads(anytime.stdout)
    same = run("diff", POLICY, POLICY, "-H", HISTORY, "--evidence", "anytime", "-q")
    assert same.returncode == 0, same.stderr


def test_report_base_is_graded_under_the_rule_given_too(tmp_path: Path) -> None:
    """`report --base` with the same policy on both sides and --evidence wilson: the
    rule applies to both, so there is no policy change (graded under point on one side
    only, the section showed a changed key and burden 9,179 -> 9,910)."""
    out = tmp_path / "r"
    args = ["report", "-p", POLICY, "-H", HISTORY, "--base", POLICY, "--evidence", "wilson"]
    done = run(*args, "--out", str(out), "-q")
    assert done.returncode == 0, done.stderr
    md = (out / "report.md").read_text()
    assert "No policy change: the two policies are the same, key for key." in md
