"""The graduation report: one HTML page (self-contained) and a Markdown twin.

:func:`build_report` runs the chain (replay, sweep, forecast, backtest, data
quality, charts) and writes ``index.html`` (charts embedded, no network
fetches), ``report.md``, the PNG charts and a manifest into a folder
(:class:`~warrantd._io.OwnedDirectory`: only files it wrote are ever replaced).

The page is built from small pieces: one builder per section returns a small
typed value (:class:`Header`, :class:`SummaryRow`, :class:`Quality`,
:class:`ActionDetail`, :class:`Sensitivity`, :class:`Rules`, :class:`ForecastSection`,
:class:`Calibration`, :class:`Provenance`, and with a base policy :class:`PolicyChange`)
holding figures already formatted for reading; the prose around them lives in the
templates (``templates/``, with the sentences both formats share in ``prose.j2``).
Every string from the data is untrusted: the HTML template autoescapes, the
Markdown escapes. The same inputs and options give byte-identical files.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
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
from ..autonomy import GRADUATION_STATES
from ..graduation import ceiling
from ..policy import TrustPolicy, settings_text
from ..policyfile import load_policy, policy_to_toml
from . import charts
from ._engine import POLICY_WINDOW, policy_classes_only, resolve_window
from ._progress import Steps
from .diff import (
    IMPACT_FIGURES,
    PolicyImpact,
    PolicySource,
    _frame_digest,
    format_date_move,
    format_move,
    input_digest,
)
from .diff import policy_impact as run_policy_impact
from .diff import policy_source as _as_policy_source
from .forecast import (
    COMMITTED_P,
    LOOKBACK_DAYS,
    BacktestScores,
    Forecast,
    backtest_plan,
    backtest_scores,
    backtests,
    chance_text,
    forecast,
)
from .metrics import Window, window_label
from .quality import DataQuality, data_quality
from .replay import Replay, replay
from .sweep import KNOBS, SweepResult, candidates_frame, compare_rules, sweep

__all__ = ["GENERATOR", "ReportFiles", "build_report", "default_grid", "writes"]

GENERATOR = "warrantd report"
_FILE_NAMES = re.compile(
    r"(index\.html|report\.md|(timeline|forecast|reliability|pareto|sweep-heatmap|rules|metrics-\d+)\.png)"
)


def writes(name: str) -> bool:
    """Whether a report may write a file called ``name`` (its manifest aside)."""
    return _FILE_NAMES.fullmatch(name) is not None


#: Report steps, in order, as the progress bar names them.
STEPS = ("replay", "sweep", "forecast", "backtest", "charts", "write")
#: Columns of the rule comparison's table, as printed.
RULE_HEADER = [
    "rule",
    "state",
    "classes reaching it",
    "median days (those reaching it)",
    "mean days waited (all classes)",
    "premature graduations",
    "approval burden",
    "failures let through",
]
#: Transitions listed per class before the rest are summed up in one line.
MAX_TRANSITIONS = 12
#: Candidates of the Pareto front shown in the best-candidates table.
MAX_BEST = 10


def default_grid(policy: TrustPolicy, window: Window = None) -> dict[str, list[Any]]:
    """A small grid around the policy's SUPERVISED bars, with the cumulative window, a
    30-day window and the report's own ``window``."""
    t = policy.thresholds
    sup = GRADUATION_STATES[0]
    p, n = t.pass_rate[sup], t.min_samples[sup]
    return {
        "supervised.pass_rate": sorted(
            {round(min(max(p + d, 0.0), 1.0), 3) for d in (-0.05, 0.0, 0.05)}
        ),
        "supervised.min_samples": sorted({max(int(n * f), 0) for f in (0.5, 1, 2)}),
        "window": list(dict.fromkeys(["cumulative", "30D", window_label(window)])),
    }


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote, and the results it computed.

    ``calibration``: the backtest's headline, its graduated-class coverage of the band
    shown (:attr:`BacktestScores.graduated_coverage`; None without a backtest); every
    other figure is in ``scores``. (Before 2026-11-26: the pooled share inside the
    plain band, now ``scores.inside``.)
    """

    out_dir: Path
    files: list[str]
    replay: Replay
    sweep: SweepResult
    forecast: Forecast
    backtest: pd.DataFrame
    calibration: float | None
    scores: BacktestScores | None = None


# --------------------------------------------------------------------------- formatting


def _date(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _band_day(end: Any, as_of: Any, missing: str) -> str:
    """A band end as the simulated day it closes (``as_of + k days`` is day k): the
    backtest compares in these days, so the table shows them (a date would be the
    day's end, up to a day after the moments it stands for)."""
    if pd.isna(end):
        return missing
    return f"day {round((pd.Timestamp(end) - pd.Timestamp(as_of)) / pd.Timedelta(days=1))}"


def _actual_day(moment: Any, as_of: Any) -> str:
    """A graduation as the simulated day that holds it, and when it was."""
    if pd.isna(moment):
        return "—"
    day = math.ceil((pd.Timestamp(moment) - pd.Timestamp(as_of)) / pd.Timedelta(days=1))
    return f"day {day} ({_time(moment)})"


def _time(value: Any, *, seconds: bool = False) -> str:
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return "—" if pd.isna(value) else pd.Timestamp(value).strftime(shape)


def _reversals(moves: pd.DataFrame) -> str:
    """How many times one class's state changed back within the hour (a state held
    under an hour; :func:`~.charts.quick_reversals`, as the timeline marks them)."""
    count = int(charts.quick_reversals(moves).sum())
    return (
        f"{count:,}: a state held under an hour, then changed back (demotion_margin damps "
        "these; the timeline marks them apart)"
    )


def _counted(count: Any, noun: str) -> str:
    """``3 forecasts``, ``1 forecast``: a count with its noun (plural by ``s``)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


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


def _premature(row: Mapping[Any, Any], state: str) -> str:
    """``1 of 2`` (graduations to the state made while the truth was below its bar, of
    all graduations to it), ``none`` when it was never reached, ``n/a`` without truth."""
    below, made = row[f"premature_graduations_{state}"], row[f"graduations_{state}"]
    if below is None or pd.isna(below):
        return "n/a"
    return f"{int(below)} of {int(made)}" if made else "none"


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Header:
    """The title and the one-line description of what was read."""

    title: str
    history_rows: str
    cases: str
    n_classes: int
    span: str
    #: The graduation rule graded by, in one line (``warrantd.policy.settings_text``).
    rule: str
    horizon_days: int


def _header(
    history: pd.DataFrame, policy: TrustPolicy, title: str, window: Window, fc: Forecast
) -> Header:
    stamps = history["timestamp"]
    return Header(
        title=title,
        history_rows=f"{len(history):,}",
        cases=f"{int(history['n'].sum()):,}",
        n_classes=len(policy.actions),
        span=f"{_date(stamps.min())} to {_date(stamps.max())}",
        rule=settings_text(policy.graduation, window_label(window)),
        horizon_days=fc.horizon.days,
    )


@dataclass(frozen=True)
class VerdictRow:
    """One class's requests by verdict."""

    action: str
    requests: str
    allowed: str
    approval: str
    blocked: str


@dataclass(frozen=True)
class Verdicts:
    """What the gate would have said to the traffic (or to the eval cases standing in).

    ``capped``: one line per class that was SUPERVISED or above for some of its
    requests yet had none allowed (its caps sent every one to a human or blocked it),
    so that its eval failures while open are not read as failures of allowed requests.
    """

    stand_in: bool
    source: str
    totals: VerdictRow
    rows: list[VerdictRow]
    has_log: bool
    gated: list[str]
    capped: list[str]


def _verdicts(result: Replay, sources: Mapping[str, str]) -> Verdicts:
    def row(action: str, r: Mapping[Any, Any]) -> VerdictRow:
        def count(name: str) -> str:  # whole requests, however the sum was kept
            return _num(round(float(r[name])))

        return VerdictRow(
            action,
            count("requests"),
            count("allowed"),
            count("approval_burden"),
            count("blocked"),
        )

    log = result.traffic is not None and "verdict" in result.traffic.columns
    capped = []
    for r in result.summary.to_dict("records"):
        open_requests = round(
            float(r["requests_while_supervised"]) + float(r["requests_while_autonomous"])
        )
        if open_requests and not round(float(r["allowed"])):
            capped.append(
                f"{r['action']}: SUPERVISED or above for {open_requests:,} of its "
                f"{round(float(r['requests'])):,} requests, yet none allowed: its caps sent "
                "each one to a human or blocked it"
            )
    return Verdicts(
        stand_in=result.stand_in,
        source=sources.get("traffic", "the traffic given"),
        totals=row("all classes", result.totals()),
        rows=[row(str(r["action"]), r) for r in result.summary.to_dict("records")],
        has_log=log,
        gated=[
            f"{r['action']}: {r['sentence']}" for r in result.would_have_gated.to_dict("records")
        ],
        capped=capped,
    )


@dataclass(frozen=True)
class PolicyChangeRow:
    """One class the change moved: its own keys and each figure as ``before -> after``."""

    action: str
    keys: str
    figures: list[str]
    first_supervised: str
    first_autonomous: str


@dataclass(frozen=True)
class PolicyChange:
    """What this policy changes against a base policy (:func:`~.diff.policy_impact`)."""

    headline: str
    base: str
    base_sha256: str
    new_sha256: str
    changes: list[tuple[str, str, str, str]]
    loosened: int
    rows: list[PolicyChangeRow]
    unchanged: list[str]
    ground_truth: bool


def _policy_change(impact: PolicyImpact) -> PolicyChange:
    rows = [
        PolicyChangeRow(
            action=str(r["action"]) + (f" ({r['status']})" if r["status"] != "changed" else ""),
            keys=str(r["keys"]) or "policy-wide keys only",
            figures=[format_move(r, f) for f in IMPACT_FIGURES],
            first_supervised=format_date_move(
                r["first_supervised_before"], r["first_supervised_after"]
            ),
            first_autonomous=format_date_move(
                r["first_autonomous_before"], r["first_autonomous_after"]
            ),
        )
        for r in impact.table.to_dict("records")
        if r["status"] != "unchanged"
    ]
    return PolicyChange(
        headline=impact.headline(),
        base=impact.base_source.source,
        base_sha256=impact.digests["base_policy"],
        new_sha256=impact.digests["new_policy"],
        changes=[(c.key, c.before, c.after, c.direction) for c in impact.changes],
        loosened=len(impact.loosened),
        rows=rows,
        unchanged=impact.unchanged,
        ground_truth=impact.has_ground_truth,
    )


@dataclass(frozen=True)
class SummaryRow:
    """One class in the summary table."""

    action: str
    risk: str
    state: str
    no_evidence: bool
    first_supervised: str
    first_autonomous: str
    burden: str
    failures: str
    next_state: str
    p_within: str
    p50: str


def _summary(result: Replay, fc: Forecast, policy: TrustPolicy) -> list[SummaryRow]:
    ahead = fc.table.set_index("action")
    rows = []
    for row in result.summary.to_dict("records"):
        f = ahead.loc[row["action"]]
        rows.append(
            SummaryRow(
                action=str(row["action"]),
                risk=policy.action(str(row["action"])).risk.name.lower(),
                state=str(row["final_state"]),
                no_evidence=bool(row["no_evidence"]),
                first_supervised=_date(row["first_supervised"]),
                first_autonomous=_date(row["first_autonomous"]),
                burden=_num(row["approval_burden"]),
                failures=_num(row["failures_let_through"]),
                next_state=str(f["next_state"]) or "at its ceiling",
                p_within=chance_text(f["p_within_horizon"]),
                # The median the Forecast table shows: among the simulations that get
                # there within the horizon (one median per class in one report).
                p50=_date(f["given_p50_date"]),
            )
        )
    return rows


@dataclass(frozen=True)
class Quality:
    """The data-quality findings, and the history's classes the policy lacks."""

    findings: list[str]
    left_out: list[str]


def _quality(quality: DataQuality, left_out: pd.Series) -> Quality:
    return Quality(
        findings=list(quality.findings),
        left_out=[f"{name!r} ({int(n):,} cases)" for name, n in left_out.items()],
    )


@dataclass(frozen=True)
class TransitionRow:
    """One state change of a class, formatted."""

    time: str
    frm: str
    to: str
    cause: str
    pass_rate: str
    adversarial: str
    samples: str
    binding: str


@dataclass(frozen=True)
class ActionDetail:
    """One class's figures, transitions and chart (no chart when it has no evidence)."""

    action: str
    image: str | None
    figures: list[tuple[str, str]]
    transitions: list[TransitionRow]
    more_transitions: int


def _action_image(index: int) -> str:
    # Action names are untrusted: image file names come from their position.
    return f"metrics-{index + 1:02d}.png"


def _reached(when: Any, cases: Any, days: Any) -> str:
    if pd.isna(when):
        return "not reached"
    return f"{_time(when)} UTC, after {_num(cases)} cases and {_num(days, 1)} days"


def _details(result: Replay, policy: TrustPolicy) -> list[ActionDetail]:
    details = []
    for i, row in enumerate(result.summary.to_dict("records")):
        action = str(row["action"])
        cls = policy.action(action)
        tier = ("risk / ceiling", f"{cls.risk.name.lower()} / {ceiling(cls).name}")
        if row["no_evidence"]:
            details.append(
                ActionDetail(
                    action,
                    None,
                    [
                        tier,
                        ("evidence", "none: no eval case of this class in the history"),
                        ("state", "MANUAL throughout (every call needs a human)"),
                    ],
                    [],
                    0,
                )
            )
            continue
        moves = result.transitions[result.transitions["action"] == action]
        figures = [
            tier,
            ("cases", _num(row["cases"])),
            (
                "reached SUPERVISED",
                _reached(
                    row["first_supervised"], row["cases_to_supervised"], row["days_to_supervised"]
                ),
            ),
            (
                "reached AUTONOMOUS",
                _reached(
                    row["first_autonomous"], row["cases_to_autonomous"], row["days_to_autonomous"]
                ),
            ),
            (
                "requests",
                f"{_num(row['requests'])}: {_num(row['allowed'])} allowed, "
                f"{_num(row['approval_burden'])} needed approval, {_num(row['blocked'])} blocked",
            ),
            ("approval burden", _num(row["approval_burden"])),
            (
                "eval failures while open",
                f"{_num(row['failures_let_through'])} "
                f"({_num(row['adversarial_failures_let_through'])} adversarial)",
            ),
            (
                "failures while SUPERVISED or above",
                f"{_num(row['normal_failures_while_supervised_or_above'])} of "
                f"{_num(row['normal_cases_while_supervised_or_above'])} normal, "
                f"{_num(row['adversarial_failures_while_supervised_or_above'])} of "
                f"{_num(row['adversarial_cases_while_supervised_or_above'])} adversarial",
            ),
            (
                "failures while AUTONOMOUS",
                f"{_num(row['failures_while_autonomous'])} of "
                f"{_num(row['cases_while_autonomous'])}",
            ),
            ("demotions", _num(row["demotions"])),
            *(
                [("quick reversals", _reversals(moves))]
                if charts.quick_reversals(moves).any()
                else []
            ),
            (
                "days MANUAL / SUPERVISED / AUTONOMOUS",
                f"{row['days_manual']:.1f} / {row['days_supervised']:.1f} / "
                f"{row['days_autonomous']:.1f}",
            ),
            (
                "premature graduations (ground truth)",
                f"SUPERVISED: {_premature(row, 'supervised')}, "
                f"AUTONOMOUS: {_premature(row, 'autonomous')}",
            ),
        ]
        transitions = [
            TransitionRow(
                # To the second: a class can change state twice within one minute.
                time=_time(t["time"], seconds=True),
                frm=str(t["from"]),
                to=str(t["to"]),
                cause=str(t["cause"]),
                pass_rate=_num(t["pass_rate"]),
                adversarial=_num(t["adversarial_pass_rate"]),
                samples=_num(int(t["sample_size"])),
                binding=str(t["binding"]) or "—",
            )
            for t in moves.head(MAX_TRANSITIONS).to_dict("records")
        ]
        details.append(
            ActionDetail(
                action,
                _action_image(i),
                figures,
                transitions,
                max(len(moves) - MAX_TRANSITIONS, 0),
            )
        )
    return details


@dataclass(frozen=True)
class Sensitivity:
    """The sweep: how many candidates, which knobs, and the best of the Pareto front."""

    candidates: str
    skipped: int
    knobs: str
    heatmap: bool
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Rules:
    """The evidence rules compared on the history: the level, whether the history has
    ground truth, the policy's own rule, and one formatted row per rule and state."""

    alpha: str
    truth: bool
    policy_rule: str
    #: The window's label when it is a trailing window (empty when cumulative).
    trailing: str
    header: list[str]
    rows: list[list[str]]


def _rules(comparison: pd.DataFrame, policy: TrustPolicy, window: Window) -> Rules:
    truth = bool(comparison["premature"].notna().any())
    rows = [
        [
            str(r["evidence"])
            + (" (policy)" if r["evidence"] == policy.graduation.evidence else ""),
            str(r["state"]),
            f"{r['reached']} of {r['classes']}",
            _num(r["median_days"], 1),
            _num(r["mean_days_waited"], 1),
            f"{r['premature']} of {r['judged']}" if truth else "—",
            # Whole requests (and cases), however the sums were kept.
            _num(round(r["approval_burden"])),
            _num(round(r["failures_let_through"])),
        ]
        for r in comparison.to_dict("records")
    ]
    return Rules(
        alpha=f"{policy.graduation.alpha:g}",
        truth=truth,
        policy_rule=policy.graduation.evidence,
        trailing="" if window is None else window_label(window),
        header=RULE_HEADER,
        rows=rows,
    )


def _grid_knobs(grid: Mapping[str, Sequence[Any]]) -> list[str]:
    return [k for k in KNOBS if k in grid and len(grid[k]) > 1]


def _sensitivity(swept: SweepResult, grid: Mapping[str, Sequence[Any]]) -> Sensitivity:
    front = swept.pareto()
    if len(front) > MAX_BEST:
        picks = np.unique(np.linspace(0, len(front) - 1, MAX_BEST).round().astype(int))
        front = front.iloc[picks]
    varied = [k for k in KNOBS if swept.table[k].nunique() > 1]
    header = [
        "candidate",
        *varied,
        "approval burden",
        "failures let through",
        "failures while AUTONOMOUS",
        "median days to SUPERVISED",
    ]
    rows = [
        [
            str(row["candidate"]),
            *[str(row[k]) for k in varied],
            _num(row["approval_burden"]),
            _num(row["failures_let_through"]),
            _num(row["failures_while_autonomous"]),
            _num(row["median_days_to_supervised"], 1),
        ]
        for row in front.to_dict("records")
    ]
    knobs = _grid_knobs(grid)
    return Sensitivity(
        candidates=f"{swept.n_candidates:,}",
        skipped=swept.n_skipped,
        knobs=", ".join(knobs) or "none",
        heatmap=len(knobs) >= 2,
        header=header,
        rows=rows,
    )


@dataclass(frozen=True)
class ForecastRow:
    """One class's forecast, formatted."""

    action: str
    state: str
    next_state: str
    blocked_on: str
    rate: str
    runs: str
    trend: str
    p: str
    p10: str
    p50: str
    p90: str


@dataclass(frozen=True)
class ForecastSection:
    """The forecast: when it was made, how, and one row per class; ``no_chart`` says
    why there is no chart (no class was simulated), empty when there is one."""

    as_of: str
    horizon_days: int
    n_sims: str
    seed: int
    trend: bool
    lookback_days: int
    adversarial: bool
    regime: str
    rows: list[ForecastRow]
    no_chart: str


def _runs_text(r: Mapping[Any, Any]) -> str:
    """Runs seen, and how often they arrive with how many cases (the lookback's)."""
    if not r["runs"]:
        return "—"
    if pd.isna(r["runs_per_day"]):
        return f"{int(r['runs']):,}"
    return f"{int(r['runs']):,}: {7 * r['runs_per_day']:.1f}/week x {r['cases_per_run']:.1f}"


def _trend_text(r: Mapping[Any, Any], adversarial: bool) -> str:
    """The trend the forecast used, or why it has none."""
    if r["trend_note"]:
        return str(r["trend_note"])
    if pd.isna(r["p_within_horizon"]):
        return "—"
    shown = _change(r["pass_rate_trend"])
    return f"{shown} / {_change(r['adversarial_pass_rate_trend'])}" if adversarial else shown


def _no_forecast_chart(fc: Forecast) -> str:
    """Why the forecast has no curve to draw; empty when it has one."""
    if fc.cdfs:
        return ""
    if not len(fc.table):
        return "there is no action to forecast"
    at_ceiling = int((fc.table["next_state"].fillna("").astype(str) == "").sum())
    if at_ceiling == len(fc.table):
        return "every action is at its ceiling, so there is nothing to forecast"
    return (
        "no action was simulated (the table's blocked on column says why"
        + (f"; {at_ceiling:,} at their ceiling" if at_ceiling else "")
        + ")"
    )


def _forecast_section(fc: Forecast, adversarial: bool) -> ForecastSection:
    rows = [
        ForecastRow(
            action=str(r["action"]),
            state=str(r["state"]),
            next_state=str(r["next_state"]) or "—",
            blocked_on=str(r["blocked_on"]) + (f" ({r['note']})" if r["note"] else ""),
            rate=_num(r["cases_per_day"], 1),
            runs=_runs_text(r),
            trend=_trend_text(r, adversarial),
            p=chance_text(r["p_within_horizon"]),
            p10=_date(r["given_p10_date"]),
            p50=_date(r["given_p50_date"]),
            p90=_date(r["given_p90_date"]),
        )
        for r in fc.table.to_dict("records")
    ]
    return ForecastSection(
        as_of=_time(fc.as_of),
        horizon_days=fc.horizon.days,
        n_sims=f"{fc.n_sims:,}",
        seed=fc.seed,
        trend=fc.trend,
        lookback_days=LOOKBACK_DAYS,
        adversarial=adversarial,
        regime=fc.regime or "",
        rows=rows,
        no_chart=_no_forecast_chart(fc),
    )


@dataclass(frozen=True)
class BacktestRow:
    """One backtest forecast against what happened, formatted."""

    cut: str
    as_of: str
    action: str
    next_state: str
    p: str
    p10: str
    p90: str
    actual: str
    inside: str


@dataclass(frozen=True)
class Calibration:
    """How the forecasts made at past cuts did (:func:`backtest_scores`): figures,
    not prose (the template says it)."""

    made: int
    horizon_days: int
    forecast_days: int
    shortened: bool
    span_days: int
    brier_skill: str
    brier: str
    baseline: str
    base_rate: str
    graduated: int
    graduated_inside: int
    graduated_coverage: str
    coverage_interval: str
    expected_coverage: str
    expected_inside: str
    #: Whether the calibrated figure lies inside the observed coverage's 95% interval.
    consistent: bool
    early: int
    late: int
    cuts: int
    unconditional_coverage: str
    calibrated_coverage: str
    expected_graduated: str
    committed: int
    committed_right: int
    committed_p: str
    inside: int
    share: str
    as_of: list[str]
    trend: bool
    rows: list[BacktestRow]


def _calibration(
    bt: pd.DataFrame, scores: BacktestScores, fc: Forecast, horizon_days: int, span_days: int
) -> Calibration:
    rows = [
        BacktestRow(
            cut=_date(r["cut"]),
            as_of=_time(r["as_of"]),
            action=str(r["action"]),
            next_state=str(r["next_state"]),
            p=chance_text(r["p_within_horizon"]),
            p10=_band_day(r["given_p10_date"], r["as_of"], "—"),
            p90=_band_day(r["given_p90_date"], r["as_of"], "—"),
            actual=_actual_day(r["actual_date"], r["as_of"]),
            # The band is given graduation: a class that did not graduate is scored
            # by P(within horizon) alone.
            inside=(
                ("yes" if r["within_given_band"] else f"no, {r['outside_given_band']}")
                if r["graduated"]
                else "—"
            ),
        )
        for r in bt.to_dict("records")
    ]
    inside = int(bt["within_band"].sum()) if len(bt) else 0
    return Calibration(
        made=len(bt),
        horizon_days=horizon_days,
        forecast_days=fc.horizon.days,
        shortened=horizon_days < fc.horizon.days,
        span_days=span_days,
        brier_skill=_change(scores.brier_skill),
        brier=_num(scores.brier),
        baseline=_num(scores.brier_baseline),
        base_rate=_pct(scores.base_rate),
        graduated=scores.graduated,
        graduated_inside=scores.graduated_inside,
        graduated_coverage=_pct(scores.graduated_coverage),
        coverage_interval="–".join(_pct(end) for end in scores.coverage_interval),
        expected_coverage=_pct(scores.expected_coverage),
        expected_inside=(
            f"{scores.expected_coverage * scores.graduated:.1f}" if scores.graduated else "—"
        ),
        consistent=bool(
            scores.graduated
            and scores.coverage_interval[0]
            <= scores.expected_coverage
            <= scores.coverage_interval[1]
        ),
        early=scores.graduated_early,
        late=scores.graduated_late,
        cuts=int(bt["cut"].nunique()) if len(bt) else 0,
        unconditional_coverage=_pct(scores.unconditional_coverage),
        calibrated_coverage=_pct(scores.calibrated_coverage),
        expected_graduated=f"{scores.expected_graduated:.1f}" if len(bt) else "—",
        committed=scores.committed,
        committed_right=scores.committed_right,
        committed_p=_pct(COMMITTED_P),
        inside=inside,
        share=_pct(inside / len(bt)) if len(bt) else "—",
        as_of=sorted({_time(a) for a in bt["as_of"]}) if len(bt) else [],
        trend=fc.trend,
        rows=rows,
    )


@dataclass(frozen=True)
class Provenance:
    """Where the figures come from: inputs, options, digests, the policy itself."""

    items: list[tuple[str, str]]
    policy_toml: str
    version: str
    #: What the embedded TOML is when it is not the policy file as read (rule options
    #: given on the command line), else empty.
    policy_note: str = ""


def _grid_values(knob: str, values: Sequence[Any]) -> str:
    """A grid knob's values as the tables spell them (windows by their label)."""
    shown = [window_label(v) if knob == "window" else str(v) for v in values]
    return "[" + ", ".join(shown) + "]"


def _input_digest(name: str | None, frame: pd.DataFrame) -> str:
    """SHA-256 of an input as ``warrantd diff`` gives it: the file's bytes (a folder's
    files in path order), or the frame's row hashes when it was not read from a file."""
    if name is not None and os.path.exists(name):
        return input_digest(name)
    return _frame_digest(frame)


def _input_digests(
    sources: Mapping[str, str],
    policy: TrustPolicy,
    full_history: pd.DataFrame,
    traffic: pd.DataFrame | None,
) -> list[tuple[str, str]]:
    """The inputs' SHA-256, taken before any work: the files as near as can be to
    what was read, not as they are minutes later when the report is written."""
    traffic_name = sources.get("traffic") if traffic is not None else None
    digests = [
        ("SHA-256 of the history", _input_digest(sources.get("history"), full_history)),
        (
            "SHA-256 of the policy",
            hashlib.sha256(_policy_bytes(policy, sources.get("policy"))).hexdigest(),
        ),
    ]
    if traffic is not None:
        digests.append(("SHA-256 of the traffic", _input_digest(traffic_name, traffic)))
    return digests


def _provenance(
    history: pd.DataFrame,
    policy: TrustPolicy,
    grid: Mapping[str, Sequence[Any]],
    fc: Forecast,
    sources: Mapping[str, str],
    digests: list[tuple[str, str]],
    traffic: pd.DataFrame | None,
) -> Provenance:
    stamps = history["timestamp"]
    named = sources.get("policy")
    traffic_name = sources.get("traffic") if traffic is not None else None
    items = [
        ("history", sources.get("history", "in-memory DataFrame")),
        ("policy", named or "in-memory TrustPolicy"),
        (
            "traffic",
            "none: each eval case stood in for one request"
            if traffic is None
            else traffic_name or "in-memory DataFrame",
        ),
        ("history rows / cases", f"{len(history):,} / {int(history['n'].sum()):,}"),
        ("date span", f"{_time(stamps.min())} to {_time(stamps.max())} UTC"),
        ("action classes", ", ".join(sorted(policy.actions))),
        ("sweep grid", "; ".join(f"{k} = {_grid_values(k, v)}" for k, v in grid.items())),
        ("graduation rule", settings_text(policy.graduation, window_label(fc.window), every=True)),
        (
            "forecast options",
            f"horizon={fc.horizon.days} days, "
            f"n_sims={fc.n_sims}, seed={fc.seed}, trend={'on' if fc.trend else 'off'}",
        ),
        *digests,
    ]
    note = ""
    if named is not None and os.path.isfile(named) and load_policy(named) != policy:
        note = (
            "The policy as graded, which differs from the file as read (rule options given "
            "on the command line, or a policy changed in code); the SHA-256 above is of the "
            "file."
        )
    return Provenance(items, policy_to_toml(policy).strip(), __version__, note)


# --------------------------------------------------------------------------- rendering


def _md(text: Any) -> str:
    """Escape a string for Markdown tables and text."""
    out = str(text).replace("\\", "\\\\").replace("\n", " ").replace("\r", " ")
    for ch in "|*_`[]<>#":
        out = out.replace(ch, "\\" + ch)
    return out


def _fence(text: str) -> str:
    """A backtick fence longer than any backtick run in ``text``, so it cannot be closed early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _breakable(text: str) -> str:
    """``text`` with a zero-width space after each ``.`` and ``_``, where a long knob
    name such as ``supervised.adversarial_pass_rate`` may wrap in a table header."""
    return text.replace(".", ".\u200b").replace("_", "_\u200b")


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("warrantd.analytics", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    env.filters["md"] = _md
    env.filters["counted"] = _counted
    env.filters["fence"] = _fence
    env.filters["breakable"] = _breakable
    return env


def _draw_charts(
    result: Replay,
    swept: SweepResult,
    fc: Forecast,
    grid: Mapping[str, Sequence[Any]],
    held_at: pd.Series,
    scores: BacktestScores,
    rules: pd.DataFrame,
) -> dict[str, bytes]:
    """Every chart of the report as PNG bytes, by file name."""
    figures = {
        "timeline.png": charts.state_timeline_chart(result),
    }
    if fc.cdfs:  # else the section says why there is no chart
        figures["forecast.png"] = charts.forecast_chart(fc)
    if scores.forecasts:
        figures["reliability.png"] = charts.reliability_chart(scores)
    evidence = result.summary[~result.summary["no_evidence"]]
    for i, action in zip(evidence.index, evidence["action"], strict=True):
        figures[_action_image(int(i))] = charts.metrics_chart(result, str(action))
    knobs = _grid_knobs(grid)
    if len(knobs) >= 2:
        # The other knobs sit at the candidate nearest the policy in force, so the
        # heatmap reads as "around what we run today".
        figures["sweep-heatmap.png"] = charts.sweep_heatmap(
            swept,
            knobs[0],
            knobs[1],
            fixed={str(k): v for k, v in held_at.items()},
            mark="the candidate nearest the policy in force",
        )
    totals = result.totals()
    current = (totals["approval_burden"], totals["failures_let_through"])
    figures["pareto.png"] = charts.pareto_chart(swept, current)
    figures["rules.png"] = charts.rule_tradeoff_chart(rules)
    images = {}
    for name, fig in figures.items():
        buffer = io.BytesIO()
        charts.save(fig, buffer)
        images[name] = buffer.getvalue()
    return images


def build_report(
    history: pd.DataFrame,
    policy: TrustPolicy,
    out_dir: str | os.PathLike[str] | OwnedDirectory,
    *,
    sweep_grid: Mapping[str, Sequence[Any]] | None = None,
    traffic: pd.DataFrame | None = None,
    horizon: str | int = "90D",
    window: Any = POLICY_WINDOW,
    title: str = "warrantd graduation report",
    n_sims: int = 2000,
    seed: int = 0,
    trend: bool = True,
    backtest_cuts: Sequence[Any] | None = None,
    sources: Mapping[str, str] | None = None,
    progress: bool = False,
    force: bool = False,
    base_policy: TrustPolicy | PolicySource | str | os.PathLike[str] | None = None,
) -> ReportFiles:
    """Write the graduation report for ``history`` under ``policy`` into ``out_dir``.

    ``out_dir`` is checked before any work (:class:`~warrantd._io.OwnedDirectory`): a
    new or empty folder, or a previous report, whose files alone are replaced; a folder
    holding other files is refused unless ``force``, and even then they are never
    touched. The files are staged whole and renamed into place at the end, so an
    interrupted run leaves the previous report as it was.

    ``sweep_grid`` (default: a small grid around the policy), ``traffic``,
    ``window``, ``horizon``, ``n_sims``, ``seed`` and ``trend`` are passed to the
    replay, sweep and forecast; ``backtest_cuts`` replaces the backtest's own plan
    (:func:`~warrantd.analytics.forecast.backtest_plan`); ``sources`` names the
    input files (``history``, ``policy``, ``traffic``) for the "Policy & data"
    section, whose digests are taken before any work; ``base_policy`` adds the
    policy-change section against it.
    """
    target = (
        out_dir
        if isinstance(out_dir, OwnedDirectory)
        else OwnedDirectory.prepare(out_dir, generator=GENERATOR, force=force, may_write=writes)
    )
    window_given, full_history = window, history
    digests = _input_digests(sources or {}, policy, full_history, traffic)
    window = resolve_window(window, policy)
    foreign = ~history["action"].isin(list(policy.actions))
    left_out = history[foreign].groupby("action", sort=True)["n"].sum()
    history = policy_classes_only(history, policy)
    grid = sweep_grid if sweep_grid is not None else default_grid(policy, window)
    candidates_frame(policy, grid, window)  # a grid with no valid candidate fails now, not later
    with Steps(STEPS, enabled=progress) as steps:
        result = replay(history, policy, traffic=traffic, window=window)
        steps.next()
        swept = sweep(history, policy, grid, traffic=traffic, window=window, progress=progress)
        rules = compare_rules(history, policy, traffic=traffic, window=window)
        steps.next()
        fc = forecast(
            history, policy, horizon=horizon, window=window, n_sims=n_sims, seed=seed, trend=trend
        )
        steps.next()
        plan = backtest_plan(history, horizon)
        cuts, bt_days = (plan.cuts, plan.horizon_days)
        if backtest_cuts is not None:
            cuts, bt_days = list(backtest_cuts), fc.horizon.days
        bt = backtests(
            history,
            policy,
            cuts,
            horizon=max(bt_days, 1),
            window=window,
            n_sims=n_sims,
            seed=seed,
            trend=trend,
        )
        scores = backtest_scores(bt)
        calibration = scores.graduated_coverage if len(bt) else None
        steps.next()
        change = None
        if base_policy is not None:
            # The history of both policies' classes (a class only the base defines is
            # "removed"), as `warrantd diff` reads it; others are listed as left out.
            base_src = _as_policy_source(base_policy)
            known = set(policy.actions) | set(base_src.policy.actions)
            both = full_history[full_history["action"].isin(list(known))].reset_index(drop=True)
            both.attrs = dict(full_history.attrs)
            named = (sources or {}).get("policy")
            this = PolicySource(
                policy,
                named or "in-memory TrustPolicy",
                dict(digests)["SHA-256 of the policy"],  # as read, before the work
            )
            impact = run_policy_impact(base_src, this, both, traffic=traffic, window=window_given)
            change = _policy_change(impact)
        held_at = swept.closest_candidate(policy.thresholds, window)
        images = _draw_charts(result, swept, fc, grid, held_at, scores, rules)
        steps.next()
        context = {
            "header": _header(history, policy, title, window, fc),
            "summary": _summary(result, fc, policy),
            "verdicts": _verdicts(result, sources or {}),
            "policy_change": change,
            "quality": _quality(
                data_quality(history, policy, now=history["timestamp"].max(), names_shown=None),
                left_out,
            ),
            "details": _details(result, policy),
            "sensitivity": _sensitivity(swept, grid),
            "rules": _rules(rules, policy, window),
            "forecast": _forecast_section(fc, bool(history["adversarial"].any())),
            "calibration": _calibration(bt, scores, fc, bt_days, plan.span_days),
            "provenance": _provenance(history, policy, grid, fc, sources or {}, digests, traffic),
            "images": {
                name: base64.b64encode(data).decode("ascii") for name, data in images.items()
            },
        }
        files = dict(images)
        for name, template, escaped in (
            ("index.html", "report.html.j2", True),
            ("report.md", "report.md.j2", False),
        ):
            text = _environment(escaped).get_template(template).render(**context)
            files[name] = text.encode("utf-8")
        written = target.commit(files)
        steps.next()
    return ReportFiles(target.path, written, result, swept, fc, bt, calibration, scores)


def _policy_bytes(policy: TrustPolicy, path: str | None) -> bytes:
    """The policy file's bytes when it was read from ``path`` (its digest then matches
    ``warrantd diff``), else the TOML it would be written as."""
    if path is not None and os.path.isfile(path):
        return Path(path).read_bytes()
    return policy_to_toml(policy).encode("utf-8")
