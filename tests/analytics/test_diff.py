"""policy_impact, worked by hand on small histories.

Every expected figure below is worked out in the comments from the rule (a state's bars
met by the evidence strictly before a case or request, cumulative window) and the
decision flow (SUPERVISED allows a value within auto_cap or no value; AUTONOMOUS allows).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warrantd import load_policy
from warrantd.analytics import load_history, load_traffic, policy_impact
from warrantd.analytics.diff import (
    JSON_SCHEMA,
    JSON_VERSION,
    PolicyImpact,
    key_changes,
    parse_budget,
    read_policy,
)
from warrantd.errors import InputError

POLICY = """
[thresholds.supervised]
pass_rate = {sup}
adversarial_pass_rate = 0.0
min_samples = 2

[thresholds.autonomous]
pass_rate = {aut}
adversarial_pass_rate = 0.0
min_samples = {aut_n}

[actions.refund]
risk = "reversible_write"
auto_cap = "100"
"""


def write_policy(
    folder: Path, name: str, sup: float = 0.5, aut: float = 0.9, aut_n: int = 4
) -> Path:
    path = folder / name
    path.write_text(POLICY.format(sup=sup, aut=aut, aut_n=aut_n))
    return path


def history(outcomes: str, truth: float | None = None) -> pd.DataFrame:
    """One case of ``refund`` per day at 09:00 from 2026-01-01; P passes, F fails."""
    rows = {
        "timestamp": [f"2026-01-{d + 1:02d}T09:00:00Z" for d in range(len(outcomes))],
        "action": ["refund"] * len(outcomes),
        "passed": [c == "P" for c in outcomes],
    }
    if truth is not None:
        rows["true_pass_p"] = [truth] * len(outcomes)
    return load_history(pd.DataFrame(rows))


def traffic(days: int, value: str = "500") -> pd.DataFrame:
    """One ``refund`` request of ``value`` per day at 12:00 (after that day's case)."""
    return load_traffic(
        pd.DataFrame(
            {
                "timestamp": [f"2026-01-{d + 1:02d}T12:00:00Z" for d in range(days)],
                "action": ["refund"] * days,
                "value": [value] * days,
            }
        )
    )


# Cases P P P F P F P P. Cumulative counts after case k and the state they earn
# (SUPERVISED: rate >= 0.5 and >= 2 cases; AUTONOMOUS: >= 4 cases and rate >= bar):
#   k:     1    2    3    4     5    6     7     8
#   rate:  1/1  2/2  3/3  3/4   4/5  4/6   5/7   6/8
#   bar .9 M    S    S    S     S    S     S     S
#   bar .7 M    S    S    A     A    S     A     A   (0.75, 0.8 >= .7; 0.667 < .7)
AUT_HISTORY = "PPPFPFPP"


def test_a_lower_autonomous_pass_rate_is_flagged_with_the_exact_changes(tmp_path: Path) -> None:
    base = write_policy(tmp_path, "base.toml", aut=0.9)
    new = write_policy(tmp_path, "new.toml", aut=0.7)
    impact = policy_impact(base, new, history(AUT_HISTORY), traffic=traffic(8))
    assert [c.key for c in impact.loosened] == ["thresholds.autonomous.pass_rate"]
    (change,) = impact.changes
    assert (change.before, change.after, change.direction) == ("0.9", "0.7", "loosens")
    row = impact.table.set_index("action").loc["refund"]
    # Requests of 500 (> auto_cap 100) on days 1-8 at noon: MANUAL or SUPERVISED needs a
    # human, AUTONOMOUS allows. Base: all 8 need approval. New: AUTONOMOUS on days 4, 5,
    # 7, 8 -> 4 allowed, 4 need approval.
    assert (row["approval_burden_before"], row["approval_burden_after"]) == (8, 4)
    assert row["approval_burden_change"] == -4
    assert row["newly_allowed"] == 4 and row["newly_gated"] == 0
    # Failures (cases 4 and 6) arrive in SUPERVISED (base) / SUPERVISED, AUTONOMOUS (new):
    # both let an unvalued request through either way: 2 -> 2.
    assert (row["failures_let_through_before"], row["failures_let_through_after"]) == (2, 2)
    assert row["adversarial_failures_let_through_change"] == 0
    # New: AUTONOMOUS at case 4, lost at case 6 (one level), regained at 7.
    assert (row["demotions_before"], row["demotions_after"]) == (0, 1)
    assert pd.isna(row["first_autonomous_before"])
    assert row["first_autonomous_after"] == pd.Timestamp("2026-01-04T09:00:00Z")
    assert row["first_supervised_shift_days"] == 0
    assert row["status"] == "changed"
    assert math.isnan(row["premature_before"])  # no ground truth
    totals = impact.totals()
    assert totals["approval_burden"] == {"before": 8.0, "after": 4.0, "change": -4.0}
    assert [b.budget for b in impact.check(["loosened"])] == ["loosened"]
    assert impact.check(["burden+0"]) == []  # the burden went down


def test_a_tightening_change_is_not_flagged_by_loosened(tmp_path: Path) -> None:
    base = write_policy(tmp_path, "base.toml", aut=0.7)
    new = write_policy(tmp_path, "new.toml", aut=0.9)
    impact = policy_impact(base, new, history(AUT_HISTORY), traffic=traffic(8))
    assert impact.loosened == ()
    assert [c.direction for c in impact.changes] == ["tightens"]
    assert impact.check(["loosened"]) == []
    # The mirror of the loosening: 4 -> 8 needing approval, 4 newly gated.
    row = impact.table.iloc[0]
    assert (row["approval_burden_before"], row["approval_burden_after"]) == (4, 8)
    assert (row["newly_allowed"], row["newly_gated"]) == (0, 4)
    # burden +100% exactly: within burden+100%, over burden+99%; +4 within burden+4.
    assert impact.check(["burden+100%"]) == []
    over = impact.check(["burden+99%"])
    assert {b.scope for b in over} == {"refund", "all classes"}
    assert "4 -> 8 (+100.0%)" in over[0].message
    assert impact.check(["burden+4"]) == []
    assert len(impact.check(["burden+3"])) == 2
    assert impact.check(["any-change"])[0].scope == "all classes"


def test_an_identical_policy_reports_no_change(tmp_path: Path) -> None:
    base = write_policy(tmp_path, "base.toml")
    impact = policy_impact(base, base, history(AUT_HISTORY), traffic=traffic(8))
    assert impact.changes == () and impact.loosened == ()
    assert impact.unchanged == ["refund"]
    assert impact.check(["any-change", "loosened", "burden+0%", "failures+0"]) == []
    assert impact.headline().startswith("No policy change")
    assert impact.digests["base_policy"] == impact.digests["new_policy"]


# Cases P P F P F F, AUTONOMOUS out of reach (200 cases). Counts before each case and
# the state in force (SUPERVISED needs >= 2 cases and the rate at the bar):
#   case:          1   2   3(F)  4     5(F)  6(F)
#   before:        0   1/1 2/2   2/3   3/4   3/5
#   bar 0.5:       M   M   S     S     S     S     -> burden 2 (cases 1, 2), 3 let through
#   bar 0.8:       M   M   S     M     M     M     -> burden 5 (all but 3), 1 let through
FAIL_HISTORY = "PPFPFF"


def strict_and_loose(
    tmp_path: Path, outcomes: str, truth: float
) -> tuple[PolicyImpact, PolicyImpact]:
    """Supervised bar 0.8 -> 0.5 and back (AUTONOMOUS out of reach) over ``outcomes``."""
    strict = write_policy(tmp_path, "strict.toml", sup=0.8, aut=0.9, aut_n=200)
    loose = write_policy(tmp_path, "loose.toml", sup=0.5, aut=0.9, aut_n=200)
    hist = history(outcomes, truth=truth)
    return policy_impact(strict, loose, hist), policy_impact(loose, strict, hist)


def test_failure_budgets_at_their_boundaries(tmp_path: Path) -> None:
    impact, back = strict_and_loose(tmp_path, FAIL_HISTORY, truth=0.6)
    row = impact.table.iloc[0]
    assert (row["failures_let_through_before"], row["failures_let_through_after"]) == (1, 3)
    assert (row["approval_burden_before"], row["approval_burden_after"]) == (5, 2)
    assert impact.check(["failures+2"]) == []
    assert {b.scope for b in impact.check(["failures+1"])} == {"refund", "all classes"}
    assert back.check(["failures+0"]) == []
    # The burden from 2 to 5 is +150%.
    assert back.check(["burden+150%"]) == []
    assert back.check(["burden+149.9%"])
    # Truth 0.6 is below the 0.8 bar and above 0.5. Both sides are judged against the
    # base policy's bar; both reach SUPERVISED at case 3: premature against strict's
    # 0.8 on both sides, against loose's 0.5 on neither.
    assert (row["premature_before"], row["premature_after"]) == (1, 1)
    assert impact.check(["premature+0"]) == []
    assert back.table.iloc[0][["premature_before", "premature_after"]].tolist() == [0, 0]


# Cases P F P P F F. Counts before each case: 0, 1/1, 1/2, 2/3, 3/4, 3/5. SUPERVISED
# (>= 2 cases) at bar 0.5 from case 3 (1/2); at bar 0.8 never (0.67, 0.75, 0.6).
NEVER_AT_08 = "PFPPFF"


def test_a_loosened_bar_is_judged_by_the_base_bar_not_its_own(tmp_path: Path) -> None:
    impact, back = strict_and_loose(tmp_path, NEVER_AT_08, truth=0.6)
    row = impact.table.iloc[0]
    # The loose policy graduates a class whose true rate (0.6) is below the base bar
    # (0.8): premature, though 0.6 clears its own 0.5.
    assert (row["premature_before"], row["premature_after"]) == (0, 1)
    assert impact.new.summary["premature_supervised"].tolist() == [True]
    assert impact.new.yardstick == impact.base.policy.thresholds
    assert [b.scope for b in impact.check(["premature+0"])] == ["refund", "all classes"]
    assert impact.check(["premature+1"]) == []
    # The other way round the yardstick is 0.5, which 0.6 clears: nothing premature.
    assert back.table.iloc[0][["premature_before", "premature_after"]].tolist() == [0, 0]
    assert back.check(["premature+0"]) == []


def test_premature_budget_without_ground_truth_is_bad_input(tmp_path: Path) -> None:
    base = write_policy(tmp_path, "base.toml")
    impact = policy_impact(base, base, history(FAIL_HISTORY))
    with pytest.raises(InputError, match="true_pass_p"):
        impact.check(["premature+0"])


def test_burden_from_zero_exceeds_any_percentage(tmp_path: Path) -> None:
    # READ -> reversible_write: a READ class is always allowed (burden 0); as a write
    # with these bars it needs approval for cases 1 and 2 (MANUAL).
    read = tmp_path / "read.toml"
    read.write_text(
        write_policy(tmp_path, "w.toml").read_text().replace("reversible_write", "read")
    )
    impact = policy_impact(read, tmp_path / "w.toml", history(AUT_HISTORY))
    (change,) = impact.changes
    assert (change.key, change.direction) == ("actions.refund.risk", "tightens")
    row = impact.table.iloc[0]
    assert (row["approval_burden_before"], row["approval_burden_after"]) == (0, 2)
    breaches = impact.check(["burden+1000%"])
    assert breaches and "(from zero)" in breaches[0].message


def test_key_directions(tmp_path: Path) -> None:
    base = load_policy(write_policy(tmp_path, "a.toml"))
    text = write_policy(tmp_path, "b.toml").read_text()
    text = text.replace(
        'auto_cap = "100"', 'auto_cap = "50"\nhard_cap = "900"\nmax_state = "supervised"'
    )
    text += '\n[actions.lookup]\nrisk = "read"\n'
    text += '\n[graduation]\nwindow = "30D"\ndemotion_margin = 0.05\n'
    new = load_policy(_write(tmp_path / "c.toml", text))
    got = {c.key: (c.before, c.after, c.direction) for c in key_changes(base, new)}
    assert got == {
        "actions.lookup": ("absent", "defined", "loosens"),
        "actions.refund.auto_cap": ("100", "50", "tightens"),
        "actions.refund.hard_cap": ("none", "900", "tightens"),
        "actions.refund.max_state": ("autonomous", "supervised", "tightens"),
        "graduation.window": ("cumulative", "30D", "either"),
        "graduation.demotion_margin": ("0.0", "0.05", "loosens"),
    }
    back = {c.key: c.direction for c in key_changes(new, base)}
    assert back["actions.refund.auto_cap"] == "loosens"
    assert back["actions.refund.hard_cap"] == "loosens"  # no cap: nothing blocked
    assert back["actions.lookup"] == "tightens"


def test_reset_on_goes_either_way_like_a_window(tmp_path: Path) -> None:
    # A restart drops the old versions' failures as well as their passes: it can
    # graduate a class sooner, so setting it is no tightening (nor removing it a
    # loosening) that --fail-on loosened could wave through.
    base = load_policy(write_policy(tmp_path, "a.toml"))
    text = write_policy(tmp_path, "b.toml").read_text()
    reset = load_policy(_write(tmp_path / "r.toml", text + '\n[graduation]\nreset_on = "v"\n'))
    other = load_policy(_write(tmp_path / "o.toml", text + '\n[graduation]\nreset_on = "w"\n'))
    for before, after, shown in (
        (base, reset, ("none", "v")),
        (reset, base, ("v", "none")),
        (reset, other, ("v", "w")),
    ):
        (change,) = key_changes(before, after)
        assert (change.key, (change.before, change.after), change.direction) == (
            "graduation.reset_on",
            shown,
            "either",
        )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_class_only_in_the_new_policy_is_added(tmp_path: Path) -> None:
    base = write_policy(tmp_path, "base.toml")
    new = _write(tmp_path / "new.toml", base.read_text() + '\n[actions.lookup]\nrisk = "read"\n')
    frame = pd.concat([history(AUT_HISTORY)])
    impact = policy_impact(base, new, frame)
    table = impact.table.set_index("action")
    assert table.loc["lookup", "status"] == "added"
    assert table.loc["refund", "status"] == "unchanged"
    with pytest.raises(InputError, match="defined in neither policy"):
        other = load_history(
            pd.DataFrame({"timestamp": ["2026-01-01"], "action": ["mystery"], "passed": [True]})
        )
        policy_impact(base, new, other)


def test_outputs_carry_the_digests_and_the_schema(tmp_path: Path) -> None:
    base = write_policy(tmp_path, "base.toml", aut=0.9)
    new = write_policy(tmp_path, "new.toml", aut=0.7)
    csv = tmp_path / "h.csv"
    history(AUT_HISTORY).to_csv(csv, index=False)
    impact = policy_impact(base, new, load_history(csv), traffic=traffic(8), history_source=csv)
    import hashlib

    want = {
        "base_policy": hashlib.sha256(base.read_bytes()).hexdigest(),
        "new_policy": hashlib.sha256(new.read_bytes()).hexdigest(),
        "history": hashlib.sha256(csv.read_bytes()).hexdigest(),
    }
    for name, digest in want.items():
        assert impact.digests[name] == digest
        assert digest in impact.to_markdown()
        assert digest in impact.to_text()
        assert digest in impact.to_junit()
    doc = json.loads(impact.to_json(["loosened"]))
    assert (doc["schema"], doc["version"]) == (JSON_SCHEMA, JSON_VERSION)
    assert doc["inputs"]["history"]["sha256"] == want["history"]
    assert doc["exceeded"] is True and doc["breaches"][0]["budget"] == "loosened"
    assert doc["classes"][0]["figures"]["approval_burden"] == {
        "before": 8,
        "after": 4,
        "change": -4,
    }
    assert doc["classes"][0]["dates"]["first_autonomous"]["before"] is None
    suite = ElementTree.fromstring(impact.to_junit(["burden+0", "loosened"]))
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"refund", "all classes"}
    assert cases["refund"].find("failure") is None  # burden fell; the loosening is policy-wide
    assert cases["all classes"].find("failure") is not None


