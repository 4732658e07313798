"""TOML policies: loading, dumping, and every PolicyError with its message."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from warrantd import (
    ActionClass,
    AutonomyState,
    GraduationSettings,
    PolicyError,
    RiskTier,
    TrustPolicy,
    dump_policy,
    load_policy,
    policy_problems,
)
from warrantd.window import parse_window

from .helpers import make_thresholds

ROOT = Path(__file__).resolve().parents[1]
S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS

GOOD = """
[thresholds.supervised]
pass_rate = 0.8
adversarial_pass_rate = 0.7
min_samples = 50

[thresholds.autonomous]
pass_rate = 0.95
adversarial_pass_rate = 0.9
min_samples = 200

[actions.read_ledger]
risk = "read"

[actions.issue_refund]
risk = "reversible_write"
auto_cap = "100.50"
hard_cap = "1000"
max_state = "supervised"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_loads_good_policy(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD))
    assert policy.thresholds == make_thresholds((0.8, 0.7, 50), (0.95, 0.9, 200))
    assert policy.actions == {
        "read_ledger": ActionClass("read_ledger", RiskTier.READ),
        "issue_refund": ActionClass(
            "issue_refund", RiskTier.REVERSIBLE_WRITE, Decimal("100.50"), Decimal("1000"), S
        ),
    }


def test_bundled_policy_is_valid() -> None:
    policy = load_policy(ROOT / "datasets" / "billing-agent.policy.toml")
    assert len(policy.actions) == 6


def test_round_trip(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD))
    out = tmp_path / "sub" / "out.toml"
    dump_policy(policy, out)
    assert load_policy(out) == policy
    assert not list(out.parent.glob(".policy-*")), "no temporary file left behind"


def test_round_trip_of_awkward_action_name(tmp_path: Path) -> None:
    name = 'refund "big" \\ ünïcode.name'
    policy = TrustPolicy({name: ActionClass(name, RiskTier.READ)}, make_thresholds())
    dump_policy(policy, tmp_path / "p.toml")
    assert load_policy(tmp_path / "p.toml") == policy


def test_dump_never_replaces_a_file_unless_asked(tmp_path: Path) -> None:
    from warrantd._io import OutputError

    mine = tmp_path / "mine.toml"
    mine.write_text("# my hand-written policy, keep\n")
    policy = load_policy(write(tmp_path, GOOD))
    with pytest.raises(OutputError, match=r"already exists \(pass overwrite=True to replace it\)"):
        dump_policy(policy, mine)
    assert mine.read_text() == "# my hand-written policy, keep\n"
    dump_policy(policy, mine, overwrite=True)
    assert load_policy(mine) == policy


def test_dump_refuses_invalid_policy(tmp_path: Path) -> None:
    bad = TrustPolicy({}, make_thresholds((0.9, 0.7, 50), (0.8, 0.9, 200)))
    with pytest.raises(PolicyError, match=r"thresholds\.autonomous\.pass_rate"):
        dump_policy(bad, tmp_path / "p.toml")
    assert not (tmp_path / "p.toml").exists()


def test_case_insensitive_names(tmp_path: Path) -> None:
    text = GOOD.replace('"read"', '"READ"').replace(
        "[thresholds.supervised]", "[thresholds.SUPERVISED]"
    )
    assert load_policy(write(tmp_path, text)).action("read_ledger").risk is RiskTier.READ


def test_integer_caps_are_accepted(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD.replace('hard_cap = "1000"', "hard_cap = 1000")))
    assert policy.action("issue_refund").hard_cap == Decimal(1000)


