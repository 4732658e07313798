"""Charts of replays, sweeps and forecasts (matplotlib, Agg backend).

Every function returns a :class:`matplotlib.figure.Figure` drawn on the Agg
canvas (never through pyplot, never ``plt.show()``); :func:`save` writes one
as a PNG, byte-for-byte reproducibly: the same inputs give the same bytes,
whatever the process drew before (see :class:`_SteadyLayout`).

Colours come from the Okabe-Ito palette, which stays distinct under the
common forms of colour blindness. A chart that would need more series colours
than the palette can keep apart draws one small panel per series instead.

Charts are meant to survive real data:

* time axes cover the bulk of the history: a few timestamps far before (or
  after) the rest, more than the rest's whole span away, are left off the axis
  and a note under the title says what was left out (``clip_outliers=False``
  draws everything); a class whose evidence all lies in what was left out gets
  its own span on its metrics chart instead;
* a time axis under a day long reads in times of day, with the date;
* legends sit outside the plotting area, and notes, subtitles and titles are
  wrapped to the width of the axes they belong to; long lane labels are wrapped,
  or shortened with an ellipsis and named in full in a note;
* a class with no evidence, a history with no adversarial cases, a sweep where
  no cell has a value: each is drawn, with a note, instead of failing or
  showing an empty panel or a meaningless colour scale.
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any, ParamSpec

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.text import Text
from matplotlib.ticker import Formatter, MaxNLocator
from matplotlib.transforms import Bbox, offset_copy

from ..autonomy import AutonomyState
from .forecast import BacktestScores, Forecast
from .replay import Replay
from .sweep import KNOBS, SweepResult

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.typing import RcKeyType

__all__ = [
    "MovingMark",
    "forecast_chart",
    "metrics_chart",
    "pareto_chart",
    "quick_reversals",
    "reliability_chart",
    "rule_tradeoff_chart",
    "save",
    "state_timeline_chart",
    "sweep_heatmap",
]

#: Okabe-Ito colours.
STATE_COLOURS = {"MANUAL": "#D55E00", "SUPERVISED": "#E69F00", "AUTONOMOUS": "#009E73"}
SERIES = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
#: One colour per series when series share a panel: Okabe-Ito without its yellow,
#: which does not read as a line on white, and its black, which reads as an axis.
#: More series than this get a panel each.
CLASS_COLOURS = [c for c in SERIES if c not in ("#F0E442", "#000000")]
NOTE_COLOUR = "#444444"
P = ParamSpec("P")
_STYLE: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_NOTE_SIZE = 7.5
#: Figures are laid out at 100 dpi and saved by :func:`save` at this resolution.
_SAVE_DPI = 110
#: The most of a timeline's width its lane labels may take.
_LANE_LABEL_SHARE = 0.3
#: Leading (or trailing) timestamps are left off a time axis when they are at most
#: this share of the distinct timestamps (at least one) and their gap to the rest
#: is longer than the rest's whole span.
_OUTLIER_SHARE = 0.05
_DAY_NS = 86_400 * 10**9
#: Probability axes start a little below 0, so a curve at 0 shows above the x axis.
_PROBABILITY_LIMITS = (-0.02, 1.02)
#: Axes positions are rounded to this many decimals of the figure's size (a
#: thousandth of a pixel) once laid out: see :class:`_SteadyLayout`.
_LAYOUT_DECIMALS = 6


class ChartFigure(Figure):
    """A Figure that shows itself as a PNG in Jupyter, with no pyplot backend set up."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        # At the saved resolution: 7-point text (heatmap cells) is then 10.7 px high.
        self.savefig(buffer, format="png", dpi=_SAVE_DPI)
        return buffer.getvalue()


class _SteadyLayout(ConstrainedLayoutEngine):
    """Constrained layout whose result does not depend on the process's past.

    Constrained layout solves for the axes positions with kiwisolver, which orders
    the terms of each constraint by the memory addresses of their variables. The
    order of the solver's pivots, and with it the last bits of the positions, then
    depends on what the process allocated (and freed) before: a chart of many
    panels came out a few pixels different, by one intensity level, from one build
    to the next in the same process. Rounding every position, well below a pixel,
    leaves the same figure whatever was drawn before.
    """

    def execute(self, fig: Figure) -> Any:
        grids = super().execute(fig)
        for ax in fig.axes:
            if ax.get_in_layout():
                points = ax.get_position(original=True).get_points()
                ax.set_position(Bbox(np.round(points, _LAYOUT_DECIMALS)), which="both")
                ax.set_in_layout(True)  # set_position takes it out of the layout
        return grids


def _figure(width: float, height: float) -> Figure:
    # Figures are built on the Agg canvas directly, never through pyplot, so library
    # code neither opens windows nor changes the backend of the caller's session.
    fig = ChartFigure(figsize=(width, height), dpi=100, layout=_SteadyLayout())
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


