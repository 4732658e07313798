"""Charts on real-shaped data: behaviour read back from the figures, not pixels.

Histories: the bundled billing agent (30-day window), the AgentDojo leaderboard
(24 classes, one run dated three years before the rest), 50 synthetic classes,
the billing agent with one class's first run moved back three years, and
histories with no adversarial cases or classes with no evidence at all.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import random
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kiwisolver
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from warrantd import ActionClass, AutonomyState, RiskTier, TrustPolicy, load_policy
from warrantd.analytics import charts, generate, load_history, synth
from warrantd.analytics.forecast import Forecast, forecast
from warrantd.analytics.replay import Replay, replay
from warrantd.analytics.sweep import SweepResult, sweep

from ..helpers import make_thresholds

ROOT = Path(__file__).resolve().parents[2]
DATASETS = ROOT / "datasets"


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def billing() -> tuple[pd.DataFrame, TrustPolicy]:
    return (
        load_history(DATASETS / "billing-agent.csv"),
        load_policy(DATASETS / "billing-agent.policy.toml"),
    )


@pytest.fixture(scope="module")
def billing_replay(billing: tuple[pd.DataFrame, TrustPolicy]) -> Replay:
    return replay(*billing, window="30D")


def agentdojo_policy(history: pd.DataFrame) -> TrustPolicy:
    """Every AgentDojo configuration as a reversible-write class (no policy ships)."""
    return TrustPolicy(
        {a: ActionClass(a, RiskTier.REVERSIBLE_WRITE) for a in history["action"].unique()},
        make_thresholds((0.5, 0.8, 500), (0.7, 0.95, 1000)),
    )


@pytest.fixture(scope="module")
def agentdojo() -> tuple[pd.DataFrame, TrustPolicy]:
    history = load_history(DATASETS / "agentdojo.csv")
    return history, agentdojo_policy(history)


@pytest.fixture(scope="module")
def fifty() -> tuple[pd.DataFrame, TrustPolicy]:
    history = load_history(generate(11, profiles=synth.random_profiles(50), days=180))
    policy = TrustPolicy(
        {
            f"action_{i:03d}": ActionClass(f"action_{i:03d}", RiskTier.REVERSIBLE_WRITE)
            for i in range(50)
        },
        load_policy(DATASETS / "billing-agent.policy.toml").thresholds,
    )
    return history, policy


@pytest.fixture(scope="module")
def fifty_forecast(fifty: tuple[pd.DataFrame, TrustPolicy]) -> Forecast:
    return forecast(*fifty, window="30D", horizon="30D", n_sims=100)


def with_outlier(
    history: pd.DataFrame, action: str, years: int = 3, run: str = "first"
) -> pd.DataFrame:
    """``history`` with ``action``'s first (or last) eval run, the cases within a minute
    of its first (last) case, moved back ``years`` (forward, when negative)."""
    out = history.copy()
    mine = out["action"] == action
    if run == "first":
        edge = out.loc[mine, "timestamp"].min()
        moved = mine & (out["timestamp"] < edge + pd.Timedelta(minutes=1))
    else:
        edge = out.loc[mine, "timestamp"].max()
        moved = mine & (out["timestamp"] > edge - pd.Timedelta(minutes=1))
    out.loc[moved, "timestamp"] = out.loc[moved, "timestamp"] - pd.DateOffset(years=years)
    return load_history(out.sort_values("timestamp", kind="stable").reset_index(drop=True))


@pytest.fixture(scope="module")
def outlier(billing: tuple[pd.DataFrame, TrustPolicy]) -> Replay:
    history, policy = billing
    return replay(with_outlier(history, "lookup_customer"), policy, window="30D")


# --------------------------------------------------------------------------- reading figures


def drawn(fig: Figure) -> Any:
    """Draw ``fig`` (warnings are errors) and return its renderer."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.canvas.draw()
    return fig.canvas.get_renderer()  # type: ignore[attr-defined]


def inside(box: Bbox, outer: Bbox, slack: float = 1.0) -> bool:
    return (
        box.x0 >= outer.x0 - slack
        and box.y0 >= outer.y0 - slack
        and box.x1 <= outer.x1 + slack
        and box.y1 <= outer.y1 + slack
    )


def assert_fits_canvas(fig: Figure) -> None:
    """Every axes with its labels, titles and notes, every legend and figure label lies
    inside the canvas."""
    renderer = drawn(fig)
    for ax in fig.axes:
        box = ax.get_tightbbox(renderer)
        assert box is not None and inside(box, fig.bbox), (ax.get_title(), box, fig.bbox)
    for legend in fig.legends:
        assert inside(legend.get_window_extent(renderer), fig.bbox)
    for text in fig.texts:
        if text.get_text():
            assert inside(text.get_window_extent(renderer), fig.bbox), text.get_text()


def notes(fig: Figure) -> str:
    """Every piece of text on the figure's axes (titles, notes, labels), in one string."""
    parts = []
    for ax in fig.axes:
        parts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        parts += [t.get_text() for t in ax.texts]
    return "\n".join(parts)


