"""Charts, the HTML/Markdown report (determinism, escaping, atomicity) and the sample."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from warrantd import ActionClass, RiskTier, TrustPolicy, load_policy
from warrantd.analytics import charts, generate, load_history
from warrantd.analytics.forecast import forecast
from warrantd.analytics.replay import replay
from warrantd.analytics.report import build_report
from warrantd.analytics.sweep import sweep

from ..helpers import make_thresholds

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "reports" / "billing-agent"


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, TrustPolicy]:
    policy = load_policy(ROOT / "datasets" / "billing-agent.policy.toml")
    return load_history(generate(4, days=45)), policy


def test_every_chart_is_a_labelled_figure(
    small: tuple[pd.DataFrame, TrustPolicy], tmp_path: Path
) -> None:
    history, policy = small
    r = replay(history, policy, window="14D")
    s = sweep(
        history,
        policy,
        {"supervised.pass_rate": [0.7, 0.8], "supervised.min_samples": [20, 80]},
        progress=False,
    )
    figures = [
        charts.state_timeline_chart(r),
        charts.metrics_chart(r, "issue_refund"),
        charts.sweep_heatmap(s, "supervised.pass_rate", "supervised.min_samples"),
        charts.pareto_chart(s, (100.0, 10.0)),
        charts.forecast_chart(forecast(history, policy, n_sims=100, horizon="20D")),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        axes = fig.get_axes()
        assert axes[0].get_title() and any(ax.get_xlabel() for ax in axes)
    charts.save(figures[0], tmp_path / "a.png")
    charts.save(figures[0], tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no history"):
        charts.metrics_chart(r, "nope")


def test_heatmap_outlines_the_held_candidate_cell(small: tuple[pd.DataFrame, TrustPolicy]) -> None:
    history, policy = small
    grid = {"supervised.pass_rate": [0.7, 0.8, 0.9], "supervised.min_samples": [20, 80]}
    s = sweep(history, policy, grid, progress=False)
    held = {"supervised.pass_rate": 0.8, "supervised.min_samples": 80}
    fig = charts.sweep_heatmap(
        s, "supervised.pass_rate", "supervised.min_samples", fixed=held, mark="policy in force"
    )
    ax = fig.get_axes()[0]
    outlines = [p for p in ax.patches if not p.get_fill() and p.get_linewidth() > 1]
    # Pass rates run 0.7, 0.8, 0.9 left to right and samples 20, 80 bottom to top:
    # the outlined cell is column 1, row 1, its lower-left corner at (0.5, 0.5).
    assert outlines and {p.get_xy() for p in outlines} == {(0.5, 0.5)}
    assert any("outlined: policy in force" in t.get_text() for t in ax.texts)
    unmarked = charts.sweep_heatmap(s, "supervised.pass_rate", "supervised.min_samples")
    assert not [p for p in unmarked.get_axes()[0].patches if p.get_linewidth() > 1]


def test_date_axes_over_years_draw_without_warnings() -> None:
    # The AgentDojo history spans 2021-09 to 2025-02: no default monthly step gave
    # 4-8 ticks, and matplotlib warned on every chart of it.
    history = load_history("datasets/agentdojo.csv")
    policy = TrustPolicy(
        {a: ActionClass(a, RiskTier.REVERSIBLE_WRITE) for a in history["action"].unique()},
        make_thresholds((0.5, 0.8, 500), (0.7, 0.95, 1000)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = charts.state_timeline_chart(replay(history, policy))
        fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert labels == ["2022", "2023", "2024", "2025"]


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
    } <= set(first.files)
    for name in first.files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    html = (tmp_path / "one" / "index.html").read_text()
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert html.count("data:image/png;base64,") >= 4
    assert "SHA-256 of inputs" in html and first.calibration is not None


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
