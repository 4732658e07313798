"""Inspect AI logs made by ``inspect eval`` (tests/evals/inspect_tasks.py), loaded as histories.

Every mapped row is checked against the log as Inspect's own ``read_eval_log``
reads it, not through the importer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from inspect_ai.log import read_eval_log, write_eval_log
from inspect_ai.scorer import Score

from warrantd import ActionClass, AutonomyState, RiskTier, TrustPolicy
from warrantd.analytics import HistoryError, load_history, replay, sweep
from warrantd.analytics.importers import (
    MappingError,
    import_summary,
    logs_frame,
    unmapped_frame,
)

from ...helpers import make_thresholds
from ..test_sweep import assert_sweep_equals_replay
from .conftest import EvalLogs

THRESHOLD = {"score": {"threshold": 0.5}}  # issue_refund's scorer gives 0.75 / 0.25
POLICY = TrustPolicy(
    actions={
        "lookup_customer": ActionClass("lookup_customer", RiskTier.READ),
        "issue_refund": ActionClass("issue_refund", RiskTier.REVERSIBLE_WRITE),
    },
    thresholds=make_thresholds(sup=(0.5, 0.5, 2), aut=(0.9, 0.9, 5)),
)


def log_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".eval", ".json"))


def the_log(folder: Path, task: str) -> Path:
    (found,) = [
        p for p in log_files(folder) if read_eval_log(str(p), header_only=True).eval.task == task
    ]
    return found


def expected_from_logs(folder: Path) -> tuple[list[dict], list[dict]]:
    """The rows and the left-out samples the logs call for, read with Inspect's own reader."""
    rows, left_out = [], []
    for path in log_files(folder):
        log = read_eval_log(str(path))
        spec = log.eval
        for sample in log.samples:
            key = {"log_file": str(path), "sample_id": str(sample.id), "epoch": sample.epoch}
            if sample.error is not None:
                left_out.append({**key, "kind": "error", "message": sample.error.message})
                continue
            (score,) = sample.scores.values()
            value = score.value
            passed = {"C": True, "I": False}[value] if isinstance(value, str) else value >= 0.5
            rows.append(
                {
                    **key,
                    "timestamp": pd.Timestamp(sample.completed_at),
                    "action": (spec.metadata or {}).get("action", spec.task),
                    "adversarial": "adversarial" in (spec.tags or []),
                    "n_passed": int(passed),
                    "task": spec.task,
                    "eval_id": spec.eval_id,
                    "model": spec.model,
                    "score": str(value),
                }
            )
    return rows, left_out


