"""Charts of replays, sweeps and forecasts (matplotlib, Agg backend).

Every function returns a :class:`matplotlib.figure.Figure` drawn on the Agg
canvas (never through pyplot, never ``plt.show()``); :func:`save` writes one
as a PNG, byte-for-byte reproducibly.
Colours come from the Okabe-Ito palette, which stays distinct under the
common forms of colour blindness.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from typing import Any, ParamSpec

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..autonomy import AutonomyState
from .forecast import Forecast
from .replay import Replay
from .sweep import KNOBS, SweepResult

__all__ = [
    "forecast_chart",
    "metrics_chart",
    "pareto_chart",
    "save",
    "state_timeline_chart",
    "sweep_heatmap",
]

#: Okabe-Ito colours.
STATE_COLOURS = {"MANUAL": "#D55E00", "SUPERVISED": "#E69F00", "AUTONOMOUS": "#009E73"}
SERIES = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
P = ParamSpec("P")
_STYLE = {
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


class ChartFigure(Figure):
    """A Figure that shows itself as a PNG in Jupyter, with no pyplot backend set up."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    # Figures are built on the Agg canvas directly, never through pyplot, so library
    # code neither opens windows nor changes the backend of the caller's session.
    fig = ChartFigure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _styled(chart: Callable[P, Figure]) -> Callable[P, Figure]:
    """Apply the house style while ``chart`` builds its figure, without touching the
    caller's global matplotlib settings."""

    @functools.wraps(chart)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Figure:
        with matplotlib.rc_context(_STYLE):
            return chart(*args, **kwargs)

    return wrapper


