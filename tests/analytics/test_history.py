"""load_history: both input forms, every file format, and every bad-input message."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from warrantd import ActionClass, RiskTier, TrustPolicy
from warrantd.analytics import HistoryError, load_history, save_history, validate_against

from ..helpers import make_thresholds

CASES = pd.DataFrame(
    {
        "timestamp": ["2026-01-02T10:00:00Z", "2026-01-01T09:00:00+02:00", "2026-01-01 08:00:00"],
        "action": ["refund", "lookup", "refund"],
        "passed": ["PASS", "no", "1"],
        "adversarial": [False, True, False],
        "tenant_id": ["acme", "globex", "acme"],
        "case_id": [101, 102, 103],
        "score": [0.5, 0.25, 0.75],
    }
)


def test_case_form_canonical() -> None:
    h = load_history(CASES)
    assert list(h.columns) == [
        "timestamp",
        "action",
        "adversarial",
        "n",
        "n_passed",
        "tenant_id",
        "case_id",
        "score",
    ]
    assert str(h["timestamp"].dtype) == "datetime64[ns, UTC]"
    # 09:00+02:00 is 07:00 UTC, so it sorts before the naive 08:00 (taken as UTC)
    assert list(h["timestamp"].dt.strftime("%m-%d %H:%M")) == [
        "01-01 07:00",
        "01-01 08:00",
        "01-02 10:00",
    ]
    assert list(h["action"]) == ["lookup", "refund", "refund"]
    assert list(h["n"]) == [1, 1, 1]
    assert list(h["n_passed"]) == [0, 1, 1]
    assert list(h["adversarial"]) == [True, False, False]
    assert list(h["case_id"]) == ["102", "103", "101"], "ids are kept as strings"
    assert list(h["score"]) == [0.25, 0.75, 0.5], "extra columns are preserved"


def test_counts_form_and_default_adversarial() -> None:
    runs = pd.DataFrame(
        {
            "timestamp": [1767225600, 1767312000],
            "action": ["a", "a"],
            "n": [10, 5],
            "n_passed": ["9", 5.0],
        }
    )
    h = load_history(runs)
    assert list(h["n"]) == [10, 5] and list(h["n_passed"]) == [9, 5]
    assert not h["adversarial"].any()
    assert h["timestamp"].iloc[0] == pd.Timestamp("2026-01-01", tz="UTC"), "epoch seconds"


@pytest.mark.parametrize("word", ["true", "TRUE", "1", "yes", "Yes", "pass", "PASS", "passed"])
def test_true_spellings(word: str) -> None:
    df = pd.DataFrame({"timestamp": ["2026-01-01"], "action": ["a"], "passed": [word]})
    assert load_history(df)["n_passed"].tolist() == [1]


@pytest.mark.parametrize("word", ["false", "False", "0", "no", "NO", "fail", "Fail"])
def test_false_spellings(word: str) -> None:
    df = pd.DataFrame({"timestamp": ["2026-01-01"], "action": ["a"], "passed": [word]})
    assert load_history(df)["n_passed"].tolist() == [0]


def test_stable_sort_keeps_input_order_for_ties() -> None:
    df = pd.DataFrame(
        {"timestamp": ["2026-01-01"] * 4, "action": ["d", "b", "c", "a"], "passed": [1, 0, 1, 0]}
    )
    assert load_history(df)["action"].tolist() == ["d", "b", "c", "a"]


def test_column_map_renames_foreign_columns(tmp_path: Path) -> None:
    path = tmp_path / "foreign.csv"
    path.write_text("when,tool,success\n2026-01-01,refund,yes\n2026-01-02,refund,no\n")
    h = load_history(path, column_map={"when": "timestamp", "tool": "action", "success": "passed"})
    assert h["n_passed"].tolist() == [1, 0]


FORMATS = [
    "h.csv",
    "h.csv.gz",
    "h.parquet",
    "h.jsonl",
    "h.ndjson",
    "h.json",
    "h.json.gz",
    "h.jsonl.gz",
]


@pytest.mark.parametrize("name", FORMATS)
def test_round_trip_through_every_format(tmp_path: Path, name: str) -> None:
    canonical = load_history(CASES)
    canonical.loc[0, "timestamp"] = pd.Timestamp("2026-01-01 07:00:00.123456789", tz="UTC")
    path = save_history(canonical, tmp_path / name)
    back = load_history(path)
    pd.testing.assert_frame_equal(back, canonical, check_dtype=False)
    assert back.dtypes.drop(["score"]).equals(canonical.dtypes.drop(["score"]))


def test_format_overrides_suffix(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("timestamp,action,passed\n2026-01-01,a,1\n")
    assert len(load_history(path, format="csv")) == 1


def messages(excinfo: pytest.ExceptionInfo[HistoryError]) -> str:
    return str(excinfo.value)


def csv_file(tmp_path: Path, text: str, name: str = "h.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "timestamp,action,passed\nyesterday,a,1\n",
            "row 1, column 'timestamp': 'yesterday': not a timestamp",
        ),
        (
            "timestamp,action,passed\n2026-01-01,a,maybe\n",
            "row 1, column 'passed': 'maybe': not a boolean",
        ),
        (
            "timestamp,action,passed\n2026-01-01,a,1\n2026-01-01, ,1\n",
            "row 2, column 'action': ' ': empty action name",
        ),
        (
            "timestamp,action,passed\n2026-01-01,,1\n",
            "row 1, column 'action': (empty): missing value in a required field",
        ),
        (
            "timestamp,action,passed\n,a,1\n",
            "row 1, column 'timestamp': (empty): missing value in a required field",
        ),
        (
            "timestamp,action,passed\n2026-01-01,a,\n",
            "row 1, column 'passed': (empty): missing value in a required field",
        ),
        (
            "timestamp,action,n,n_passed\n2026-01-01,a,5,6\n",
            "row 1, column 'n_passed': '6': n_passed is greater than n",
        ),
        (
            "timestamp,action,n,n_passed\n2026-01-01,a,-5,0\n",
            "row 1, column 'n': '-5': negative count",
        ),
        (
            "timestamp,action,n,n_passed\n2026-01-01,a,2.5,1\n",
            "row 1, column 'n': '2.5': not a whole number of cases",
        ),
        (
            "timestamp,action,n,n_passed\n2026-01-01,a,five,1\n",
            "row 1, column 'n': 'five': not a whole number of cases",
        ),
        (
            "timestamp,action,passed,adversarial\n2026-01-01,a,1,perhaps\n",
            "row 1, column 'adversarial': 'perhaps': not a boolean",
        ),
    ],
)
def test_bad_values_name_file_row_column_value(tmp_path: Path, text: str, expected: str) -> None:
    path = csv_file(tmp_path, text)
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(path) in messages(info)
    assert expected in messages(info)


def test_missing_required_column_lists_columns_found(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "time,action,ok\n2026-01-01,a,1\n")
    with pytest.raises(HistoryError) as info:
        load_history(path)
    text = messages(info)
    assert "missing required column(s) timestamp, passed" in text
    assert "columns found: 'time', 'action', 'ok'" in text


def test_counts_form_missing_n_passed(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"missing required column.*n_passed"):
        load_history(csv_file(tmp_path, "timestamp,action,n\n2026-01-01,a,3\n"))


def test_both_forms_is_an_error() -> None:
    df = pd.DataFrame(
        {"timestamp": ["2026-01-01"], "action": ["a"], "passed": [1], "n": [1], "n_passed": [1]}
    )
    with pytest.raises(HistoryError, match="both 'passed' and 'n'"):
        load_history(df)


def test_problems_are_collected_up_to_twenty(tmp_path: Path) -> None:
    rows = "".join(f"2026-01-01,a,bad{i}\n" for i in range(30))
    with pytest.raises(HistoryError) as info:
        load_history(csv_file(tmp_path, "timestamp,action,passed\n" + rows))
    text = messages(info)
    # More than three problems: the summary line first, then one indented line each.
    lines = str(info.value).splitlines()
    assert lines[0].endswith(": 30 problems (the first 20 shown):")
    assert lines[1] == "  row 1, column 'passed': 'bad0': " + (
        "not a boolean (expected true/false, 1/0, yes/no or pass/fail)"
    )
    assert len(lines) == 21 and lines[20].startswith("  row 20, column 'passed': 'bad19'")
    assert "row 21," not in text
    assert len(info.value.problems) == 20


def test_problems_from_several_columns_in_one_message(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "timestamp,action,passed\nnope,a,1\n2026-01-01,a,what\n")
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert "row 1, column 'timestamp'" in messages(info)
    assert "row 2, column 'passed'" in messages(info)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="the file is empty"):
        load_history(csv_file(tmp_path, ""))


def test_header_only(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no rows"):
        load_history(csv_file(tmp_path, "timestamp,action,passed\n"))


def test_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match=r"unsupported file suffix '\.xlsx'"):
        load_history(csv_file(tmp_path, "x", "h.xlsx"))


def test_a_folder_without_format_is_told_how_folders_are_read(tmp_path: Path) -> None:
    # Before: "unsupported file suffix '(none)'", which says nothing about folders.
    folder = tmp_path / "logs"
    folder.mkdir()
    with pytest.raises(HistoryError) as info:
        load_history(folder)
    assert str(info.value) == (
        f"{folder}: is a folder, not a history file: a folder is read as Inspect or promptfoo "
        "logs, with --format inspect|promptfoo (format= in Python)"
    )


def test_a_huge_value_is_shortened_in_its_problem(tmp_path: Path) -> None:
    # Before: the 400 digits were echoed in full, a 450-character "one line".
    path = csv_file(tmp_path, f"timestamp,action,passed\n2026-01-01,a,{'9' * 400}\n")
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value) == (
        f"{path}: row 1, column 'passed': '9999999999…9999999999' (400 characters): "
        "not a boolean (expected true/false, 1/0, yes/no or pass/fail)"
    )


def test_a_value_is_shortened_only_past_sixty_characters(tmp_path: Path) -> None:
    # 58 x's quote as 60 characters (kept whole); 59 x's as 61 (shortened).
    text = f"timestamp,action,passed\n2026-01-01,a,{'x' * 58}\n2026-01-02,a,{'x' * 59}\n"
    with pytest.raises(HistoryError) as info:
        load_history(csv_file(tmp_path, text))
    why = "not a boolean (expected true/false, 1/0, yes/no or pass/fail)"
    assert info.value.lines == [
        f"row 1, column 'passed': '{'x' * 58}': {why}",
        f"row 2, column 'passed': 'xxxxxxxxxx…xxxxxxxxxx' (59 characters): {why}",
    ]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no such file"):
        load_history(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("h.parquet", b"timestamp,action,passed\n2026-01-01,a,1\n", "not a valid parquet"),
        ("h.json", b"timestamp,action,passed\n", "line 1, column 1: not valid JSON"),
        ("h.jsonl", b"{not json\n", "line 1: not valid JSON"),
        ("h.csv.gz", b"this is not gzip", "not a valid csv"),
    ],
)
def test_file_that_is_not_what_its_suffix_says(
    tmp_path: Path, name: str, content: bytes, needle: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(path) in messages(info) and needle in messages(info)


def test_gzip_csv_reads(tmp_path: Path) -> None:
    path = tmp_path / "h.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write("timestamp,action,passed\n2026-01-01,a,yes\n")
    assert load_history(path)["n_passed"].tolist() == [1]


def test_a_truncated_gzip_file_is_bad_input(tmp_path: Path) -> None:
    rows = "".join(f"2026-01-01T00:00:{i % 60:02d}Z,a,yes\n" for i in range(2000))
    whole = gzip.compress(("timestamp,action,passed\n" + rows).encode())
    path = tmp_path / "h.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert messages(info) == f"{path}: the compressed file is truncated " + (
        "(it ends before its end-of-stream marker)"
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        # One data row, one field too many: pandas alone would drop 'extra' with a warning.
        (
            "timestamp,action,passed\n2026-01-01,a,yes,extra\n",
            "line 2: 4 fields where the header has 3 (extra 'extra')",
        ),
        (
            "timestamp,action,passed\n2026-01-01,a,yes\n2026-01-02,a,no,x\n",
            "line 3: 4 fields where the header has 3",
        ),
        (
            "timestamp,action,passed,action\n2026-01-01,a,yes,b\n",
            "header: column 'action' appears more than once (columns 2 and 4)",
        ),
    ],
)
def test_a_field_is_never_dropped_nor_a_column_renamed(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(text)
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert messages(info).startswith(f"{path}: {needle}")


@pytest.mark.parametrize(
    "text",
    [
        "timestamp,action,passed\n2026-01-01,a,yes,\n2026-01-02,a,no,\n",  # trailing commas
        "timestamp,action,passed,note\n2026-01-01,a,yes,x,,\n2026-01-02,a,no,,\n",  # empty extras
        "timestamp,action,passed,,\n2026-01-01,a,yes,,\n2026-01-02,a,no,,\n",  # blank header cells
    ],
)
def test_empty_fields_beyond_the_header_lose_nothing_and_are_accepted(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(text)
    assert load_history(path)["n_passed"].tolist() == [1, 0]


def test_no_row_is_dropped() -> None:
    df = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=500, freq="h"),
            "action": np.where(np.arange(500) % 3, "a", "b"),
            "passed": np.arange(500) % 2 == 0,
        }
    )
    assert len(load_history(df)) == 500


def test_validate_against_policy() -> None:
    policy = TrustPolicy(
        {
            "refund": ActionClass("refund", RiskTier.READ),
            "delete": ActionClass("delete", RiskTier.CONSEQUENTIAL),
        },
        make_thresholds(),
    )
    coverage = validate_against(load_history(CASES), policy)
    assert coverage.missing_from_policy == ["lookup"]
    assert coverage.missing_from_history == ["delete"]
    assert not coverage.ok
    assert "lookup" in coverage.describe() and "delete" in coverage.describe()