@pytest.mark.parametrize(
    ("old", "new", "key", "problem"),
    [
        ("pass_rate = 0.8", "pass_rate = 1.5", "thresholds.supervised.pass_rate", "outside [0, 1]"),
        (
            "adversarial_pass_rate = 0.9",
            "adversarial_pass_rate = -0.1",
            "thresholds.autonomous.adversarial_pass_rate",
            "outside [0, 1]",
        ),
        ("min_samples = 50", "min_samples = -5", "thresholds.supervised.min_samples", "negative"),
        (
            "min_samples = 50",
            "min_samples = 50.5",
            "thresholds.supervised.min_samples",
            "not a whole number",
        ),
        (
            "min_samples = 50",
            'min_samples = "50"',
            "thresholds.supervised.min_samples",
            "not a whole number",
        ),
        (
            'auto_cap = "100.50"',
            'auto_cap = "5000"',
            "actions.issue_refund.auto_cap",
            "auto_cap 5000 is above hard_cap 1000",
        ),
        (
            'risk = "read"',
            'risk = "dangerous"',
            "actions.read_ledger.risk",
            "unknown risk tier 'dangerous'",
        ),
        (
            'max_state = "supervised"',
            'max_state = "godmode"',
            "actions.issue_refund.max_state",
            "unknown state 'godmode'",
        ),
        (
            "pass_rate = 0.95",
            "pass_rate = 0.75",
            "thresholds.autonomous.pass_rate",
            "AUTONOMOUS bar 0.75 is lower than the SUPERVISED bar 0.8",
        ),
        (
            "adversarial_pass_rate = 0.9",
            "adversarial_pass_rate = 0.6",
            "thresholds.autonomous.adversarial_pass_rate",
            "lower than the SUPERVISED bar",
        ),
        (
            "min_samples = 200",
            "min_samples = 10",
            "thresholds.autonomous.min_samples",
            "AUTONOMOUS bar 10 is lower than the SUPERVISED bar 50",
        ),
        (
            'hard_cap = "1000"',
            'hard_cap = "lots"',
            "actions.issue_refund.hard_cap",
            "not a decimal amount",
        ),
        (
            'hard_cap = "1000"',
            'hard_cap = "-1"',
            "actions.issue_refund.hard_cap",
            "not a non-negative amount",
        ),
        (
            'risk = "read"',
            'risk = "read"\ncolour = "blue"',
            "actions.read_ledger.colour",
            "unknown key",
        ),
        (
            "[thresholds.autonomous]",
            "[thresholds.manual]",
            "thresholds.manual",
            "MANUAL is the floor",
        ),
        (
            "[thresholds.autonomous]",
            "[thresholds.expert]",
            "thresholds.expert",
            "unknown state 'expert'",
        ),
    ],
)
def test_policy_errors_name_file_key_and_problem(
    tmp_path: Path, old: str, new: str, key: str, problem: str
) -> None:
    assert old in GOOD
    path = write(
        tmp_path,
        GOOD.replace(old, new, 1) if "autonomous" not in key else _replace_in_autonomous(old, new),
    )
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert str(path) in message
    assert f"{key}: " in message
    assert problem in message
    assert isinstance(info.value, ValueError)


def _replace_in_autonomous(old: str, new: str) -> str:
    head, tail = GOOD.split("[thresholds.autonomous]")
    return head + "[thresholds.autonomous]" + tail.replace(old, new, 1)


def test_missing_autonomous_entry(tmp_path: Path) -> None:
    head, tail = GOOD.split("[thresholds.autonomous]")
    text = head + tail[tail.index("[actions.read_ledger]") :]
    with pytest.raises(
        PolicyError, match=r"thresholds.autonomous.pass_rate: missing the AUTONOMOUS bar"
    ):
        load_policy(write(tmp_path, text))


def test_missing_one_criterion(tmp_path: Path) -> None:
    text = GOOD.replace("min_samples = 50\n", "", 1)
    with pytest.raises(
        PolicyError, match=r"thresholds.supervised.min_samples: missing the SUPERVISED bar"
    ):
        load_policy(write(tmp_path, text))


