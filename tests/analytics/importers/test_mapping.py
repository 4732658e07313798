"""The mapping file: defaults, validation like a policy file's, and how score values are judged."""

from __future__ import annotations

from pathlib import Path

import pytest

from warrantd.analytics import load_history
from warrantd.analytics.importers import LogMapping, MappingError, default_mapping, load_mapping
from warrantd.errors import OptionError


def test_defaults_cover_the_common_case() -> None:
    inspect = load_mapping(None, "inspect")
    assert inspect == default_mapping("inspect")
    assert inspect.action == ("metadata.action", "task_metadata.action", "task")
    assert inspect.timestamp == ("completed", "created")
    assert [inspect.judge(v) for v in ("C", "I", True, False, 1, 0, 1.0)] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
    ]
    # partial credit, no answer, other numbers: the user must say
    assert [inspect.judge(v) for v in ("P", "N", 0.5, "c", [1], None)] == [None] * 6
    promptfoo = load_mapping(None, "promptfoo")
    assert promptfoo.scorer == "success" and promptfoo.adversarial_plugins == ("*",)
    assert [promptfoo.judge(v) for v in (True, False, "true")] == [True, False, None]


def test_a_mapping_overrides_key_by_key() -> None:
    mapping = load_mapping(
        {"score": {"threshold": 0.5}, "adversarial": {"tags": ["red"]}}, "inspect"
    )
    assert mapping.passed == ("C", True, 1) and mapping.threshold == 0.5
    assert mapping.adversarial_tags == ("red",)
    assert mapping.adversarial_metadata == ("adversarial",)  # untouched
    assert [mapping.judge(v) for v in (0.5, 0.49, "C", True, float("nan"))] == [
        True,
        False,
        True,
        True,
        None,
    ]
    assert mapping.as_dict()["threshold"] == 0.5
    assert load_mapping(mapping, "inspect") is mapping


def test_strings_match_strings_and_numbers_match_numbers() -> None:
    mapping = load_mapping({"score": {"passed": ["1", "yes"], "failed": [0]}}, "inspect")
    assert [mapping.judge(v) for v in ("1", 1, "yes", 0, "0", False)] == [
        True,
        None,
        True,
        False,
        None,
        False,
    ]


def test_every_problem_is_named_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        """
format = "promptfoo"
action = ["task", "metadata."]
timestamp = 3
errors = "ignore"
strict = "yes"
colour = "blue"

[rename]
a = 1

[score]
scorer = ""
passed = ["C", {x = 1}]
failed = "I"
threshold = true

[adversarial]
tags = "red"
plugins = ["*"]
"""
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(path, "inspect")
    message = str(caught.value)
    lines = message.splitlines()
    assert lines[0] == f"{path}: 11 problems:"
    assert "  colour: unknown key (expected action, adversarial, errors, format," in message
    assert "  format: 'promptfoo' does not match the format being read ('inspect')" in lines
    assert "  action: 'metadata.' is not a inspect field (expected one of task, model," in message
    assert "  timestamp: 3 is not a name or a list of names" in lines
    assert "  errors: 'ignore' is not 'exclude' or 'fail'" in lines
    assert "  strict: 'yes' is not true or false" in lines
    assert "  rename.a: 1 is not an action name" in lines
    assert "  score.scorer: '' is not a name" in lines
    assert "  score.passed: {'x': 1} is not a score value (text, number or true/false)" in lines
    assert "  score.threshold: True is not a number" in lines
    assert (
        "  adversarial.plugins: unknown key for inspect (expected metadata, tags, tasks)" in lines
    )
    assert "action: 'task' is not" not in message  # 'task' is a valid inspect field


def test_file_level_problems(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"nope.toml: no such file$"):
        load_mapping(tmp_path / "nope.toml", "inspect")
    bad = tmp_path / "bad.toml"
    bad.write_text("action = [")
    with pytest.raises(MappingError, match=r"bad.toml: not valid TOML: "):
        load_mapping(bad, "promptfoo")
    with pytest.raises(MappingError, match=r"^<mapping>: score: 'C' is in both passed and failed$"):
        load_mapping({"score": {"passed": ["C"], "failed": ["C", "I"]}}, "inspect")
    with pytest.raises(MappingError, match=r"score.field: 'named_scores.' is not"):
        load_mapping({"score": {"field": "named_scores."}}, "promptfoo")
    with pytest.raises(MappingError, match=r"format: is 'inspect', not 'promptfoo'"):
        load_mapping(default_mapping("inspect"), "promptfoo")


def test_load_history_dispatch_and_misuse(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="mapping= and strict= apply to format='inspect'"):
        load_history(tmp_path / "x.csv", mapping={"strict": True})
    with pytest.raises(ValueError, match="unknown log format"):
        default_mapping("langsmith")
    assert isinstance(load_mapping(None, "promptfoo"), LogMapping)