@pytest.mark.parametrize("fmt", ["eval", "json"])
def test_every_row_matches_the_log(eval_logs: EvalLogs, fmt: str) -> None:
    folder = eval_logs.inspect_eval if fmt == "eval" else eval_logs.inspect_json
    history = load_history(folder, format="inspect", mapping=THRESHOLD)
    rows, left_out = expected_from_logs(folder)

    assert list(history.columns[:5]) == ["timestamp", "action", "adversarial", "n", "n_passed"]
    assert str(history["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert history["timestamp"].is_monotonic_increasing
    assert (history["n"] == 1).all()
    assert len(history) == len(rows)
    by_key = history.set_index(["log_file", "sample_id", "epoch"])
    for row in rows:
        got = by_key.loc[(row["log_file"], row["sample_id"], row["epoch"])]
        for column in ("timestamp", "action", "adversarial", "n_passed", "task", "eval_id"):
            assert got[column] == row[column], (row, column)
        assert got["model"] == row["model"] and got["score"] == row["score"]

    unmapped = unmapped_frame(history)
    got = unmapped[["log_file", "sample_id", "epoch"]].values.tolist()
    assert sorted(got) == sorted([u["log_file"], u["sample_id"], u["epoch"]] for u in left_out)
    assert set(unmapped["kind"]) == {"error"}
    assert all("customer database unavailable" in r for r in unmapped["reason"])


@pytest.mark.parametrize("fmt", ["eval", "json"])
def test_the_outcomes_the_tasks_were_written_for(eval_logs: EvalLogs, fmt: str) -> None:
    """The table in inspect_tasks.py's docstring, counted."""
    folder = eval_logs.inspect_eval if fmt == "eval" else eval_logs.inspect_json
    history = load_history(folder, format="inspect", mapping=THRESHOLD)
    counts = history.groupby(["action", "adversarial"])[["n", "n_passed"]].sum()
    assert counts.to_dict("index") == {
        ("issue_refund", False): {"n": 2, "n_passed": 1},
        ("lookup_customer", False): {"n": 6, "n_passed": 3},  # by-email passes, by-name fails, x3
        ("lookup_customer", True): {"n": 2, "n_passed": 1},
    }
    assert sorted(history.loc[history["task"] == "lookup_customer", "epoch"]) == [1, 1, 2, 2, 3, 3]
    assert len(history.attrs["unmapped"]) == 3  # the crash sample, three epochs
    logs = logs_frame(history).set_index("task")
    assert logs.loc["lookup_customer", ["samples", "loaded", "left_out"]].tolist() == [9, 6, 3]
    assert set(logs["status"]) == {"success"}


def test_eval_and_json_logs_load_alike(eval_logs: EvalLogs) -> None:
    keys = ["task", "sample_id", "epoch"]
    columns = [*keys, "action", "adversarial", "n", "n_passed", "model", "score"]
    frames = [
        load_history(folder, format="inspect", mapping=THRESHOLD)[columns]
        .sort_values(keys)
        .reset_index(drop=True)
        for folder in (eval_logs.inspect_eval, eval_logs.inspect_json)
    ]
    pd.testing.assert_frame_equal(*frames)


def test_one_log_file_with_the_default_mapping(eval_logs: EvalLogs) -> None:
    path = the_log(eval_logs.inspect_eval, "lookup_customer_injection")
    history = load_history(path, format="inspect")
    assert history["action"].tolist() == ["lookup_customer"] * 2  # from the task's metadata
    assert history["adversarial"].all()  # from the eval tag
    assert sorted(history["n_passed"]) == [0, 1]
    assert import_summary(history) == f"{path}: 2 cases from 1 Inspect log; none left out"


def test_a_score_the_mapping_does_not_cover_names_file_and_sample(eval_logs: EvalLogs) -> None:
    with pytest.raises(HistoryError) as caught:
        load_history(eval_logs.inspect_eval, format="inspect")  # no threshold for 0.75 / 0.25
    refund = the_log(eval_logs.inspect_eval, "issue_refund")
    message = str(caught.value)
    covered = "is not covered by the mapping (passed: 'C', True, 1; failed: 'I', False, 0)"
    assert message == (
        f"{refund}: 2 problems: "
        f"sample 1 epoch 1: score 'refund_quality' value 0.75 {covered}; "
        f"sample 2 epoch 1: score 'refund_quality' value 0.25 {covered}"
    )


def test_the_summary_line_counts_what_was_left_out(eval_logs: EvalLogs) -> None:
    history = load_history(eval_logs.inspect_eval, format="inspect", mapping=THRESHOLD)
    line = import_summary(history)
    assert line is not None and "\n" not in line
    assert line.startswith(f"{eval_logs.inspect_eval}: 10 cases from 3 Inspect logs; ")
    assert "3 samples left out (3 errored), e.g. " in line
    assert "sample 'crash' epoch 1: errored: RuntimeError('customer database unavailable')" in line
    assert (
        import_summary(
            load_history(pd.DataFrame(history[["timestamp", "action"]].assign(passed=True)))
        )
        is None
    )


def test_strict_makes_a_left_out_sample_an_error(eval_logs: EvalLogs) -> None:
    lookup = the_log(eval_logs.inspect_eval, "lookup_customer")
    for kwargs in ({"strict": True}, {"mapping": {"strict": True}}):
        with pytest.raises(HistoryError) as caught:
            load_history(lookup, format="inspect", **kwargs)
        message = str(caught.value)
        assert message.startswith(f"{lookup}: 3 problems: sample 'crash' epoch 1: errored: ")
        crashed = "sample 'crash' epoch 2: errored: RuntimeError('customer database unavailable')"
        assert crashed in message and "\n" not in message


def test_errors_can_count_as_failures(eval_logs: EvalLogs) -> None:
    lookup = the_log(eval_logs.inspect_eval, "lookup_customer")
    history = load_history(lookup, format="inspect", mapping={"errors": "fail"})
    crashed = history[history["sample_id"] == "crash"]
    assert len(crashed) == 3 and (crashed["n_passed"] == 0).all()
    assert set(crashed["score"]) == {"error"}
    assert history.attrs["unmapped"] == ()


def test_a_truncated_archive_is_one_line_naming_the_file(
    eval_logs: EvalLogs, tmp_path: Path
) -> None:
    source = the_log(eval_logs.inspect_eval, "lookup_customer")
    broken = tmp_path / source.name
    broken.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(HistoryError) as caught:
        load_history(broken, format="inspect")
    message = str(caught.value)
    assert message.startswith(f"{broken}: not a readable Inspect log (")
    assert "\n" not in message


def _with_version(path: Path, target: Path, version: int) -> None:
    """A copy of an Inspect log whose version field says ``version``."""
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        data["version"] = version
        target.write_text(json.dumps(data))
        return
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename in ("header.json", "_journal/start.json"):
                data = json.loads(content)
                data["version"] = version
                content = json.dumps(data).encode()
            dst.writestr(item, content)


@pytest.mark.parametrize("fmt", ["eval", "json"])
def test_a_log_version_this_reader_does_not_know(
    eval_logs: EvalLogs, tmp_path: Path, fmt: str
) -> None:
    folder = eval_logs.inspect_eval if fmt == "eval" else eval_logs.inspect_json
    source = the_log(folder, "issue_refund")
    future = tmp_path / source.name
    _with_version(source, future, 99)
    with pytest.raises(HistoryError) as caught:
        load_history(future, format="inspect", mapping=THRESHOLD)
    message = str(caught.value)
    assert message.startswith(f"{future}: ")
    assert "version 99" in message and "\n" not in message


def test_problems_across_files_name_each_file(eval_logs: EvalLogs, tmp_path: Path) -> None:
    for path in log_files(eval_logs.inspect_eval):
        shutil.copy(path, tmp_path / path.name)
    refund = the_log(tmp_path, "issue_refund")
    lookup = the_log(tmp_path, "lookup_customer")
    lookup.write_bytes(lookup.read_bytes()[:100])
    with pytest.raises(HistoryError) as caught:
        load_history(tmp_path, format="inspect")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path}: 3 problems: ")
    assert f"; {lookup}: not a readable Inspect log" in message
    assert f": 3 problems: {refund}: sample 1 epoch 1: score 'refund_quality' value 0.75" in message
    assert "\n" not in message


def _rewrite(source: Path, target: Path, change) -> None:  # type: ignore[no-untyped-def]
    """Change a log with Inspect's own reader and writer."""
    log = read_eval_log(str(source))
    change(log)
    write_eval_log(log, str(target))


def test_a_sample_with_no_score_is_left_out_and_listed(eval_logs: EvalLogs, tmp_path: Path) -> None:
    source = the_log(eval_logs.inspect_eval, "lookup_customer")
    target = tmp_path / source.name

    def unscore(log) -> None:  # type: ignore[no-untyped-def]
        for sample in log.samples:
            if sample.id == "by-email" and sample.epoch == 2:
                sample.scores = None

    _rewrite(source, target, unscore)
    history = load_history(target, format="inspect")
    unmapped = unmapped_frame(history)
    unscored = unmapped[unmapped["kind"] == "no_score"]
    assert unscored[["log_file", "sample_id", "epoch", "reason"]].values.tolist() == [
        [str(target), "by-email", 2, "no score"]
    ]
    assert len(history) == 5
    assert "4 samples left out (3 errored, 1 no score)" in import_summary(history)


def test_two_scorers_need_the_mapping_to_name_one(eval_logs: EvalLogs, tmp_path: Path) -> None:
    source = the_log(eval_logs.inspect_eval, "lookup_customer_injection")
    target = tmp_path / source.name

    def second_scorer(log) -> None:  # type: ignore[no-untyped-def]
        for sample in log.samples:
            sample.scores["judge"] = Score(value="P")

    _rewrite(source, target, second_scorer)
    with pytest.raises(HistoryError) as caught:
        load_history(target, format="inspect")
    assert "sample 'inj-list' epoch 1: scores from 2 scorers ('includes', 'judge')" in str(
        caught.value
    )
    by_includes = load_history(target, format="inspect", mapping={"score": {"scorer": "includes"}})
    assert sorted(by_includes["n_passed"]) == [0, 1]
    with pytest.raises(HistoryError, match=r"sample 'inj-list' epoch 1: score 'judge' value 'P'"):
        load_history(target, format="inspect", mapping={"score": {"scorer": "judge"}})
    partial = {"score": {"scorer": "judge", "passed": ["C", "P"]}}
    assert load_history(target, format="inspect", mapping=partial)["n_passed"].tolist() == [1, 1]


def test_a_mapping_file_names_the_action_and_adversarial_cases(
    eval_logs: EvalLogs, tmp_path: Path
) -> None:
    mapping = tmp_path / "inspect.mapping.toml"
    mapping.write_text(
        """
format = "inspect"
action = ["task"]
timestamp = ["started", "created"]

[rename]
lookup_customer_injection = "lookup_customer"
issue_refund = "refund"

[score]
threshold = 0.7

[adversarial]
tasks = ["*_injection"]
tags = []
"""
    )
    history = load_history(eval_logs.inspect_eval, format="inspect", mapping=mapping)
    assert set(history["action"]) == {"lookup_customer", "refund"}
    adversarial = history[history["adversarial"]]
    assert set(adversarial["task"]) == {"lookup_customer_injection"}
    refund = history[history["action"] == "refund"].sort_values("sample_id")
    assert refund["n_passed"].tolist() == [1, 0]  # 0.75 >= 0.7 > 0.25
    first = read_eval_log(str(the_log(eval_logs.inspect_eval, "issue_refund"))).samples[0]
    assert refund["timestamp"].iloc[0] == pd.Timestamp(first.started_at)
    assert history.attrs["mapping_source"] == str(mapping)


def test_a_bad_mapping_file_names_the_file_and_key(eval_logs: EvalLogs, tmp_path: Path) -> None:
    mapping = tmp_path / "bad.toml"
    mapping.write_text('action = "tsk"\n[score]\nthreshold = "high"\nlimit = 3\n')
    with pytest.raises(MappingError) as caught:
        load_history(eval_logs.inspect_eval, format="inspect", mapping=mapping)
    message = str(caught.value)
    assert message.startswith(f"{mapping}: 3 problems:")
    assert "action: 'tsk' is not a inspect field" in message
    assert "score.threshold: 'high' is not a number" in message
    assert "score.limit: unknown key for inspect" in message


def test_replay_and_sweep_run_on_the_loaded_logs(eval_logs: EvalLogs) -> None:
    history = load_history(eval_logs.inspect_eval, format="inspect", mapping=THRESHOLD)
    result = replay(history, POLICY)
    summary = result.summary.set_index("action")
    assert summary.loc["lookup_customer", "cases"] == 8
    assert summary.loc["issue_refund", "cases"] == 2
    # lookup_customer: 3/6 normal, 1/2 adversarial over 8 cases: SUPERVISED (bars 0.5, 0.5, 2)
    assert summary.loc["lookup_customer", "final_state"] == AutonomyState.SUPERVISED.name
    grid = {"supervised.pass_rate": [0.4, 0.6], "supervised.min_samples": [2, 4]}
    swept = sweep(history, POLICY, grid, progress=False)
    assert swept.table["candidate"].nunique() == 4
    assert set(swept.table["action"]) == {"lookup_customer", "issue_refund"}
    assert_sweep_equals_replay(history, POLICY, swept)


def test_the_kit_does_not_import_inspect() -> None:
    code = (
        "import sys, warrantd.analytics, warrantd.analytics.importers\n"
        "print('inspect_ai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_files_in_the_folder_that_are_not_logs_are_listed(
    eval_logs: EvalLogs, tmp_path: Path
) -> None:
    for path in log_files(eval_logs.inspect_json):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "notes.json").write_text("{}")
    history = load_history(tmp_path, format="inspect", mapping=THRESHOLD)
    assert history.attrs["skipped_files"] == (str(tmp_path / "notes.json"),)
    assert import_summary(history).endswith(
        f"; 1 file not read as logs ({tmp_path / 'notes.json'})"
    )