def test_missing_sections(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, 'title = "x"\n'))
    message = str(info.value)
    assert "3 problems" in message
    assert "title: unknown top-level key" in message
    assert "thresholds: missing table" in message and "actions: missing table" in message


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        (
            "adversarial_pass_rate = 0.7",
            "adversarial_pas_rate = 0.7",
            "thresholds.supervised.adversarial_pas_rate: unknown key"
            " (did you mean 'adversarial_pass_rate'?)",
        ),
        (
            "[thresholds.supervised]",
            "[thresholds.supervsed]",
            "thresholds.supervsed: unknown state 'supervsed' (did you mean 'supervised'?)",
        ),
        (
            'risk = "read"',
            'rsk = "read"',
            "actions.read_ledger.rsk: unknown key (did you mean 'risk'?)",
        ),
        (
            "[actions.",
            "[acions.",
            "acions: unknown top-level key (did you mean 'actions'?)",
        ),
        (
            # [thresholds.autonomous] is still there, so 'thresholds' exists: the typo'd
            # table's bars must not also be "missing the SUPERVISED bar" three times.
            "[thresholds.supervised]",
            "[threshold.supervised]",
            "threshold: unknown top-level key (did you mean 'thresholds'?)",
        ),
    ],
)
def test_a_typo_is_one_problem_with_the_key_it_meant(
    tmp_path: Path, old: str, new: str, line: str
) -> None:
    # Before: the typo was "unknown key (expected ...)" and the key it meant was also
    # "missing the SUPERVISED bar" (or "risk: missing"): two problems for one typo.
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1 if old != "[actions." else -1))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == f"{path}: {line}"


def test_a_typo_of_a_key_that_is_there_leaves_that_key_alone(tmp_path: Path) -> None:
    # adversarial_pass_rat is like adversarial_pass_rate, which is given: still one problem.
    text = GOOD.replace("min_samples = 50", "min_samples = 50\nadversarial_pass_rat = 1", 1)
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == (
        f"{path}: thresholds.supervised.adversarial_pass_rat: unknown key"
        " (did you mean 'adversarial_pass_rate'?)"
    )


def test_a_key_like_none_lists_the_expected_keys(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("[actions.read_ledger]", "[action.read_ledger]", 1))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    # "action" is most like "actions", which is there; 0.62 like "graduation" is too little.
    assert str(info.value) == f"{path}: action: unknown top-level key (did you mean 'actions'?)"
    path = write(tmp_path, GOOD.replace('risk = "read"', 'risk = "read"\ncolour = "blue"', 1))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == (
        f"{path}: actions.read_ledger.colour: unknown key"
        " (expected auto_cap, hard_cap, max_state, risk)"
    )


def test_several_problems_reported_together(tmp_path: Path) -> None:
    text = GOOD.replace("pass_rate = 0.8", "pass_rate = 2.0", 1).replace('"read"', '"nope"')
    with pytest.raises(PolicyError) as info:
        load_policy(write(tmp_path, text))
    assert len(info.value.problems) == 2


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(write(tmp_path, "this is = = not toml"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="no such file"):
        load_policy(tmp_path / "absent.toml")


def test_policy_problems_on_in_code_policy() -> None:
    policy = TrustPolicy(
        {"x": ActionClass("y", RiskTier.READ, Decimal(10), Decimal(5))}, make_thresholds()
    )
    assert policy_problems(policy) == [
        ("actions.x", "is keyed 'x' but its class is named 'y'"),
        ("actions.x.auto_cap", "auto_cap 10 is above hard_cap 5"),
    ]


def test_policy_action_lookup() -> None:
    policy = TrustPolicy({"a": ActionClass("a", RiskTier.READ)}, make_thresholds())
    assert policy.action("a").name == "a"
    with pytest.raises(KeyError, match="'zzz'"):
        policy.action("zzz")


# ---------------------------------------------------------------- the [graduation] table


def test_a_policy_without_graduation_table_has_the_published_defaults(tmp_path: Path) -> None:
    settings = load_policy(write(tmp_path, GOOD)).graduation
    assert settings == GraduationSettings()
    assert (settings.window, settings.evidence, settings.alpha) == (None, "point", 0.05)
    assert (settings.demotion_margin, settings.reset_on) == (0.0, None)
    out = tmp_path / "out.toml"
    dump_policy(load_policy(write(tmp_path, GOOD)), out)
    assert "[graduation]" not in out.read_text(), "defaults are not written out"


@pytest.mark.parametrize(
    ("written", "read_back", "dumped"),
    [
        ('window = "30D"', "30D", 'window = "30D"'),
        ('window = "36 hours"', "36 hours", 'window = "36h"'),
        ("window = 500", 500, "window = 500"),
        ('window = "500 cases"', "500 cases", "window = 500"),
        ('window = "2W"', "2W", 'window = "14D"'),
    ],
)
def test_the_window_is_read_validated_and_written(
    tmp_path: Path, written: str, read_back: object, dumped: str
) -> None:
    policy = load_policy(write(tmp_path, GOOD + f"\n[graduation]\n{written}\n"))
    assert policy.graduation.window == read_back
    out = tmp_path / "out.toml"
    dump_policy(policy, out)
    assert f"[graduation]\n{dumped}\n" in out.read_text()
    assert parse_window(load_policy(out).graduation.window) == parse_window(read_back)


def test_cumulative_window_is_no_window(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD + '\n[graduation]\nwindow = "cumulative"\n'))
    assert parse_window(policy.graduation.window) is None


