"""promptfoo results made by ``promptfoo eval -o results.json`` (tests/evals/promptfooconfig.yaml).

Every mapped row is checked against the results file read as plain JSON here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from warrantd import ActionClass, RiskTier, TrustPolicy
from warrantd.analytics import HistoryError, load_history, replay, sweep
from warrantd.analytics.importers import import_summary, logs_frame, unmapped_frame

from ...helpers import make_thresholds
from ..test_sweep import assert_sweep_equals_replay

POLICY = TrustPolicy(
    actions={
        "lookup_customer": ActionClass("lookup_customer", RiskTier.READ),
        "issue_refund": ActionClass("issue_refund", RiskTier.REVERSIBLE_WRITE),
    },
    thresholds=make_thresholds(sup=(0.5, 0.4, 2), aut=(0.9, 0.9, 5)),
)


def results_of(path: Path) -> tuple[dict, list[dict]]:
    data = json.loads(path.read_text())
    return data, data["results"]["results"]


def test_every_row_matches_the_results_file(promptfoo_results: Path) -> None:
    history = load_history(promptfoo_results, format="promptfoo")
    data, results = results_of(promptfoo_results)
    created = pd.Timestamp(data["results"]["timestamp"])
    suite = data["config"]["description"]

    errored = [r for r in results if r["failureReason"] == 2]
    graded = [r for r in results if r["failureReason"] != 2]
    assert len(history) == len(graded) and len(errored) == 1
    by_test = history.set_index("sample_id")
    for result in graded:
        row = by_test.loc[str(result["testIdx"])]
        metadata = result["testCase"].get("metadata", {})
        assert row["timestamp"] == created
        assert row["action"] == metadata.get("action", suite)
        assert row["adversarial"] == ("pluginId" in metadata)
        assert row["n"] == 1 and row["n_passed"] == int(result["success"])
        assert row["task"] == suite and row["eval_id"] == data["evalId"]
        assert row["model"] == (result["provider"].get("label") or result["provider"]["id"])
        assert row["prompt_idx"] == str(result["promptIdx"])
        assert row["test"] == result["testCase"]["description"]
    unmapped = unmapped_frame(history)
    assert unmapped[["log_file", "sample_id", "kind"]].values.tolist() == [
        [str(promptfoo_results), str(errored[0]["testIdx"]), "error"]
    ]
    assert "customer database unavailable" in unmapped["reason"].iloc[0]


def test_the_outcomes_the_config_was_written_for(promptfoo_results: Path) -> None:
    """The table at the top of promptfooconfig.yaml."""
    history = load_history(promptfoo_results, format="promptfoo")
    got = history.set_index("test")[["action", "adversarial", "n_passed"]]
    assert got.sort_index().to_dict("index") == {
        "by-email": {"action": "lookup_customer", "adversarial": False, "n_passed": 1},
        "by-name": {"action": "lookup_customer", "adversarial": False, "n_passed": 0},
        "pii-probe": {"action": "lookup_customer", "adversarial": True, "n_passed": 1},
        "prompt-leak": {"action": "lookup_customer", "adversarial": True, "n_passed": 0},
        "refund": {"action": "issue_refund", "adversarial": False, "n_passed": 1},
    }
    (left,) = history.attrs["unmapped"]
    assert left.label == "test 2 (prompt 0, provider 'echo')"
    assert logs_frame(history)[["samples", "loaded", "left_out"]].values.tolist() == [[6, 5, 1]]
    line = import_summary(history)
    assert line is not None and line.startswith(
        f"{promptfoo_results}: 5 cases from 1 promptfoo log; 1 sample left out (1 errored), "
        f"e.g. {promptfoo_results}: test 2 (prompt 0, provider 'echo'): errored: "
    )


def test_strict_and_errors_fail(promptfoo_results: Path) -> None:
    with pytest.raises(HistoryError) as caught:
        load_history(promptfoo_results, format="promptfoo", strict=True)
    message = str(caught.value)
    assert message.startswith(f"{promptfoo_results}: test 2 (prompt 0, provider 'echo'): errored:")
    assert "\n" not in message
    failed = load_history(promptfoo_results, format="promptfoo", mapping={"errors": "fail"})
    assert failed.set_index("test").loc["outage", "n_passed"] == 0


def test_red_team_plugins_and_other_fields(promptfoo_results: Path) -> None:
    only_pii = load_history(
        promptfoo_results, format="promptfoo", mapping={"adversarial": {"plugins": ["pii:*"]}}
    )
    assert only_pii.loc[only_pii["adversarial"], "test"].tolist() == ["pii-probe"]
    by_test = load_history(
        promptfoo_results,
        format="promptfoo",
        mapping={"action": ["plugin", "test"], "adversarial": {"plugins": []}},
    )
    assert sorted(by_test["action"]) == [
        "by-email",
        "by-name",
        "pii:direct",
        "prompt-extraction",
        "refund",
    ]
    assert not by_test["adversarial"].any()


def test_a_numeric_or_named_score(promptfoo_results: Path) -> None:
    by_score = load_history(
        promptfoo_results, format="promptfoo", mapping={"score": {"field": "score"}}
    )
    _, results = results_of(promptfoo_results)
    expected = {str(r["testIdx"]): int(r["score"] >= 1) for r in results if r["failureReason"] != 2}
    assert dict(zip(by_score["sample_id"], by_score["n_passed"], strict=True)) == expected
    named = load_history(
        promptfoo_results,
        format="promptfoo",
        mapping={"score": {"field": "named_scores.lookup"}},
    )
    assert sorted(named["test"]) == ["by-email", "by-name"]  # the tests whose assertions set it
    kinds = unmapped_frame(named)["kind"].value_counts().to_dict()
    assert kinds == {"no_score": 3, "error": 1}


def test_a_value_the_mapping_does_not_cover_names_the_test(promptfoo_results: Path) -> None:
    with pytest.raises(HistoryError) as caught:
        load_history(promptfoo_results, format="promptfoo", mapping={"score": {"failed": []}})
    message = str(caught.value)
    assert message.startswith(
        f"{promptfoo_results}: 2 problems: "
        "test 1 (prompt 0, provider 'echo'): 'success' value False is not covered by the mapping "
        "(passed: True; failed: (none)); test 5 (prompt 0, provider 'echo'): 'success' value False"
    )


def test_bad_results_files_name_the_file(promptfoo_results: Path, tmp_path: Path) -> None:
    data = json.loads(promptfoo_results.read_text())
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**data, "results": {**data["results"], "version": 2}}))
    truncated = tmp_path / "truncated.json"
    truncated.write_text(promptfoo_results.read_text()[:500])
    other = tmp_path / "other.json"
    other.write_text('{"hello": "world"}')
    cases = {
        old: "promptfoo results version 2 is not supported (this reads version 3)",
        truncated: "not a readable promptfoo results file (JSONDecodeError:",
        other: "not a promptfoo results file (no 'results.results' list",
    }
    for path, expected in cases.items():
        with pytest.raises(HistoryError) as caught:
            load_history(path, format="promptfoo")
        assert str(caught.value).startswith(f"{path}: {expected}")
        assert "\n" not in str(caught.value)


def test_a_folder_of_results(promptfoo_results: Path, tmp_path: Path) -> None:
    for name in ("monday.json", "tuesday.json"):
        shutil.copy(promptfoo_results, tmp_path / name)
    history = load_history(tmp_path, format="promptfoo")
    assert len(history) == 10 and history["log_file"].nunique() == 2
    assert len(history.attrs["unmapped"]) == 2


def test_replay_and_sweep_run_on_the_loaded_results(promptfoo_results: Path) -> None:
    history = load_history(promptfoo_results, format="promptfoo")
    summary = replay(history, POLICY).summary.set_index("action")
    assert summary.loc["lookup_customer", "cases"] == 4
    grid = {"supervised.pass_rate": [0.3, 0.6], "supervised.adversarial_pass_rate": [0.4, 0.8]}
    swept = sweep(history, POLICY, grid, progress=False)
    assert swept.table["candidate"].nunique() == 4
    assert_sweep_equals_replay(history, POLICY, swept)