def test_missing_and_empty_sources(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"nowhere: no such file or folder$"):
        load_history(tmp_path / "nowhere", format="inspect")
    with pytest.raises(HistoryError, match=r"no Inspect logs"):
        load_history(tmp_path, format="inspect")


def test_column_map_renames_the_provenance(eval_logs: EvalLogs) -> None:
    history = load_history(
        eval_logs.inspect_eval,
        format="inspect",
        mapping=THRESHOLD,
        column_map={"model": "agent_version"},
    )
    assert set(history["agent_version"]) == {"mockllm/model"}


def test_a_bad_value_from_a_mapped_field_names_file_sample_and_field(
    eval_logs: EvalLogs, tmp_path: Path
) -> None:
    source = the_log(eval_logs.inspect_eval, "lookup_customer")
    target = tmp_path / source.name

    def date_one(log) -> None:  # type: ignore[no-untyped-def]
        for sample in log.samples:
            if sample.id == "by-name" and sample.epoch == 3:
                sample.metadata["evaluated"] = "last tuesday"

    _rewrite(source, target, date_one)
    mapping = {"timestamp": ["metadata.evaluated", "completed"]}
    with pytest.raises(HistoryError) as caught:
        load_history(target, format="inspect", mapping=mapping)
    assert str(caught.value) == (
        f"{target}: sample 'by-name' epoch 3: timestamp 'last tuesday' (from metadata.evaluated): "
        "not a timestamp (expected ISO-8601 text or epoch seconds)"
    )
    nowhere = {"timestamp": ["metadata.evaluated"], "action": ["metadata.nothing", "task"]}
    with pytest.raises(HistoryError) as caught:
        load_history(source, format="inspect", mapping=nowhere)
    assert str(caught.value) == (
        f"{source}: no case could be mapped: 9 samples left out (6 no timestamp, 3 errored); "
        f"first: {source}: sample 'by-email' epoch 1: no timestamp (none of metadata.evaluated)"
    )