def save(fig: Figure, path: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write ``fig`` as a PNG with no timestamp or version metadata (reproducible bytes)."""
    fig.savefig(path, format="png", dpi=_SAVE_DPI, metadata={"Software": None})


# --------------------------------------------------------------------------- helpers


def _date_numbers(times: Any) -> np.ndarray:
    """Matplotlib date numbers of naive (UTC) datetimes."""
    # matplotlib.dates has no type annotations; this and _dates are its only callers here.
    return np.asarray(mdates.date2num(times), dtype=np.float64)  # type: ignore[no-untyped-call]


def _naive(times: pd.Series) -> np.ndarray:
    """UTC timestamps as naive datetime64 values, ready for :func:`_date_numbers`."""
    return np.asarray(times.dt.tz_convert(None).to_numpy())


class _ClockFormatter(Formatter):
    """Times of day (UTC) of date numbers, as precise as the ticks need and alike for
    all of them: ``09:00``, ``09:00:30`` or ``09:00:03.8``. With ``dated``, the first
    tick and every tick on a new day also give the date, on a second line."""

    def __init__(self, dated: bool) -> None:
        super().__init__()
        self.dated = dated

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.format_ticks([x])[0]

    def format_ticks(self, values: list[float]) -> list[str]:
        self.set_locs(values)
        # Date numbers carry about a microsecond of float noise: round it away.
        stamps = [pd.Timestamp(mdates.num2date(v)).tz_convert(None) for v in values]  # type: ignore[no-untyped-call]
        decimals = next(
            d
            for d in range(7)
            if all(
                abs(t - t.round(pd.Timedelta(microseconds=10 ** (6 - d))))
                <= pd.Timedelta(microseconds=2 if d < 6 else 1)
                for t in stamps
            )
        )
        stamps = [t.round(pd.Timedelta(microseconds=10 ** (6 - decimals))) for t in stamps]
        minutes = decimals == 0 and all(t.second == 0 for t in stamps)
        labels, day = [], None
        for t in stamps:
            text = f"{t:%H:%M}" if minutes else f"{t:%H:%M:%S}"
            if decimals:
                text += f".{t.microsecond:06d}"[: decimals + 1]
            if self.dated and t.date() != day:
                text += f"\n{t:%Y-%m-%d}"
            day = t.date()
            labels.append(text)
        return labels


def _dates(ax: Axes) -> None:
    """Date ticks and label on the x axis of ``ax``, its limits already set.

    An axis under a day long is labelled with times of day, the date in the axis
    label (or, across midnight, under the first tick and each new day's first).
    """
    locator = mdates.AutoDateLocator(minticks=4, maxticks=8)  # type: ignore[no-untyped-call]
    # Spans of three to five years fit no default monthly step within 8 ticks
    # (matplotlib then warns and falls back); a yearly step in months does.
    locator.intervald[mdates.MONTHLY] = [1, 2, 3, 4, 6, 12]
    # Likewise spans of three to four days, hours or minutes (or months, in days).
    locator.intervald[mdates.DAILY] = [1, 2, 4, 7, 14, 21]
    locator.intervald[mdates.HOURLY] = [1, 2, 3, 4, 6, 12, 24]
    locator.intervald[mdates.MINUTELY] = [1, 2, 5, 10, 15, 30, 60]
    locator.intervald[mdates.SECONDLY] = [1, 2, 5, 10, 15, 30, 60]
    ax.xaxis.set_major_locator(locator)
    lo, hi = ax.get_xlim()
    if hi - lo >= 1.0:
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        ax.set_xlabel("date (UTC)")
        return
    first, last = (mdates.num2date(x).date() for x in (lo, hi))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(_ClockFormatter(dated=first != last))
    ax.set_xlabel(f"time (UTC) on {first:%Y-%m-%d}" if first == last else "time (UTC)")


def _text_width(fig: Figure, text: str, fontsize: float, weight: str = "normal") -> float:
    """Width of ``text`` in display pixels of ``fig``."""
    probe = Text(0, 0, text, fontsize=fontsize, fontweight=weight)
    probe.set_figure(fig)
    return float(probe.get_window_extent().width)


def _text_height(fig: Figure, text: str, fontsize: float, dpi: float) -> float:
    """Height of ``text`` in points, as drawn at ``dpi``."""
    probe = Text(0, 0, text, fontsize=fontsize)
    probe.set_figure(fig)
    renderer = RendererAgg(1, 1, dpi)  # type: ignore[no-untyped-call]
    return float(probe.get_window_extent(renderer, dpi=dpi).height) * 72 / dpi


def _pieces(word: str) -> list[str]:
    """``word`` split after the characters where a long identifier may break."""
    return [p for p in re.findall(r"[^_\-+/.:@]*[_\-+/.:@]?", word) if p]


def _wrap(fig: Figure, text: str, width: float, fontsize: float, weight: str = "normal") -> str:
    """``text`` with line breaks so that no line is wider than ``width`` pixels.

    Lines break at spaces; a word too long for a line breaks after ``_ - + / . : @``
    and, failing that, between characters. Existing line breaks are kept.
    """

    def fits(part: str) -> bool:
        return _text_width(fig, part, fontsize, weight) <= width

    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if fits(candidate):
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            # The word starts a new line; if it is still too wide, break it up.
            for piece in [word] if fits(word) else _pieces(word):
                for char in [piece] if fits(piece) else piece:
                    if line and not fits(line + char):
                        lines.append(line)
                        line = ""
                    line += char
        lines.append(line)
    return "\n".join(lines)


def _shortened(fig: Figure, name: str, width: float, fontsize: float, lines: int) -> str:
    """``name`` wrapped (see :func:`_wrap`) to at most ``lines`` lines of ``width``
    pixels; when it does not fit, its middle is cut out and marked with an ellipsis,
    keeping as much of its start (two thirds) and end (a third) as fits."""

    def label(kept: int) -> str:
        tail = kept // 3
        text = name if kept >= len(name) else name[: kept - tail] + "…" + name[len(name) - tail :]
        return _wrap(fig, text, width, fontsize)

    if label(len(name)).count("\n") < lines:
        return label(len(name))
    fits, too_long = 1, len(name)  # binary search for the most characters that fit
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if label(middle).count("\n") < lines:
            fits = middle
        else:
            too_long = middle
    return label(fits)


def _subtitle(ax: Axes, title: str, notes: Sequence[str], width: float | None = None) -> None:
    """``title`` over ``ax`` with ``notes`` in small type between it and the axes,
    wrapped to ``width`` pixels (default: the width the axes get once the figure is
    laid out). A title too long for the figure (a long action name) is wrapped too."""
    fig = ax.figure
    assert isinstance(fig, Figure)
    size = FontProperties(size=matplotlib.rcParams["axes.titlesize"]).get_size_in_points()
    weight = str(matplotlib.rcParams["axes.titleweight"])
    notes = [n for n in notes if n]
    ax.set_title(_wrap(fig, title, width or fig.bbox.width * 0.9, size, weight))
    if width is None and (notes or _text_width(fig, title, size, weight) > fig.bbox.width * 0.7):
        fig.draw_without_rendering()  # lay the figure out: the axes width is now final
        width = ax.get_window_extent().width * 0.98
    if width is not None:
        title = _wrap(fig, title, width, size, weight)
        ax.set_title(title)
    if not notes:
        return
    assert width is not None
    text = "\n".join(_wrap(fig, note, width, _NOTE_SIZE) for note in notes)
    ax.text(
        0.5,
        1.0,
        text,
        transform=offset_copy(ax.transAxes, fig=fig, y=4, units="points"),
        ha="center",
        va="bottom",
        fontsize=_NOTE_SIZE,
        color=NOTE_COLOUR,
    )
    # Text does not scale exactly with the resolution (lines are fitted to whole
    # pixels): leave room for the note as drawn on screen and as saved.
    height = max(_text_height(fig, text, _NOTE_SIZE, dpi) for dpi in (fig.dpi, _SAVE_DPI))
    ax.set_title(title, pad=height + 10)


def _listing(names: Sequence[str], limit: int = 6) -> str:
    """``a, b and c``; beyond ``limit`` names, ``a, b, ... and 12 more``."""
    shown = list(names[:limit])
    rest = len(names) - len(shown)
    if rest > 0:
        return ", ".join(shown) + f" and {rest} more"
    if len(shown) <= 2:
        return " and ".join(shown)
    return ", ".join(shown[:-1]) + f" and {shown[-1]}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


# --------------------------------------------------------------------------- time axes


@dataclass(frozen=True)
class _Span:
    """The part of a history a time axis shows, and what it leaves out."""

    #: First and last timestamp on the axis; the history's last timestamp (states
    #: and metrics hold until it).
    first: pd.Timestamp
    last: pd.Timestamp
    end: pd.Timestamp
    #: (action, timestamp) rows left of and right of the axis.
    before: pd.DataFrame
    after: pd.DataFrame

    def limits(self) -> tuple[float, float]:
        lo, hi = (float(x) for x in _date_numbers(_naive(pd.Series([self.first, self.last]))))
        pad = (hi - lo) * 0.015 if hi > lo else 1.0
        return lo - pad, hi + pad

    def note(self, action: str | None = None) -> str:
        """What the axis leaves out (of ``action`` only, when given); empty when nothing."""
        parts = []
        for side, rows, edge, where in (
            ("earlier", self.before, self.first, "before"),
            ("later", self.after, self.last, "after"),
        ):
            if action is not None:
                rows = rows[rows["action"] == action]
            if rows.empty:
                continue
            days = sorted({f"{t:%Y-%m-%d}" for t in rows["timestamp"]})
            when = _listing(days) if len(days) <= 3 else f"{days[0]} to {days[-1]}"
            far = rows["timestamp"].max() if side == "earlier" else rows["timestamp"].min()
            gap = abs((edge - far) / pd.Timedelta(days=1))
            count = _plural(rows["timestamp"].nunique(), f"{side} timestamp")
            whose = (
                "of this class"
                if action is not None
                else "of " + _listing(sorted(map(str, rows["action"].unique())), 3)
            )
            parts.append(f"{count} {whose} ({when}), {gap:,.0f} days {where} the rest")
        if not parts:
            return ""
        shown = f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}"
        return f"Time axis shows {shown}; left off it: " + "; ".join(parts) + "."


def _kept_range(ns: np.ndarray) -> tuple[int, int]:
    """Nanosecond bounds (inclusive) of the bulk of the sorted distinct times ``ns``.

    The first (or last) ``k`` times are left out when ``k`` is at most
    :data:`_OUTLIER_SHARE` of them (at least one) and the gap between them and the
    rest is longer than the rest's whole span (and than a day).
    """
    first, last = 0, len(ns) - 1
    most = max(1, int(len(ns) * _OUTLIER_SHARE))
    for _ in range(2):  # a cut at one end shortens the rest: look at the other end again
        k = np.arange(1, min(most - first, last - first - 1) + 1)
        lead = np.flatnonzero(
            ns[first + k] - ns[first + k - 1] > np.maximum(ns[last] - ns[first + k], _DAY_NS)
        )
        if len(lead):
            first += int(k[lead[-1]])
        k = np.arange(1, min(most - (len(ns) - 1 - last), last - first - 1) + 1)
        trail = np.flatnonzero(
            ns[last - k + 1] - ns[last - k] > np.maximum(ns[last - k] - ns[first], _DAY_NS)
        )
        if len(trail):
            last -= int(k[trail[-1]])
    return int(ns[first]), int(ns[last])


def _time_span(timeline: pd.DataFrame, clip: bool) -> _Span | None:
    """The span to show of a replay timeline (None when it has no rows)."""
    if timeline.empty:
        return None
    stamps = timeline["timestamp"]
    ns = np.unique(_naive(stamps).astype("datetime64[ns]").astype(np.int64))
    lo, hi = _kept_range(ns) if clip else (int(ns[0]), int(ns[-1]))
    first, last = pd.Timestamp(lo, tz="UTC"), pd.Timestamp(hi, tz="UTC")
    rows = timeline[["action", "timestamp"]]
    return _Span(
        first,
        last,
        stamps.max(),
        rows[stamps < first].drop_duplicates(),
        rows[stamps > last].drop_duplicates(),
    )


def _class_span(timeline: pd.DataFrame, action: str, clip: bool) -> tuple[_Span, str]:
    """The span to show of ``action``'s metrics, and a note on what it leaves out.

    The replay's span (:func:`_time_span`) when some of the class's timestamps lie on
    it. When every one of them was left off it (the class's only evidence lies far
    from the rest of the history), the class's own span instead, from its first
    timestamp to the end of the history (its last rates hold until then): a class's
    chart never leaves out all of its evidence, nor shows a span where it has none.
    """
    span = _time_span(timeline, clip)
    mine = timeline[timeline["action"] == action]
    assert span is not None and len(mine)
    stamps = mine["timestamp"]
    if ((stamps >= span.first) & (stamps <= span.last)).any():
        return span, span.note(action)
    own = _time_span(mine, clip)
    assert own is not None
    own = replace(own, last=max(own.last, span.end), end=span.end, after=own.after.iloc[:0])
    days = sorted({f"{t:%Y-%m-%d}" for t in stamps})
    when = _listing(days) if len(days) <= 3 else f"{days[0]} to {days[-1]}"
    if stamps.max() < span.first:
        gap = f"{(span.first - stamps.max()) / pd.Timedelta(days=1):,.0f} days before"
    elif stamps.min() > span.last:
        gap = f"{(stamps.min() - span.last) / pd.Timedelta(days=1):,.0f} days after"
    else:
        gap = "outside"
    note = (
        f"All of this class's evidence ({when}) lies {gap} the span the other charts "
        f"show ({span.first:%Y-%m-%d} to {span.last:%Y-%m-%d}): this time axis runs from "
        f"it to the end of the history ({span.end:%Y-%m-%d}), its last rates held until then."
    )
    left_off = own.note(action)
    return own, f"{note} {left_off}" if left_off else note


# --------------------------------------------------------------------------- charts


#: A state changed back within this long is a quick reversal: held so briefly that no
#: step shows on a timeline, so the timeline marks it apart (and the report counts it).
QUICK_REVERSAL = pd.Timedelta(hours=1)


def quick_reversals(moves: pd.DataFrame, within: pd.Timedelta = QUICK_REVERSAL) -> np.ndarray:
    """Per transition of one class (rows of :attr:`Replay.transitions` for one action,
    in time order): whether the next transition changes the state back within
    ``within``, so the state this one entered was held under that long. The number of
    True values is the class's number of quick reversals."""
    out = np.zeros(len(moves), dtype=bool)
    if len(moves) < 2:
        return out
    back = moves["to"].to_numpy()[1:] == moves["from"].to_numpy()[:-1]
    quick = moves["time"].diff().to_numpy()[1:] < within.to_timedelta64()
    out[:-1] = back & quick
    return out


def _visible_changes(reversed_: np.ndarray) -> np.ndarray:
    """Which transitions leave a state change that outlasts the quick reversals around
    them: those in no reversal, and the last of a chain of reversals whose moves are
    odd in number (A->B->A->B ends in B: a change; A->B->A ends where it began)."""
    in_chain = reversed_ | np.r_[False, reversed_[:-1]]
    ends = in_chain & ~reversed_
    starts = in_chain & ~np.r_[False, reversed_[:-1]]
    lengths = np.flatnonzero(ends) - np.flatnonzero(starts) + 1
    visible = ~in_chain
    visible[np.flatnonzero(ends)[lengths % 2 == 1]] = True
    return np.asarray(visible, dtype=bool)


def _lanes(result: Replay) -> list[str]:
    """Every action of the replay: the summary's order, then any only in the timeline."""
    actions = [str(a) for a in result.summary["action"]]
    known = set(actions)
    actions += [str(a) for a in dict.fromkeys(result.timeline["action"]) if str(a) not in known]
    return actions


@_styled
def state_timeline_chart(result: Replay, *, clip_outliers: bool = True) -> Figure:
    """One lane per action: the graded state over time, transitions marked.

    A state change is marked ▼. A quick reversal (:func:`quick_reversals`: a state
    held under an hour, then changed back) draws no visible step, so it is marked ×
    instead, one × per reversal; a chain of them that ends in another state than it
    began in also gets its ▼. A class with no evidence (no timeline rows) gets a greyed
    MANUAL lane marked "no evidence". With ``clip_outliers`` (the default), a few
    timestamps far from the rest are left off the time axis and the chart says which.
    Lane labels take at most 30% of the width: a longer name is wrapped on as many lines as its lane
    holds, or shortened with an ellipsis and named in full in a note (the figure
    grows to hold it).
    """
    tl = result.timeline
    actions = _lanes(result)
    with_rows = {str(a) for a in tl["action"].unique()}
    n = max(len(actions), 1)
    lane = 0.55 if n <= 12 else max(0.3, 0.55 - 0.01 * (n - 12))
    fig = _figure(9, lane * n + 1.7)
    ax = fig.add_subplot()
    span = _time_span(tl, clip_outliers)
    lo, hi = span.limits() if span is not None else (0.0, 1.0)
    # Every segment is drawn at least this wide, so a state held briefly (or a class
    # first seen on the last day) still shows.
    least = (hi - lo) * 0.004
    end = float(_date_numbers(_naive(pd.Series([span.end])))[0]) if span is not None else hi
    manual = STATE_COLOURS["MANUAL"]
    rows_of = tl.groupby("action", sort=False, observed=True).indices if len(tl) else {}
    when = _date_numbers(_naive(tl["timestamp"]))
    states = tl["state"].astype(str).to_numpy()
    for row, action in enumerate(actions):
        if action not in rows_of:
            ax.broken_barh(
                [(lo, hi - lo)],
                (row - 0.35, 0.7),
                facecolors=manual,
                alpha=0.25,
                edgecolor="none",
            )
            ax.text(
                (lo + hi) / 2,
                row,
                "no evidence: MANUAL throughout",
                ha="center",
                va="center",
                fontsize=8,
                color="#333333",
            )
            continue
        at, held = when[rows_of[action]], states[rows_of[action]]
        # One bar per run of the same state, held until the next run (or the end).
        new_run = np.r_[True, held[1:] != held[:-1]]
        starts, run_states = at[new_run], held[new_run]
        widths = np.maximum(np.r_[starts[1:], end] - starts, least)
        for state, colour in STATE_COLOURS.items():
            sel = run_states == state
            if sel.any():
                ax.broken_barh(
                    list(zip(starts[sel], widths[sel], strict=True)),
                    (row - 0.35, 0.7),
                    facecolors=colour,
                    edgecolor="none",
                )
        if starts[0] < lo:  # the lane began before the axis: an arrow says it goes on
            ax.plot([lo + (hi - lo) * 0.008], [row], "<", color="white", markersize=6)
    moves = result.transitions
    reversals = 0
    for row, action in enumerate(actions):
        mine = moves[moves["action"] == action]
        if not len(mine):
            continue
        quick = quick_reversals(mine)
        reversals += int(quick.sum())
        times = _date_numbers(_naive(mine["time"]))
        # A change under its lane; a quick reversal on the lane itself, where nothing
        # shows that it happened.
        for shown, marker, y in ((_visible_changes(quick), "v", row + 0.42), (quick, "x", row)):
            if shown.any():
                ax.plot(
                    times[shown],
                    np.full(int(shown.sum()), y),
                    marker,
                    color="#000000",
                    markersize=4 if marker == "v" else 6,
                    markeredgewidth=1.3,
                    linestyle="none",
                )
    # Lane labels take at most _LANE_LABEL_SHARE of the width, on as many lines as a
    # lane holds: longer names are wrapped, then shortened, and named in full in a note.
    size = FontProperties(size=matplotlib.rcParams["ytick.labelsize"]).get_size_in_points()
    lines = int((lane * fig.dpi - 8) // (size * 1.2 * fig.dpi / 72))
    labels = [
        _shortened(fig, a, fig.bbox.width * _LANE_LABEL_SHARE, size, max(1, min(lines, 3)))
        for a in actions
    ]
    shortened = [a for a, label in zip(actions, labels, strict=True) if "…" in label]
    ax.set_yticks(range(len(actions)), labels)
    for label, action in zip(ax.get_yticklabels(), actions, strict=True):
        if action not in with_rows:
            label.set_color("#777777")
    ax.set_ylim(len(actions) - 0.4, -0.6)
    ax.set_xlim(lo, hi)
    if span is not None:
        _dates(ax)
    else:
        ax.set_xlabel("date (UTC)")
        ax.set_xticks([])
    handles: list[Artist] = [Patch(color=c, label=s) for s, c in STATE_COLOURS.items()]
    handles.append(
        Line2D([], [], marker="v", color="#000000", linestyle="none", label="state change")
    )
    if reversals:
        handles.append(
            Line2D([], [], marker="x", color="#000000", linestyle="none", label="quick reversal")
        )
    if len(with_rows) < len(actions):
        handles.append(Patch(color=manual, alpha=0.25, label="no evidence"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    window = result.window if result.window is not None else "cumulative"
    notes = [span.note() if span is not None else "No class has any evidence."]
    if reversals:
        notes.append(
            f"× on a lane: a quick reversal, a state held under an hour and then changed "
            f"back, too brief to show as a step ({reversals:,} in all)."
        )
    if shortened:
        names = "Lane labels shortened (…); in full, top to bottom: " + "; ".join(shortened) + "."
        notes.append(names)
        # The figure grows by the height of the names, so the lanes keep theirs.
        room = fig.bbox.width * (1 - _LANE_LABEL_SHARE) * 0.9
        grow = _text_height(fig, _wrap(fig, names, room, _NOTE_SIZE), _NOTE_SIZE, _SAVE_DPI)
        fig.set_size_inches(fig.get_figwidth(), fig.get_figheight() + grow / 72)
    _subtitle(ax, f"Autonomy state over time (window: {window})", notes)
    return fig


def _rate_panels(
    tl: pd.DataFrame, result: Replay
) -> tuple[list[tuple[str, str, dict[AutonomyState, float]]], list[str]]:
    """The rates of ``tl`` that have cases to draw, and notes on those that have none."""
    t = result.policy.thresholds
    panels, notes = [], []
    for column, label, bars, count in (
        ("pass_rate", "pass rate", t.pass_rate, "n_normal"),
        (
            "adversarial_pass_rate",
            "adversarial pass rate",
            t.adversarial_pass_rate,
            "n_adversarial",
        ),
    ):
        if (tl[count] > 0).any():
            panels.append((column, label, bars))
            continue
        kind = "adversarial" if column.startswith("adversarial") else "normal"
        graded = float(tl[column].iloc[-1])
        bar = bars[AutonomyState.SUPERVISED]
        notes.append(
            f"No {kind} cases of this class in the history, so no {label} to draw; "
            f"it is graded as {graded:.2f} against the Supervised bar {bar:.2f}."
        )
    if not panels:  # no cases at all (runs of zero cases): show the empty pass rate
        panels.append(("pass_rate", "pass rate", t.pass_rate))
    return panels, notes


@_styled
def metrics_chart(result: Replay, action: str, *, clip_outliers: bool = True) -> Figure:
    """Pass rate and adversarial pass rate of ``action`` over time, with 95% Wilson
    bands and the SUPERVISED / AUTONOMOUS bars.

    The time axis is the replay's (outliers left off as in
    :func:`state_timeline_chart`), unless every timestamp of ``action`` was left off
    it: then it runs from the class's first timestamp to the end of the history, and
    a note says so. The last value holds until the history ends. A
    rate is drawn only where its window has cases. A class with no adversarial
    cases gets one panel and a note; a class of the replay with no evidence at all
    gets an empty chart that says so.
    """
    tl = result.timeline[result.timeline["action"] == action]
    window = result.window if result.window is not None else "cumulative"
    title = f"{action}: eval metrics over time (window: {window})"
    if tl.empty:
        if action not in {str(a) for a in result.summary["action"]}:
            raise ValueError(f"no history for action {action!r}")
        fig = _figure(9, 3.0)
        ax = fig.add_subplot()
        ax.set_ylim(0, 1)
        ax.set_xticks([])
        ax.set_xlabel("date (UTC)")
        ax.set_ylabel("pass rate (fraction)")
        ax.text(
            0.5,
            0.5,
            "no evidence: no eval cases of this class in the history,\nso it stays MANUAL",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=10,
            color="#555555",
        )
        _subtitle(ax, title, [])
        return fig
    span, span_note = _class_span(result.timeline, action, clip_outliers)
    panels, notes = _rate_panels(tl, result)
    fig = _figure(9, 1.5 + 1.8 * len(panels))
    axes = list(fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0])
    x = _date_numbers(_naive(tl["timestamp"]))
    end = float(_date_numbers(_naive(pd.Series([span.end])))[0])
    xs = np.append(x, max(end, x[-1]))  # the last value holds until the history ends
    for ax, (column, label, bars) in zip(axes, panels, strict=True):
        count = "n_adversarial" if column.startswith("adversarial") else "n_normal"
        measured = (tl[count] > 0).to_numpy()

        def drawn(name: str, measured: np.ndarray = measured) -> np.ndarray:
            values = tl[name].to_numpy(dtype=np.float64, copy=True)
            values[~measured] = np.nan  # no cases in the window: nothing measured
            return np.append(values, values[-1])

        ax.fill_between(
            xs,
            drawn(f"{column}_lo"),
            drawn(f"{column}_hi"),
            step="post",
            color=SERIES[0],
            alpha=0.2,
            linewidth=0,
        )
        ax.step(xs, drawn(column), where="post", color=SERIES[0], linewidth=1.4)
        if len(x) <= 30:  # few points: mark each, so a single run still shows
            ax.plot(x[measured], drawn(column)[:-1][measured], "o", color=SERIES[0], markersize=3)
        for state, style in ((AutonomyState.SUPERVISED, "--"), (AutonomyState.AUTONOMOUS, ":")):
            ax.axhline(bars[state], color=STATE_COLOURS[state.name], linestyle=style, linewidth=1.3)
        ax.set_ylabel(f"{label} (fraction)")
        lowest = float(np.nanmin(drawn(f"{column}_lo"), initial=1.0))
        # Down to just below 0 at most, so a rate of 0 shows above the x axis.
        ax.set_ylim(max(_PROBABILITY_LIMITS[0], min(lowest, *bars.values()) - 0.05), 1.0)
    axes[-1].set_xlim(*span.limits())
    _dates(axes[-1])

    def bar_label(state: AutonomyState) -> str:
        values = {label: bars[state] for _, label, bars in panels}
        if len(values) == 1:
            return f"{state.name} bar {next(iter(values.values())):.2f}"
        return f"{state.name} bar: " + ", ".join(
            f"{label} {value:.2f}" for label, value in values.items()
        )

    handles: list[Artist] = [
        Patch(color=SERIES[0], alpha=0.2, linewidth=0, label="95% Wilson interval"),
        Line2D([], [], color=SERIES[0], linewidth=1.4, label="measured rate (window)"),
        Line2D(
            [],
            [],
            color=STATE_COLOURS["SUPERVISED"],
            linestyle="--",
            label=bar_label(AutonomyState.SUPERVISED),
        ),
        Line2D(
            [],
            [],
            color=STATE_COLOURS["AUTONOMOUS"],
            linestyle=":",
            label=bar_label(AutonomyState.AUTONOMOUS),
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    _subtitle(axes[0], title, [*notes, span_note])
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


def _knob_text(knob: str, value: Any) -> str:
    return "cumulative" if knob == "window" and value is None else str(value)


def _ink_on(rgba: Sequence[float]) -> str:
    """Black or white text, whichever reads on a cell of colour ``rgba``."""
    red, green, blue = rgba[:3]
    return "black" if 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.45 else "white"


@_styled
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
    The colour bar spans the values shown; with fewer than two distinct values
    there is none, and a note gives the value.
    """
    by = result.by_candidate
    if fixed is None:
        fixed = {str(k): v for k, v in by.iloc[0].to_dict().items()} if len(by) else {}
    part = _slice_for_two_knobs(by, x, y, fixed)
    keys = {k: part[k].map(repr) if k == "window" else part[k] for k in (x, y)}
    shown = {k: dict(zip(keys[k], part[k], strict=True)) for k in (x, y)}
    xs = sorted(keys[x].unique(), key=_knob_order)
    ys = sorted(keys[y].unique(), key=_knob_order)
    value = f"median_days_to_{state}"
    grid = np.full((len(ys), len(xs)), np.nan)
    for kx, ky, v in zip(keys[x], keys[y], part[value], strict=True):
        grid[ys.index(ky), xs.index(kx)] = v
    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot()
    ax.set_facecolor("#DDDDDD")
    finite = np.unique(grid[np.isfinite(grid)])
    notes = []
    norm = Normalize(float(finite[0]), float(finite[-1])) if len(finite) > 1 else None
    # One value: the middle of the colour map, with no scale to read it on.
    shade = norm or Normalize(float(finite[0]) - 1, float(finite[0]) + 1) if len(finite) else None
    cmap = matplotlib.colormaps["viridis"]
    if len(finite):
        image = ax.imshow(
            np.ma.masked_invalid(grid), cmap=cmap, norm=shade, aspect="auto", origin="lower"
        )
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    if norm is not None:
        fig.colorbar(image, ax=ax, label=f"median days to {state.upper()} (days)")
    elif len(finite) == 1:
        notes.append(
            f"Every cell that gets there takes {finite[0]:.0f} days: one value, no colour scale."
        )
    else:
        notes.append(
            f"No cell gets there: under every candidate shown, fewer than half of the "
            f"classes ever reach {state.upper()} (no colour scale)."
        )
    crowded = len(xs) > 14 or len(ys) > 20  # cell labels would not fit
    for (r, c), v in np.ndenumerate(grid):
        if np.isnan(v):
            ax.add_patch(
                Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#888888")
            )
            if not crowded:
                ax.text(c, r, "never", ha="center", va="center", fontsize=7, color="#333333")
        elif not crowded:
            ink = _ink_on(cmap(shade(v) if shade is not None else 0.5))
            ax.text(c, r, f"{v:.0f}", ha="center", va="center", fontsize=7, color=ink)
    if mark is not None:
        cell = tuple(repr(fixed[k]) if k == "window" else fixed[k] for k in (x, y))
        if cell[0] in xs and cell[1] in ys:
            corner = (xs.index(cell[0]) - 0.5, ys.index(cell[1]) - 0.5)
            # A white line inside a black one shows on dark and light cells alike.
            for colour, width in (("black", 3.5), ("white", 1.5)):
                outline = Rectangle(corner, 1, 1, fill=False, edgecolor=colour, linewidth=width)
                outline.set_clip_on(False)  # a cell on the edge keeps its whole outline
                ax.add_patch(outline)
    ax.set_xticks(range(len(xs)), [_knob_text(x, shown[x][v]) for v in xs], rotation=0)
    ax.set_yticks(range(len(ys)), [_knob_text(y, shown[y][v]) for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    held = [
        f"{k}={_knob_text(k, fixed[k])}"
        for k in KNOBS
        if k in fixed and k not in (x, y) and by[k].map(repr).nunique() > 1
    ]
    if held:
        notes.insert(0, "Other knobs held at " + ", ".join(held) + ".")
    if mark is not None:
        notes.append(f"Outlined: {mark}.")
    if len(by) == 0:
        notes.append("The sweep has no valid candidate.")
    _subtitle(ax, f"Threshold sensitivity: days to {state.upper()}", notes)
    return fig


#: Marker styles of labelled points on the Pareto chart: these labels keep theirs, any
#: other label takes the next unused one.
_MARK_STYLES: dict[str, dict[str, Any]] = {
    "policy in force": {"marker": "*", "color": SERIES[1], "markersize": 15},
    "pick": {"marker": "D", "color": SERIES[2], "markersize": 9},
    "your settings": {"marker": "o", "color": SERIES[3], "markersize": 11,
                      "markerfacecolor": "none", "markeredgewidth": 2.5},
    "": {"marker": "s", "color": SERIES[4], "markersize": 9},
}  # fmt: skip


@_styled
def pareto_chart(
    result: SweepResult,
    current: tuple[float, float] | None = None,
    *,
    marks: Mapping[str, tuple[float, float]] | None = None,
) -> Figure:
    """Approval burden against failures let through while graduated, one point per
    candidate; the Pareto frontier highlighted; ``current`` (burden, failures) marked.

    ``marks`` labels further points (e.g. ``{"policy in force": ..., "pick": ...,
    "your settings": ...}``), each with its own marker, in the legend by its label;
    :class:`MovingMark` moves one later without laying the chart out again."""
    by = result.by_candidate
    front = result.pareto()
    fig = _figure(7.5, 5.0)
    ax = fig.add_subplot()
    ax.scatter(
        by["approval_burden"],
        by["failures_let_through"],
        s=14,
        color="#999999",
        alpha=0.6,
        label="candidate thresholds",
        linewidths=0,
    )
    ax.plot(
        front["approval_burden"],
        front["failures_let_through"],
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
    spare = [v for k, v in _MARK_STYLES.items() if k not in (marks or {})]
    for label, point in (marks or {}).items():
        style = _MARK_STYLES.get(label) or spare.pop(0)
        ax.plot([point[0]], [point[1]], linestyle="none", label=label, zorder=5,
                **{"markeredgecolor": "black", **style})  # fmt: skip
    # Both axes count cases: whole-number ticks, and no room for negative counts.
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))
    failures = by["failures_let_through"].to_numpy(dtype=np.float64)
    if current is not None:
        failures = np.append(failures, current[1])
    failures = np.append(failures, [p[1] for p in (marks or {}).values()])
    burdens = by["approval_burden"].to_numpy(dtype=np.float64)
    if current is not None:
        burdens = np.append(burdens, current[0])
    burdens = np.append(burdens, [p[0] for p in (marks or {}).values()])
    if len(burdens) and np.ptp(burdens) == 0 and np.ptp(failures) == 0:
        # One point: both counts from 0, so the axes say how big it is.
        ax.set_xlim(0, max(burdens[0] * 1.5, 2.0))
        ax.set_ylim(0, max(failures[0] * 1.5, 2.0))
    elif len(failures) and np.ptp(failures) < 2:  # one level: a few cases around it
        ax.set_ylim(max(failures.min() - 2, -0.3), failures.max() + 2)
    unit = "cases" if result.stand_in else "requests"
    ax.set_xlabel(f"approval burden ({unit} that needed a human)")
    ax.set_ylabel("failures let through (eval failures while open)")
    notes = []
    points = by[["approval_burden", "failures_let_through"]].drop_duplicates()
    if len(by) > 1 and len(points) == 1:
        notes.append(f"All {len(by):,} candidates give the same burden and failures: one point.")
    fig.legend(loc="outside lower center", ncols=3, frameon=False)
    _subtitle(ax, "Cost against risk of candidate thresholds", notes)
    return fig


def _rule_counts(rules: Sequence[tuple[str, str]]) -> str:
    """``point, wilson, anytime 0/6`` where the rules reached the state equally often,
    else ``point 2/6, wilson 1/6``."""
    if len({count for _, count in rules}) == 1:
        return ", ".join(rule for rule, _ in rules) + " " + rules[0][1]
    return ", ".join(f"{rule} {count}" for rule, count in rules)


#: One marker per evidence rule in :func:`rule_tradeoff_chart`.
_RULE_MARKERS = {"point": "o", "wilson": "s", "anytime": "^"}


@_styled
def rule_tradeoff_chart(comparison: pd.DataFrame) -> Figure:
    """Evidence rules on one history (:func:`~warrantd.analytics.sweep.compare_rules`):
    for each state, the mean days a class waited to reach it (one that never did counted
    to the end of the history) against the premature graduations to it, one point per
    rule, the rules of a state joined by a line. Without ground truth the premature
    graduations are unknown: one row per state and rule shows the days alone, with a
    note saying so."""
    fig = _figure(7.5, 4.6)
    ax = fig.add_subplot()
    notes = []
    # A rule and state with no class to wait for (no evidence) has no point to draw.
    unknown = comparison["mean_days_waited"].isna()
    if unknown.any():
        notes.append(f"{int(unknown.sum())} rule(s) and state(s) with no class: not drawn.")
        comparison = comparison[~unknown]
    truth = bool(comparison["premature"].notna().any()) if len(comparison) else False
    if not truth:
        return _rule_days_chart(fig, ax, comparison, notes)
    xs = comparison["mean_days_waited"].to_numpy(dtype=np.float64)
    ys = comparison["premature"].astype("Float64").fillna(0).to_numpy(dtype=np.float64)
    keys = [(round(float(x), 6), float(y)) for x, y in zip(xs, ys, strict=True)]
    # Per point, each state's rules there: rules (and states) that land on the same
    # point share one label, and a point several states share says which is which.
    labels: dict[tuple[float, float], dict[str, list[tuple[str, str]]]] = {}
    for key, held, rule, reached, classes in zip(
        keys,
        comparison["state"].astype(str),
        comparison["evidence"].astype(str),
        comparison["reached"],
        comparison["classes"],
        strict=True,
    ):
        labels.setdefault(key, {}).setdefault(held, []).append((rule, f"{reached}/{classes}"))
    for state, rows in comparison.groupby("state", sort=False):
        x = rows["mean_days_waited"].to_numpy(dtype=np.float64)
        y = rows["premature"].astype("Float64").fillna(0).to_numpy(dtype=np.float64)
        colour = STATE_COLOURS[str(state)]
        ax.plot(x, y, "-", color=colour, linewidth=1.2, alpha=0.7, zorder=2)
        for xi, yi, rule in zip(x, y, rows["evidence"], strict=True):
            # Where the states share a point, the first is drawn larger, behind: both show.
            shared = list(labels[(round(float(xi), 6), float(yi))])
            size = 8 if len(shared) == 1 else 13 - 5 * shared.index(str(state))
            ax.plot([xi], [yi], linestyle="none", marker=_RULE_MARKERS.get(str(rule), "D"),
                    color=colour, markeredgecolor="black", markersize=size, zorder=3)  # fmt: skip
    # Along each level of the y axis, labels alternate above and below their points, so
    # neighbours (of either state) do not print over each other.
    for i, (point, states) in enumerate(sorted(labels.items(), key=lambda kv: kv[0][::-1])):
        above = i % 2 == 0
        texts = {state: _rule_counts(rules) for state, rules in states.items()}
        if len(texts) == 1:
            text = next(iter(texts.values()))
        elif len(set(texts.values())) == 1:
            text = " and ".join(texts) + ": " + next(iter(texts.values()))
        else:
            text = "; ".join(f"{state}: {shown}" for state, shown in texts.items())
        ax.annotate(
            text,
            point,
            xytext=(0, 9 if above else -11),
            textcoords="offset points",
            ha="center",
            va="bottom" if above else "top",
            fontsize=_NOTE_SIZE,
            color=NOTE_COLOUR,
        )
    ax.margins(x=0.15)
    if len(xs) and np.ptp(xs) == 0:  # one day count: from 0, not a sliver around it
        ax.set_xlim(0, max(float(xs[0]) * 1.5, 1.0))
    handles = [
        Line2D([], [], color=STATE_COLOURS[str(state)], linewidth=1.2, label=str(state))
        for state in comparison["state"].unique()
    ] + [
        Line2D([], [], linestyle="none", marker=m, color="#999999", mec="black", label=rule)
        for rule, m in _RULE_MARKERS.items()
        if rule in set(comparison["evidence"])
    ]
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))
    top = float(comparison["premature"].astype("Float64").fillna(0).max())
    if top < 2:  # a few graduations at most: keep a readable window around them
        ax.set_ylim(-0.5, top + 1.5)
    ax.set_xlabel(
        "mean days to reach the state (a class that never did: to the end of the history)"
    )
    ax.set_ylabel("premature graduations (true pass rate below the bar)")
    if top == 0:
        notes.append("No rule graduated a class prematurely on this history.")
    alpha = comparison["alpha"].iloc[0] if len(comparison) else float("nan")
    notes.append(
        f"Bounds at alpha {alpha:g}; the policy's bars, margin and resets for every rule. "
        "Each point: the rule, and the classes that reached the state / all classes."
    )
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    _subtitle(ax, "Evidence rules: time to graduate against premature graduations", notes)
    return fig


def _rule_days_chart(fig: Figure, ax: Axes, comparison: pd.DataFrame, notes: list[str]) -> Figure:
    """:func:`rule_tradeoff_chart` without ground truth: only the days compare, so one
    row per state and rule (nothing to overlap), each point labelled with the classes
    that reached the state."""
    # Grouped by state (in the order given), each state's rules together.
    rows = pd.concat([g for _, g in comparison.groupby("state", sort=False)], ignore_index=True)
    y = np.arange(len(rows))[::-1].astype(np.float64)  # the first row at the top
    xs = rows["mean_days_waited"].to_numpy(dtype=np.float64)
    for yi, xi, state, rule, reached, classes in zip(
        y,
        xs,
        rows["state"].astype(str),
        rows["evidence"].astype(str),
        rows["reached"],
        rows["classes"],
        strict=True,
    ):
        colour = STATE_COLOURS[state]
        ax.plot([0, xi], [yi, yi], "-", color=colour, linewidth=1.0, alpha=0.35, zorder=1)
        ax.plot([xi], [yi], linestyle="none", marker=_RULE_MARKERS.get(rule, "D"),
                color=colour, markeredgecolor="black", markersize=8, zorder=3)  # fmt: skip
        ax.annotate(f"{reached}/{classes} reached", (xi, yi), xytext=(8, 0),
                    textcoords="offset points", va="center", fontsize=_NOTE_SIZE,
                    color=NOTE_COLOUR)  # fmt: skip
    ax.set_yticks(y, [f"{s} · {r}" for s, r in zip(rows["state"], rows["evidence"], strict=True)])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    right = float(np.nanmax(xs)) if len(xs) else 1.0
    ax.set_xlim(0, max(right, 1.0) * 1.25)
    ax.set_xlabel(
        "mean days to reach the state (a class that never did: to the end of the history)"
    )
    notes.append(
        "The history has no ground truth (true_pass_p): premature graduations are unknown; "
        "only the days are compared."
    )
    alpha = comparison["alpha"].iloc[0] if len(comparison) else float("nan")
    notes.append(f"Bounds at alpha {alpha:g}; the policy's bars, margin and resets for every rule.")
    _subtitle(ax, "Evidence rules: time to graduate", notes)
    return fig


class MovingMark:
    """One labelled point of a drawn chart (see :func:`pareto_chart`'s ``marks``) that
    moves often: :meth:`png` redraws only that point over the rest of the chart, drawn
    and laid out once, so a redraw costs a few milliseconds, not a layout and a render.
    A point outside the axes grows them and draws the chart again."""

    def __init__(self, fig: Figure, label: str) -> None:
        self.fig, self.ax = fig, fig.axes[0]
        self.line = next(line for line in self.ax.get_lines() if line.get_label() == label)
        self.background: Any = None

    def _draw_rest(self) -> None:
        self.line.set_visible(False)
        self.fig.canvas.draw()
        self.fig.set_layout_engine("none")  # the positions just found stay put
        self.background = self.fig.canvas.copy_from_bbox(self.fig.bbox)  # type: ignore[attr-defined]
        self.line.set_visible(True)

    def png(self, point: tuple[float, float]) -> bytes:
        """The chart as PNG bytes with the point at ``point``."""
        from PIL import Image

        self.line.set_data([point[0]], [point[1]])
        (x0, x1), (y0, y1) = self.ax.get_xlim(), self.ax.get_ylim()
        if self.background is None or not (x0 <= point[0] <= x1 and y0 <= point[1] <= y1):
            self.ax.relim()
            self.ax.autoscale_view()
            self._draw_rest()
        canvas = self.fig.canvas
        canvas.restore_region(self.background)  # type: ignore[attr-defined]
        self.ax.draw_artist(self.line)
        buffer = io.BytesIO()
        Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png")  # type: ignore[attr-defined]
        return buffer.getvalue()


def _without_curve(fc: Forecast, drawn: Iterable[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The forecast table's rows without a curve: those at their ceiling, and the
    others (not simulated)."""
    drawn = set(drawn)
    rows = fc.table[~fc.table["action"].astype(str).isin(drawn)]
    top = (rows["next_state"].fillna("").astype(str) == "").to_numpy()
    return rows[top], rows[~top]


def _forecast_notes(fc: Forecast, drawn: Iterable[str]) -> list[str]:
    """Notes on the forecast table's classes that have no curve: at their ceiling, or
    not simulated (with the forecast's reason, when it gives one)."""
    ceiling, skipped = _without_curve(fc, drawn)
    notes = []
    if len(ceiling):
        names = [str(a) for a in ceiling["action"]]
        notes.append(f"At their ceiling, nothing to forecast: {_listing(names, 8)}.")
    if len(skipped):
        reasons = (
            skipped["note"].fillna("").astype(str).str.removeprefix("not forecast: ").str.strip()
            if "note" in skipped
            else pd.Series("", index=skipped.index)
        )
        for reason in dict.fromkeys(reasons):
            names = [str(a) for a in skipped.loc[reasons == reason, "action"]]
            why = f"; {reason}" if reason else ""
            notes.append(f"Not simulated (no curve): {_listing(names, 8)}{why}.")
    return notes


#: What the thick stretch and the dot on each forecast curve are.
_BAND_NOTE = (
    "Thick: the 10-90% band of the day, among the simulations that get there "
    'within the horizon (the table\'s "if so"); dot: its median.'
)


def _given_band(ax: Axes, fc: Forecast, action: str, colour: Any) -> bool:
    """Mark on ``action``'s curve the band the table shows: its stretch from the
    given 10th to 90th percentile day drawn thick, a dot at the given median.
    Whether there was one to mark (a class no simulation graduated has none)."""
    rows = fc.table[fc.table["action"] == action]
    if not len(rows) or "given_p10_date" not in rows:
        return False
    row = rows.iloc[0]
    ends: list[Any] = [row[f"given_p{q}_date"] for q in (10, 50, 90)]
    if any(pd.isna(end) for end in ends):
        return False
    k10, k50, k90 = (round((end - fc.as_of) / pd.Timedelta(days=1)) for end in ends)
    cdf = fc.cdfs[action].set_index("day")["probability"]
    stretch = cdf.loc[k10:k90]
    # gid "given-band": the curves are the lines without one.
    ax.plot(
        stretch.index,
        stretch.to_numpy(),
        color=colour,
        linewidth=5,
        alpha=0.35,
        solid_capstyle="butt",
        gid="given-band",
    )
    ax.plot([k50], [cdf.loc[k50]], "o", color=colour, markersize=5, gid="given-band")
    return True


def _forecast_order(fc: Forecast) -> tuple[list[str], dict[str, str]]:
    """The simulated classes in table order, and each one's next state."""
    table = [str(a) for a in fc.table["action"]]
    order = [a for a in dict.fromkeys([*table, *map(str, fc.cdfs)]) if a in fc.cdfs]
    nxt = {
        str(a): str(s).upper() if isinstance(s, str) and s else "next state"
        for a, s in zip(fc.table["action"], fc.table["next_state"], strict=True)
    }
    return order, {a: nxt.get(a, "next state") for a in order}


@_styled
def forecast_chart(fc: Forecast, *, max_lines: int = len(CLASS_COLOURS)) -> Figure:
    """P(reaching the next state) by each day of the horizon, one curve per action.

    Up to ``max_lines`` curves (at most one per colour of the palette) share one
    panel, each in its own colour, the legend ordered by the final probability;
    more get one small panel each, in table order. Classes of the table without
    a curve (at their ceiling, or not simulated) are named in a note.
    """
    order, nxt = _forecast_order(fc)
    notes = _forecast_notes(fc, order)
    title = (
        f"Graduation forecast ({fc.n_sims:,} simulations)"
        if order
        else "Graduation forecast: no class simulated"
    )
    if len(order) > min(max_lines, len(CLASS_COLOURS)):
        return _forecast_facets(fc, order, nxt, title, notes)
    fig = _figure(8, 4.6)
    ax = fig.add_subplot()
    final = {
        a: float(fc.cdfs[a]["probability"].iloc[-1]) if len(fc.cdfs[a]) else 0.0 for a in order
    }
    ncols = 2 if len(order) > 2 else 1
    room = (fig.bbox.width * 0.95) / ncols - _text_width(fig, "MMMM", 8)
    curves, banded = [], False
    for i, action in enumerate(order):
        cdf = fc.cdfs[action]
        (line,) = ax.plot(
            cdf["day"],
            cdf["probability"],
            color=CLASS_COLOURS[i],
            linewidth=1.6,
            label=_wrap(fig, f"{action} → {nxt[action]}", room, 8),
        )
        curves.append(line)
        banded |= _given_band(ax, fc, action, CLASS_COLOURS[i])
    if banded:
        notes = [*notes, _BAND_NOTE]
    ax.set_xlim(0, fc.horizon.days)
    ax.set_ylim(*_PROBABILITY_LIMITS)
    ax.set_xlabel(f"days after {fc.as_of:%Y-%m-%d}")
    ax.set_ylabel("P(graduated by then)")
    if order:
        # Beside the axes, not on them: curves start anywhere in the plot area. The
        # legend lists the classes by their final probability, top curve first.
        lines = dict(zip(order, curves, strict=True))
        ranked = sorted(order, key=lambda a: -final[a])
        handles: list[Artist] = [lines[a] for a in ranked]
        fig.legend(
            handles=handles, loc="outside lower center", ncols=ncols, fontsize=8, frameon=False
        )
    else:
        ceiling, skipped = _without_curve(fc, order)
        if not len(fc.table):
            empty = "no action to forecast"
        elif not len(skipped):
            empty = "every action is at its ceiling"
            notes = [n for n in notes if not n.startswith("At their ceiling")]
        else:
            counts = [f"{len(skipped):,} of {len(fc.table):,} not simulated"]
            if len(ceiling):
                counts.append(f"{len(ceiling):,} at their ceiling")
            empty = f"no class was simulated: see the notes\n({', '.join(counts)})"
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center")
    _subtitle(ax, title, notes)
    return fig


def _forecast_facets(
    fc: Forecast, order: list[str], nxt: dict[str, str], title: str, notes: list[str]
) -> Figure:
    """One small panel per class: as many classes as needed, each readable."""
    n = len(order)
    ncols = 3 if n <= 9 else 4 if n <= 16 else 5
    nrows = math.ceil(n / ncols)
    fig = _figure(9, 1.45 * nrows + 1.3)
    grid = fig.add_gridspec(nrows + 1, ncols, height_ratios=[0.001] + [1.0] * nrows)
    header = fig.add_subplot(grid[0, :])
    header.axis("off")
    panels: list[Axes] = []
    banded = False
    for i, action in enumerate(order):
        # Same limits on every panel, set below; shared axes would cost a quadratic
        # number of limit updates at 50 panels.
        ax = fig.add_subplot(grid[1 + i // ncols, i % ncols])
        panels.append(ax)
        cdf = fc.cdfs[action]
        ax.fill_between(cdf["day"], 0, cdf["probability"], color=SERIES[0], alpha=0.15, lw=0)
        ax.plot(cdf["day"], cdf["probability"], color=SERIES[0], linewidth=1.4)
        banded |= _given_band(ax, fc, action, SERIES[0])
        ax.axhline(0.5, color="#BBBBBB", linewidth=0.6, linestyle=":")
        p = float(cdf["probability"].iloc[-1]) if len(cdf) else 0.0
        ax.tick_params(labelsize=7)
        ax.set_title(
            _wrap(fig, action, fig.bbox.width / ncols * 0.9, 7.5)
            + f"\n→ {nxt[action]}: {p:.0%} by day {fc.horizon.days}",
            fontsize=7.5,
            fontweight="normal",
        )
        below = i + ncols < n  # a panel below shows the shared x ticks
        ax.tick_params(labelbottom=not below, labelleft=i % ncols == 0)
    days = [d for d in MaxNLocator(nbins=4, integer=True).tick_values(0, fc.horizon.days)]
    for ax in panels:
        ax.set_xticks([d for d in days if 0 <= d <= fc.horizon.days])
        ax.set_yticks([0, 0.5, 1])
        ax.set_xlim(0, fc.horizon.days)
        ax.set_ylim(*_PROBABILITY_LIMITS)
    fig.supxlabel(f"days after {fc.as_of:%Y-%m-%d}", fontsize=9)
    fig.supylabel("P(graduated by then)", fontsize=9)
    _subtitle(
        header,
        title,
        [
            f"{n} classes, one panel each (more than the palette can tell apart).",
            *notes,
            *([_BAND_NOTE] if banded else []),
        ],
        width=fig.bbox.width * 0.92,  # the header spans the figure: no layout pass needed
    )
    return fig


@_styled
def reliability_chart(scores: BacktestScores) -> Figure:
    """Backtest reliability: per tenth of P(within horizon), the share of forecasts
    whose class did graduate within the horizon against their mean probability,
    each point sized by its number of forecasts; the diagonal is a calibrated
    forecast and the dashed line the base rate (the no-skill forecast)."""
    table = scores.reliability
    fig = _figure(6.0, 5.2)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=1, label="calibrated")
    if not np.isnan(scores.base_rate):
        ax.axhline(
            scores.base_rate,
            color=SERIES[1],
            linestyle="--",
            linewidth=1.2,
            label=f"base rate {scores.base_rate:.0%} (no skill)",
        )
    used = table[table["forecasts"] > 0]
    if len(used):
        sizes = 20 + 180 * used["forecasts"] / used["forecasts"].max()
        ax.plot(used["mean_p"], used["observed"], color=SERIES[0], linewidth=1.2)
        ax.scatter(
            used["mean_p"],
            used["observed"],
            s=sizes,
            color=SERIES[0],
            zorder=3,
            label="forecasts (area: how many)",
        )
        for count, x, y in zip(
            used["forecasts"].to_numpy(dtype=np.int64),
            used["mean_p"].to_numpy(dtype=np.float64),
            used["observed"].to_numpy(dtype=np.float64),
            strict=True,
        ):
            ax.annotate(
                f"{count}",
                (x, y),
                textcoords="offset points",
                xytext=(7, -9),
                fontsize=7,
                color=NOTE_COLOUR,
            )
    else:
        ax.text(0.5, 0.5, "no backtest forecast", transform=ax.transAxes, ha="center")
    ax.set_xlim(*_PROBABILITY_LIMITS)
    ax.set_ylim(*_PROBABILITY_LIMITS)
    ax.set_xlabel("forecast P(next state within the horizon)")
    ax.set_ylabel("share that did graduate within it")
    fig.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    skill = "n/a" if np.isnan(scores.brier_skill) else f"{scores.brier_skill:+.2f}"
    notes = [
        f"{scores.forecasts:,} backtest forecasts; Brier score {scores.brier:.3f} against "
        f"{scores.brier_baseline:.3f} for the base rate (skill {skill})."
    ]
    _subtitle(ax, "Backtest reliability", notes)
    return fig