def save(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` as a PNG with no timestamp or version metadata (reproducible bytes)."""
    fig.savefig(path, format="png", dpi=110, metadata={"Software": None})


def _dates(ax: Any) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=8)
    # Spans of three to five years fit no default monthly step within 8 ticks
    # (matplotlib then warns and falls back); a yearly step in months does.
    locator.intervald[mdates.MONTHLY] = [1, 2, 3, 4, 6, 12]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


@_styled
def state_timeline_chart(result: Replay) -> Figure:
    """One lane per action: the graded state over time, transitions marked."""
    tl = result.timeline
    actions = list(dict.fromkeys(tl["action"]))
    fig = _figure(9, 0.55 * len(actions) + 1.6)
    ax = fig.add_subplot()
    end = tl["timestamp"].max()
    for lane, action in enumerate(actions):
        mine = tl[tl["action"] == action]
        starts = mdates.date2num(mine["timestamp"].dt.tz_convert(None).to_numpy())
        stops = np.r_[starts[1:], mdates.date2num(end.tz_convert(None))]
        for state, colour in STATE_COLOURS.items():
            sel = (mine["state"] == state).to_numpy()
            if sel.any():
                ax.broken_barh(
                    list(zip(starts[sel], stops[sel] - starts[sel], strict=True)),
                    (lane - 0.35, 0.7),
                    facecolors=colour,
                    edgecolor="none",
                )
    moves = result.transitions
    for lane, action in enumerate(actions):
        times = moves.loc[moves["action"] == action, "time"].dt.tz_convert(None)
        ax.plot(
            mdates.date2num(times.to_numpy()),
            np.full(len(times), lane + 0.42),
            "v",
            color="#000000",
            markersize=4,
            linestyle="none",
        )
    ax.set_yticks(range(len(actions)), actions)
    ax.set_ylim(len(actions) - 0.4, -0.6)
    ax.set_xlabel("date (UTC)")
    _dates(ax)
    window = result.window if result.window is not None else "cumulative"
    ax.set_title(f"Autonomy state over time (window: {window})")
    handles = [Patch(color=c, label=s.title()) for s, c in STATE_COLOURS.items()]
    handles.append(
        matplotlib.lines.Line2D(
            [], [], marker="v", color="#000000", linestyle="none", label="transition"
        )
    )
    fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False)
    return fig


@_styled
def metrics_chart(result: Replay, action: str) -> Figure:
    """Pass rate and adversarial pass rate of ``action`` over time, with 95% Wilson
    bands and the SUPERVISED / AUTONOMOUS bars."""
    tl = result.timeline[result.timeline["action"] == action]
    if tl.empty:
        raise ValueError(f"no history for action {action!r}")
    t = result.policy.thresholds
    fig = _figure(9, 4.6)
    axes = fig.subplots(2, 1, sharex=True)
    when = tl["timestamp"].dt.tz_convert(None)
    for ax, column, label, bars in (
        (axes[0], "pass_rate", "pass rate", t.pass_rate),
        (axes[1], "adversarial_pass_rate", "adversarial pass rate", t.adversarial_pass_rate),
    ):
        ax.fill_between(
            when,
            tl[f"{column}_lo"],
            tl[f"{column}_hi"],
            step="post",
            color=SERIES[0],
            alpha=0.2,
            linewidth=0,
            label="95% Wilson interval",
        )
        ax.step(when, tl[column], where="post", color=SERIES[0], linewidth=1.4, label=label)
        for state, style in ((AutonomyState.SUPERVISED, "--"), (AutonomyState.AUTONOMOUS, ":")):
            ax.axhline(
                bars[state],
                color=STATE_COLOURS[state.name],
                linestyle=style,
                linewidth=1.3,
                label=f"{state.name.title()} bar {bars[state]:.2f}",
            )
        ax.set_ylabel(f"{label} (fraction)")
        ax.set_ylim(max(0.0, min(tl[f"{column}_lo"].min(), min(bars.values())) - 0.05), 1.0)
        ax.legend(loc="lower right", fontsize=7, frameon=True, framealpha=0.85)
    axes[1].set_xlabel("date (UTC)")
    _dates(axes[1])
    window = result.window if result.window is not None else "cumulative"
    axes[0].set_title(f"{action}: eval metrics over time (window: {window})")
    return fig


def _slice_for_two_knobs(by: pd.DataFrame, x: str, y: str, fixed: dict[str, Any]) -> pd.DataFrame:
    mask = np.ones(len(by), dtype=bool)
    for knob, value in fixed.items():
        if knob in (x, y) or knob not in KNOBS:
            continue
        column = by[knob].map(repr) if knob == "window" else by[knob]
        mask &= (column == (repr(value) if knob == "window" else value)).to_numpy()
    return by[mask]


def _knob_order(value: Any) -> tuple[int, float, str]:
    """Numbers in numeric order, then anything else (windows) by its text."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


@_styled
def _ink_on(rgba: tuple[float, float, float, float]) -> str:
    """Black or white text, whichever reads on a cell of colour ``rgba``."""
    red, green, blue = rgba[:3]
    return "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45 else "white"


def sweep_heatmap(
    result: SweepResult,
    x: str,
    y: str,
    *,
    state: str = "supervised",
    fixed: dict[str, Any] | None = None,
    mark: str | None = None,
) -> Figure:
    """Median days for the actions to reach ``state``, across two knobs.

    Other knobs are held at ``fixed`` (default: the first candidate's values).
    Cells where fewer than half of the actions ever get there are hatched and
    marked "never". With ``mark`` (a label such as "policy in force"), the cell
    at ``fixed``'s own ``x`` and ``y`` values is outlined and the label says so.
    """
    by = result.by_candidate
    if fixed is None:
        fixed = by.iloc[0].to_dict()
    part = _slice_for_two_knobs(by, x, y, fixed)
    keys = {k: part[k].map(repr) if k == "window" else part[k] for k in (x, y)}
    xs = sorted(keys[x].unique(), key=_knob_order)
    ys = sorted(keys[y].unique(), key=_knob_order)
    value = f"median_days_to_{state}"
    grid = np.full((len(ys), len(xs)), np.nan)
    for kx, ky, v in zip(keys[x], keys[y], part[value], strict=True):
        grid[ys.index(ky), xs.index(kx)] = v
    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot()
    shown = np.ma.masked_invalid(grid)
    image = ax.imshow(shown, cmap="viridis", aspect="auto", origin="lower")
    ax.set_facecolor("#DDDDDD")
    for (r, c), v in np.ndenumerate(grid):
        if np.isnan(v):
            ax.add_patch(
                matplotlib.patches.Rectangle(
                    (c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#888888"
                )
            )
            ax.text(c, r, "never", ha="center", va="center", fontsize=7, color="#333333")
        else:
            ax.text(
                c,
                r,
                f"{v:.0f}",
                ha="center",
                va="center",
                fontsize=7,
                color=_ink_on(image.cmap(image.norm(v))),
            )
    if mark is not None:
        cell = tuple(repr(fixed[k]) if k == "window" else fixed[k] for k in (x, y))
        if cell[0] in xs and cell[1] in ys:
            corner = (xs.index(cell[0]) - 0.5, ys.index(cell[1]) - 0.5)
            # A white line inside a black one shows on dark and light cells alike.
            for colour, width in (("black", 3.5), ("white", 1.5)):
                ax.add_patch(
                    matplotlib.patches.Rectangle(
                        corner, 1, 1, fill=False, edgecolor=colour, linewidth=width
                    )
                )
    ax.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=0)
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(image, ax=ax, label=f"median days to {state.upper()} (days)")
    held = [
        f"{k}={fixed[k]}"
        for k in KNOBS
        if k in fixed and k not in (x, y) and by[k].map(repr).nunique() > 1
    ]
    notes = ["other knobs held at " + ", ".join(held)] if held else []
    if mark is not None:
        notes.append(f"outlined: {mark}")
    ax.set_title(f"Threshold sensitivity: days to {state.upper()}", pad=6 + 11 * len(notes))
    if notes:
        ax.text(
            0.5,
            1.01,
            "\n".join(notes),
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            fontsize=7,
            color="#444444",
        )
    return fig


@_styled
def pareto_chart(result: SweepResult, current: tuple[float, float] | None = None) -> Figure:
    """Approval burden against failures let through while graduated, one point per
    candidate; the Pareto frontier highlighted; ``current`` (burden, failures) marked."""
    by = result.by_candidate
    front = result.pareto()
    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot()
    ax.scatter(
        by["approval_burden"],
        by["failures_while_supervised_or_above"],
        s=14,
        color="#999999",
        alpha=0.6,
        label="candidate thresholds",
        linewidths=0,
    )
    ax.plot(
        front["approval_burden"],
        front["failures_while_supervised_or_above"],
        "-o",
        color=SERIES[0],
        markersize=5,
        linewidth=1.5,
        label="Pareto frontier",
    )
    if current is not None:
        ax.plot(
            [current[0]],
            [current[1]],
            "*",
            color=SERIES[1],
            markersize=14,
            markeredgecolor="black",
            label="current policy",
        )
    ax.set_xlabel("approval burden (cases handled while MANUAL)")
    ax.set_ylabel("failures let through (while SUPERVISED or above)")
    ax.set_title("Cost against risk of candidate thresholds")
    ax.legend(loc="upper right", frameon=True, framealpha=0.9)
    return fig


@_styled
def forecast_chart(fc: Forecast) -> Figure:
    """P(reaching the next state) by each day of the horizon, one line per action."""
    fig = _figure(8, 4.4)
    ax = fig.add_subplot()
    for i, (action, cdf) in enumerate(fc.cdfs.items()):
        nxt = fc.table.loc[fc.table["action"] == action, "next_state"].iloc[0]
        ax.plot(
            cdf["day"],
            cdf["probability"],
            color=SERIES[i % len(SERIES)],
            linewidth=1.6,
            label=f"{action} → {nxt.title()}",
        )
    ax.set_xlim(0, fc.horizon.days)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"days after {fc.as_of:%Y-%m-%d}")
    ax.set_ylabel("P(graduated by then)")
    ax.set_title(f"Graduation forecast ({fc.n_sims:,} simulations)")
    if fc.cdfs:
        # Beside the axes, not on them: curves start anywhere in the plot area.
        ncols = 2 if len(fc.cdfs) > 2 else 1
        fig.legend(loc="outside lower center", ncols=ncols, fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "every action is at its ceiling", transform=ax.transAxes, ha="center")
    return fig
