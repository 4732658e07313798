"""The command line on messy input: nothing lost, every error says where, Ctrl-C is clean.

Each test reproduces a defect a user met (issue "Nothing lost, every error says
where, honest answers on messy real data") and pins the fixed behaviour.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "datasets" / "billing-agent.policy.toml"
RUNS = ROOT / "datasets" / "billing-agent-runs.csv"
GRID = ROOT / "datasets" / "billing-agent.grid.toml"
THOROUGH = bool(os.environ.get("WARRANTD_THOROUGH"))


def run(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warrantd.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def error_line(out: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The one error line of a failed run (exit 2, nothing on stdout, no traceback)."""
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert out.stdout == "", "nothing on stdout from a command that fails"
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- nothing lost


def test_report_into_a_folder_of_user_files_and_inputs_deletes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "project"
    (out / "src").mkdir(parents=True)
    (out / "src" / "main.py").write_text("print('mine')\n")
    (out / "README.md").write_text("# my project\n")
    shutil.copy(POLICY, out / "policy.toml")
    shutil.copy(RUNS, out / "history.csv")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    args = ["report", "-p", out / "policy.toml", "-H", out / "history.csv", "-q", "--out", out]
    error_line(run(*args), str(out), "holds files warrantd did not write", "--force")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    forced = run(*args, "--force")
    assert forced.returncode == 0, forced.stderr
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} changed"
    assert (out / "index.html").exists() and (out / "warrantd-manifest.json").exists()


def test_report_into_the_current_folder(tmp_path: Path) -> None:
    out = run("report", "-p", POLICY, "-H", RUNS, "-q", "--out", ".", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "index.html").exists()


def test_output_files_are_never_replaced_without_force(tmp_path: Path) -> None:
    target = tmp_path / "timeline.csv"
    target.write_text("my notes\n")
    error_line(
        run("replay", "-p", POLICY, "-H", RUNS, "--out", target),
        str(target),
        "already exists",
        "--force",
    )
    assert target.read_text() == "my notes\n"
    assert run("replay", "-p", POLICY, "-H", RUNS, "--out", target, "--force").returncode == 0
    assert target.read_text().startswith("action,timestamp")


def test_a_missing_output_folder_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    # A typo in a path must not leave a new tree of folders behind.
    typo = tmp_path / "typo" / "sub"
    error_line(
        run("replay", "-p", POLICY, "-H", RUNS, "--out", typo / "t.csv"),
        str(typo / "t.csv"),
        f"its folder {str(typo)!r} does not exist",
    )
    error_line(
        run("report", "-p", POLICY, "-H", RUNS, "--out", typo / "r"),
        str(typo / "r"),
        "does not exist; create it first",
    )
    assert list(tmp_path.iterdir()) == []
    # The report's own folder is made when only it is missing.
    assert run("report", "-p", POLICY, "-H", RUNS, "--out", tmp_path / "r").returncode == 0
    assert (tmp_path / "r" / "index.html").exists()


def test_an_unwritable_destination_fails_before_the_work(tmp_path: Path) -> None:
    started = time.monotonic()
    line = error_line(
        run("sweep", "-p", POLICY, "-H", RUNS, "--grid", GRID, "--out", "/proc/x.csv"),
        "/proc/x.csv: cannot be written",
    )
    assert ".tmp" not in line, "the message names the destination, not a temporary file"
    # The grid is checked and the sweep (several seconds) never starts.
    assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- errors say where


def test_broken_json_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    good = '{"timestamp": "2026-01-01", "action": "issue_refund", "passed": true}\n'
    path.write_text(good + good + '{"timestamp": "2026-01-02" "action": "x"}\n')
    error_line(run("validate", POLICY, "-H", path), f"{path}: line 3: not valid JSON")


