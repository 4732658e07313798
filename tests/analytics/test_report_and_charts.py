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
    assert "SHA-256 of inputs" in html and first.calibration is not None
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
    # Two changes undone within an hour (the demotion, then the promotion back).
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
    assert "1 (2 change(s) undone within an hour: see demotion_margin)" in html
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