def test_budget_spellings() -> None:
    assert parse_budget("burden+10%").percent and parse_budget("burden+10%").limit == 10
    assert parse_budget("failures+3").limit == 3
    for bad in ("failures+3%", "burden-1", "loose", "premature+"):
        with pytest.raises(InputError, match="--fail-on"):
            parse_budget(bad)


def test_read_policy_errors_name_the_source(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.toml: no such file"):
        read_policy(tmp_path / "missing.toml")
    with pytest.raises(InputError, match="git:REF:PATH"):
        read_policy("git:HEAD")


RATES = st.sampled_from([0.5, 0.6, 0.7, 0.8, 0.9])


@settings(max_examples=60, deadline=None)
@given(sup=st.tuples(RATES, RATES), aut=st.tuples(RATES, RATES))
def test_direction_of_a_bar_change_reverses_with_the_diff(
    tmp_path_factory: pytest.TempPathFactory, sup: tuple[float, float], aut: tuple[float, float]
) -> None:
    """Swapping base and new turns every loosening into a tightening and back, and a
    loosening of the pass bars never raises the approval burden on the same history.

    Checked to fail on a broken variant: with the bar comparison reversed in
    key_changes (``_by(False, b, a)``), Hypothesis finds sup=(0.5, 0.5), aut=(0.5, 0.7):
    a raised AUTONOMOUS bar called "loosens" whose burden goes up (4 -> 8).
    """
    folder = tmp_path_factory.mktemp("p")
    a = load_policy(write_policy(folder, "a.toml", sup=sup[0], aut=max(aut[0], sup[0])))
    b = load_policy(write_policy(folder, "b.toml", sup=sup[1], aut=max(aut[1], sup[1])))
    forth = {c.key: c.direction for c in key_changes(a, b)}
    back = {c.key: c.direction for c in key_changes(b, a)}
    flip = {"loosens": "tightens", "tightens": "loosens"}
    assert back == {k: flip[v] for k, v in forth.items()}
    if forth and all(v == "loosens" for v in forth.values()):
        impact = policy_impact(a, b, history(AUT_HISTORY), traffic=traffic(8))
        assert impact.totals()["approval_burden"]["change"] <= 0


def test_the_report_shows_the_change_against_a_base_policy(tmp_path: Path) -> None:
    from warrantd.analytics import build_report

    base = write_policy(tmp_path, "base.toml", aut=0.9)
    new = write_policy(tmp_path, "new.toml", aut=0.7)
    hist = history(AUT_HISTORY)
    files = build_report(
        hist,
        load_policy(new),
        tmp_path / "r",
        traffic=traffic(8),
        base_policy=base,
        sweep_grid={"supervised.pass_rate": [0.5, 0.6]},
        n_sims=50,
        backtest_cuts=[],
    )
    md = (files.out_dir / "report.md").read_text()
    html = (files.out_dir / "index.html").read_text()
    section = md.split("## Policy change", 1)[1].split("## Data quality", 1)[0]
    assert "thresholds.autonomous.pass\\_rate | 0.9 | 0.7 | loosens" in section
    assert "8 → 4 (-4)" in section  # the burden worked out above
    assert 'id="policy-change"' in html and "8 → 4 (-4)" in html
    plain = build_report(
        hist,
        load_policy(new),
        tmp_path / "p",
        sweep_grid={"supervised.pass_rate": [0.5]},
        n_sims=50,
        backtest_cuts=[],
    )
    assert "## Policy change" not in (plain.out_dir / "report.md").read_text()