def data_points(ax: Axes) -> np.ndarray:
    """Display coordinates of every vertex the axes draws (lines, bars, bands, points)."""
    points = [np.empty((0, 2))]
    for line in ax.get_lines():
        xy = line.get_xydata()
        assert isinstance(xy, np.ndarray)
        points.append(line.get_transform().transform(xy[np.isfinite(xy).all(axis=1)]))
    for collection in ax.collections:
        transform = collection.get_transform()
        for path in collection.get_paths():
            vertices = path.vertices[np.isfinite(path.vertices).all(axis=1)]
            points.append(transform.transform(vertices))
        offsets = np.asarray(collection.get_offsets())
        if len(offsets):
            points.append(collection.get_offset_transform().transform(offsets))
    return np.vstack(points)


def class_curves(fig: Figure) -> dict[str, tuple[int, str]]:
    """Forecast curves by class: (axes index, colour) of the one curve naming each class."""
    out: dict[str, tuple[int, str]] = {}
    for i, ax in enumerate(fig.axes):
        curves = [
            line
            for line in ax.get_lines()
            if len(line.get_xdata()) > 2 and line.get_gid() != "given-band"
        ]
        for line in curves:
            label = str(line.get_label())
            if label.startswith("_"):  # a panel of its own: the panel title names it
                label = ax.get_title()
            name = label.replace("\n", "").split("→")[0].strip()
            out[name] = (i, str(line.get_color()))
    return out


# --------------------------------------------------------------------------- every chart


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, TrustPolicy]:
    return load_history(generate(4, days=45)), load_policy(DATASETS / "billing-agent.policy.toml")


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


def every_chart(result: Replay, fc: Forecast, actions: int = 2) -> Iterator[Figure]:
    yield charts.state_timeline_chart(result)
    for action in list(result.summary["action"])[:actions]:
        yield charts.metrics_chart(result, action)
    yield charts.forecast_chart(fc)


@pytest.mark.parametrize("name", ["billing", "agentdojo", "outlier"])
def test_charts_draw_without_warnings_and_fit_the_canvas(
    name: str,
    billing: tuple[pd.DataFrame, TrustPolicy],
    agentdojo: tuple[pd.DataFrame, TrustPolicy],
    outlier: Replay,
) -> None:
    if name == "billing":
        history, policy = billing
        result = replay(history, policy, window="30D")
    elif name == "agentdojo":
        history, policy = agentdojo
        result = replay(history, policy)
    else:
        result = outlier
        history, policy = result.history, result.policy
    fc = forecast(history, policy, window=result.window, horizon="30D", n_sims=50)
    for fig in every_chart(result, fc):
        assert_fits_canvas(fig)


def test_legends_sit_outside_the_data(
    billing_replay: Replay, agentdojo: tuple[pd.DataFrame, TrustPolicy], small: Any
) -> None:
    history, policy = small
    s = sweep(
        history,
        policy,
        {"supervised.pass_rate": [0.7, 0.8, 0.9], "supervised.min_samples": [20, 80]},
        progress=False,
    )
    dojo = replay(*agentdojo)
    figures = [
        charts.state_timeline_chart(billing_replay),
        charts.metrics_chart(billing_replay, "cancel_subscription"),
        charts.metrics_chart(dojo, "claude-3-5-sonnet-20240620"),  # one run: one step
        charts.pareto_chart(s, (100.0, 10.0)),
        charts.forecast_chart(forecast(*small, n_sims=50, horizon="20D")),
    ]
    for fig in figures:
        renderer = drawn(fig)
        legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
        assert legends, "every one of these charts has a legend"
        for legend in legends:
            box = legend.get_window_extent(renderer)
            for ax in fig.axes:
                assert not box.overlaps(ax.bbox), f"legend on the axes of {ax.get_title()!r}"
                points = data_points(ax)
                covered = (
                    (points[:, 0] > box.x0)
                    & (points[:, 0] < box.x1)
                    & (points[:, 1] > box.y0)
                    & (points[:, 1] < box.y1)
                )
                assert not covered.any()


# --------------------------------------------------------------------------- forecast


