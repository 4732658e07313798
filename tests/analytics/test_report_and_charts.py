"""The HTML/Markdown report (determinism, escaping, atomicity) and the sample.

The charts themselves are tested in test_charts.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from warrantd import ActionClass, RiskTier, TrustPolicy, load_policy
from warrantd.analytics import charts, generate, load_history
from warrantd.analytics.report import build_report

from ..helpers import make_thresholds

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "reports" / "billing-agent"


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, TrustPolicy]:
    policy = load_policy(ROOT / "datasets" / "billing-agent.policy.toml")
    return load_history(generate(4, days=45)), policy


def test_report_files_and_determinism(
    small: tuple[pd.DataFrame, TrustPolicy], tmp_path: Path
) -> None:
    history, policy = small
    kwargs = {"n_sims": 200, "horizon": "20D", "backtest_cuts": ["2026-01-25"]}
    first = build_report(history, policy, tmp_path / "one", **kwargs)
    build_report(history, policy, tmp_path / "two", **kwargs)
    assert {
        "index.html",
        "report.md",
        "timeline.png",
        "pareto.png",
        "forecast.png",
        "metrics-01.png",
        "rules.png",
    } <= set(first.files)
    for name in first.files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    html = (tmp_path / "one" / "index.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert html.count("data:image/png;base64,") >= 4
    assert "SHA-256 of the history" in html and "SHA-256 of the policy" in html
    assert "<dt>traffic</dt><dd>none: each eval case stood in for one request</dd>" in html
    assert first.calibration is not None
    assert "Evidence rules compared" in html and "anytime" in html


def test_untrusted_action_names_are_escaped(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    h = load_history(
        pd.DataFrame(
            {
                "timestamp": pd.date_range("2026-01-01", periods=40, freq="6h", tz="UTC"),
                "action": evil,
                "passed": True,
            }
        )
    )
    policy = TrustPolicy(
        {evil: ActionClass(evil, RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 5), (0.95, 0.0, 20)),
    )
    build_report(h, policy, tmp_path / "r", n_sims=50, horizon="5D")
    html = (tmp_path / "r" / "index.html").read_text()
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = (tmp_path / "r" / "report.md").read_text()
    outside_code = md.split("```")[0]  # the policy's TOML code block comes last
    assert evil not in outside_code and "\\<script\\>" in outside_code


def test_a_state_flipping_back_within_the_hour_is_counted_and_timed_to_the_second(
    tmp_path: Path,
) -> None:
    # Bars 0.8 over at least 2 cases: pass, pass -> SUPERVISED at 00:05 (2/2); fail at
    # 00:10 -> 2/3 -> MANUAL; pass at 00:20 -> 3/4; pass at 00:30 -> 4/5 = 0.8 -> SUPERVISED.
    # One demotion; two quick reversals (SUPERVISED held 5 minutes, then MANUAL held 20).
    start = pd.Timestamp("2026-01-01", tz="UTC")
    minutes = [0, 5, 10, 20, 30]
    late = [start + pd.Timedelta(days=d) for d in range(2, 12)]  # passes, days later
    h = load_history(
        pd.DataFrame(
            {
                "timestamp": [start + pd.Timedelta(minutes=m) for m in minutes] + late,
                "action": "w",
                "passed": [True, True, False, True, True] + [True] * len(late),
            }
        )
    )
    policy = TrustPolicy(
        {"w": ActionClass("w", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 2), (0.99, 0.0, 100)),
    )
    build_report(h, policy, tmp_path / "r", n_sims=50, horizon="5D")
    html = (tmp_path / "r" / "index.html").read_text()
    assert "<dt>demotions</dt><dd>1</dd>" in html
    assert "<dt>quick reversals</dt><dd>2: a state held under an hour, then changed back" in html
    assert "<td>2026-01-01 00:10:00</td>" in html and "<td>2026-01-01 00:30:00</td>" in html


def test_a_failed_build_leaves_the_previous_report_untouched(
    small: tuple[pd.DataFrame, TrustPolicy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    history, policy = small
    out = tmp_path / "r"
    build_report(history, policy, out, n_sims=50, horizon="10D")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args: object, **kwargs: object) -> Figure:
        raise RuntimeError("chart failed")

    monkeypatch.setattr(charts, "forecast_chart", boom)
    with pytest.raises(RuntimeError, match="chart failed"):
        build_report(history, policy, out, n_sims=50, horizon="10D", title="changed")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"], "no staging directory left"


def test_committed_sample_report_regenerates_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "billing-agent"
    args = [
        "--policy",
        "datasets/billing-agent.policy.toml",
        "--history",
        "datasets/billing-agent.csv",
        "--traffic",
        "datasets/billing-agent.traffic.csv",
        "--grid",
        "datasets/billing-agent.grid.toml",
        "--window",
        "30D",
        "--title",
        "Billing agent: graduation report",
        "--out",
        str(out),
        "--quiet",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "warrantd.cli", "report", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    committed = sorted(p.name for p in SAMPLE.iterdir())
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in committed:
        assert (out / name).read_bytes() == (SAMPLE / name).read_bytes(), name


@pytest.mark.browser
def test_sample_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no system Chromium installed")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            (SAMPLE / "index.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 50_000


def test_verdicts_hold_requests_only_and_say_when_caps_let_none_through(tmp_path: Path) -> None:
    """'w' (auto_cap 0) is SUPERVISED from its second case (2 of 2 passed, bar 0.8 over 2);
    its three requests, with values 10, 20 and 30, each need a human: none allowed. Its one
    eval failure while open (day 6) is an eval case, not a request: it is in the summary as
    "eval failures while open", not beside "allowed" in the verdicts."""
    start = pd.Timestamp("2026-01-01", tz="UTC")
    days = range(10)
    h = load_history(
        pd.DataFrame(
            {
                "timestamp": [start + pd.Timedelta(days=d) for d in days],
                "action": "w",
                "passed": [d != 6 for d in days],
            }
        )
    )
    traffic = pd.DataFrame(
        {
            "timestamp": [start + pd.Timedelta(days=5, hours=h) for h in (1, 2, 3)],
            "action": "w",
            "value": [10.0, 20.0, 30.0],
        }
    )
    policy = TrustPolicy(
        {"w": ActionClass("w", RiskTier.REVERSIBLE_WRITE, auto_cap=0)},
        make_thresholds((0.8, 0.0, 2), (0.99, 0.0, 100)),
    )
    done = build_report(h, policy, tmp_path / "r", traffic=traffic, n_sims=50, horizon="5D")
    assert float(done.replay.summary["failures_let_through"].iloc[0]) == 1
    md = (tmp_path / "r" / "report.md").read_text()
    verdicts = md.split("## Verdicts")[1].split("## Data quality")[0]
    assert "| action | requests | allowed | needed approval | blocked |" in verdicts
    assert "| w | 3 | 0 | 3 | 0 |" in verdicts and "failures" not in verdicts.split("\n\n")[2]
    assert (
        "- w: SUPERVISED or above for 3 of its 3 requests, yet none allowed: its caps sent "
        "each one to a human or blocked it" in verdicts
    )
    summary = md.split("## Summary")[1].split("## Verdicts")[0]
    assert "| approval burden | eval failures while open |" in summary
    html = (tmp_path / "r" / "index.html").read_text()
    assert "<dt>eval failures while open</dt><dd>1 (0 adversarial)</dd>" in html


def test_without_a_simulated_class_the_forecast_chart_is_left_out_and_said_why(
    tmp_path: Path,
) -> None:
    """Evidence on 3 days (fewer than the 5 a forecast needs): no class is simulated, so no
    empty chart titled "2,000 simulations"; the section says why there is none."""
    h = load_history(
        pd.DataFrame(
            {
                "timestamp": pd.date_range("2026-01-01", periods=30, freq="2h", tz="UTC"),
                "action": "w",
                "passed": True,
            }
        )
    )
    policy = TrustPolicy(
        {"w": ActionClass("w", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 100), (0.95, 0.0, 200)),
    )
    done = build_report(h, policy, tmp_path / "r", n_sims=50, horizon="5D")
    assert done.forecast.cdfs == {}
    assert "forecast.png" not in done.files and not (tmp_path / "r" / "forecast.png").exists()
    md = (tmp_path / "r" / "report.md").read_text()
    assert "![Forecast]" not in md
    assert (
        "No forecast chart: no action was simulated (the table's blocked on column says why)." in md
    )
    html = (tmp_path / "r" / "index.html").read_text()
    assert "No forecast chart: no action was simulated" in html and "Forecast: probab" not in html
    # The chart itself, drawn on its own, no longer claims simulations it did not run.
    fig = charts.forecast_chart(done.forecast)
    assert fig.axes[0].get_title() == "Graduation forecast: no class simulated"


def test_policy_and_data_give_every_input_file_and_its_own_digest(tmp_path: Path) -> None:
    """History, policy and traffic files are each listed with the SHA-256 of their bytes
    (what sha256sum and `warrantd diff` print), not one combined digest."""
    import hashlib

    from warrantd.analytics import load_traffic

    files = {
        "history": ROOT / "datasets" / "billing-agent-runs.csv",
        "policy": ROOT / "datasets" / "billing-agent.policy.toml",
        "traffic": ROOT / "datasets" / "billing-agent.traffic.csv",
    }
    done = build_report(
        load_history(files["history"]),
        load_policy(files["policy"]),
        tmp_path / "r",
        traffic=load_traffic(files["traffic"]),
        sources={k: str(v) for k, v in files.items()},
        n_sims=50,
        horizon="10D",
        backtest_cuts=[],
    )
    md = (tmp_path / "r" / "report.md").read_text().split("## Policy & data")[1]
    for name, path in files.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"- **{name}**: {str(path).replace('_', chr(92) + '_')}" in md
        assert f"- **SHA-256 of the {name}**: {digest}" in md
    assert "SHA-256 of inputs" not in md and done.files


def test_digests_are_of_the_inputs_as_read_not_as_they_are_when_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history file is appended to while the report is forecasting: the report's
    digest is of the file that was read, taken before the work. (Checked to fail when
    the digest is taken as the report is written.)"""
    import hashlib

    import warrantd.analytics.report as report

    history = tmp_path / "h.csv"
    shutil.copy(ROOT / "datasets" / "billing-agent-runs.csv", history)
    read = hashlib.sha256(history.read_bytes()).hexdigest()
    real_forecast = report.forecast

    def forecast_while_the_file_changes(*args, **kwargs):  # type: ignore[no-untyped-def]
        with history.open("a") as f:
            f.write("\n")
        return real_forecast(*args, **kwargs)

    monkeypatch.setattr(report, "forecast", forecast_while_the_file_changes)
    build_report(
        load_history(history),
        load_policy(ROOT / "datasets" / "billing-agent.policy.toml"),
        tmp_path / "r",
        sources={"history": str(history)},
        n_sims=50,
        horizon="10D",
        backtest_cuts=[],
    )
    md = (tmp_path / "r" / "report.md").read_text()
    assert f"- **SHA-256 of the history**: {read}" in md
    assert hashlib.sha256(history.read_bytes()).hexdigest() != read