def test_a_json_scalar_says_what_was_expected(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_text("42\n")
    error_line(
        run("validate", POLICY, "-H", path), f"{path}: holds a JSON number: expected an array"
    )


def test_a_doubled_history_is_refused_unless_kept_and_then_validate_says_so(
    tmp_path: Path,
) -> None:
    # Trial 2 #1: a history concatenated with itself doubled every class's evidence with
    # "data quality: no problems found". Two cases, twice: data rows 3 and 4 repeat 1 and 2.
    path = tmp_path / "h.csv"
    cases = "2026-01-01T10:00:00Z,read_ledger,1,c1\n2026-01-01T11:00:00Z,read_ledger,0,c2\n"
    path.write_text("timestamp,action,passed,case_id\n" + cases + cases)
    line = error_line(run("validate", POLICY, "-H", path))
    assert line == (
        f"warrantd: error: {path}: row 3, column 'case_id': 'c1': repeats row 1 (same action, "
        "case_id and timestamp); 2 rows repeat an earlier row, as a doubled export does, and "
        "would count as evidence twice: remove them, or keep them with --duplicates keep "
        "(duplicates='keep' in Python)"
    )
    out = run("validate", POLICY, "-H", path, "--duplicates", "keep")
    assert out.returncode == 0, out.stderr
    assert (
        "  - 2 row(s) repeat an earlier row's eval case (same action, case_id and timestamp): "
        "each counts again as evidence, as a doubled export would\n"
    ) in out.stdout


def test_an_undecodable_csv_names_row_and_column_and_suggests_an_encoding(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    text = "timestamp,action,passed\n2026-01-01,issue_refund,1\n2026-01-02,caf\xe9,1\n"
    path.write_bytes(text.encode("latin-1"))
    error_line(
        run("validate", POLICY, "-H", path),
        f"{path}: row 2, column 'action': b'caf\\xe9'",
        "--encoding latin-1",
    )
    out = run("validate", POLICY, "-H", path, "--encoding", "latin-1")
    error_line(
        out, f"{path}: row 2, column 'action': 'café': an action class {POLICY} does not define"
    )


def test_a_binary_policy_names_its_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    error_line(run("validate", path), f"{path}: not a UTF-8 text file")


def test_an_action_missing_from_the_policy_names_both_files(tmp_path: Path) -> None:
    # Blamed on the history (it was on the policy), with the column, the value and when it
    # first appears, and that row in the file (a loaded history is in time order; the
    # loader keeps each action's first row): the mystery rows are data rows 2 and 3, the
    # first at 2 January.
    path = tmp_path / "h.csv"
    path.write_text(
        "timestamp,action,passed\n2026-01-03,read_ledger,1\n"
        "2026-01-02,mystery\x00,1\n2026-01-04,mystery\x00,0\n"
    )
    line = error_line(run("replay", "-p", POLICY, "-H", path))
    assert line == (
        f"warrantd: error: {path}: row 2, column 'action': 'mystery\\x00': an action class "
        f"{POLICY} does not define (2 rows, the first at 2026-01-02T00:00:00Z)"
    )
    # Read through --column, the column is named as the file has it.
    path.write_text("timestamp,tool,passed\n2026-01-05T10:30:00Z,mystery,1\n")
    line = error_line(run("validate", POLICY, "-H", path, "--column", "action=tool"))
    assert line == (
        f"warrantd: error: {path}: row 1, column 'tool': 'mystery': an action class {POLICY} "
        "does not define (1 row, the first at 2026-01-05T10:30:00Z)"
    )


def test_horizon_in_days_and_its_errors() -> None:
    ok = run("forecast", "-p", POLICY, "-H", RUNS, "--horizon", "30", "--sims", "50", "-q")
    assert ok.returncode == 0, ok.stderr
    error_line(
        run("forecast", "-p", POLICY, "-H", RUNS, "--horizon", "90s"),
        "--horizon",
        "not a whole number of days",
    )
    error_line(
        run("forecast", "-p", POLICY, "-H", RUNS, "--horizon", "36500D"),
        "--horizon",
        "longer than 3650 days",
    )


def test_a_negative_seed_names_the_option() -> None:
    error_line(run("forecast", "-p", POLICY, "-H", RUNS, "--seed", "-1"), "--seed", "-1")


def test_a_negative_count_is_one_problem(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("timestamp,action,n,n_passed\n2026-01-01,issue_refund,-1,0\n")
    line = error_line(run("validate", POLICY, "-H", path))
    assert line == f"warrantd: error: {path}: row 1, column 'n': '-1': negative count"


def test_many_problems_print_a_summary_then_one_line_each(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(
        "timestamp,action,passed\n" + "".join(f"2026-01-01,a,x{i}\n" for i in range(25))
    )
    out = run("validate", POLICY, "-H", path)
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    assert lines[0] == f"warrantd: error: {path}: 25 problems (the first 20 shown):"
    assert len(lines) == 21 and all(line.startswith("  row ") for line in lines[1:])
    assert max(len(line) for line in lines[1:]) < 120  # the first line holds the path


def test_a_library_bug_is_not_reported_as_bad_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import warrantd.analytics.replay  # noqa: F401 - loads the module named like its function
    from warrantd.cli import main

    replay_module = sys.modules["warrantd.analytics.replay"]

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(replay_module, "replay", broken)
    with pytest.raises(SystemExit) as info:
        main(["replay", "-p", str(POLICY), "-H", str(RUNS)])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error: KeyError is a bug in warrantd" in err


def test_a_missing_optional_extra_is_one_line_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without inspect-ai, reading Inspect logs is a setup step to do (exit 2), not a bug."""
    from warrantd.cli import main

    monkeypatch.setitem(sys.modules, "inspect_ai", None)  # import inspect_ai now fails
    logs = ROOT / "datasets" / "support-agent-evals" / "inspect"
    policy = ROOT / "datasets" / "support-agent.policy.toml"
    with pytest.raises(SystemExit) as info:
        main(["replay", "--format", "inspect", "-p", str(policy), "-H", str(logs)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err == (
        "warrantd: error: reading Inspect AI logs needs the inspect-ai package: "
        "pip install 'warrantd[inspect]'\n"
    )
    # --debug adds the traceback, and it is still a setup step (2), not a bug (1).
    with pytest.raises(SystemExit) as info:
        main(["replay", "--debug", "--format", "inspect", "-p", str(policy), "-H", str(logs)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "is a bug" not in err
    assert err.endswith("pip install 'warrantd[inspect]'\n")


# --------------------------------------------------------------------------- CLI


def test_bare_warrantd_prints_help_and_exits_0() -> None:
    out = run()
    assert out.returncode == 0 and out.stderr == ""
    assert "Usage: warrantd" in out.stdout and "Commands:" in out.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["validate", POLICY, "-H", RUNS],
        ["replay", "-p", POLICY, "-H", RUNS],
        ["forecast", "-p", POLICY, "-H", RUNS, "--sims", "50"],
    ],
    ids=lambda a: str(a[0]),
)
def test_every_command_takes_quiet(args: list[object]) -> None:
    loud, quiet = run(*args), run(*args, "-q")
    assert loud.returncode == quiet.returncode == 0, quiet.stderr
    # Not a terminal: no progress either way; replay keeps its warning that no traffic
    # was given (validate and forecast have nothing to warn about here).
    warning = "no --traffic: each eval case stands in for one request without a value\n"
    assert quiet.stderr == loud.stderr == (warning if args[0] == "replay" else "")


def test_quiet_drops_the_wrote_note_and_keeps_every_warning(tmp_path: Path) -> None:
    """-q silences "wrote ..." only: the no-traffic caveat and the approvals' coverage
    warning (every class without approval records stays MANUAL) show either way."""
    approvals = tmp_path / "approvals.csv"
    approvals.write_text("timestamp,action,outcome\n2026-05-04T09:00:00Z,issue_refund,approved\n")
    args = ["replay", "-p", POLICY, "-H", RUNS, "--approvals", approvals]
    loud = run(*args, "--out", tmp_path / "loud.csv")
    quiet = run(*args, "--out", tmp_path / "quiet.csv", "-q")
    assert loud.returncode == quiet.returncode == 0, quiet.stderr
    warnings = [
        "no --traffic: each eval case stands in for one request without a value",
        "approvals: no records for 5 of 6 classes ('cancel_subscription', 'lookup_customer', "
        "'read_ledger', 'send_invoice_email', 'update_billing_address'), which stay MANUAL; "
        "records only from 2026-05-04 09:00 to 2026-05-04 09:00",
    ]
    rows = len((tmp_path / "loud.csv").read_text().splitlines()) - 1
    assert loud.stderr.splitlines() == [
        *warnings,
        f"wrote {rows:,} rows to {tmp_path / 'loud.csv'}",
    ]
    assert quiet.stderr.splitlines() == warnings
    assert (tmp_path / "quiet.csv").read_bytes() == (tmp_path / "loud.csv").read_bytes()


def test_validate_prints_nothing_when_the_history_then_fails(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("timestamp,action,passed\n2026-01-01,issue_refund,maybe\n")
    error_line(run("validate", POLICY, "-H", path), "row 1, column 'passed'")


def test_columns_can_be_renamed(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("when,action_class,ok\n2026-01-01,issue_refund,1\n2026-01-02,issue_refund,0\n")
    renamed = ["--column", "timestamp=when", "--column", "action=action_class"]
    out = run("validate", POLICY, "-H", path, *renamed, "--column", "passed=ok")
    assert out.returncode == 0, out.stderr
    assert "2 rows, 2 cases" in out.stdout
    error_line(
        run("validate", POLICY, "-H", path, *renamed, "--column", "passed=okay"),
        "the column mapping (--column / column_map) names column(s) the file lacks: 'okay'",
    )
    error_line(run("validate", POLICY, "-H", path, "--column", "action"), "--column", "NEW=OLD")


def test_a_grid_with_no_valid_candidate_is_one_clear_error(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('"supervised.pass_rate" = [0.99]\n"autonomous.pass_rate" = [0.9]\n')
    for command in ("sweep", "report"):
        out = run(command, "-p", POLICY, "-H", RUNS, "--grid", grid, "--out", tmp_path / "o", "-q")
        error_line(out, f"{grid}: no valid candidate", "AUTONOMOUS pass_rate below SUPERVISED")
    assert not (tmp_path / "o").exists()


def test_a_grid_value_true_is_not_a_rate(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text('"supervised.pass_rate" = [true]\n')
    error_line(
        run("sweep", "-p", POLICY, "-H", RUNS, "--grid", grid),
        f"{grid}: supervised.pass_rate: True is not a rate in [0, 1]",
    )


def test_sweep_prints_a_deduplicated_front_at_most_top_rows(tmp_path: Path) -> None:
    args = ["sweep", "-p", POLICY, "-H", RUNS, "--grid", GRID, "--window", "30D", "-q"]
    out = run(*args[:-1], "--top", "5", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = out.stdout.strip().splitlines()[1:]
    assert len(rows) == 5
    summary, unused, left_off = out.stderr.strip().splitlines()
    assert unused == "--window is not used: the grid sweeps its own window knob"
    assert summary.startswith("540 candidates replayed, 0 skipped")
    front_size = int(summary.rsplit(": ", 1)[1].split()[0])
    assert left_off.startswith(f"... {front_size - 5:,} more rows of the front left off")
    # -q: the same rows; on stderr only the warning about the options.
    quiet = run(*args, "--top", "5", "--format", "csv")
    assert quiet.stdout == out.stdout
    assert quiet.stderr.strip().splitlines() == [unused]
    everything = json.loads(run(*args, "--all", "--format", "json").stdout)
    assert len(everything) == front_size
    points = [(r["approval_burden"], r["failures_let_through"]) for r in everything]
    assert len(set(points)) == len(points), "each point of the front once"
    # --out gets every candidate and action, whatever --top says.
    table = tmp_path / "sweep.csv"
    assert run(*args, "--top", "1", "--out", table).returncode == 0
    assert len(table.read_text().splitlines()) == 540 * 6 + 1


def test_the_window_is_spelled_the_same_in_the_table_and_the_grid() -> None:
    out = run("sweep", "-p", POLICY, "-H", RUNS, "--grid", GRID, "--all", "-q")
    assert out.returncode == 0
    assert "None" not in out.stdout
    assert "cumulative" in out.stdout or "30D" in out.stdout


# --------------------------------------------------------------------------- Ctrl-C


def interrupt_after(
    args: list[object], delay: float, cwd: Path
) -> subprocess.CompletedProcess[str]:
    # The console script's own entry (what a user's Ctrl-C meets), which takes the
    # signal before the package loads; `python -m warrantd.cli` cannot.
    launcher = "import _warrantd_cli; _warrantd_cli.main()"
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


DELAYS = [0.1 + 0.35 * k for k in range(40)] if THOROUGH else [0.5, 1.0, 2.0, 3.5]


@pytest.mark.parametrize("delay", DELAYS)
def test_ctrl_c_is_one_line_exit_130_and_no_partial_output(tmp_path: Path, delay: float) -> None:
    history = ROOT / "datasets" / "billing-agent.csv"
    args = ["report", "-p", POLICY, "-H", history, "--grid", GRID, "--out", tmp_path / "r"]
    done = interrupt_after(args, delay, ROOT)
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert leftovers == [], "no temporary files left behind"
    if done.returncode == 0:  # the report finished before the signal arrived: it is whole
        manifest = json.loads((tmp_path / "r" / "warrantd-manifest.json").read_text())
        assert all((tmp_path / "r" / name).exists() for name in manifest["files"])
        return
    assert done.returncode == 130, done.stderr
    assert done.stderr == "warrantd: interrupted\n"
    assert done.stdout == ""
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- progress


def on_a_terminal(*args: object) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; (exit code, what the terminal showed)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    # A new pseudo-terminal is 0 x 0; give it a size, as a real one has.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "warrantd.cli", *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=follower,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(), shown.decode(errors="replace")


def test_progress_shows_each_step_on_a_terminal_and_never_with_quiet() -> None:
    args = ["sweep", "-p", POLICY, "-H", RUNS, "--grid", GRID]
    code, shown = on_a_terminal(*args)
    assert code == 0
    assert "load" in shown and "sweep 540 candidates" in shown
    code, shown = on_a_terminal(*args, "-q")
    assert code == 0 and "sweep 540 candidates" not in shown and "load" not in shown


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    # `warrantd ... | head -1`: stdout closed before the table is written. No
    # "error: Broken pipe", and the status a shell gives a SIGPIPE'd process.
    process = subprocess.Popen(
        [sys.executable, "-m", "warrantd.cli", "replay", "-p", POLICY, "-H", RUNS, "-q"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert err == "no --traffic: each eval case stands in for one request without a value\n"
