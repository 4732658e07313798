"""Input a new user's files really have (trial 2): doubled exports, unknown action names,
UTF-16 and ';'-separated files, all-empty columns. Each expected message is written out
by hand; each test failed before the loaders learnt to say it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from warrantd import ActionClass, RiskTier, TrustPolicy
from warrantd.analytics import HistoryError, load_history
from warrantd.analytics._engine import check_coverage
from warrantd.analytics.quality import data_quality
from warrantd.analytics.traffic import TrafficError, load_traffic
from warrantd.errors import InputError, OptionError

from ..helpers import make_thresholds

POLICY = TrustPolicy(
    {
        name: ActionClass(name, RiskTier.REVERSIBLE_WRITE)
        for name in ("read_ledger", "issue_refund")
    },
    make_thresholds((0.8, 0.0, 20), (0.95, 0.0, 45)),
)
KEEP = "remove them, or keep them with --duplicates keep (duplicates='keep' in Python)"


def write(tmp_path: Path, text: str, name: str = "h.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- duplicates

THREE_CASES = (
    "2026-01-01T10:00:00Z,read_ledger,1,c1\n"
    "2026-01-01T11:00:00Z,read_ledger,0,c2\n"
    "2026-01-01T12:00:00Z,issue_refund,1,c3\n"
)


def test_a_doubled_export_is_an_error_naming_the_first_repeat_and_the_count(
    tmp_path: Path,
) -> None:
    # The three cases, then the same three again (cat file; tail -n +2 file): data rows
    # 4, 5 and 6 repeat rows 1, 2 and 3; the first of them is row 4, case c1.
    path = write(tmp_path, "timestamp,action,passed,case_id\n" + THREE_CASES + THREE_CASES)
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value) == (
        f"{path}: row 4, column 'case_id': 'c1': repeats row 1 (same action, case_id and "
        "timestamp); 3 rows repeat an earlier row, as a doubled export does, and would "
        f"count as evidence twice: {KEEP}"
    )


@pytest.mark.parametrize(
    ("second", "said"),
    [
        # The same outcome again: a doubled export.
        (
            "yes",
            "repeats row 1 (same tool, case and when); 1 row repeats an earlier row, as a "
            f"doubled export does, and would count as evidence twice: {KEEP}",
        ),
        # Row 2 failed where row 1 passed: two outcomes of one case, a conflict, and
        # --duplicates keep (which would count both) is not offered.
        (
            "no",
            "conflicts with row 1: same tool, case and when, but ok 'yes' there, 'no' here; "
            "one eval case has one outcome at one moment: remove the wrong row, or give a "
            "re-run its own timestamp, run id or attempt",
        ),
    ],
    ids=["repeat", "conflict"],
)
def test_a_repeat_or_a_conflict_is_said_in_the_files_own_names_and_values(
    tmp_path: Path, second: str, said: str
) -> None:
    path = write(
        tmp_path,
        "when,tool,ok,case\n"
        "2026-01-01T10:00:00Z,read_ledger,yes,c1\n"
        f"2026-01-01T10:00:00Z,read_ledger,{second},c1\n",
    )
    mapping = {"when": "timestamp", "tool": "action", "ok": "passed", "case": "case_id"}
    with pytest.raises(HistoryError) as info:
        load_history(path, column_map=mapping)
    assert str(info.value) == f"{path}: row 2, column 'case' (read as 'case_id'): 'c1': {said}"


def test_repeats_agreeing_in_value_are_a_doubled_export_and_a_later_conflict_is_found(
    tmp_path: Path,
) -> None:
    # "yes" and "true" are the same pass: a repeat, not a conflict.
    agree = write(
        tmp_path,
        "timestamp,action,passed,case_id\n"
        "2026-01-01T10:00:00Z,read_ledger,yes,c1\n"
        "2026-01-01T10:00:00Z,read_ledger,true,c1\n",
    )
    with pytest.raises(HistoryError, match=r"row 2.*repeats row 1 .* as a doubled export does"):
        load_history(agree)
    # Rows 1-2 repeat case c1 alike; rows 3-5 are case c2, whose row 5 fails where
    # rows 3 and 4 passed: the conflict is what is said, at row 5 against row 3.
    later = write(
        tmp_path,
        "timestamp,action,passed,case_id\n"
        "2026-01-01T10:00:00Z,read_ledger,1,c1\n"
        "2026-01-01T10:00:00Z,read_ledger,1.0,c1\n"
        "2026-01-01T11:00:00Z,read_ledger,1,c2\n"
        "2026-01-01T11:00:00Z,read_ledger,1,c2\n"
        "2026-01-01T11:00:00Z,read_ledger,0,c2\n",
        name="later.csv",
    )
    with pytest.raises(HistoryError) as info:
        load_history(later)
    assert str(info.value).startswith(
        f"{later}: row 5, column 'case_id': 'c2': conflicts with row 3: same action, case_id "
        "and timestamp, but passed '1' there, '0' here;"
    )


def test_a_kept_conflict_is_said_apart_from_a_doubled_export(tmp_path: Path) -> None:
    # Case c1 passed and failed at one moment, kept with duplicates="keep": data quality
    # says it repeats, and that it is a conflict counted both ways. A plain doubled
    # export (the same outcome twice) gets only the first line.
    path = write(
        tmp_path,
        "timestamp,action,passed,case_id\n"
        "2026-01-01T10:00:00Z,read_ledger,1,c1\n"
        "2026-01-01T10:00:00Z,read_ledger,0,c1\n",
    )
    findings = data_quality(load_history(path, duplicates="keep"), POLICY).findings
    assert any(f.startswith("1 row(s) repeat an earlier row's eval case") for f in findings)
    conflict = (
        "a repeated eval case has two outcomes at one moment (passed in one row, failed in "
        "another): a conflict, not a doubled export; it counts as both"
    )
    assert conflict in findings
    doubled = write(tmp_path, "timestamp,action,passed,case_id\n" + THREE_CASES * 2, "d.csv")
    assert conflict not in data_quality(load_history(doubled, duplicates="keep"), POLICY).findings


def test_kept_duplicates_load_whole_and_data_quality_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "timestamp,action,passed,case_id\n" + THREE_CASES + THREE_CASES)
    history = load_history(path, duplicates="keep")
    assert len(history) == 6 and int(history["n"].sum()) == 6
    finding = (
        "3 row(s) repeat an earlier row's eval case (same action, case_id and timestamp): "
        "each counts again as evidence, as a doubled export would"
    )
    assert finding in data_quality(history, POLICY).findings
    # The same history once: no such finding.
    once = load_history(write(tmp_path, "timestamp,action,passed,case_id\n" + THREE_CASES))
    assert not any("repeat" in f for f in data_quality(once, POLICY).findings)


def test_the_first_repeat_is_counted_in_file_order_not_time_order(tmp_path: Path) -> None:
    # Loaded, row 2 (10:00) comes first in time; in the file, row 3 repeats row 2. One
    # repeat, said in the singular. A tenant column is compared too, and named.
    path = write(
        tmp_path,
        "timestamp,action,passed,case_id,tenant_id\n"
        "2026-01-01T12:00:00Z,read_ledger,1,c9,acme\n"
        "2026-01-01T10:00:00Z,read_ledger,1,c7,acme\n"
        "2026-01-01T10:00:00Z,read_ledger,1,c7,acme\n",
    )
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value) == (
        f"{path}: row 3, column 'case_id': 'c7': repeats row 2 (same action, case_id, "
        "timestamp and tenant_id); 1 row repeats an earlier row, as a doubled export does, "
        f"and would count as evidence twice: {KEEP}"
    )


def test_repeats_are_found_among_rows_that_share_only_part_of_the_key() -> None:
    # Rows 1-4 share the time or the case or the action, never all three; rows 5 and 6
    # repeat rows 1 and 2, apart from them in the file. Two repeats, the first row 5.
    # (Checked to fail when the rows sharing part of the key are compared as they stand
    # in the file, neighbour to neighbour, instead of sorted.)
    t1, t2 = "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"
    frame = pd.DataFrame(
        {
            "timestamp": [t1, t1, t1, t2, t1, t1],
            "action": ["read_ledger"] * 2 + ["issue_refund"] + ["read_ledger"] * 3,
            "passed": [1, 0, 1, 1, 1, 0],
            "case_id": ["c1", "c2", "c1", "c1", "c1", "c2"],
        }
    )
    with pytest.raises(HistoryError) as info:
        load_history(frame)
    assert str(info.value) == (
        "<DataFrame>: row 5, column 'case_id': 'c1': repeats row 1 (same action, case_id and "
        "timestamp); 2 rows repeat an earlier row, as a doubled export does, and would count "
        f"as evidence twice: {KEEP}"
    )
    kept = load_history(frame, duplicates="keep")
    assert (
        "2 row(s) repeat an earlier row's eval case (same action, case_id and timestamp): "
        "each counts again as evidence, as a doubled export would"
    ) in data_quality(kept, POLICY).findings


def test_honest_repeats_are_not_flagged(tmp_path: Path) -> None:
    # One case id across runs at different times; one case at one time run for two
    # tenants, two agent versions or two runs; identical rows without a case id (two
    # passes of one class in one run), or with an empty one: all load, none flagged.
    # (Checked to fail when the key leaves out the timestamp, or the tenant/agent/run
    # columns.)
    honest = {
        "runs": "timestamp,action,passed,case_id\n"
        "2026-01-01,read_ledger,1,c1\n2026-01-08,read_ledger,1,c1\n",
        "tenants": "timestamp,action,passed,case_id,tenant_id\n"
        "2026-01-01,read_ledger,1,c1,acme\n2026-01-01,read_ledger,1,c1,globex\n",
        "agents": "timestamp,action,passed,case_id,agent_version\n"
        "2026-01-01,read_ledger,1,c1,v1\n2026-01-01,read_ledger,1,c1,v2\n",
        "run_ids": "timestamp,action,passed,case_id,run_id\n"
        "2026-01-01,read_ledger,1,c1,r1\n2026-01-01,read_ledger,1,c1,r2\n",
        "actions": "timestamp,action,passed,case_id\n"
        "2026-01-01,read_ledger,1,c1\n2026-01-01,issue_refund,1,c1\n",
        "no_id": "timestamp,action,passed\n2026-01-01,read_ledger,1\n2026-01-01,read_ledger,1\n",
        "empty_id": "timestamp,action,passed,case_id\n"
        "2026-01-01,read_ledger,1,\n2026-01-01,read_ledger,1,\n",
        # A case run twice at one timestamp, its attempts numbered.
        "epochs": "timestamp,action,passed,case_id,epoch\n"
        "2026-01-01,read_ledger,1,c1,1\n2026-01-01,read_ledger,0,c1,2\n",
    }
    for name, text in honest.items():
        history = load_history(write(tmp_path, text, f"{name}.csv"))
        assert len(history) == 2, name
        assert not any("repeat" in f for f in data_quality(history, POLICY).findings), name


def test_a_renamed_case_column_is_named_as_the_file_has_it() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": ["2026-01-01", "2026-01-01"],
            "action": ["read_ledger", "read_ledger"],
            "passed": [1, 1],
            "sample": ["s1", "s1"],
        }
    )
    with pytest.raises(HistoryError) as info:
        load_history(frame, column_map={"sample": "case_id"})
    assert str(info.value).startswith(
        "<DataFrame>: row 2, column 'sample' (read as 'case_id'): 's1': repeats row 1 "
    )


def test_duplicates_takes_error_or_keep_only() -> None:
    with pytest.raises(OptionError) as info:
        load_history(pd.DataFrame({"timestamp": [], "action": []}), duplicates="drop")
    assert str(info.value) == "duplicates: 'drop' is not one of 'error', 'keep'"


# --------------------------------------------------------------------------- unknown actions


def test_an_unknown_action_names_its_file_row_and_the_class_it_was_meant_to_be(
    tmp_path: Path,
) -> None:
    # 'Read_Ledger' is at data rows 2 and 5, the first in time (2 January) at row 2;
    # ' read_ledger' (a leading space) at row 3; 'read_ledgr' (a typo) at row 4, the
    # earliest of all; 'nuke_db' at row 6 is like no class. Listed in file order.
    path = write(
        tmp_path,
        "timestamp,action,passed\n"
        "2026-01-03,read_ledger,1\n"
        "2026-01-02,Read_Ledger,1\n"
        "2026-01-04, read_ledger,0\n"
        "2026-01-01,read_ledgr,1\n"
        "2026-01-05,Read_Ledger,1\n"
        "2026-01-06,nuke_db,1\n",
    )
    history = load_history(path)
    with pytest.raises(InputError) as info:
        check_coverage(
            map(str, history["action"].unique()),
            POLICY,
            str(path),
            frame=history,
            policy_name="pol.toml",
        )
    assert info.value.lines == [
        "row 2, column 'action': 'Read_Ledger': an action class pol.toml does not define "
        "(2 rows, the first at 2026-01-02T00:00:00Z); did you mean 'read_ledger'?",
        "row 3, column 'action': ' read_ledger': an action class pol.toml does not define "
        "(1 row, the first at 2026-01-04T00:00:00Z); did you mean 'read_ledger'?",
        "row 4, column 'action': 'read_ledgr': an action class pol.toml does not define "
        "(1 row, the first at 2026-01-01T00:00:00Z); did you mean 'read_ledger'?",
        "row 6, column 'action': 'nuke_db': an action class pol.toml does not define "
        "(1 row, the first at 2026-01-06T00:00:00Z)",
    ]


def test_an_unknown_traffic_action_names_its_row(tmp_path: Path) -> None:
    # Data row 3 is the earlier of the two issue_refnd requests.
    path = write(
        tmp_path,
        "timestamp,action,value\n"
        "2026-05-01T11:00:00Z,issue_refund,150\n"
        "2026-05-01T12:00:00Z,issue_refnd,20\n"
        "2026-05-01T10:00:00Z,issue_refnd,\n",
        "traffic.csv",
    )
    traffic = load_traffic(path)
    with pytest.raises(InputError) as info:
        check_coverage(["issue_refund", "issue_refnd"], POLICY, str(path), frame=traffic)
    assert str(info.value) == (
        f"{path}: row 3, column 'action': 'issue_refnd': an action class the policy does not "
        "define (2 rows, the first at 2026-05-01T10:00:00Z); did you mean 'issue_refund'?"
    )


def test_without_the_loaded_frame_the_hint_still_comes() -> None:
    with pytest.raises(InputError) as info:
        check_coverage(["issue_refunds"], POLICY, "logs", column=None)
    assert str(info.value) == (
        "logs: action 'issue_refunds': an action class the policy does not define; "
        "did you mean 'issue_refund'?"
    )


# --------------------------------------------------------------------------- encodings

SMALL = "timestamp,action,passed\n2026-01-01,read_ledger,1\n2026-01-02,read_ledger,0\n"


@pytest.mark.parametrize(
    ("codec", "suffix", "said"),
    [
        ("utf-16-le", "csv", "looks like UTF-16 (every other byte is NUL): "
         "pass --encoding utf-16-le (encoding='utf-16-le' in Python)"),
        ("utf-16-be", "jsonl", "looks like UTF-16 (every other byte is NUL): "
         "pass --encoding utf-16-be (encoding='utf-16-be' in Python)"),
    ],
)  # fmt: skip
def test_a_wide_encoding_is_recognised_and_named(
    tmp_path: Path, codec: str, suffix: str, said: str
) -> None:
    text = SMALL if suffix == "csv" else '{"timestamp": "2026-01-01", "action": "a"}\n'
    path = tmp_path / f"h.{suffix}"
    path.write_bytes(text.encode(codec))
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value) == f"{path}: {said}"
    # Told a one-byte encoding, it says the same rather than read NULs into the names.
    with pytest.raises(HistoryError) as info:
        load_history(path, encoding="latin-1")
    assert str(info.value) == f"{path}: {said}"


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_a_file_with_a_byte_order_mark_is_read_in_its_encoding(tmp_path: Path, codec: str) -> None:
    # iconv -t utf-16 and Excel's "Unicode text" write a byte-order mark first: it names
    # the encoding, so the file loads as it is, whatever one-byte encoding was asked,
    # compressed too, and traffic (which has no --encoding of its own) alike.
    path = tmp_path / "h.csv"
    path.write_bytes(SMALL.encode(codec))
    assert list(load_history(path)["n_passed"]) == [1, 0]
    assert list(load_history(path, encoding="latin-1")["n_passed"]) == [1, 0]
    assert list(load_history(path, encoding=codec)["n_passed"]) == [1, 0]
    packed = tmp_path / "h.csv.gz"
    packed.write_bytes(gzip.compress(SMALL.encode(codec)))
    assert list(load_history(packed)["n_passed"]) == [1, 0]
    traffic = tmp_path / "t.csv"
    traffic.write_bytes("timestamp,action,value\n2026-01-01,read_ledger,5\n".encode(codec))
    assert list(load_traffic(traffic)["value_text"]) == ["5"]


def test_columns_found_are_quoted_so_a_nul_shows(tmp_path: Path) -> None:
    path = write(tmp_path, "time\x00stamp,action,passed\n2026-01-01,a,1\n")
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value) == (
        f"{path}: missing required column(s) timestamp (columns found: 'time\\x00stamp', "
        "'action', 'passed'; a history needs timestamp, action and passed, or n and n_passed)"
    )


# --------------------------------------------------------------------------- separators


def test_a_semicolon_separated_file_says_so(tmp_path: Path) -> None:
    # A decimal comma in a ';' file would otherwise be "line 2: 2 fields where the header
    # has 1": the header is looked at first.
    path = write(tmp_path, "timestamp;action;passed;score\n2026-01-01;read_ledger;1;0,5\n")
    with pytest.raises(HistoryError) as info:
        load_history(path)
    assert str(info.value) == (
        f"{path}: looks like ';'-separated (its header splits on ';' into 'timestamp', "
        "'action', 'passed', 'score'): save it comma-separated, or read it with "
        "pandas.read_csv(path, sep=';') and pass the DataFrame (Python)"
    )


def test_a_tab_separated_file_says_so_and_renamed_columns_count(tmp_path: Path) -> None:
    # The names are the file's own (time, tool), read as timestamp and action.
    path = write(tmp_path, "time\ttool\tok\tx\ty\n2026-01-01\tread_ledger\t1\t2\t3\n", "t.csv")
    with pytest.raises(TrafficError) as info:
        load_traffic(path, column_map={"time": "timestamp", "tool": "action"})
    assert str(info.value) == (
        f"{path}: looks like '\\t'-separated (its header splits on '\\t' into 'time', "
        "'tool', 'ok', 'x', ...): save it comma-separated, or read it with "
        "pandas.read_csv(path, sep='\\t') and pass the DataFrame (Python)"
    )


def test_a_semicolon_in_a_comma_file_is_left_alone(tmp_path: Path) -> None:
    # The comma header already has the columns: a ';' inside a value is just text.
    path = write(tmp_path, "timestamp,action,passed,note\n2026-01-01,read_ledger,1,a;b\n")
    assert list(load_history(path)["note"]) == ["a;b"]
    path = write(tmp_path, "time;tool;ok\n2026-01-01;a;1\n")
    with pytest.raises(HistoryError, match=r"missing required column\(s\)"):
        load_history(path)  # splitting gives no required column either: not a guess


# --------------------------------------------------------------------------- empty columns


def test_an_all_empty_optional_column_is_one_line(tmp_path: Path) -> None:
    rows = "".join(f"2026-05-01T10:{m:02d}:00Z,read_ledger,\n" for m in range(30))
    path = write(tmp_path, "timestamp,action,verdict\n" + rows, "traffic.csv")
    with pytest.raises(TrafficError) as info:
        load_traffic(path)
    assert str(info.value) == (
        f"{path}: column 'verdict' is empty in every row; leave the column out"
    )


def test_all_empty_history_columns_say_which_and_what_to_do(tmp_path: Path) -> None:
    path = write(
        tmp_path, "timestamp,action,passed,adv\n2026-01-01,a,,\n2026-01-02,a,,\n2026-01-03,a,,\n"
    )
    with pytest.raises(HistoryError) as info:
        load_history(path, column_map={"adv": "adversarial"})
    assert str(info.value) == (
        f"{path}: 2 problems: column 'passed' is empty in every row (a required column); "
        "column 'adv' is empty in every row; leave the column out"
    )


def test_a_single_empty_value_still_names_its_row(tmp_path: Path) -> None:
    path = write(tmp_path, "timestamp,action,verdict\n2026-05-01,read_ledger,\n", "traffic.csv")
    with pytest.raises(TrafficError) as info:
        load_traffic(path)
    assert str(info.value) == (
        f"{path}: row 1, column 'verdict': (empty): missing value (leave out the column if unknown)"
    )


# --------------------------------------------------------------------------- traffic notes


def test_traffic_notes_name_negative_values_and_requests_outside_the_evidence(
    tmp_path: Path,
) -> None:
    from warrantd.analytics.traffic import traffic_notes

    history = load_history(
        write(
            tmp_path,
            "timestamp,action,passed\n2026-01-05T00:00Z,read,1\n2026-01-10T00:00Z,read,1\n",
        )
    )
    traffic = load_traffic(
        write(
            tmp_path,
            "timestamp,action,value\n"
            "2026-01-01T12:00Z,read,5\n"  # before the first case
            "2026-01-06T00:00Z,read,-50.25\n"  # negative
            "2026-01-07T00:00Z,read,-1\n"  # negative
            "2026-01-10T20:00Z,read,1\n"  # after the last case, within a day: the log's tail
            "2026-03-01T00:00Z,read,1\n",  # 50 days after the last case
            "t.csv",
        )
    )
    assert traffic_notes(traffic, history) == [
        "2 request(s) have a negative value (the first: read at 2026-01-06 00:00 UTC, "
        "value -50.25); the gate compares it with the caps as given",
        "1 request(s) come before the history's first eval case (2026-01-05 00:00 UTC): "
        "no eval evidence stands behind them",
        "1 request(s) come more than a day after the history's last eval case "
        "(2026-01-10 00:00 UTC), up to 50 days later: they are judged on evidence that "
        "stops there",
    ]
    inside = traffic[(traffic["timestamp"] > "2026-01-07T12:00Z")].iloc[:1]
    assert traffic_notes(inside, history) == []


def test_a_copied_tool_log_is_a_data_quality_finding() -> None:
    # Imported logs name a case by sample_id within its eval_id, per epoch: a log read
    # twice (the same file copied into the folder) repeats all three; epochs 1 and 2 of
    # one sample are honest.
    logs = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(["2026-01-01T10:00Z"] * 3, utc=True),
            "action": ["read_ledger"] * 3,
            "passed": [True, False, True],
            "eval_id": ["e1"] * 3,
            "sample_id": ["s1", "s1", "s2"],
            "epoch": [1, 2, 1],
        }
    )
    once = load_history(logs)
    assert not any("repeat" in f for f in data_quality(once, POLICY).findings)
    twice = load_history(pd.concat([logs, logs], ignore_index=True), duplicates="keep")
    assert (
        "3 row(s) repeat an earlier row's eval case (same action, sample_id, timestamp, "
        "eval_id and epoch): each counts again as evidence, as a doubled export would"
    ) in data_quality(twice, POLICY).findings
