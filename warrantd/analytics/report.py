"""The graduation report: one HTML page (self-contained) and a Markdown twin.

:func:`build_report` runs the whole chain (replay, sweep, forecast, backtest,
charts) and writes ``index.html`` (charts embedded, no network fetches),
``report.md`` and the PNG charts into ``out_dir``. Every string from the data
is untrusted: the HTML template autoescapes, the Markdown escapes. The output
is written to a temporary directory and renamed into place, so a failure never
leaves a half report; the same inputs and options give byte-identical files.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined

from .. import __version__
from .._io import OwnedDirectory
from ..graduation import ceiling
from ..policy import TrustPolicy
from ..policyfile import policy_to_toml
from . import charts
from ._progress import Steps
from .forecast import TREND_DAYS, Forecast, backtests, forecast
from .metrics import Window, window_label
from .quality import data_quality
from .replay import Replay, policy_classes_only, replay
from .sweep import KNOBS, SweepResult, candidates_frame, sweep

__all__ = ["ReportFiles", "build_report", "default_grid"]


def default_grid(policy: TrustPolicy) -> dict[str, list[Any]]:
    """A small grid around the policy's SUPERVISED bars, cumulative and 30-day windows."""
    from ..autonomy import AutonomyState

    t = policy.thresholds
    sup = AutonomyState.SUPERVISED
    p, n = t.pass_rate[sup], t.min_samples[sup]
    return {
        "supervised.pass_rate": sorted(
            {round(min(max(p + d, 0.0), 1.0), 3) for d in (-0.05, 0.0, 0.05)}
        ),
        "supervised.min_samples": sorted({max(int(n * f), 0) for f in (0.5, 1, 2)}),
        "window": [None, "30D"],
    }


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote, and the results it computed."""

    out_dir: Path
    files: list[str]
    replay: Replay
    sweep: SweepResult
    forecast: Forecast
    backtest: pd.DataFrame
    calibration: float | None


def _md(text: Any) -> str:
    """Escape a string for Markdown tables and text."""
    out = str(text).replace("\\", "\\\\").replace("\n", " ").replace("\r", " ")
    for ch in "|*_`[]<>#":
        out = out.replace(ch, "\\" + ch)
    return out


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("warrantd.analytics", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    env.filters["md"] = _md
    env.filters["fence"] = _fence
    env.filters["breakable"] = _breakable
    return env


def _breakable(text: str) -> str:
    """``text`` with a zero-width space after each ``.`` and ``_``, where a long knob
    name such as ``supervised.adversarial_pass_rate`` may wrap in a table header."""
    return text.replace(".", ".\u200b").replace("_", "_\u200b")


def _knob_text(knob: str, value: Any) -> str:
    return "cumulative" if knob == "window" and value is None else str(value)


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``, so it cannot be closed early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _date(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _time(value: Any) -> str:
    return "—" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def _pct(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.0%}"


def _change(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:+.3f}"


def _num(value: Any, digits: int = 3) -> str:
    if value is None or pd.isna(value):
        return "—"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{float(value):.{digits}f}"


def _hash_inputs(history: pd.DataFrame, policy: TrustPolicy) -> str:
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(history, index=False).to_numpy().tobytes())
    digest.update(policy_to_toml(policy).encode())
    return digest.hexdigest()


def _best(result: SweepResult, limit: int = 10) -> tuple[list[str], list[list[str]]]:
    front = result.pareto()
    if len(front) > limit:
        picks = np.unique(np.linspace(0, len(front) - 1, limit).round().astype(int))
        front = front.iloc[picks]
    varied = [k for k in KNOBS if result.table[k].map(repr).nunique() > 1]
    header = [
        "candidate",
        *varied,
        "approval burden",
        "failures let through",
        "failure rate",
        "median days to SUPERVISED",
    ]
    rows = []
    for row in front.to_dict("records"):
        rows.append(
            [
                str(row["candidate"]),
                *[_knob_text(k, row[k]) for k in varied],
                _num(row["approval_burden"]),
                _num(row["failures_while_supervised_or_above"]),
                _pct(row["failure_rate_while_supervised_or_above"]),
                _num(row["median_days_to_supervised"], 1),
            ]
        )
    return header, rows


def _grid_knobs(grid: Mapping[str, Sequence[Any]]) -> list[str]:
    return [k for k in KNOBS if k in grid and len(grid[k]) > 1]


GENERATOR = "warrantd report"
#: Report steps, in order, as the progress bar names them.
STEPS = ("replay", "sweep", "forecast", "backtest", "charts", "write")


def build_report(
    history: pd.DataFrame,
    policy: TrustPolicy,
    out_dir: str | os.PathLike[str] | OwnedDirectory,
    *,
    sweep_grid: Mapping[str, Sequence[Any]] | None = None,
    horizon: str | int = "90D",
    window: Window = None,
    title: str = "warrantd graduation report",
    n_sims: int = 2000,
    seed: int = 0,
    trend: bool = True,
    backtest_cuts: Sequence[Any] | None = None,
    sources: Mapping[str, str] | None = None,
    progress: bool = False,
    force: bool = False,
) -> ReportFiles:
    """Write the graduation report for ``history`` under ``policy`` into ``out_dir``.

    ``out_dir`` is checked before any work (:class:`~warrantd._io.OwnedDirectory`):
    a new or empty folder, or a previous report, whose files alone are replaced; a
    folder holding other files is refused unless ``force``, and even then they are
    never touched. The files are staged whole and renamed into place at the end,
    so an interrupted run leaves the previous report as it was.

    ``sweep_grid`` defaults to :func:`default_grid`; ``backtest_cuts`` to the
    days 60, 90 and 120 after the first case that leave at least a horizon of
    history after them (the last day counted whole). ``sources`` names the input
    files for the provenance section. Classes of the history that the policy lacks
    are left out and listed; classes of the policy with no evidence are shown
    MANUAL throughout.
    """
    target = (
        out_dir
        if isinstance(out_dir, OwnedDirectory)
        else OwnedDirectory.prepare(out_dir, generator=GENERATOR, force=force)
    )
    foreign = ~history["action"].isin(list(policy.actions))
    left_out = history[foreign].groupby("action", sort=True)["n"].sum()
    history = policy_classes_only(history, policy)
    grid = sweep_grid if sweep_grid is not None else default_grid(policy)
    candidates_frame(policy, grid, window)  # a grid with no valid candidate fails now, not later
    with Steps(STEPS, enabled=progress) as steps:
        result = replay(history, policy, window=window)
        steps.next()
        swept = sweep(history, policy, grid, window=window, progress=progress)
        steps.next()
        fc = forecast(
            history, policy, horizon=horizon, window=window, n_sims=n_sims, seed=seed, trend=trend
        )
        steps.next()
        start, end = history["timestamp"].min(), history["timestamp"].max()
        if backtest_cuts is None:
            # The history's last day counts whole: a cut at day 90 of a 180-day
            # history opens a 90-day horizon that ends with the last day's cases.
            backtest_cuts = [
                start.floor("D") + pd.Timedelta(days=d)
                for d in (60, 90, 120)
                if start.floor("D") + pd.Timedelta(days=d) + fc.horizon <= end.ceil("D")
            ]
        bt = backtests(
            history,
            policy,
            backtest_cuts,
            horizon=horizon,
            window=window,
            n_sims=n_sims,
            seed=seed,
            trend=trend,
        )
        calibration = float(bt["within_band"].mean()) if len(bt) else None
        steps.next()
        quality = data_quality(history, policy, now=end)
        held_at = swept.closest_candidate(policy.thresholds, window)
        images = _draw_charts(result, swept, fc, grid, held_at)
        steps.next()
        context = _context(
            history,
            policy,
            result,
            swept,
            fc,
            bt,
            calibration,
            grid,
            window,
            title,
            {name: base64.b64encode(data).decode("ascii") for name, data in images.items()},
            sources or {},
            n_sims,
            seed,
        )
        context["quality"] = quality.findings
        context["left_out"] = [f"{name!r} ({int(n):,} cases)" for name, n in left_out.items()]
        files = dict(images)
        files["index.html"] = (
            _environment(True).get_template("report.html.j2").render(**context).encode("utf-8")
        )
        files["report.md"] = (
            _environment(False).get_template("report.md.j2").render(**context).encode("utf-8")
        )
        written = target.commit(files)
        steps.next()
    return ReportFiles(target.path, written, result, swept, fc, bt, calibration)


def _action_image(index: int) -> str:
    # Action names are untrusted: image file names come from their position.
    return f"metrics-{index + 1:02d}.png"


def _draw_charts(
    result: Replay,
    swept: SweepResult,
    fc: Forecast,
    grid: Mapping[str, Sequence[Any]],
    held_at: pd.Series,
) -> dict[str, bytes]:
    """Every chart of the report as PNG bytes, by file name."""
    figures = {
        "timeline.png": charts.state_timeline_chart(result),
        "forecast.png": charts.forecast_chart(fc),
    }
    evidence = result.summary[~result.summary["no_evidence"]]
    for i, action in zip(evidence.index, evidence["action"], strict=True):
        figures[_action_image(int(i))] = charts.metrics_chart(result, action)
    knobs = _grid_knobs(grid)
    if len(knobs) >= 2:
        # The other knobs sit at the candidate nearest the policy in force, so the
        # heatmap reads as "around what we run today".
        figures["sweep-heatmap.png"] = charts.sweep_heatmap(
            swept,
            knobs[0],
            knobs[1],
            fixed=held_at.to_dict(),
            mark="the candidate nearest the policy in force",
        )
    current = (
        float(result.summary["cases_while_manual"].sum()),
        float(result.summary["failures_while_supervised_or_above"].sum()),
    )
    figures["pareto.png"] = charts.pareto_chart(swept, current)
    images = {}
    for name, fig in figures.items():
        buffer = io.BytesIO()
        charts.save(fig, buffer)
        images[name] = buffer.getvalue()
    return images


def _context(
    history: pd.DataFrame,
    policy: TrustPolicy,
    result: Replay,
    swept: SweepResult,
    fc: Forecast,
    bt: pd.DataFrame,
    calibration: float | None,
    grid: Mapping[str, Sequence[Any]],
    window: Window,
    title: str,
    images: dict[str, str],
    sources: Mapping[str, str],
    n_sims: int,
    seed: int,
) -> dict[str, Any]:
    s = result.summary
    ft = fc.table.set_index("action")
    summary = []
    for row in s.itertuples(index=False):
        f = ft.loc[row.action]
        summary.append(
            {
                "action": row.action,
                "risk": policy.action(row.action).risk.name.lower(),
                "state": str(row.final_state),
                "no_evidence": bool(row.no_evidence),
                "first_supervised": _date(row.first_supervised),
                "first_autonomous": _date(row.first_autonomous),
                "burden": _num(row.cases_while_manual),
                "failures": _num(row.failures_while_supervised_or_above),
                "next_state": f["next_state"] or "at its ceiling",
                "p_within": _pct(f["p_within_horizon"]),
                "p50": _date(f["p50_date"]),
            }
        )
    details = []
    for i, row in enumerate(s.itertuples(index=False)):
        cls = policy.action(row.action)
        if row.no_evidence:
            details.append(
                {
                    "action": row.action,
                    "image": None,
                    "figures": [
                        ("risk / ceiling", f"{cls.risk.name.lower()} / {ceiling(cls).name}"),
                        ("evidence", "none: no eval case of this class in the history"),
                        ("state", "MANUAL throughout (every call needs a human)"),
                    ],
                    "transitions": [],
                    "more_transitions": 0,
                }
            )
            continue
        moves = result.transitions[result.transitions["action"] == row.action]
        details.append(
            {
                "action": row.action,
                "image": _action_image(i),
                "figures": [
                    ("risk / ceiling", f"{cls.risk.name.lower()} / {ceiling(cls).name}"),
                    ("cases", _num(row.cases)),
                    (
                        "reached SUPERVISED",
                        _reached(
                            row.first_supervised, row.cases_to_supervised, row.days_to_supervised
                        ),
                    ),
                    (
                        "reached AUTONOMOUS",
                        _reached(
                            row.first_autonomous, row.cases_to_autonomous, row.days_to_autonomous
                        ),
                    ),
                    ("approval burden", _num(row.cases_while_manual)),
                    (
                        "failures while SUPERVISED or above",
                        f"{_num(row.normal_failures_while_supervised_or_above)} of "
                        f"{_num(row.normal_cases_while_supervised_or_above)} normal, "
                        f"{_num(row.adversarial_failures_while_supervised_or_above)} of "
                        f"{_num(row.adversarial_cases_while_supervised_or_above)} adversarial",
                    ),
                    (
                        "failures while AUTONOMOUS",
                        f"{_num(row.failures_while_autonomous)} of "
                        f"{_num(row.cases_while_autonomous)}",
                    ),
                    ("demotions", _num(row.demotions)),
                    (
                        "days MANUAL / SUPERVISED / AUTONOMOUS",
                        f"{row.days_manual:.1f} / {row.days_supervised:.1f} / "
                        f"{row.days_autonomous:.1f}",
                    ),
                    (
                        "premature graduation (ground truth)",
                        f"SUPERVISED: {_flag(row.premature_supervised)}, "
                        f"AUTONOMOUS: {_flag(row.premature_autonomous)}",
                    ),
                ],
                "transitions": [
                    {
                        "time": _time(t["time"]),
                        "frm": str(t["from"]),
                        "to": str(t["to"]),
                        "cause": t["cause"],
                        "pass_rate": _num(t["pass_rate"]),
                        "adversarial": _num(t["adversarial_pass_rate"]),
                        "samples": _num(int(t["sample_size"])),
                        "binding": t["binding"] or "—",
                    }
                    for t in moves.head(12).to_dict("records")
                ],
                "more_transitions": max(len(moves) - 12, 0),
            }
        )
    header, best = _best(swept) if not swept.table.empty else ([], [])
    forecast_rows = [
        {
            "action": r.action,
            "state": r.state,
            "next_state": r.next_state or "—",
            "blocked_on": r.blocked_on + (f" ({r.note})" if r.note else ""),
            "rate": _num(r.cases_per_day, 1),
            "trend": f"{_change(r.pass_rate_trend)} / {_change(r.adversarial_pass_rate_trend)}",
            "p": _pct(r.p_within_horizon),
            "p10": _date(r.p10_date),
            "p50": _date(r.p50_date),
            "p90": _date(r.p90_date),
        }
        for r in fc.table.itertuples(index=False)
    ]
    backtest_rows = (
        [
            {
                "cut": _date(r.cut),
                "as_of": _time(r.as_of),
                "action": r.action,
                "next_state": r.next_state,
                "p": _pct(r.p_within_horizon),
                "p10": _date(r.p10_date),
                "p90": _date(r.p90_date),
                "actual": _date(r.actual_date),
                "inside": "yes" if r.within_band else "no",
            }
            for r in bt.itertuples(index=False)
        ]
        if len(bt)
        else []
    )
    if calibration is None:
        calibration_text = (
            "No backtest: no cut leaves a full horizon of history after it, or no class "
            "had enough evidence at a cut to be forecast."
        )
    else:
        as_of_times = sorted({_time(a) for a in bt["as_of"]})
        calibration_text = (
            f"{len(bt)} forecast(s) were made, as of the last evidence before each cut "
            f"({', '.join(as_of_times)} UTC; cuts falling in one gap of the history give one "
            f"forecast, counted once), and compared with what the replay of the full history "
            f"shows. The actual outcome fell inside the forecast's 10-90% band (compared by "
            f"UTC date at both ends) for {int(bt['within_band'].sum())} of {len(bt)} "
            f"({calibration:.0%}; a calibrated forecast would score about 80%). "
            + (
                "The model moves pass rates along each class's recent trend, extrapolated no "
                "further than it was measured over; a class whose learning speeds up or "
                "stalls still surprises it."
                if fc.trend
                else "The model holds pass rates where recent evidence puts them (no trend), so "
                "it is slow on classes that are still learning."
            )
        )
    window_text = window_label(window)
    provenance = [
        ("history", sources.get("history", "in-memory DataFrame")),
        ("policy", sources.get("policy", "in-memory TrustPolicy")),
        ("history rows / cases", f"{len(history):,} / {int(history['n'].sum()):,}"),
        (
            "date span",
            f"{_time(history['timestamp'].min())} to {_time(history['timestamp'].max())} UTC",
        ),
        ("action classes", ", ".join(s["action"])),
        ("sweep grid", "; ".join(f"{k} = {list(v)}" for k, v in grid.items())),
        (
            "options",
            f"window={window_text}, horizon={fc.horizon.days} days, n_sims={n_sims}, seed={seed}, "
            f"trend={'on' if fc.trend else 'off'}",
        ),
        ("SHA-256 of inputs", _hash_inputs(history, policy)),
    ]
    return {
        "title": title,
        "history_rows": f"{len(history):,}",
        "cases": f"{int(history['n'].sum()):,}",
        "actions": list(s["action"]),
        "span": f"{_date(history['timestamp'].min())} to {_date(history['timestamp'].max())}",
        "window_label": window_text,
        "horizon_days": fc.horizon.days,
        "summary": summary,
        "action_details": details,
        "images": images,
        "heatmap": "sweep-heatmap.png" in images,
        "sweep_count": f"{swept.table['candidate'].nunique():,}",
        "sweep_skipped": swept.n_skipped,
        "sweep_knobs": ", ".join(_grid_knobs(grid)) or "none",
        "best_header": header,
        "best_rows": best,
        "forecast_rows": forecast_rows,
        "forecast_as_of": _time(fc.as_of) + " UTC",
        "n_sims": f"{n_sims:,}",
        "seed": seed,
        "trend": fc.trend,
        "trend_days": TREND_DAYS,
        "calibration_text": calibration_text,
        "backtest_rows": backtest_rows,
        "provenance": provenance,
        "policy_toml": policy_to_toml(policy).strip(),
        "version": __version__,
    }


def _reached(when: Any, cases: Any, days: Any) -> str:
    if pd.isna(when):
        return "not reached"
    return f"{_time(when)} UTC, after {_num(cases)} cases and {_num(days, 1)} days"


def _flag(value: Any) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return "yes" if bool(value) else "no"