def test_forecast_curves_of_a_few_classes_each_get_their_own_colour(
    billing: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    history, policy = billing
    fc = forecast(history, policy, window="30D", horizon="30D", n_sims=50)
    fig = charts.forecast_chart(fc)
    curves = class_curves(fig)
    assert set(curves) == set(fc.cdfs)
    colours = [colour for _, colour in curves.values()]
    assert len(set(colours)) == len(colours)
    assert "#F0E442" not in colours  # yellow does not read as a line on white
    # The legend names each class, ordered by its final probability, top curve first.
    labels = [t.get_text().replace("\n", "") for t in fig.legends[0].get_texts()]
    final = {a: c["probability"].iloc[-1] for a, c in fc.cdfs.items()}
    assert [label.split(" → ")[0] for label in labels] == sorted(final, key=lambda a: -final[a])
    # Each curve carries the band the table shows: thick from its given 10th to 90th
    # percentile day, a dot on its given median.
    bands = [line for line in fig.axes[0].get_lines() if line.get_gid() == "given-band"]
    for action in fc.cdfs:
        row = fc.table.set_index("action").loc[action]
        k10, k50, k90 = (
            round((row[f"given_p{q}_date"] - fc.as_of) / pd.Timedelta(days=1)) for q in (10, 50, 90)
        )
        colour = curves[action][1]
        mine = [line for line in bands if line.get_color() == colour]
        stretch, dot = (line.get_xdata() for line in mine)
        assert (min(stretch), max(stretch), list(dot)) == (k10, k90, [k50])


def test_an_agentdojo_forecast_names_the_classes_it_could_not_simulate(
    agentdojo: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    # Every leaderboard class has evidence on fewer than 5 days: none is simulated, and
    # the chart says so instead of drawing invented curves.
    fc = forecast(*agentdojo, horizon="30D", n_sims=50)
    assert fc.cdfs == {}
    fig = charts.forecast_chart(fc)
    assert_fits_canvas(fig)
    assert "Not simulated (no curve)" in notes(fig)


def test_a_forecast_without_curves_does_not_say_every_class_is_at_its_ceiling(
    agentdojo: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    # Three classes capped at SUPERVISED, which they hold: at their ceiling. The other
    # 21 are not simulated (evidence on one day). The chart used to say "every action
    # is at its ceiling" in the middle, and dropped the note naming the three.
    history, policy = agentdojo
    capped = ["claude-3-5-sonnet-20241022", "gemini-1.5-pro-002", "gpt-4o-2024-05-13"]
    policy = TrustPolicy(
        {
            a: dataclasses.replace(c, max_state=AutonomyState.SUPERVISED) if a in capped else c
            for a, c in policy.actions.items()
        },
        policy.thresholds,
    )
    fc = forecast(history, policy, horizon="30D", n_sims=50)
    assert fc.cdfs == {}
    assert sorted(fc.table.loc[fc.table["next_state"] == "", "action"]) == capped
    fig = charts.forecast_chart(fc)
    assert_fits_canvas(fig)
    text = notes(fig).replace("\n", " ")
    assert "every action is at its ceiling" not in text
    assert "no class was simulated" in text
    assert "21 of 24 not simulated" in text and "3 at their ceiling" in text
    assert "At their ceiling, nothing to forecast: " + ", ".join(capped[:2]) in text
    assert "Not simulated (no curve)" in text and "only 1 distinct day" in text  # and why
    # When it is true, it is still said.
    top = dataclasses.replace(fc, table=fc.table[fc.table["action"].isin(capped)])
    assert "every action is at its ceiling" in notes(charts.forecast_chart(top))


def few_classes(fc: Forecast, n: int) -> Forecast:
    """``fc`` with only its first ``n`` simulated classes."""
    kept = dict(list(fc.cdfs.items())[:n])
    return dataclasses.replace(fc, cdfs=kept, table=fc.table[fc.table["action"].isin(kept)])


@pytest.mark.parametrize("n", [4, 7])
def test_forecast_curves_are_not_black_and_show_at_zero(fifty_forecast: Forecast, n: int) -> None:
    # Black read as an axis, and was the seventh colour of a shared panel; a curve at
    # probability 0 lay on the x axis, hidden.
    fc = few_classes(fifty_forecast, n)
    assert any((cdf["probability"] == 0).any() for cdf in fc.cdfs.values())
    fig = charts.forecast_chart(fc)
    drawn(fig)
    curves = class_curves(fig)
    assert set(curves) == set(fc.cdfs)
    assert not {colour.lower() for _, colour in curves.values()} & {"#000000", "black", "k"}
    for i in {i for i, _ in curves.values()}:
        ax = fig.axes[i]
        zero = ax.transData.transform((0, 0))[1]
        assert zero - ax.bbox.y0 >= 1.5, "a curve at 0 shows above the x axis"


def test_forecast_of_many_classes_tells_every_class_apart(fifty_forecast: Forecast) -> None:
    fc = fifty_forecast
    assert len(fc.cdfs) > 8  # more than any palette of distinct line colours
    fig = charts.forecast_chart(fc)
    curves = class_curves(fig)
    assert set(curves) == set(fc.cdfs)
    # No two classes share both a panel and a colour.
    assert len(set(curves.values())) == len(curves)
    assert_fits_canvas(fig)
    # Readable: every panel keeps a usable plotting area (not squashed to a strip).
    panels = {i for i, _ in curves.values()}
    for i in panels:
        box = fig.axes[i].get_window_extent()
        assert box.height >= 50 and box.width >= 100, box


def test_forecast_table_rows_without_a_curve_are_named(
    billing: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    history, policy = billing
    fc = forecast(history, policy, window="30D", horizon="30D", n_sims=50)
    dropped = sorted(fc.cdfs)[0]
    partial = dataclasses.replace(fc, cdfs={a: c for a, c in fc.cdfs.items() if a != dropped})
    fig = charts.forecast_chart(partial)
    assert_fits_canvas(fig)
    assert dropped not in class_curves(fig)
    assert f"Not simulated (no curve): {dropped}" in notes(fig)
    ceiling = fc.table.loc[fc.table["next_state"] == "", "action"]
    assert all(a in notes(fig) for a in ceiling)  # at their ceiling, named too


# --------------------------------------------------------------------------- time axes


def axis_days(ax: Axes) -> float:
    lo, hi = ax.get_xlim()
    return hi - lo


def test_one_outlier_date_does_not_stretch_the_time_axes(outlier: Replay) -> None:
    moved = outlier.history.loc[outlier.history["action"] == "lookup_customer", "timestamp"]
    when = f"{moved.min():%Y-%m-%d}"
    timeline = charts.state_timeline_chart(outlier)
    drawn(timeline)
    assert axis_days(timeline.axes[0]) < 200  # the bulk is 180 days, not three years
    text = notes(timeline)
    assert "left off it" in text and when in text and "lookup_customer" in text
    metrics = charts.metrics_chart(outlier, "lookup_customer")
    drawn(metrics)
    assert all(axis_days(ax) < 200 for ax in metrics.axes)
    assert when in notes(metrics)
    # A class without a left-out timestamp gets no note.
    assert "left off" not in notes(charts.metrics_chart(outlier, "issue_refund"))
    # Asked to, the charts draw everything.
    everything = charts.state_timeline_chart(outlier, clip_outliers=False)
    assert axis_days(everything.axes[0]) > 3 * 365
    assert "left off" not in notes(everything)


def test_a_late_outlier_is_left_off_and_a_clean_history_gets_no_note(
    billing: tuple[pd.DataFrame, TrustPolicy], billing_replay: Replay
) -> None:
    history, policy = billing
    late = with_outlier(history, "read_ledger", years=-3, run="last")
    fig = charts.state_timeline_chart(replay(late, policy, window="30D"))
    drawn(fig)
    # The bulk is 180 days; the last cases' evidence expires 30 days later (a state
    # change the timeline shows at its moment), not three years later.
    assert axis_days(fig.axes[0]) < 230
    text = notes(fig)
    assert "later timestamps of read_ledger (2029-07-03)" in text and "after the rest" in text
    clean = charts.state_timeline_chart(billing_replay)
    assert "left off" not in notes(clean)
    assert "left off" not in notes(charts.metrics_chart(billing_replay, "read_ledger"))


def test_agentdojo_timeline_leaves_out_the_2021_row(
    agentdojo: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    fig = charts.state_timeline_chart(replay(*agentdojo))
    drawn(fig)
    assert axis_days(fig.axes[0]) < 300
    text = notes(fig)
    assert "2021-09-05" in text and "meta-llama/Llama-3-70b-chat-hf" in text


def test_date_axes_over_years_draw_without_warnings(
    agentdojo: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    # Unclipped, the AgentDojo history spans 2021-09 to 2025-02: no default monthly
    # step gave 4-8 ticks, and matplotlib warned on every chart of it.
    fig = charts.state_timeline_chart(replay(*agentdojo), clip_outliers=False)
    drawn(fig)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert {"2022", "2023", "2024", "2025"} <= set(labels) and len(labels) <= 8


def test_a_class_whose_only_evidence_is_an_outlier_keeps_it_on_its_chart(
    agentdojo: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    # Llama-3-70b's one run is dated 2021-09-05, the rest of the leaderboard 2024-25.
    # Its chart used the leaderboard's axis: its only evidence was left off, and its
    # rate drawn flat across 2024-25, where it has none.
    result = replay(*agentdojo)
    action = "meta-llama/Llama-3-70b-chat-hf"
    fig = charts.metrics_chart(result, action)
    assert_fits_canvas(fig)
    mine = result.timeline.loc[result.timeline["action"] == action, "timestamp"]
    days = mdates.date2num(mine.dt.tz_convert(None))
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        assert lo <= days.min() and days.max() <= hi, "its evidence is on its axis"
        [step] = [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
        x = np.asarray(step.get_xdata(), dtype=float)
        y = np.asarray(step.get_ydata(), dtype=float)
        assert x[np.isfinite(y)].min() >= days.min(), "nothing drawn before its evidence"
        for band in ax.collections:
            for path in band.get_paths():
                assert path.vertices[:, 0].min() >= days.min()
    text = notes(fig).replace("\n", " ")
    assert "2021-09-05" in text and "2024-06-05 to 2025-02-24" in text
    # The other classes keep the leaderboard's axis, the 2021 run left off it.
    other = charts.metrics_chart(result, "claude-3-5-sonnet-20240620")
    drawn(other)
    assert axis_days(other.axes[0]) < 300


def history_between(start: str, seconds: float, actions: int = 3) -> Replay:
    """A replay of ``actions`` classes whose cases all fall within ``seconds``."""
    t0 = pd.Timestamp(start, tz="UTC")
    rows = [
        {
            "timestamp": t0 + pd.Timedelta(seconds=seconds * (k * actions + a) / (30 * actions)),
            "action": f"action_{a}",
            "passed": k % 7 != 0,
        }
        for a in range(actions)
        for k in range(30)
    ]
    history = load_history(pd.DataFrame(rows))
    policy = TrustPolicy(
        {f"action_{a}": ActionClass(f"action_{a}", RiskTier.REVERSIBLE_WRITE) for a in range(3)},
        make_thresholds((0.8, 0.0, 10), (0.95, 0.0, 40)),
    )
    return replay(history, policy)


@pytest.mark.parametrize(
    ("seconds", "label", "xlabel"),
    [
        (0.8, r"09:00:0\d\.\d", "time (UTC) on 2026-09-07"),  # a fresh folder of eval logs
        (230, r"09:0\d(:\d\d)?", "time (UTC) on 2026-09-07"),
        (13_000, r"\d\d:\d\d", "time (UTC) on 2026-09-07"),
        (3.5 * 86_400, r"\w+", "date (UTC)"),
    ],
    ids=["a second", "minutes", "hours", "days"],
)
def test_a_history_of_seconds_to_days_gets_a_readable_time_axis(
    seconds: float, label: str, xlabel: str
) -> None:
    # A history run within a second was labelled "03.8 ... 04.6", the date in a
    # corner; spans of about four minutes, four hours or four days fitted no step of
    # the date locator, which warned.
    result = history_between("2026-09-07 09:00:03.8", seconds)
    for fig in (charts.state_timeline_chart(result), charts.metrics_chart(result, "action_1")):
        drawn(fig)
        ax = fig.axes[-1]
        ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert len(ticks) >= 3 and all(re.fullmatch(label, t) for t in ticks), ticks
        assert ax.get_xlabel() == xlabel
        assert_fits_canvas(fig)


def test_a_short_history_across_midnight_dates_its_ticks() -> None:
    fig = charts.state_timeline_chart(history_between("2026-09-07 23:59:59.6", 0.8))
    drawn(fig)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert ticks[0].endswith("\n2026-09-07")
    assert [t for t in ticks if t.startswith("00:00:00.0")] == ["00:00:00.0\n2026-09-08"]
    assert fig.axes[0].get_xlabel() == "time (UTC)"


# --------------------------------------------------------------------------- 50 classes


def test_timeline_of_fifty_classes_fits_and_keeps_every_lane(
    fifty: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    result = replay(*fifty, window="30D")
    fig = charts.state_timeline_chart(result)
    assert_fits_canvas(fig)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(result.summary["action"])
    # Lane labels do not overlap one another.
    boxes = [t.get_window_extent() for t in ax.get_yticklabels()]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))


def with_long_names(history: pd.DataFrame, policy: TrustPolicy) -> Replay:
    """A 30-day replay of ``history`` with every class but the first renamed long."""
    first = sorted(policy.actions)[0]
    names = {
        a: a if a == first else f"{a}_via_the_legacy_billing_gateway_v2_with_manual_override"
        for a in policy.actions
    }
    renamed = load_history(history.assign(action=history["action"].map(names)))
    policy = TrustPolicy(
        {names[a]: dataclasses.replace(c, name=names[a]) for a, c in policy.actions.items()},
        policy.thresholds,
    )
    return replay(renamed, policy, window="30D")


@pytest.mark.parametrize("fixture", ["billing", "fifty"])
def test_long_action_names_leave_the_timeline_most_of_its_width(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # Names of 80 characters squeezed the plot to about 40% of the figure's width.
    result = with_long_names(*request.getfixturevalue(fixture))
    fig = charts.state_timeline_chart(result)
    assert_fits_canvas(fig)
    ax = fig.axes[0]
    assert ax.bbox.width >= 0.6 * fig.bbox.width
    labels = [t.get_text() for t in ax.get_yticklabels()]
    lanes = list(result.summary["action"])
    text = notes(fig).replace("\n", "")
    for label, name in zip(labels, lanes, strict=True):
        if "…" in label:  # shortened: the note names it in full
            assert name in text
            head, tail = label.replace("\n", "").split("…")
            assert name.startswith(head) and name.endswith(tail)
        else:  # wrapped, or short enough as it is
            assert label.replace("\n", "") == name
    assert ("…" in "".join(labels)) == (fixture == "fifty")  # 50 lanes have room for one line
    boxes = [t.get_window_extent() for t in ax.get_yticklabels()]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    # A metrics chart's title wraps a long name instead of running off the figure.
    assert_fits_canvas(charts.metrics_chart(result, lanes[-1]))


# --------------------------------------------------------------------------- heatmap


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
    assert any("outlined: policy in force" in t.get_text().lower() for t in ax.texts)
    unmarked = charts.sweep_heatmap(s, "supervised.pass_rate", "supervised.min_samples")
    assert not [p for p in unmarked.get_axes()[0].patches if p.get_linewidth() > 1]


@pytest.fixture(scope="module")
def six_knobs(small: tuple[pd.DataFrame, TrustPolicy]) -> SweepResult:
    history, policy = small
    grid = {
        "supervised.pass_rate": [0.75, 0.8],
        "supervised.adversarial_pass_rate": [0.65, 0.7],
        "supervised.min_samples": [40, 80],
        "autonomous.pass_rate": [0.95, 0.97],
        "autonomous.adversarial_pass_rate": [0.9, 0.92],
        "window": [None, "30D"],
    }
    return sweep(history, policy, grid, progress=False)


def test_heatmap_subtitle_with_six_knobs_wraps_inside_the_figure(six_knobs: SweepResult) -> None:
    fixed = six_knobs.by_candidate.iloc[-1].to_dict()
    fig = charts.sweep_heatmap(
        six_knobs,
        "supervised.pass_rate",
        "supervised.min_samples",
        fixed=fixed,
        mark="the candidate nearest the policy in force",
    )
    renderer = drawn(fig)
    ax = fig.axes[0]
    [note] = [t for t in ax.texts if t.get_text().lower().startswith("other knobs held at")]
    assert note.get_text().count("\n") >= 1, "four held knobs do not fit on one line"
    for knob in (
        "supervised.adversarial_pass_rate",
        "autonomous.pass_rate",
        "autonomous.adversarial_pass_rate",
        "window=",
    ):
        assert knob in note.get_text().replace("\n", " ")
    box = note.get_window_extent(renderer)
    assert inside(box, fig.bbox)
    assert not box.overlaps(ax.title.get_window_extent(renderer))
    assert not box.overlaps(ax.bbox)
    assert_fits_canvas(fig)


def test_heatmap_is_drawn_in_the_house_style(six_knobs: SweepResult) -> None:
    fig = charts.sweep_heatmap(six_knobs, "supervised.pass_rate", "supervised.min_samples")
    title = fig.axes[0].title
    assert title.get_fontweight() == "bold" and title.get_fontsize() == 11
    # The cell-label colour helper is a plain function, not a styled chart.
    assert charts._ink_on((1.0, 1.0, 0.0, 1.0)) == "black"
    assert not hasattr(charts._ink_on, "__wrapped__")


def test_an_all_never_heatmap_has_no_colour_bar(small: tuple[pd.DataFrame, TrustPolicy]) -> None:
    history, policy = small
    grid = {
        "supervised.min_samples": [10**6, 2 * 10**6],
        "supervised.pass_rate": [0.8, 0.9],
        "autonomous.min_samples": [4 * 10**6],
    }
    s = sweep(history, policy, grid, progress=False)
    assert s.by_candidate["median_days_to_supervised"].isna().all()
    fig = charts.sweep_heatmap(s, "supervised.pass_rate", "supervised.min_samples")
    assert_fits_canvas(fig)
    assert len(fig.axes) == 1, "no colour bar axes"
    assert not fig.axes[0].images, "no colour image of an empty grid"
    assert "No cell gets there" in notes(fig)
    assert sum(t.get_text() == "never" for t in fig.axes[0].texts) == 4


def test_a_heatmap_with_one_value_has_no_colour_bar_but_says_the_value(
    agentdojo: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    grid = {"supervised.pass_rate": [0.4, 0.5], "supervised.adversarial_pass_rate": [0.7, 0.8]}
    s = sweep(*agentdojo, grid, progress=False)
    values = s.by_candidate["median_days_to_supervised"].dropna().unique()
    assert len(values) == 1
    fig = charts.sweep_heatmap(s, "supervised.pass_rate", "supervised.adversarial_pass_rate")
    assert len(fig.axes) == 1
    assert f"takes {values[0]:.0f} days" in notes(fig)


# --------------------------------------------------------------------------- metrics


def test_metrics_without_adversarial_cases_draw_one_panel(
    billing: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    history, policy = billing
    normal_only = load_history(history[~history["adversarial"]].drop(columns=["adversarial"]))
    result = replay(normal_only, policy, window="30D")
    fig = charts.metrics_chart(result, "issue_refund")
    assert_fits_canvas(fig)
    assert len(fig.axes) == 1
    assert fig.axes[0].get_ylabel().startswith("pass rate")
    assert "No adversarial cases" in notes(fig)


def test_rates_are_not_drawn_where_a_window_has_no_cases(billing_replay: Replay) -> None:
    fig = charts.metrics_chart(billing_replay, "cancel_subscription")
    tl = billing_replay.timeline
    mine = tl[tl["action"] == "cancel_subscription"]
    assert (mine[["n_normal", "n_adversarial"]] == 0).to_numpy().any(), "windows without cases"
    for ax, count in zip(fig.axes, ("n_normal", "n_adversarial"), strict=True):
        [step] = [line for line in ax.get_lines() if line.get_drawstyle() == "steps-post"]
        shown = np.isfinite(np.asarray(step.get_ydata(), dtype=float))[: len(mine)]
        assert (shown == (mine[count] > 0).to_numpy()).all()


def test_a_rate_of_zero_shows_above_the_x_axis(billing_replay: Replay) -> None:
    fig = charts.metrics_chart(billing_replay, "cancel_subscription")
    drawn(fig)
    tl = billing_replay.timeline
    mine = tl[(tl["action"] == "cancel_subscription") & (tl["n_adversarial"] > 0)]
    assert (mine["adversarial_pass_rate"] == 0).any()
    ax = fig.axes[1]
    assert ax.transData.transform((0, 0))[1] - ax.bbox.y0 >= 1.5


def with_silent_class(result: Replay, action: str) -> Replay:
    """``result`` with one more class in its summary that has no evidence at all."""
    row = {column: pd.NA for column in result.summary.columns}
    row.update(action=action, cases=0, final_state="MANUAL")
    summary = pd.concat([result.summary, pd.DataFrame([row])], ignore_index=True)
    return dataclasses.replace(result, summary=summary)


def test_a_class_without_evidence_is_drawn_and_marked(billing_replay: Replay) -> None:
    result = with_silent_class(billing_replay, "void_invoice")
    timeline = charts.state_timeline_chart(result)
    assert_fits_canvas(timeline)
    ax = timeline.axes[0]
    lanes = [t.get_text() for t in ax.get_yticklabels()]
    assert lanes[-1] == "void_invoice" and len(lanes) == 7
    assert any(t.get_text().startswith("no evidence") for t in ax.texts)
    metrics = charts.metrics_chart(result, "void_invoice")
    assert_fits_canvas(metrics)
    assert "no evidence" in notes(metrics)
    assert not [line for line in metrics.axes[0].get_lines() if len(line.get_xdata())]


# --------------------------------------------------------------------------- reproducibility


def test_new_charts_are_reproducible_byte_for_byte(
    outlier: Replay, fifty_forecast: Forecast, tmp_path: Path
) -> None:
    for name, build in (
        ("timeline", lambda: charts.state_timeline_chart(outlier)),
        ("facets", lambda: charts.forecast_chart(fifty_forecast)),
    ):
        charts.save(build(), tmp_path / f"{name}-1.png")
        charts.save(build(), tmp_path / f"{name}-2.png")
        first = (tmp_path / f"{name}-1.png").read_bytes()
        assert first == (tmp_path / f"{name}-2.png").read_bytes(), name
        assert b"tEXt" not in first, "no metadata chunk"


def shuffled_heap(seed: int) -> list[Any]:
    """Layout-solver variables allocated, then half of them freed in an order set by
    ``seed``: the state a process is left in by what it drew before, which decides
    where the next chart's solver variables live in memory. Keep the list alive
    while drawing."""
    junk: list[Any] = [kiwisolver.Variable() for _ in range(20_000)]
    random.Random(seed).shuffle(junk)
    kept = junk[::2]
    for i in range(1, len(junk), 2):
        junk[i] = None
    return kept


def test_a_chart_does_not_depend_on_what_the_process_drew_before(
    fifty_forecast: Forecast,
) -> None:
    # A report of 50 classes drew forecast.png with two different hashes in one
    # process: constrained layout solved the panels' positions to different last bits
    # depending on where its variables were allocated, and a few pixels came out one
    # intensity level apart. Positions and bytes must not depend on the heap.
    # Three heaps in `make test`, six under WARRANTD_THOROUGH=1.
    layouts, images = set(), set()
    for seed in range(6 if os.environ.get("WARRANTD_THOROUGH") else 3):
        kept = shuffled_heap(seed)
        fig = charts.forecast_chart(fifty_forecast)
        buffer = io.BytesIO()
        charts.save(fig, buffer)
        del kept
        layouts.add(tuple(tuple(ax.get_position().bounds) for ax in fig.axes))
        images.add(buffer.getvalue())
    assert len(layouts) == 1, "the same figure was laid out differently"
    assert len(images) == 1


def test_charts_never_load_pyplot() -> None:
    code = (
        "import sys\n"
        "from warrantd.analytics import charts, generate, load_history\n"
        "from warrantd import load_policy\n"
        "from warrantd.analytics.replay import replay\n"
        "r = replay(load_history(generate(1, days=20)),"
        " load_policy('datasets/billing-agent.policy.toml'))\n"
        "charts.state_timeline_chart(r).canvas.draw()\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("truth", [True, False])
def test_the_rule_trade_off_chart_is_labelled_and_fits(
    billing: tuple[pd.DataFrame, TrustPolicy], truth: bool
) -> None:
    from warrantd.analytics.sweep import compare_rules

    history, policy = billing
    if not truth:
        history = history.drop(columns=["true_pass_p"])
    fig = charts.rule_tradeoff_chart(compare_rules(history, policy))
    assert_fits_canvas(fig)
    ax = fig.axes[0]
    assert ax.get_title().startswith("Evidence rules")
    texts = [t.get_text() for t in ax.texts]
    notes = " ".join(texts)
    assert ("no ground truth" in notes) is (not truth)
    if truth:
        # Rules on the same point share a label; every rule is named once per state.
        assert sum(t.count("anytime ") for t in texts) == 2
        return
    # Without ground truth: one row per state and rule, named on the y axis, each point
    # with the classes that reached the state; no two points share a row.
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows == [
        f"{state} · {rule}"
        for state in ("SUPERVISED", "AUTONOMOUS")
        for rule in ("point", "wilson", "anytime")
    ]
    heights = [line.get_ydata()[0] for line in ax.get_lines() if line.get_marker() != "None"]
    assert len(heights) == len(set(heights)) == 6
    assert sum(t.endswith(" reached") for t in texts) == 6


# --------------------------------------------------------------------------- trial 2


def _moves(steps: list[tuple[int, str, str]]) -> pd.DataFrame:
    """Transitions of one class: (minutes after 2026-01-01, from, to)."""
    start = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "action": "w",
            "time": [start + pd.Timedelta(minutes=m) for m, _, _ in steps],
            "from": [f for _, f, _ in steps],
            "to": [t for _, _, t in steps],
        }
    )


def test_quick_reversals_count_states_held_under_an_hour_then_undone() -> None:
    # M->S at 0, back to M at 10 (S held 10 min: a reversal), S again at 20 (M held 10
    # min: a reversal), S->A at 180 (held 160 min, then A->S, not back to M: no
    # reversal), A->S at 185 (A held 5 min, back to S: a reversal), S->M at 400 (last).
    moves = _moves(
        [
            (0, "MANUAL", "SUPERVISED"),
            (10, "SUPERVISED", "MANUAL"),
            (20, "MANUAL", "SUPERVISED"),
            (180, "SUPERVISED", "AUTONOMOUS"),
            (185, "AUTONOMOUS", "SUPERVISED"),
            (400, "SUPERVISED", "MANUAL"),
        ]
    )
    assert charts.quick_reversals(moves).tolist() == [True, True, False, True, False, False]
    # Drawn as a change: the end of the first chain (3 moves: M ends in S), the last
    # move; the chain at 180-185 (2 moves) ends where it began: no change to see.
    assert charts._visible_changes(charts.quick_reversals(moves)).tolist() == [
        False,
        False,
        True,
        False,
        False,
        True,
    ]
    assert not charts.quick_reversals(moves.head(1)).any()
    # An hour apart or more is not quick.
    slow = _moves([(0, "MANUAL", "SUPERVISED"), (60, "SUPERVISED", "MANUAL")])
    assert charts.quick_reversals(slow).tolist() == [False, False]


def test_the_timeline_marks_quick_reversals_apart_from_state_changes() -> None:
    """SUPERVISED at 00:05, MANUAL at 00:10, SUPERVISED at 00:30, then held for days: one
    visible change (▼ at 00:30) and two quick reversals (× on the lane), as the report
    counts them; before, three ▼ sat under a lane that changes once."""
    start = pd.Timestamp("2026-01-01", tz="UTC")
    times = [start + pd.Timedelta(minutes=m) for m in (0, 5, 10, 20, 30)]
    times += [start + pd.Timedelta(days=d) for d in range(2, 12)]
    h = load_history(
        pd.DataFrame({"timestamp": times, "action": "w", "passed": [1, 1, 0, 1, 1] + [1] * 10})
    )
    policy = TrustPolicy(
        {"w": ActionClass("w", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 2), (0.99, 0.0, 100)),
    )
    result = replay(h, policy)
    assert len(result.transitions) == 3
    fig = charts.state_timeline_chart(result)
    ax = fig.axes[0]
    marked = {
        line.get_marker(): len(line.get_xdata())
        for line in ax.get_lines()
        if line.get_marker() in ("v", "x")
    }
    assert marked.get("v") == 1 and marked.get("x") == 2
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["MANUAL", "SUPERVISED", "AUTONOMOUS"]
    assert "state change" in legend and "quick reversal" in legend
    assert "2 in all" in notes(fig)


def _all_fail(truth: float | None = None) -> tuple[pd.DataFrame, TrustPolicy]:
    """One class whose 12 cases over 6 days all fail: MANUAL under any bar or rule
    (with ``true_pass_p`` = ``truth`` when given)."""
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-01-01", periods=12, freq="12h", tz="UTC"),
            "action": "w",
            "passed": False,
        }
    )
    if truth is not None:
        frame["true_pass_p"] = truth
    h = load_history(frame)
    policy = TrustPolicy(
        {"w": ActionClass("w", RiskTier.REVERSIBLE_WRITE)},
        make_thresholds((0.8, 0.0, 2), (0.95, 0.0, 4)),
    )
    return h, policy


def test_a_pareto_chart_of_one_point_counts_from_zero() -> None:
    # Every candidate: 12 cases needing a human, 0 failures let through.
    h, policy = _all_fail()
    swept = sweep(h, policy, {"supervised.pass_rate": [0.7, 0.8, 0.9]})
    fig = charts.pareto_chart(swept, (12.0, 0.0))
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 18.0) and ax.get_ylim() == (0.0, 2.0)
    assert "All 3 candidates give the same burden and failures: one point." in notes(fig)


def test_rules_and_states_on_one_point_share_one_label_that_tells_the_states_apart() -> None:
    from warrantd.analytics.sweep import compare_rules

    h, policy = _all_fail(truth=0.1)
    fig = charts.rule_tradeoff_chart(compare_rules(h, policy))
    ax = fig.axes[0]
    # Nobody graduates: every rule waits the whole 5.5 days for both states, one point.
    assert [t.get_text() for t in ax.texts if "/1" in t.get_text()] == [
        "SUPERVISED and AUTONOMOUS: point, wilson, anytime 0/1"
    ]
    assert ax.get_xlim()[0] == 0.0
    # The two states' markers differ in size, so both colours show on the shared point.
    sizes = {
        line.get_color(): line.get_markersize()
        for line in ax.get_lines()
        if line.get_marker() not in ("None", "", None)
    }
    assert sizes[charts.STATE_COLOURS["SUPERVISED"]] > sizes[charts.STATE_COLOURS["AUTONOMOUS"]]


def test_a_rule_with_no_class_to_wait_for_is_left_out_with_a_note() -> None:
    from warrantd.analytics.sweep import compare_rules

    h, policy = _all_fail(truth=0.1)
    comparison = compare_rules(h, policy)
    gone = comparison["evidence"] == "wilson"
    comparison.loc[gone, "mean_days_waited"] = float("nan")  # no class with evidence
    fig = charts.rule_tradeoff_chart(comparison)
    assert "2 rule(s) and state(s) with no class: not drawn." in notes(fig)
    assert [t.get_text() for t in fig.axes[0].texts if "/1" in t.get_text()] == [
        "SUPERVISED and AUTONOMOUS: point, anytime 0/1"
    ]


def test_forecast_legend_spells_states_as_everywhere_else(
    billing: tuple[pd.DataFrame, TrustPolicy],
) -> None:
    history, policy = billing
    fc = forecast(history, policy, window="30D", horizon="30D", n_sims=50)
    labels = [
        t.get_text().replace("\n", "") for t in charts.forecast_chart(fc).legends[0].get_texts()
    ]
    assert labels and all(re.search(r" → (SUPERVISED|AUTONOMOUS)$", label) for label in labels)
