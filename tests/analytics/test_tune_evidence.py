"""The tuner's evidence knobs (issue 18's rule, alpha, demotion margin) without a browser.

The figures are worked out by hand on a history small enough to do so: one
reversible-write class (so every request in MANUAL needs a human), one case a day at
noon from 1 January 2026, every case passing, no adversarial cases (both adversarial
bars 0, which any rule meets), bars SUPERVISED 0.8 / 5 cases and AUTONOMOUS 0.9 / 10
cases, cumulative evidence.

* Point rule: the 5th case (day 4) earns SUPERVISED and the 10th (day 9) AUTONOMOUS;
  the 5 cases before SUPERVISED each needed a human: approval burden 5.
* Anytime rule at level alpha: after n passes out of n, the evidence against a true
  rate at the bar is log M_n = sum_{k<n} log((a + k) / (bar (a + b + k))), with the
  rule's Beta prior centred on the bar with sd 0.03 (a + b = bar (1 - bar) / 0.03**2 - 1:
  176.8 for 0.8, 99 for 0.9), and the bar is met once log M_n >= ln(1 / alpha). The
  sum grows by at most log(1 / bar) a case (0.22 for 0.8), so it needs well over
  ln 20 / 0.22 = 14 cases; tabulated once term by term (outside the tuner), it first
  reaches ln 20 = 3.00 at n = 75 for 0.8 and n = 94 for 0.9; at alpha 0.2 (ln 5): 54 and
  65; at alpha 0.01 (ln 100): 96 and 123. :func:`test_the_hand_counts_are_the_core_rule_s`
  checks those counts against the core's :func:`~warrantd.graduation.anytime_met`, the one
  definition of the rule; the tuner's figures come through replay, the other path.

So the tuner must show, under anytime: days to SUPERVISED n - 1 and burden n, never
earlier than the point rule, and later the smaller alpha is.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import warrantd.analytics as wa
from warrantd import load_policy
from warrantd.analytics.tune import TunerState
from warrantd.graduation import anytime_met

DATA = Path(__file__).resolve().parents[2] / "datasets"

#: alpha -> (first case meeting 0.8, first case meeting 0.9), all cases passing (by hand)
ANYTIME_FIRST = {0.2: (54, 65), 0.05: (75, 94), 0.01: (96, 123)}
POINT_FIRST = (5, 10)

POLICY = """\
[thresholds.supervised]
pass_rate = 0.8
adversarial_pass_rate = 0.0
min_samples = 5

[thresholds.autonomous]
pass_rate = 0.9
adversarial_pass_rate = 0.0
min_samples = 10

[actions.send_invoice_email]
risk = "reversible_write"
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> TunerState:
    root = tmp_path_factory.mktemp("small")
    start = pd.Timestamp("2026-01-01T12:00:00Z")
    lines = ["timestamp,action,passed,adversarial"]
    lines += [
        f"{(start + pd.Timedelta(days=d)).isoformat()},send_invoice_email,True,False"
        for d in range(130)
    ]
    (root / "history.csv").write_text("\n".join(lines) + "\n")
    (root / "policy.toml").write_text(POLICY)
    history = wa.load_history(root / "history.csv")
    return TunerState(history, load_policy(root / "policy.toml"), window=None)


def _row(state: TunerState) -> dict[str, float]:
    figures = state.figures().loc["send_invoice_email"]
    return {
        "supervised": figures["days_to_supervised"],
        "autonomous": figures["days_to_autonomous"],
        "burden": figures["approval_burden"],
        "burden_in_force": figures["approval_burden_in_force"],
    }


def test_the_hand_counts_are_the_core_rule_s() -> None:
    for alpha, firsts in ANYTIME_FIRST.items():
        for bar, n in zip((0.8, 0.9), firsts, strict=True):
            assert not anytime_met(n - 1, n - 1, bar, alpha), (alpha, bar)
            assert anytime_met(n, n, bar, alpha), (alpha, bar)


def test_the_point_rule_is_the_policy_in_force(small: TunerState) -> None:
    assert small.set(**{"graduation.evidence": "point", "graduation.alpha": 0.05})
    assert _row(small) == {"supervised": 4.0, "autonomous": 9.0, "burden": 5, "burden_in_force": 5}


@pytest.mark.parametrize("alpha", sorted(ANYTIME_FIRST))
def test_anytime_graduates_later_than_the_point_rule_by_the_hand_count(
    small: TunerState, alpha: float
) -> None:
    assert small.set(**{"graduation.evidence": "anytime", "graduation.alpha": alpha}) is True
    assert small.problems == []
    supervised, autonomous = ANYTIME_FIRST[alpha]
    assert _row(small) == {
        "supervised": supervised - 1.0,  # days from the first case (day 0)
        "autonomous": autonomous - 1.0,
        "burden": supervised,  # every case before SUPERVISED needed a human
        "burden_in_force": POINT_FIRST[0],
    }
    # The change the tuner shows against the policy in force is a tightening.
    diff = small.diff().set_index("key")
    assert diff.loc["graduation.evidence"].tolist() == ["point", "anytime", "tightens"]
    small.set(**{"graduation.evidence": "point", "graduation.alpha": 0.05})


