"""The analytics commands: success paths, formats, and one-line errors with exit 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
POLICY = "datasets/billing-agent.policy.toml"
HISTORY = "datasets/billing-agent-runs.csv"
GRID = "datasets/billing-agent.grid.toml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warrantd.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


def one_line_error(out: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "Traceback" not in out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_validate_with_history() -> None:
    out = run("validate", POLICY, "--history", HISTORY)
    assert out.returncode == 0, out.stderr
    assert "1,830 rows, 19,265 cases; every action in the history is in the policy" in out.stdout


def test_validate_prints_the_graduation_settings_defaults_included(tmp_path: Path) -> None:
    out = run("validate", POLICY)
    assert out.returncode == 0, out.stderr
    # The bundled policy has no [graduation] table: the published defaults.
    assert (
        "  graduation: window cumulative, evidence point, demotion margin 0, reset on none\n"
        in out.stdout
    )
    policy = tmp_path / "grad.toml"
    policy.write_text(
        (ROOT / POLICY).read_text() + '\n[graduation]\nwindow = "30D"\nevidence = "anytime"\n'
        'alpha = 0.01\ndemotion_margin = 0.02\nreset_on = "agent_version"\n'
    )
    out = run("validate", str(policy))
    assert out.returncode == 0, out.stderr
    assert (
        "  graduation: window 30D, evidence anytime (alpha 0.01), demotion margin 0.02, "
        "reset on agent_version\n" in out.stdout
    )


def test_validate_checks_reset_on_against_the_history_and_blames_the_policy(
    tmp_path: Path,
) -> None:
    policy = tmp_path / "reset.toml"
    policy.write_text((ROOT / POLICY).read_text() + '\n[graduation]\nreset_on = "no_such_col"\n')
    # Without a history there is nothing to check it against.
    assert run("validate", str(policy)).returncode == 0
    for command in (
        ["validate", str(policy), "-H", HISTORY],
        ["replay", "-p", str(policy), "-H", HISTORY],
        ["diff", POLICY, str(policy), "-H", HISTORY],
    ):
        out = run(*command)
        one_line_error(
            out,
            f"error: {policy}: [graduation] reset_on: 'no_such_col' is not a column of the history",
        )
        assert out.stdout == ""
    # A column the history has passes.
    policy.write_text((ROOT / POLICY).read_text() + '\n[graduation]\nreset_on = "agent_version"\n')
    assert run("validate", str(policy), "-H", HISTORY).returncode == 0


def test_validate_history_with_unknown_actions(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("timestamp,action,passed\n2026-01-01,mystery,1\n")
    one_line_error(run("validate", POLICY, "--history", str(path)), "mystery")


def test_replay_table_and_timeline_csv(tmp_path: Path) -> None:
    out_csv = tmp_path / "timeline.csv"
    out = run("replay", "-p", POLICY, "-H", HISTORY, "--window", "30D", "--out", str(out_csv))
    assert out.returncode == 0, out.stderr
    assert "issue_refund" in out.stdout and "final_state" in out.stdout
    timeline = pd.read_csv(out_csv)
    assert {"action", "timestamp", "state_in_force", "state"} <= set(timeline.columns)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_replay_formats(fmt: str) -> None:
    out = run("replay", "-p", POLICY, "-H", HISTORY, "--format", fmt)
    assert out.returncode == 0, out.stderr
    if fmt == "json":
        rows = json.loads(out.stdout)
        assert len(rows) == 6 and "cases_while_manual" in rows[0]
    else:
        assert out.stdout.splitlines()[0].startswith("action,cases,final_state")


def test_the_forecast_table_fits_a_terminal_and_says_what_it_assumed() -> None:
    args = ["forecast", "-p", POLICY, "-H", HISTORY, "--window", "30D", "--sims", "300"]
    out = run(*args)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == (
        "graduating under window 30D, evidence point; horizon 90 days from the last eval "
        "(2026-07-03 15:56 UTC); 300 simulations"
    )
    header = lines[1].split()
    assert header == [
        "action",
        "state",
        "next",
        "P(horizon)",
        "if",
        "so:",
        "p10",
        "p50",
        "p90",
        "runs/day",
    ]
    table = lines[2:8]
    assert all(len(line) <= 100 for line in table), "the long texts are below the table"
    rows = {line.split()[0]: line.split() for line in table}
    assert rows["lookup_customer"][1:] == ["AUTONOMOUS", "—", "—", "—", "—", "—"]
    percent = rows["issue_refund"][3]
    assert percent.endswith("%") and 0 <= int(percent[:-1]) <= 100
    # The band is the one given graduation within the horizon, and says so.
    assert lines[8].endswith("within the horizon; if so: when (given_p10/p50/p90_date)")
    assert lines[9] == "blocked on:"
    assert "  lookup_customer: at its ceiling" in lines
    # Every column is still there on request, and the numbers agree.
    wide = run(*args, "--wide")
    assert "p_within_horizon" in wide.stdout and "blocked_on" in wide.stdout
    full = json.loads(run(*args, "--format", "json").stdout)
    p = {r["action"]: r["p_within_horizon"] for r in full}
    assert percent == f"{p['issue_refund']:.0%}"


def test_the_replay_table_says_which_window_and_rule_it_used() -> None:
    out = run("replay", "-p", POLICY, "-H", HISTORY, "--window", "500", "--evidence", "wilson")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == (
        "graduating under window 500 cases, evidence wilson (alpha 0.05)"
    )
    csv_out = run("replay", "-p", POLICY, "-H", HISTORY, "--format", "csv")
    assert csv_out.stdout.startswith("action,"), "machine formats carry no extra line"


def test_forecast_with_and_without_the_trend() -> None:
    args = ["forecast", "-p", POLICY, "-H", HISTORY, "--window", "30D", "--sims", "300"]
    moving = json.loads(run(*args, "--format", "json").stdout)
    still = json.loads(run(*args, "--no-trend", "--format", "json").stdout)
    p_moving = {r["action"]: r["p_within_horizon"] for r in moving}
    p_still = {r["action"]: r["p_within_horizon"] for r in still}
    assert p_moving.keys() == p_still.keys()
    assert p_moving != p_still  # the same seed, so the option is what differs


def test_sweep(tmp_path: Path) -> None:
    out_csv = tmp_path / "sweep.csv"
    out = run("sweep", "-p", POLICY, "-H", HISTORY, "--grid", GRID, "--out", str(out_csv))
    assert out.returncode == 0, out.stderr
    assert "540 candidates replayed, 0 skipped" in out.stderr
    assert "approval_burden" in out.stdout
    assert len(pd.read_csv(out_csv)) == 540 * 6


def test_forecast_json() -> None:
    out = run(
        "forecast",
        "-p",
        POLICY,
        "-H",
        HISTORY,
        "--horizon",
        "30D",
        "--seed",
        "3",
        "--sims",
        "200",
        "--format",
        "json",
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["action"] for r in rows} >= {"issue_refund", "read_ledger"}


def test_forecast_regime_column() -> None:
    # coding-agent-runs.csv: by default a change of agent_version starts a regime;
    # --regime run_id makes every run a regime of its own (its last run is run-70,
    # on 2026-06-22); a column the history lacks is one line, exit 2, under the flag.
    coding = ["-p", "datasets/coding-agent.policy.toml", "-H", "datasets/coding-agent-runs.csv"]
    base = ["forecast", *coding, "--sims", "50", "--horizon", "30D", "--format", "json", "-q"]
    default = json.loads(run(*base).stdout)
    assert {r["regime"].split(" = ")[0] for r in default} == {"agent_version"}
    by_run = run(*base, "--regime", "run_id")
    assert by_run.returncode == 0, by_run.stderr
    regimes = {r["regime"] for r in json.loads(by_run.stdout)}
    assert regimes == {"run_id = run-70 since 2026-06-22"}
    one_line_error(
        run("forecast", *coding, "--regime", "model", "-q"),
        "'--regime'",
        "'model' is not a column of the history",
        "agent_version",
    )
    # Without --regime, the column comes from --reset-on, and the error says so.
    one_line_error(
        run("forecast", *coding, "--reset-on", "model", "-q"),
        "'--reset-on'",
        "'model' is not a column of the history",
    )


def test_forecast_now() -> None:
    # coding-agent-runs.csv's last evidence is 2026-06-22 12:49:22; its window is
    # cumulative, so nothing changes without runs. Made 30 days later, a 30-day horizon
    # (counted from the last evidence) has no day left open: refused, saying so.
    coding = ["-p", "datasets/coding-agent.policy.toml", "-H", "datasets/coding-agent-runs.csv"]
    base = ["forecast", *coding, "--sims", "50", "--horizon", "30D", "--format", "json", "-q"]
    one_line_error(
        run(*base, "--now", "2026-07-22T12:49:22Z"),
        "'--now'",
        "is past the end of the horizon (2026-07-22 12:49 UTC: 30 days after the last eval)",
        "give a longer --horizon",
    )
    # Made 20 days later, 10 days are left: a forecast, the later the less likely.
    at, later = (
        json.loads(run(*base, *extra).stdout) for extra in ([], ["--now", "2026-07-12T12:49Z"])
    )
    p_at = {r["action"]: r["p_within_horizon"] for r in at if r["next_state"] and not r["note"]}
    p_later = {r["action"]: r["p_within_horizon"] for r in later if r["action"] in p_at}
    assert p_at and all(p_later[a] <= p_at[a] for a in p_at)
    one_line_error(
        run(*base, "--now", "2026-06-01"),
        "'--now'",
        "is before the last evidence of the history (2026-06-22 12:49:22+00:00)",
    )
    one_line_error(run(*base, "--now", "soon"), "'--now'", "'soon' is not a moment")


def test_report(tmp_path: Path) -> None:
    out = run(
        "report", "-p", POLICY, "-H", "datasets/agentdojo.csv", "--out", str(tmp_path / "r"), "-q"
    )
    one_line_error(out, "datasets/agentdojo.csv", "none of its action classes is defined")
    out = run("report", "-p", POLICY, "-H", HISTORY, "--out", str(tmp_path / "r"), "-q")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "r" / "index.html").exists()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["replay", "-p", POLICY, "-H", "missing.csv"], ["missing.csv", "no such file"]),
        (["replay", "-p", "missing.toml", "-H", HISTORY], ["missing.toml", "no such file"]),
        (["replay", "-p", POLICY, "-H", HISTORY, "--window", "soon"], ["window"]),
        (["sweep", "-p", POLICY, "-H", HISTORY, "--grid", "missing.toml"], ["missing.toml"]),
        (["forecast", "-p", POLICY, "-H", HISTORY, "--horizon", "0D"], ["horizon"]),
        (["replay", "-p", POLICY], ["--history"]),
        (["replay", "--nope"], ["--nope"]),
        (["frobnicate"], ["frobnicate"]),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], needles: list[str]) -> None:
    one_line_error(run(*args), *needles)


def test_bad_history_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,action,passed\n2026-01-01,issue_refund,maybe\n")
    one_line_error(
        run("replay", "-p", POLICY, "-H", str(path)),
        str(path),
        "row 1",
        "column 'passed'",
        "'maybe'",
    )


def test_bad_grid_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text('"supervised.speed" = [1]\n')
    one_line_error(
        run("sweep", "-p", POLICY, "-H", HISTORY, "--grid", str(path)),
        str(path),
        "supervised.speed",
    )


@pytest.mark.parametrize("command", ["validate", "replay", "sweep", "forecast", "report"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    out = run(command, "--help")
    assert out.returncode == 0
    assert "Example:" in out.stdout and f"warrantd {command}" in out.stdout


def test_traffic_with_an_action_the_policy_lacks_names_file_column_and_first_time(
    tmp_path: Path,
) -> None:
    # Before: "has action(s) the policy does not define: 'delete_database'", no column and
    # no way to find it. Rows are in time order once loaded: the first is 10:00, data row 2,
    # which the loader keeps and the message names.
    traffic = tmp_path / "traffic.csv"
    traffic.write_text(
        "timestamp,action,value\n"
        "2026-05-01T11:00:00Z,issue_refund,150\n"
        "2026-05-01T10:00:00Z,delete_database,\n"
        "2026-05-01T12:00:00Z,delete_database,\n"
    )
    out = run("replay", "-p", POLICY, "-H", HISTORY, "--traffic", str(traffic), "-q")
    one_line_error(out)
    assert out.stderr.strip() == (
        f"warrantd: error: {traffic}: row 2, column 'action': 'delete_database': an action "
        f"class {POLICY} does not define (2 rows, the first at 2026-05-01T10:00:00Z)"
    )


def test_replay_takes_traffic_and_approvals(tmp_path: Path) -> None:
    # Three requests of issue_refund on one day: 50 and 150 against auto_cap 100, 2,000
    # against hard_cap 1,000. Approvals: a single clean record, so the approval signal has
    # 1 sample, below every min_samples: MANUAL, whatever the evals earned.
    traffic = tmp_path / "traffic.csv"
    traffic.write_text(
        "timestamp,action,value\n"
        "2026-05-01T10:00:00Z,issue_refund,50\n"
        "2026-05-01T11:00:00Z,issue_refund,150\n"
        "2026-05-01T12:00:00Z,issue_refund,2000\n"
    )
    approvals = tmp_path / "approvals.csv"
    approvals.write_text("timestamp,action,outcome\n2026-04-01T09:00:00Z,issue_refund,approved\n")
    replay = ["replay", "-p", POLICY, "-H", HISTORY, "-w", "30D", "--traffic", str(traffic)]
    out = run(*replay, "--approvals", str(approvals), "--format", "csv", "-q")
    assert out.returncode == 0, out.stderr
    rows = {r["action"]: r for r in csv.DictReader(io.StringIO(out.stdout))}
    refund = rows["issue_refund"]
    assert (refund["requests"], refund["allowed"], refund["approval_burden"]) == ("3", "0", "2")
    assert refund["blocked"] == "1" and refund["held_back_by"] == "approvals"
    # Without the approvals, the evals alone (SUPERVISED by May) allow the 50.
    out = run(*replay, "--format", "csv", "-q")
    rows = {r["action"]: r for r in csv.DictReader(io.StringIO(out.stdout))}
    assert (rows["issue_refund"]["allowed"], rows["issue_refund"]["approval_burden"]) == ("1", "1")
    missing = run("replay", "-p", POLICY, "-H", HISTORY, "--approvals", str(tmp_path / "no.csv"))
    one_line_error(missing, "no.csv", "no such file")


def test_replay_says_which_classes_the_approvals_leave_without_records(tmp_path: Path) -> None:
    approvals = tmp_path / "approvals.csv"
    approvals.write_text(
        "timestamp,action,outcome\n"
        "2026-05-04T09:00:00Z,issue_refund,approved\n"
        "2026-05-05T17:30:00Z,issue_refund,approved\n"
    )
    out = run("replay", "-p", POLICY, "-H", HISTORY, "--approvals", str(approvals))
    assert out.returncode == 0, out.stderr
    assert (
        "approvals: no records for 5 of 6 classes ('cancel_subscription', 'lookup_customer', "
        "'read_ledger', 'send_invoice_email', 'update_billing_address'), which stay MANUAL; "
        "records only from 2026-05-04 09:00 to 2026-05-05 17:30"
    ) in out.stderr
    # A warning about the data: -q (progress and "wrote ..." notes) does not hide it.
    quiet = run("replay", "-p", POLICY, "-H", HISTORY, "--approvals", str(approvals), "-q")
    assert quiet.stderr == out.stderr


def test_replay_of_a_decision_log_says_what_would_change(tmp_path: Path) -> None:
    # Two requests of read_ledger the log records as sent for approval: a READ class is
    # always allowed, so the policy would have allowed both.
    log = tmp_path / "log.csv"
    log.write_text(
        "timestamp,action,verdict\n"
        "2026-05-01T10:00:00Z,read_ledger,REQUIRE_APPROVAL\n"
        "2026-05-01T11:00:00Z,read_ledger,REQUIRE_APPROVAL\n"
    )
    out = run("replay", "-p", POLICY, "-H", HISTORY, "--traffic", str(log), "-q")
    assert out.returncode == 0, out.stderr
    tail = out.stdout.strip().splitlines()[-2:]
    assert tail == [
        "against the verdicts the traffic records, this policy:",
        "read_ledger: would have allowed 2 of 2 requests that were sent for approval",
    ]


@pytest.mark.parametrize("command", ["replay", "sweep"])
def test_every_command_that_reads_traffic_warns_about_odd_traffic(
    tmp_path: Path, command: str
) -> None:
    traffic = tmp_path / "t.csv"
    traffic.write_text(
        "timestamp,action,tenant_id,value\n"
        "2026-02-01T00:00Z,issue_refund,acme,-50\n2026-02-01T01:00Z,issue_refund,acme,20\n"
    )
    args = [command, "-p", POLICY, "-H", HISTORY, "--traffic", str(traffic), "-q"]
    out = run(*args, *(["--grid", GRID] if command == "sweep" else []))
    assert out.returncode == 0, out.stderr
    assert (
        "traffic: 1 request(s) have a negative value (the first: issue_refund at "
        "2026-02-01 00:00 UTC, value -50); the gate compares it with the caps as given"
    ) in out.stderr.splitlines()