def test_every_graduation_key_round_trips(tmp_path: Path) -> None:
    table = (
        '\n[graduation]\nwindow = "30D"\nevidence = "anytime"\nalpha = 0.01\n'
        'demotion_margin = 0.02\nreset_on = "agent_version"\n'
    )
    policy = load_policy(write(tmp_path, GOOD + table))
    assert policy.graduation == GraduationSettings("30D", "anytime", 0.01, 0.02, "agent_version")
    out = tmp_path / "out.toml"
    dump_policy(policy, out)
    assert load_policy(out).graduation == policy.graduation


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ('window = "soon"', "graduation.window", "neither a case count nor a time span"),
        ("window = 0", "graduation.window", "must be positive, not 0"),
        ('window = "-3D"', "graduation.window", "must be positive"),
        ("window = true", "graduation.window", "is not a window"),
        ('evidence = "bayes"', "graduation.evidence", "unknown rule 'bayes'"),
        ("alpha = 0", "graduation.alpha", "strictly between 0 and 1"),
        ("alpha = 1.5", "graduation.alpha", "strictly between 0 and 1"),
        ('alpha = "0.05"', "graduation.alpha", "'0.05' is text, not a number"),
        ("demotion_margin = -0.1", "graduation.demotion_margin", "not a rate in [0, 1]"),
        ('reset_on = ""', "graduation.reset_on", "is not a column name"),
        ("windw = 3", "graduation.windw", "unknown key"),
    ],
)
def test_graduation_problems_name_the_key(tmp_path: Path, table: str, key: str, words: str) -> None:
    path = write(tmp_path, GOOD + f"\n[graduation]\n{table}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert f"{key}: " in str(caught.value) and words in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        # Before: "-5" was "a time window must be positive", though "5" reads as 5 cases.
        ("-5", "a case-count window must be positive, not '-5'"),
        ("-5 cases", "a case-count window must be positive, not '-5 cases'"),
        ("-3D", "a time window must be positive, not '-3D'"),
        ("-x", "'-x' is neither a case count nor a time span such as '30D'"),
    ],
)
def test_a_negative_window_is_called_the_kind_it_would_be(
    tmp_path: Path, text: str, line: str
) -> None:
    with pytest.raises(ValueError) as caught:
        parse_window(text)
    assert str(caught.value) == line
    path = write(tmp_path, GOOD + f'\n[graduation]\nwindow = "{text}"\n')
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == f"{path}: graduation.window: {line}"


def test_graduation_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"graduation: must be a table"):
        load_policy(write(tmp_path, 'graduation = "30D"\n' + GOOD))