def test_alpha_moves_nothing_under_the_point_rule(small: TunerState) -> None:
    assert small.set(**{"graduation.evidence": "point", "graduation.alpha": 0.01})
    assert _row(small)["supervised"] == 4.0
    diff = small.diff().set_index("key")
    assert diff.loc["graduation.alpha"].tolist() == ["0.05", "0.01", "tightens"]
    small.set(**{"graduation.alpha": 0.05})


@pytest.fixture(scope="module")
def billing() -> TunerState:
    history = wa.load_history(DATA / "billing-agent.csv")
    policy = load_policy(DATA / "billing-agent.policy.toml")
    grid = wa.load_grid(DATA / "billing-agent.grid.toml")
    return TunerState(history, policy, grid=grid, window="30D")


def test_on_the_bundled_data_anytime_never_graduates_a_class_earlier(
    billing: TunerState,
) -> None:
    """Per class: days to each state under anytime are no fewer than under the point
    rule (a class the point rule never promotes is never promoted by a bound), the
    approval burden no lower; and alpha 0.01 no earlier than alpha 0.2. At least one
    figure moves, so the knob is not inert here."""
    point = billing.figures()
    assert billing.set(**{"graduation.evidence": "anytime", "graduation.alpha": 0.2})
    loose = billing.figures()
    assert billing.set(**{"graduation.alpha": 0.01})
    strict = billing.figures()
    billing.set(**{"graduation.evidence": "point", "graduation.alpha": 0.05})
    classes = [c for c in point.index if c != "all classes"]
    for earlier, later in ((point, loose), (loose, strict)):
        for column in ("days_to_supervised", "days_to_autonomous"):
            for c in classes:
                before, after = earlier.loc[c, column], later.loc[c, column]
                if pd.isna(before):
                    assert pd.isna(after), (c, column)
                else:
                    assert pd.isna(after) or after >= before, (c, column, before, after)
        assert (
            later.loc[classes, "approval_burden"] >= earlier.loc[classes, "approval_burden"]
        ).all()
    assert not point.loc[classes, "approval_burden"].equals(strict.loc[classes, "approval_burden"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"graduation.evidence": "anytime", "supervised.pass_rate": 0.96},
            ["supervised.pass_rate 0.96 is above autonomous.pass_rate 0.95"],
        ),
        (
            {"graduation.alpha": 0.0},
            ["graduation.alpha: 0.0 is not a level strictly between 0 and 1"],
        ),
        (
            {"graduation.evidence": "anytime", "graduation.alpha": 1.5},
            ["graduation.alpha: 1.5 is not a level strictly between 0 and 1"],
        ),
        (
            {"graduation.evidence": "bayes"},
            ["graduation.evidence: unknown rule 'bayes' (expected one of point, wilson, anytime)"],
        ),
        (
            {"graduation.demotion_margin": -0.1, "graduation.alpha": 2},
            [
                "graduation.alpha: 2 is not a level strictly between 0 and 1",
                "graduation.demotion_margin: -0.1 is not a rate in [0, 1]",
            ],
        ),
        (
            {"supervised.pass_rate": "high"},
            ["supervised.pass_rate: 'high' is not a number"],
        ),
    ],
)
def test_invalid_combinations_are_one_line_each_and_keep_the_figures(
    billing: TunerState, values: dict[str, object], expected: list[str]
) -> None:
    before = billing.figures()
    assert billing.set(**values) is False  # never an exception
    assert billing.problems == expected
    assert all("\n" not in line for line in billing.problems)
    pd.testing.assert_frame_equal(billing.figures(), before)  # the last valid figures
    assert billing.set(**billing.start) is True and billing.problems == []


def test_the_app_says_an_invalid_combination_in_its_status_line(billing: TunerState) -> None:
    """The widget path: moving the controls into an invalid combination under the
    anytime rule writes one line in the status, turns saving off, and moving back
    turns it on again (no output, no traceback: the handler catches nothing here)."""
    pytest.importorskip("ipywidgets")
    from warrantd.analytics.tune import Tuner

    tuner = Tuner(billing, "unused.policy.toml")
    tuner.controls["graduation.evidence"].value = "anytime"
    assert "wd-ok" in tuner.status.value and not tuner.save_button.disabled
    assert "1 key changed against the policy in force." in tuner.status.value
    assert "<td>graduation.evidence</td><td>point</td><td>anytime</td>" in tuner.diff_view.value
    assert "class='wd-tightens'>tightens<" in tuner.diff_view.value
    tuner.controls["supervised.pass_rate"].value = "0.96"
    status = tuner.status.value
    assert "Not a valid policy: supervised.pass_rate 0.96 is above autonomous.pass_rate 0.95." in (
        status
    )
    assert "Could not replay" not in status and "\n" not in status
    assert tuner.save_button.disabled
    tuner.controls["supervised.pass_rate"].value = "0.85"
    tuner.controls["graduation.evidence"].value = "point"
    assert "the same as the policy in force" in tuner.status.value
    assert not tuner.save_button.disabled
