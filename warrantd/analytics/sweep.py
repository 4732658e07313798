"""Threshold sweeps: replay thousands of candidate thresholds at once.

:func:`sweep` answers, for every candidate thresholds and every action, the
figures of :mod:`~warrantd.analytics.replay` (first graduation, approval
burden, failures let through, demotions, time in each state), in about
O(rows + candidates) rather than O(rows x candidates). How:

1. Every figure is a (weighted) count, a sum or a minimum over the *events*
   (see :mod:`replay`) whose metrics point ``P = (pass rate, adversarial pass
   rate, samples)`` clears a bar point ``B``, i.e. dominates it: ``P >= B`` on
   all three axes.
2. A candidate is *valid* only if its AUTONOMOUS bars are at least its
   SUPERVISED bars on every criterion (invalid ones are skipped and counted).
   Then "at or above SUPERVISED" is simply ``P >= B_sup`` (a point clearing
   ``B_aut`` clears ``B_sup`` too), and "AUTONOMOUS" is ``P >= B_aut``, each
   subject to the action's ceiling.
3. On each axis the candidates' bar values are sorted; ``searchsorted(values,
   p, side="right")`` gives each event the number of bar values it meets, which
   is exactly the ``>=`` comparison the engine makes (no arithmetic on the
   values, so no rounding). Events are binned once into a grid of these
   indices, per action, accumulating weighted histograms: sums of the weights,
   and minima of the event index. Consecutive events of an action in one cell
   form a run, and only the runs (few: a cell changes when a metric crosses a
   swept bar value) enter the histograms, each with its summed weights.
4. Suffix sums (or suffix minima) along each axis turn the histograms into "over
   every event clearing this bar point", for every bar point of the grid at
   once; a candidate reads its figures at its cell.
5. A demotion across a level involves consecutive events ``(P, Q)``: the count
   of ``P >= B and not Q >= B`` is ``#(P >= B) - #(min(P, Q) >= B)``, because two
   points both clear ``B`` exactly when their componentwise minimum does (and
   the bin of a minimum is the minimum of the bins).

Evidence rules (the knobs ``evidence``, ``alpha``, ``demotion_margin``, defaulting to
the policy's ``[graduation]``) are an outer layer: candidates are grouped by window and
then by rule setting. Under the published rule (``point``, margin 0) each group of
candidates that differ only in bars shares one pass over the events. Under hysteresis (a
demotion margin, or ``wilson`` / ``anytime``, which promote on a bound but demote on the
point estimate: :attr:`~warrantd.graduation.GraduationSettings.holds_state`) a state
depends on the state before it, which no histogram over bar points captures: those
candidates are replayed one by one (vectorized, O(events) each), what the bound says of
each (rate, bar value) computed once for the group.

Memory is O(events + grid cells + candidates x actions) and never a
candidates x rows array. Candidate lists whose distinct bar values would make
the grid much larger than the list itself (scattered explicit lists) fall back
to replaying each candidate (O(rows) each).

A differential test proves the sweep equal to :func:`replay` for every
candidate, and replay equal to a loop over :class:`~warrantd.GraduationEngine`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .._io import read_toml
from ..autonomy import AutonomyState
from ..errors import InputError
from ..graduation import CRITERIA, EVIDENCE_RULES, GraduationSettings, GraduationThresholds
from ..policy import TrustPolicy, settings_problems
from ._engine import (
    LEVELS,
    POLICY_WINDOW,
    SUMMARY_FIGURES,
    TRAFFIC_FIGURES,
    Events,
    Requests,
    RequestWeights,
    SequenceInputs,
    Window,
    build_events,
    check_window,
    class_ceilings,
    figures_from_parts,
    handled_parts,
    history_span_days,
    no_evidence_traffic,
    parse_window,
    per_action_figures,
    rates_from_counts,
    read_in_force,
    request_events,
    request_weights,
    resolve_window,
    run_sums,
    runs_of,
    stand_in_requests,
    traffic_requests,
    unvalued_kinds,
    window_label,
    with_no_evidence,
    yardstick_thresholds,
)
from ._progress import bar as progress_bar

__all__ = [
    "KNOBS",
    "RULE_KNOBS",
    "Pick",
    "SweepResult",
    "candidates_frame",
    "compare_rules",
    "grid_notes",
    "load_grid",
    "rule_settings",
    "sweep",
]

S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
_STATE_KEYS = {state.name.lower(): state for state in LEVELS}
THRESHOLD_KNOBS = tuple(f"{state}.{c.bar}" for state in _STATE_KEYS for c in CRITERIA)
#: Each threshold knob's criterion, from the one table in the core.
_KNOB_CRITERIA = {f"{state}.{c.bar}": c for state in _STATE_KEYS for c in CRITERIA}
#: The evidence-rule knobs: :class:`~warrantd.graduation.GraduationSettings` fields, each
#: defaulting to the policy's ``[graduation]`` value.
RULE_KNOBS = ("evidence", "alpha", "demotion_margin")
KNOBS = (*THRESHOLD_KNOBS, "window", *RULE_KNOBS)
#: Grid cells allowed per candidate before a chunk falls back to per-candidate replays.
_MAX_CELLS_PER_CANDIDATE = 64
_DEFAULT_CHUNK = 20_000
#: Candidates one sweep may expand to (a grid beyond it is a typo, not a plan).
MAX_CANDIDATES = 1_000_000


# --------------------------------------------------------------------------- candidates


def _thresholds_row(t: GraduationThresholds) -> dict[str, Any]:
    return {
        f"{name}.{c.bar}": getattr(t, c.bar)[state]
        for name, state in _STATE_KEYS.items()
        for c in CRITERIA
    }


def to_thresholds(row: Mapping[str, Any]) -> GraduationThresholds:
    """The :class:`GraduationThresholds` of one candidate row."""

    def bars(bar: str, kind: type[Any]) -> dict[AutonomyState, Any]:
        return {state: kind(row[f"{name}.{bar}"]) for name, state in _STATE_KEYS.items()}

    kinds = {c.bar: int if c.kind == "count" else float for c in CRITERIA}
    return GraduationThresholds(
        pass_rate=bars("pass_rate", kinds["pass_rate"]),
        adversarial_pass_rate=bars("adversarial_pass_rate", kinds["adversarial_pass_rate"]),
        min_samples=bars("min_samples", kinds["min_samples"]),
    )


def candidates_frame(
    policy: TrustPolicy,
    grid: Mapping[str, Sequence[Any]] | Iterable[GraduationThresholds],
    window: Window = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Expand ``grid`` into (valid candidates, skipped candidates), one row each.

    Columns: the six threshold knobs, ``window`` and the rule knobs (``evidence``,
    ``alpha``, ``demotion_margin``). A mapping is a cartesian product over the policy's
    own thresholds and ``[graduation]`` settings; unknown knobs and values the policy
    rules refuse raise ``ValueError``. A list of thresholds takes the policy's rule.
    Candidates whose AUTONOMOUS bar is below their SUPERVISED bar on any criterion are
    returned in the second frame, with a ``reason``.
    """
    base = {**_thresholds_row(policy.thresholds), "window": window, **_rule_row(policy)}
    if isinstance(grid, Mapping):
        unknown = sorted(set(grid) - set(KNOBS))
        if unknown:
            raise InputError(
                _source(grid),
                [f"unknown sweep knob(s) {', '.join(unknown)}; known: {', '.join(KNOBS)}"],
            )
        axes = {k: list(grid.get(k, [base[k]])) for k in KNOBS}
        problems = []
        for knob, values in axes.items():
            if not values:
                problems.append(f"{knob}: has no values")
            problems.extend(_knob_problems(knob, values))
        if problems:
            raise InputError(_source(grid), problems)
        frame = _product_frame(axes)
    else:
        rule = tuple(_rule_row(policy).values())
        rows = [(*_thresholds_row(t).values(), window, *rule) for t in grid]
        if not rows:
            raise InputError(_source(grid), ["the candidate list is empty"])
        frame = _frame(rows)
        for knob in THRESHOLD_KNOBS:
            _check_knob_values(knob, frame[knob].unique(), _source(grid))
    if len(frame) > MAX_CANDIDATES:
        raise InputError(
            _source(grid),
            [f"{len(frame):,} candidates: more than {MAX_CANDIDATES:,}; sweep a coarser grid"],
        )
    # The policy rule (Criterion.ordered), vectorized over the candidates.
    inverted = [
        ~c.ordered(frame[f"supervised.{c.bar}"].to_numpy(), frame[f"autonomous.{c.bar}"].to_numpy())
        for c in CRITERIA
    ]
    bad = np.logical_or.reduce(inverted)
    # Reasons for the skipped candidates only (strings built per candidate cost the most).
    reason = np.full(int(bad.sum()), "", dtype=object)
    for criterion, mask in zip(CRITERIA, inverted, strict=True):
        reason = np.where(
            mask[bad], reason + f"AUTONOMOUS {criterion.bar} below SUPERVISED; ", reason
        )
    skipped = frame[bad].assign(reason=[r.rstrip("; ") for r in reason])
    valid = frame[~bad].reset_index(drop=True)
    valid.insert(0, "candidate", np.arange(len(valid)))
    if valid.empty:
        raise InputError(
            _source(grid),
            [
                "no valid candidate: "
                + ("the only one has" if len(frame) == 1 else f"all {len(frame):,} have")
                + f" an AUTONOMOUS bar below the SUPERVISED bar ({skipped['reason'].iloc[0]})"
            ],
        )
    return valid, skipped.reset_index(drop=True)


def _source(grid: object) -> str:
    return str(getattr(grid, "source", "sweep grid"))


class Grid(dict[str, list[Any]]):
    """A sweep grid read from a file: a plain mapping that remembers its ``source``."""

    source: str = "sweep grid"


def _rule_row(policy: TrustPolicy) -> dict[str, Any]:
    """The policy's own value of each rule knob."""
    return {knob: getattr(policy.graduation, knob) for knob in RULE_KNOBS}


def rule_settings(policy: TrustPolicy, row: Mapping[str, Any] | pd.Series) -> GraduationSettings:
    """The :class:`~warrantd.graduation.GraduationSettings` a candidate row is graded
    under: the policy's ``[graduation]`` with the row's rule knobs (``window`` and
    ``reset_on`` stay the policy's; the window is a knob of its own)."""
    return replace(
        policy.graduation,
        evidence=str(row["evidence"]),
        alpha=float(row["alpha"]),
        demotion_margin=float(row["demotion_margin"]),
    )


def _product_frame(axes: Mapping[str, list[Any]]) -> pd.DataFrame:
    """The cartesian product of the knobs' values (``axes`` in :data:`KNOBS` order), one
    row per candidate in the order of :func:`itertools.product`, built a column at a
    time: the same frame as :func:`_frame` of the product's rows, without a Python tuple
    per candidate."""
    sizes = [len(values) for values in axes.values()]
    # Row-major (C) order: the last knob varies fastest, as itertools.product does.
    index = np.indices(sizes, dtype=np.int64).reshape(len(sizes), -1)
    columns: dict[str, Any] = {}
    for (knob, values), at in zip(axes.items(), index, strict=True):
        if knob in THRESHOLD_KNOBS:
            # Each column's dtype as pandas infers it from rows holding these values.
            column = pd.DataFrame([(v,) for v in values], columns=[knob])[knob]
            columns[knob] = column.iloc[at].reset_index(drop=True)
        elif knob == "window":
            labels = np.array([window_label(v) for v in values], dtype=object)
            columns[knob] = pd.Series(labels[at], dtype=object)
        elif knob == "evidence":
            names = np.array([str(v) for v in values], dtype=object)
            columns[knob] = pd.Series(names[at], dtype=object)
        else:
            columns[knob] = np.array([float(v) for v in values], dtype=np.float64)[at]
    return pd.DataFrame(columns)


def _frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """Candidate rows as a frame; the window as its label (:func:`window_label`)."""
    n = len(THRESHOLD_KNOBS)
    frame = pd.DataFrame([r[:n] for r in rows], columns=list(THRESHOLD_KNOBS))
    # One label per distinct window, not per candidate (a grid has a handful).
    labels: dict[tuple[type, Any], str] = {}
    for window in {(type(r[n]), r[n]) for r in rows}:
        labels[window] = window_label(window[1])
    frame["window"] = pd.Series([labels[(type(r[n]), r[n])] for r in rows], dtype=object)
    frame["evidence"] = pd.Series([str(r[n + 1]) for r in rows], dtype=object)
    frame["alpha"] = np.array([float(r[n + 2]) for r in rows], dtype=np.float64)
    frame["demotion_margin"] = np.array([float(r[n + 3]) for r in rows], dtype=np.float64)
    return frame


def _knob_problems(knob: str, values: Iterable[Any]) -> list[str]:
    """What is wrong with the values of one knob (empty when they are all usable)."""
    problems = []
    for value in values:
        if knob == "window":
            try:
                check_window(value)
            except InputError as exc:
                problems.append(f"{knob}: {exc.lines[0]}")
            continue
        if knob in RULE_KNOBS:
            # The policy's own check of a [graduation] value, asked about this value alone.
            found = settings_problems(replace(GraduationSettings(), **{knob: value}))
            problems.extend(f"{knob}: {text}" for key, text in found if key == f"graduation.{knob}")
            continue
        problem = _KNOB_CRITERIA[knob].problem(value)
        if problem is not None:
            problems.append(f"{knob}: {problem}")
    return problems


def _check_knob_values(knob: str, values: Iterable[Any], source: str = "sweep grid") -> None:
    problems = _knob_problems(knob, values)
    if problems:
        raise InputError(source, problems)


#: The policy file's table of the evidence rule: a grid may put the knobs a policy
#: keeps there (the window and the rule) there too.
_RULE_TABLE = "graduation"
_GRADUATION_KNOBS = ("window", *RULE_KNOBS)


def _flattened(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Knobs written as TOML tables too: ``supervised.pass_rate = [..]`` unquoted (TOML
    reads it as a table) or under ``[supervised]`` mean ``"supervised.pass_rate"``;
    the rule knobs under ``[graduation]`` (as in a policy file) mean themselves. Also
    the problems of that layout: a knob given twice, a non-rule knob under
    ``[graduation]``."""
    flat: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in data.items():
        if key in _STATE_KEYS and isinstance(value, dict):
            for inner, values in value.items():
                flat[f"{key}.{inner}"] = values
        elif key == _RULE_TABLE and isinstance(value, dict):
            for inner, values in value.items():
                if inner in flat or inner in data:
                    problems.append(f"{inner}: given both at the top level and under [graduation]")
                elif inner in _GRADUATION_KNOBS or inner == "reset_on":
                    flat[inner] = values
                else:
                    problems.append(_unknown_knob(inner, _GRADUATION_KNOBS, _RULE_TABLE))
        else:
            flat[key] = value
    return flat, problems


def _unknown_knob(knob: str, known: Sequence[str] = KNOBS, table: str | None = None) -> str:
    """The problem of a key that is no knob (of ``table`` when given), with the knob it
    most likely meant."""
    said = f"[{table}] {knob}" if table else knob
    close = difflib.get_close_matches(knob, known, n=1, cutoff=0.75)
    if close:
        return f"{said}: unknown sweep knob (did you mean {close[0]!r}?)"
    if knob == "reset_on":
        return (
            "reset_on: not a sweep knob (it names a column of the history); set it in the "
            "policy's [graduation] table"
        )
    if table:
        listed = ", ".join(known)
        return f"{said}: not a [{table}] knob (those are {listed}; bars go under their state)"
    return f"{said}: unknown sweep knob (known: {', '.join(known)})"


def grid_notes(policy: TrustPolicy, grid: Mapping[str, Sequence[Any]]) -> list[str]:
    """What a grid sweeps to no effect or against its own guarantee, one line each:
    ``alpha`` where every candidate grades under the ``point`` rule, which reads no
    alpha, so candidates differing only in it come out the same; ``anytime`` candidates
    under trailing windows (the grid's, or the policy's when the grid sweeps the rule),
    whose guarantee does not carry over window starts."""
    evidence = list(grid.get("evidence", [policy.graduation.evidence]))
    alphas = list(grid.get("alpha", []))
    notes = []
    if len(set(alphas)) > 1 and set(evidence) == {"point"}:
        notes.append(
            f"alpha takes {len(set(alphas))} values, but every candidate grades under "
            "evidence point, which reads no alpha: those candidates are the same; sweep "
            'evidence too (evidence = ["point", "wilson", "anytime"])'
        )
    if "anytime" in evidence and ("window" in grid or "evidence" in grid):
        windows = grid.get("window", [policy.graduation.window])
        trailing = list(
            dict.fromkeys(window_label(w) for w in windows if parse_window(w) is not None)
        )
        if trailing:
            notes.append(
                f"anytime candidates under trailing windows ({', '.join(trailing)}): the "
                "guarantee holds for one unbroken stream, not across window starts; only "
                "the cumulative ones carry it"
            )
    return notes


def load_grid(path: str | os.PathLike[str]) -> Grid:
    """Read a sweep grid from TOML: each key a knob, each value a list of candidates.

    For ``window``, ``"cumulative"`` (or ``"none"``) means no window. Every
    problem is reported at once in an :class:`~warrantd.errors.InputError`
    naming the file and the key.
    """
    data, unreadable = read_toml(path, "grid file")
    if data is None:
        raise InputError(str(path), [unreadable])
    grid = Grid()
    grid.source = str(path)
    flat, problems = _flattened(data)
    for knob, values in flat.items():
        if knob not in KNOBS:
            problems.append(_unknown_knob(knob))
            continue
        if not isinstance(values, list) or not values:
            problems.append(f"{knob}: expected a non-empty list, not {values!r}")
            continue
        if knob == "window":
            values = [parse_window(v) if isinstance(v, str) else v for v in values]
        problems.extend(_knob_problems(knob, values))
        grid[knob] = values
    if not data:
        problems.append("the grid names no knobs")
    if problems:
        raise InputError(str(path), problems)
    return grid


# --------------------------------------------------------------------------- evaluation


def _suffix(array: np.ndarray, op: np.ufunc) -> np.ndarray:
    """Suffix reduction along every axis but the first (the action axis)."""
    for axis in range(1, array.ndim):
        array = np.flip(op.accumulate(np.flip(array, axis), axis=axis), axis)
    return array


@dataclass(frozen=True)
class _Grid:
    """One state's bar grid: sorted distinct values per criterion, and each event's cell."""

    values: tuple[np.ndarray, np.ndarray, np.ndarray]
    bins: np.ndarray  # flat cell index per event (32 bits)
    shape: tuple[int, int, int]

    @classmethod
    def build(cls, events: Events, bars: Sequence[pd.DataFrame]) -> list[_Grid]:
        """One grid per frame of bars (one per state; one column per criterion, in
        :data:`CRITERIA` order), binned in one pass over the events under the published
        rule (the only one without hysteresis)."""
        values = [tuple(np.unique(b[c].to_numpy()) for c in b.columns) for b in bars]
        shapes = [tuple(len(v) + 1 for v in vs) for vs in values]
        # A cell index fits 32 bits for any grid a sweep allows: half the memory of int64.
        flats = [np.empty(2 * len(events.moments), dtype=np.int32) for _ in bars]
        # The in-force and the graded events binned apart, a slice of moments at a time:
        # the metrics' float temporaries stay small whatever the history's size, and
        # each slice's metrics serve every grid. Where the window in force is the one
        # graded at the moment before (Events.fresh_in_force), so is its cell.
        read = events.in_force_read
        for part in events.parts():
            for half in (1,) if read else (0, 1):
                cells = _cells(events.half_points(half, part), values, shapes)
                for flat, cell in zip(flats, cells, strict=True):
                    flat[2 * part.start + half : 2 * part.stop : 2] = cell
        if read:
            for flat in flats:
                read_in_force(flat, events.in_force_as_graded)
            for fresh, counts in events.fresh_parts():
                points = rates_from_counts(*counts)
                for flat, cell in zip(flats, _cells(points, values, shapes), strict=True):
                    flat[2 * fresh] = cell
        return [
            cls(vs, flat, shape)  # type: ignore[arg-type]
            for vs, shape, flat in zip(values, shapes, flats, strict=True)
        ]

    def axis_bins(self, index: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each criterion's bin of the events in ``index``."""
        return tuple(np.unravel_index(self.bins[index], self.shape))

    def cell_of(self, bars: pd.DataFrame) -> np.ndarray:
        """Each candidate's cell: one past the index of its bar value on each axis."""
        idx = [
            np.searchsorted(v, bars[c].to_numpy(), side="left") + 1
            for v, c in zip(self.values, bars.columns, strict=True)
        ]
        return np.asarray(np.ravel_multi_index(tuple(idx), self.shape))


def _cells(
    points: tuple[np.ndarray, np.ndarray, np.ndarray],
    values: Sequence[tuple[np.ndarray, ...]],
    shapes: Sequence[tuple[int, ...]],
) -> list[np.ndarray]:
    """Each point's flat cell in each grid (the point rule): per axis, how many of the
    grid's sorted bar values the point meets (``searchsorted(right)``, the engine's
    ``>=``). The grids of both states share an axis's points: each point is placed once
    among the union of their values, and each grid reads its bin off a small table."""
    cells = [np.zeros(len(points[0]), dtype=np.int32) for _ in values]
    for axis, point in enumerate(points):
        axis_values = [vs[axis] for vs in values]
        union = np.unique(np.concatenate(axis_values))
        at = np.searchsorted(union, point, side="right")  # values of the union met
        for cell, vs, shape in zip(cells, axis_values, shapes, strict=True):
            # Meeting the j lowest values of the union meets this many of the grid's.
            table = np.searchsorted(vs, np.r_[-np.inf, union], side="right").astype(np.int32)
            cell *= shape[axis]
            cell += table.take(at)
    return cells


@dataclass(frozen=True)
class _Job:
    """What one chunk of candidates is evaluated over: the events of one window, the
    requests decided at each event by kind ((4, events)), and each class's kind of a
    request without a value."""

    events: Events
    weights: RequestWeights
    unvalued: np.ndarray
    #: The bars premature graduations are judged against (see :func:`sweep`).
    yardstick: GraduationThresholds


def _level_parts(job: _Job, grid: _Grid, cells: np.ndarray, level: int) -> dict[str, Any]:
    """Per (action, candidate) figures of one level, read off suffix-reduced histograms."""
    events = job.events
    n_actions, n_cells = len(events.actions), int(np.prod(grid.shape))
    n_events = len(grid.bins)
    index_type = np.int32 if n_actions * n_cells < 2**31 else np.int64
    size = n_actions * n_cells
    shape = (n_actions, *grid.shape)

    def summed(weights: np.ndarray | None, where: np.ndarray) -> np.ndarray:
        hist = np.bincount(where, weights=weights, minlength=size).reshape(shape)
        return _suffix(hist, np.add).reshape(n_actions, n_cells)[:, cells]

    def cell_of(codes: np.ndarray, bins: np.ndarray) -> np.ndarray:
        return np.asarray(codes.astype(index_type) * n_cells + bins.astype(index_type, copy=False))

    # Consecutive events of a class in one cell form a run: a histogram needs only each
    # run's sums (a reduceat over the events), and the runs are few (a cell changes only
    # when a metric crosses one of the swept bar values).
    runs = runs_of(grid.bins, events.bounds[:-1])
    run_codes = events.event_code(runs)
    flat = cell_of(run_codes, grid.bins[runs])
    never = n_events
    first = np.full(size, never, dtype=np.int64)
    np.minimum.at(first, flat, runs)  # a run's first event is its earliest
    first = _suffix(first.reshape(shape), np.minimum).reshape(n_actions, n_cells)[:, cells]
    # Cases are handled on in-force events (even positions) and time is held on
    # graded ones (odd positions); the engine keeps both once per moment.
    moment_starts = events.moment_bounds[:-1]
    in_force = grid.bins[0::2]
    held = runs_of(in_force, moment_starts)
    held_cells = cell_of(events.moment_codes[held], in_force[held])
    handled_sums = handled_parts(events.arrived_sums(held))
    handled = {
        k: np.rint(summed(v.astype(np.float64), held_cells)).astype(np.int64)
        for k, v in handled_sums.items()
    }
    graded = grid.bins[1::2]
    kept = runs_of(graded, moment_starts)
    days = summed(
        run_sums(events.duration_days, kept, np.float64),
        cell_of(events.moment_codes[kept], graded[kept]),
    )
    # Requests are decided at any event (in force at a moment, or between moments).
    weights = job.weights
    if weights.class_kinds is None:
        decided = [summed(run_sums(w, runs, np.float64), flat) for w in weights.values]
    else:  # stand-in requests: the cases arriving at each moment, decided in force
        cases = handled_sums["normal_cases"] + handled_sums["adversarial_cases"]
        decided = [
            summed(r, held_cells) for r in weights.at_arrivals(cases, events.moment_codes[held])
        ]
    requests = weights.full(decided, (n_actions, len(cells)))
    # Drops: consecutive events (P, Q) of a class count #(P >= B) - #(min(P, Q) >= B);
    # inside a run P and Q share a cell and add nothing, so only run boundaries count.
    after = runs[1:][run_codes[1:] == run_codes[:-1]]
    pair_codes = events.event_code(after)
    pair_min = tuple(
        np.minimum(b, c)
        for b, c in zip(grid.axis_bins(after - 1), grid.axis_bins(after), strict=True)
    )
    both_cells = cell_of(pair_codes, np.ravel_multi_index(pair_min, grid.shape))
    drops = summed(None, cell_of(pair_codes, grid.bins[after - 1])) - summed(None, both_cells)
    # Entries: each class's first run at or above B, and each pair (P, Q) of runs with
    # #(Q >= B) - #(min(P, Q) >= B), each weighted by what is known of Q's run.
    first_of_class = np.ones(len(runs), dtype=bool)
    first_of_class[1:] = run_codes[1:] != run_codes[:-1]
    later = ~first_of_class
    # One histogram for the three terms: +1 at a first run's cell and at Q's, -1 at
    # min(P, Q)'s.
    cells_in = np.concatenate([flat[first_of_class], flat[later], both_cells])
    n_first, n_pairs = int(first_of_class.sum()), len(after)
    sign = np.concatenate([np.ones(n_first + n_pairs), -np.ones(n_pairs)])

    def entered(weight: np.ndarray | None) -> np.ndarray:
        if weight is not None:
            weight = np.concatenate([weight[first_of_class], weight[later], weight[later]])
        return np.asarray(np.rint(summed(sign if weight is None else sign * weight, cells_in)))

    entries = entered(None)
    entries_below = np.zeros_like(entries)
    if events.true_pass_p is not None:
        # Premature: the truth at entry below the yardstick's bar; unknown (NaN) truth
        # leaves the class's count unknown.
        truth = events.event_truth(runs)
        bar = job.yardstick.pass_rate[AutonomyState(level)]
        entries_below = entered((truth < bar).astype(np.float64))
        missing = np.isnan(truth)
        if missing.any():
            unknown = entered(missing.astype(np.float64))
            entries_below = np.where(unknown > 0.5, np.nan, entries_below)
    allowed = (events.class_ceilings >= level)[:, None]
    return {
        "first": np.where(allowed & (first < never), first, -1),
        "handled": {k: np.where(allowed, v, 0) for k, v in handled.items()},
        "drops": np.where(allowed, drops, 0).astype(np.int64),
        "entries": np.where(allowed, entries, 0).astype(np.int64),
        "entries_below": np.where(allowed, entries_below, 0.0),
        "days": np.where(allowed, days, 0.0),
        "requests": np.where(allowed[None], requests, 0.0),
    }


def _evaluate_on_grid(job: _Job, candidates: pd.DataFrame) -> dict[str, Any]:
    """The figures of every candidate in one pass over the events (the published rule:
    point, margin 0)."""
    events = job.events
    parts = {}
    bars = [candidates[[f"{lvl.name.lower()}.{c.bar}" for c in CRITERIA]] for lvl in LEVELS]
    grids = _Grid.build(events, bars)
    for level, grid, level_bars in zip(LEVELS, grids, bars, strict=True):
        parts[level] = _level_parts(job, grid, grid.cell_of(level_bars), level)
    del grids
    n_actions, n_cand = len(events.actions), len(candidates)
    moment_starts = events.moment_bounds[:-1]
    per_class = handled_parts(events.arrived_sums(moment_starts))
    totals = {k: np.repeat(v[:, None], n_cand, axis=1) for k, v in per_class.items()}
    totals["days"] = np.repeat(
        run_sums(events.duration_days, moment_starts, np.float64)[:, None], n_cand, 1
    )
    # Every candidate is judged against the one yardstick, not its own bars.
    pass_bars = {
        level: np.full((n_actions, n_cand), job.yardstick.pass_rate[level]) for level in LEVELS
    }
    weights = job.weights
    if weights.class_kinds is None:
        per_kind = [run_sums(w, events.bounds[:-1], np.float64) for w in weights.values]
    else:
        cases = per_class["normal_cases"] + per_class["adversarial_cases"]
        per_kind = weights.at_arrivals(cases, np.arange(n_actions))
    requests_total = weights.full(per_kind, (n_actions,))  # (kinds, actions)
    # Lay every (action, candidate) array out candidate-major: one table row each.
    t = {k: np.ascontiguousarray(v.T).ravel() for k, v in totals.items()}
    return figures_from_parts(
        events,
        {lvl: parts[lvl]["first"].T.ravel() for lvl in LEVELS},
        {lvl: {k: v.T.ravel() for k, v in parts[lvl]["handled"].items()} for lvl in LEVELS},
        {lvl: parts[lvl]["drops"].T.ravel() for lvl in LEVELS},
        {lvl: parts[lvl]["days"].T.ravel() for lvl in LEVELS},
        t,
        {lvl: np.ascontiguousarray(b.T).ravel() for lvl, b in pass_bars.items()},
        np.tile(requests_total, (1, n_cand)),
        {lvl: parts[lvl]["requests"].transpose(0, 2, 1).reshape(4, -1) for lvl in LEVELS},
        np.tile(job.unvalued, n_cand),
        {lvl: parts[lvl]["entries"].T.ravel() for lvl in LEVELS},
        {lvl: parts[lvl]["entries_below"].T.ravel() for lvl in LEVELS},
    )


def _evaluate_one_by_one(
    job: _Job, candidates: pd.DataFrame, settings: GraduationSettings | None = None
) -> dict[str, Any]:
    events = job.events
    # Under hysteresis every candidate grades the same sequence: its inputs read once,
    # and what a bound rule says of each (rate, bar value) computed once for all.
    inputs: SequenceInputs | None = None
    cache: dict[tuple[str, float], np.ndarray] | None = None
    if settings is not None and settings.holds_state:
        inputs, cache = events.sequence_inputs(settings), {}
    per_candidate = [
        per_action_figures(
            events,
            events.states(t, settings, inputs, cache),
            t,
            job.weights,
            job.unvalued,
            job.yardstick,
        )
        for t in (
            to_thresholds({str(k): v for k, v in row.items()})
            for row in candidates.to_dict("records")
        )
    ]
    return {k: _concat([p[k] for p in per_candidate]) for k in per_candidate[0]}


def _concat(parts: list[Any]) -> Any:
    if isinstance(parts[0], (pd.DatetimeIndex, pd.Series)):
        return pd.DatetimeIndex(np.concatenate([np.asarray(p) for p in parts]))
    if isinstance(parts[0], pd.api.extensions.ExtensionArray):
        return pd.concat([pd.Series(p) for p in parts], ignore_index=True).array
    return np.concatenate(parts)


def _grid_is_compact(candidates: pd.DataFrame) -> bool:
    cells = 1
    for knob in THRESHOLD_KNOBS:
        cells *= candidates[knob].nunique() + 1
    return cells <= max(_MAX_CELLS_PER_CANDIDATE * len(candidates), 100_000)


def evaluate_chunk(
    job: _Job, candidates: pd.DataFrame, settings: GraduationSettings | None = None
) -> pd.DataFrame:
    """The sweep table rows (candidate x action) for ``candidates`` over one window, graded
    under the evidence rule and margin of ``settings`` (the published rule when None).

    The grid (one pass over the events for every candidate) serves the memoryless
    published rule; under hysteresis (a demotion margin, or a bound rule, whose
    demotion reads the point estimate: ``holds_state``), or for a scattered candidate
    list, each candidate is replayed over the events (vectorized, O(events) per
    candidate, each bound computed once per bar value).
    """
    if settings is not None:
        job.events.check_settings(settings)
    memoryless = settings is None or not settings.holds_state
    if memoryless and _grid_is_compact(candidates):
        figures = _evaluate_on_grid(job, candidates)
    else:
        figures = _evaluate_one_by_one(job, candidates, settings)
    events = job.events
    n_actions = len(events.actions)
    table = candidates.loc[candidates.index.repeat(n_actions)].reset_index(drop=True)
    # The class names once, then taken per row (a string column inferred from a million
    # Python strings costs more than the figures); every column added in one frame.
    names = pd.Series(np.asarray(events.actions, dtype=object)).array
    columns = {"action": names.take(np.tile(np.arange(n_actions), len(candidates)))}
    columns.update((name, figures[name]) for name in SUMMARY_FIGURES)
    return pd.concat([table, pd.DataFrame(columns)], axis=1)


def _strictness_order(knob: str, column: pd.Series) -> np.ndarray:
    """``column`` as numbers that grow with strictness (see :meth:`SweepResult.strictness`)."""
    if knob == "evidence":
        return column.map(EVIDENCE_RULES.index).to_numpy(dtype=np.float64)
    values = column.to_numpy(dtype=np.float64)
    return -values if knob in ("alpha", "demotion_margin") else values


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class SweepResult:
    """The result of :func:`sweep`.

    ``table``: one row per (valid candidate, action): ``candidate``, the knob
    columns, ``action``, and every replay summary figure. ``skipped``: the
    candidates that broke the policy rules, with a ``reason``.
    """

    table: pd.DataFrame
    skipped: pd.DataFrame
    policy: TrustPolicy
    stand_in: bool = True
    #: The pass bars every candidate's ``premature_*`` is judged against.
    yardstick: GraduationThresholds | None = None

    @property
    def n_skipped(self) -> int:
        """Candidates skipped because an AUTONOMOUS bar was below its SUPERVISED bar."""
        return len(self.skipped)

    @property
    def n_candidates(self) -> int:
        """Valid candidates replayed."""
        return int(self.table["candidate"].nunique())

    @property
    def by_candidate(self) -> pd.DataFrame:
        """One row per candidate: knobs, median days to each state over all actions
        (NaN when fewer than half get there) and how many get there, the verdict totals
        (``requests``, ``allowed``, ``approval_burden``: requests that needed a human,
        ``blocked``, ``failures_let_through``, ``adversarial_failures_let_through``),
        failures while graduated and their rates."""
        t = self.table
        grouped = t.groupby("candidate", sort=True)
        knobs = grouped[list(KNOBS)].first()
        sums = grouped[
            [
                *TRAFFIC_FIGURES,
                "cases_while_supervised_or_above",
                "failures_while_supervised_or_above",
                "adversarial_cases_while_supervised_or_above",
                "adversarial_failures_while_supervised_or_above",
                "cases_while_autonomous",
                "failures_while_autonomous",
                "demotions",
            ]
        ].sum()
        out = knobs.join(sums)
        for state in ("supervised", "autonomous"):
            # Never counts as later than any day, so the median is monotone in the bars;
            # it is NaN ("never") when fewer than half of the actions get there.
            days = t[f"days_to_{state}"].fillna(np.inf).groupby(t["candidate"], sort=True)
            out[f"median_days_to_{state}"] = days.median().replace(np.inf, np.nan)
            out[f"actions_reaching_{state}"] = grouped[f"days_to_{state}"].count()
        out["failure_rate_while_supervised_or_above"] = _rate(
            out["failures_while_supervised_or_above"], out["cases_while_supervised_or_above"]
        )
        out["adversarial_failure_rate_while_supervised_or_above"] = _rate(
            out["adversarial_failures_while_supervised_or_above"],
            out["adversarial_cases_while_supervised_or_above"],
        )
        out["failure_rate_while_autonomous"] = _rate(
            out["failures_while_autonomous"], out["cases_while_autonomous"]
        )
        return out.reset_index()

    def pareto(
        self,
        burden: str = "approval_burden",
        risk: str = "failures_let_through",
        *,
        keep_ties: bool = False,
    ) -> pd.DataFrame:
        """The Pareto front: candidates no other candidate beats on both burden and risk
        (lower is better on both), sorted by burden.

        Each point of the front shows once, as its strictest candidate (see
        :meth:`strictness`; equal strictness: the lowest candidate number), so
        a loosening never hides among ties. ``keep_ties=True`` keeps every
        candidate on the front.
        """
        by = self.by_candidate
        c = by.assign(_strict=self.strictness(by)).sort_values(
            [burden, risk, "_strict", "candidate"],
            ascending=[True, True, False, True],
            kind="stable",
        )
        risk_values = c[risk].to_numpy(dtype=np.float64)
        best_before = np.r_[np.inf, np.minimum.accumulate(risk_values)[:-1]]
        first_of_point = risk_values < best_before
        if keep_ties:
            point = np.cumsum(first_of_point)
            point_risk = risk_values[first_of_point][point - 1]
            on_front = risk_values == point_risk
            return pd.DataFrame(c[on_front].drop(columns="_strict").reset_index(drop=True))
        return pd.DataFrame(c[first_of_point].drop(columns="_strict").reset_index(drop=True))

    def strictness(self, frame: pd.DataFrame | None = None) -> pd.Series:
        """How strict each candidate is: the sum over the knobs of its position among the
        values swept for that knob (0 the loosest, 1 the strictest; a knob with one value
        adds nothing). Higher bars are stricter; so are a bound-based evidence rule
        (``point`` < ``wilson`` < ``anytime``), a smaller ``alpha`` (under a bound rule:
        under ``point`` it changes nothing and ranks nothing) and a smaller
        ``demotion_margin`` (a margin lets a class keep a state its estimate has left).
        The window is not ranked: neither a shorter nor a longer one is simply stricter."""
        frame = self.by_candidate if frame is None else frame
        score = pd.Series(0.0, index=frame.index)
        for knob in (*THRESHOLD_KNOBS, *RULE_KNOBS):
            if knob not in self.table.columns:
                continue
            swept, given = (
                _strictness_order(knob, self.table[knob]),
                _strictness_order(knob, frame[knob]),
            )
            values = np.unique(swept)
            if len(values) > 1:
                rank = np.searchsorted(values, given) / (len(values) - 1)
                if knob == "alpha" and "evidence" in frame.columns:
                    # Under the point rule alpha changes nothing: no candidate is
                    # stricter for a smaller one (nor shown so on the front).
                    rank = np.where(frame["evidence"].to_numpy() == "point", 0.0, rank)
                score += rank
        return score

    def pick(self, baseline: Mapping[str, float]) -> Pick:
        """The candidate that beats ``baseline`` (e.g. :meth:`Replay.totals` of the policy
        in force), never by letting more through or by taking autonomy away.

        The figures weighed are :data:`PICK_FIGURES`: approval burden, failures let
        through and failures while AUTONOMOUS (lower is better), and
        cases handled while AUTONOMOUS (higher is better: autonomy granted). A candidate
        *beats* the baseline when it is no worse on all four and better on one. Among
        those: the lowest burden, then the fewest failures of each kind, then the most
        autonomy, then the strictest candidate (:meth:`strictness`), then the lowest
        candidate number. When none beats it, :attr:`Pick.candidate` is None and
        :attr:`Pick.reason` says so.
        """
        by = self.by_candidate
        sign = {f: 1.0 if d == "lower" else -1.0 for f, d in PICK_FIGURES.items()}
        # Each figure as "lower is better": autonomy granted counts negatively.
        worse = [
            sign[f] * by[f].to_numpy(dtype=np.float64) > sign[f] * float(baseline[f])
            for f in PICK_FIGURES
        ]
        better = [
            sign[f] * by[f].to_numpy(dtype=np.float64) < sign[f] * float(baseline[f])
            for f in PICK_FIGURES
        ]
        beats = ~np.logical_or.reduce(worse) & np.logical_or.reduce(better)
        winners = by[beats].assign(_strict=self.strictness(by)[beats])
        if winners.empty:
            return Pick(
                None,
                "no candidate beats the policy in force: none lowers the approval burden or "
                "the failures let through without letting more through (while SUPERVISED or "
                "above, or while AUTONOMOUS) or granting less autonomy",
            )
        ranked = winners.sort_values(
            [*PICK_FIGURES, "_strict", "candidate"],
            ascending=[d == "lower" for d in PICK_FIGURES.values()] + [False, True],
            kind="stable",
        )
        best = ranked.iloc[0].drop(labels="_strict")
        labels = (
            "approval burden",
            "failures let through",
            "failures while AUTONOMOUS",
            "cases while AUTONOMOUS",
        )
        changes = ", ".join(
            f"{label} {float(best[f]):,.0f} ({float(best[f]) - float(baseline[f]):+,.0f})"
            for label, f in zip(labels, PICK_FIGURES, strict=True)
        )
        return Pick(
            best, f"candidate {int(best['candidate'])} beats the policy in force: {changes}"
        )

    def closest_candidate(
        self, thresholds: GraduationThresholds, window: Window = None
    ) -> pd.Series:
        """The row of :attr:`by_candidate` nearest to ``thresholds`` and ``window`` (and the
        policy's own evidence rule).

        Use it to show a slice of the sweep around the policy in force. Distance
        is summed over the knobs: for a threshold knob ``|value - current|``
        divided by the spread of that knob's values in the sweep (so a rate and
        a sample count weigh alike), for the window 0 when it is the same window
        and 1 otherwise. Ties go to the lowest candidate number.
        """
        by = self.by_candidate
        if by.empty:
            raise ValueError("the sweep has no candidates")
        current = _thresholds_row(thresholds)
        distance = np.zeros(len(by))
        for knob in THRESHOLD_KNOBS:
            values = by[knob].to_numpy(dtype=np.float64)
            spread = float(values.max() - values.min()) or 1.0
            distance += np.abs(values - float(current[knob])) / spread
        distance += (by["window"] != window_label(window)).to_numpy()
        # The rule knobs: 1 for each that is not the policy's own.
        for knob, value in _rule_row(self.policy).items():
            distance += (by[knob] != value).to_numpy()
        return by.iloc[int(np.argmin(distance))]


#: The figures :meth:`SweepResult.pick` weighs, and which way is better on each.
PICK_FIGURES = {
    "approval_burden": "lower",
    "failures_let_through": "lower",
    "failures_while_autonomous": "lower",
    "cases_while_autonomous": "higher",
}


@dataclass(frozen=True)
class Pick:
    """What :meth:`SweepResult.pick` chose: a row of ``by_candidate``, or None, and why."""

    candidate: pd.Series | None
    reason: str


def _rate(failures: pd.Series, cases: pd.Series) -> pd.Series:
    return failures.where(cases > 0) / cases.where(cases > 0)


def _chunks(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)] or [frame]


def sweep(
    history: pd.DataFrame,
    policy: TrustPolicy,
    grid: Mapping[str, Sequence[Any]] | Iterable[GraduationThresholds],
    *,
    traffic: pd.DataFrame | None = None,
    window: Any = POLICY_WINDOW,
    approvals: pd.DataFrame | None = None,
    approval_window: int | None = None,
    progress: bool = True,
    executor: Executor | None = None,
    chunk_size: int = _DEFAULT_CHUNK,
    yardstick: TrustPolicy | GraduationThresholds | None = None,
) -> SweepResult:
    """Replay every candidate thresholds in ``grid`` over ``history``.

    ``grid`` maps knob names (``supervised.pass_rate``,
    ``supervised.adversarial_pass_rate``, ``supervised.min_samples``, the same
    for ``autonomous``, ``window``, and the evidence rule's ``evidence``, ``alpha`` and
    ``demotion_margin``) to lists of values, expanded as a cartesian product over the
    policy's thresholds and ``[graduation]`` settings; or it is a list of
    :class:`GraduationThresholds` (graded under the policy's rule). Candidates are
    evaluated per window, then per rule setting; under the published rule (point, margin
    0) those that differ only in bars share one pass over the events, under hysteresis
    each is replayed (see the module docstring). ``traffic`` and ``window``
    (for candidates that do not sweep it), ``approvals`` and ``approval_window`` as in
    :func:`~warrantd.analytics.replay.replay`: every candidate's
    verdict figures are those replay gives it. ``executor`` (any
    ``concurrent.futures.Executor``) runs chunks of candidates in parallel; the
    default runs them in-process. A progress bar shows on a terminal unless
    ``progress=False``.

    Premature graduations (histories with ground truth) are judged against one
    ``yardstick`` for every candidate: the pass bars of ``policy`` unless another
    policy or thresholds are given. Judged against its own bars, a candidate that
    lowers a bar would turn the very graduations it lets through early into "earned".
    """
    candidates, skipped = candidates_frame(policy, grid, resolve_window(window, policy))
    judge = yardstick_thresholds(yardstick, policy.thresholds)
    fixed = traffic_requests(traffic, policy) if traffic is not None else None
    until = None if fixed is None else fixed.end_ns
    jobs: list[tuple[_Job, pd.DataFrame, GraduationSettings]] = []
    span_days = 0.0
    requests: Requests | None = fixed
    for label, group in candidates.groupby("window", sort=False):
        events = build_events(
            history,
            policy,
            parse_window(str(label)),
            until,
            approvals,
            approval_window,
            reset_on=policy.graduation.reset_on,
        )
        requests = fixed if fixed is not None else stand_in_requests(events.evidence, policy)
        weights = request_weights(events, requests, request_events(events, requests))
        job = _Job(events, weights, unvalued_kinds(policy, events.actions), judge)
        span_days = history_span_days(events)
        # The outer layer: one inner pass per distinct rule setting.
        for _, part in group.groupby(list(RULE_KNOBS), sort=False):
            settings = rule_settings(policy, part.iloc[0])
            jobs.extend((job, chunk, settings) for chunk in _chunks(part, chunk_size))
    bar = progress_bar(len(jobs), f"sweep {len(candidates):,} candidates", progress, "chunk")
    if executor is None:
        results = []
        for job, chunk, settings in jobs:
            results.append(evaluate_chunk(job, chunk, settings))
            bar.update(1)
    else:
        futures = [
            executor.submit(evaluate_chunk, job, chunk, settings) for job, chunk, settings in jobs
        ]
        results = []
        for future in futures:
            results.append(future.result())
            bar.update(1)
    bar.close()
    table = pd.concat(results, ignore_index=True)
    table = with_no_evidence(table, policy, span_days, by=["candidate", *KNOBS])
    assert requests is not None  # at least one candidate, so at least one window
    _fill_no_evidence_traffic(table, policy, requests)
    return SweepResult(
        table=table, skipped=skipped, policy=policy, stand_in=requests.stand_in, yardstick=judge
    )


def _fill_no_evidence_traffic(table: pd.DataFrame, policy: TrustPolicy, requests: Requests) -> None:
    """The verdict figures of classes without evidence, for every candidate, in place:
    their requests are decided in the state zero evidence earns under each candidate's
    bars (MANUAL unless every bar of a state is zero)."""
    rows = np.flatnonzero(table["no_evidence"].to_numpy())
    if not len(rows):
        return
    part = table.iloc[rows]
    actions = [str(a) for a in part["action"]]
    ceilings = class_ceilings(policy, actions)
    state = np.zeros(len(rows), dtype=np.int8)
    for level in LEVELS:
        meets = ceilings >= level
        for c in CRITERIA:
            meets &= part[f"{level.name.lower()}.{c.bar}"].to_numpy(dtype=np.float64) <= 0
        state[meets] = int(level)
    # Each no-evidence row as one class of one "candidate": figures in row order.
    per_row = no_evidence_traffic(
        requests, actions, state[None, :], unvalued_kinds(policy, actions)
    )
    for name, values in per_row.items():
        table.loc[table.index[rows], name] = values


def compare_rules(
    history: pd.DataFrame,
    policy: TrustPolicy,
    *,
    rules: Sequence[str] = EVIDENCE_RULES,
    traffic: pd.DataFrame | None = None,
    window: Any = POLICY_WINDOW,
    progress: bool = False,
) -> pd.DataFrame:
    """The evidence rules side by side on one history: the policy's bars, level, margin
    and resets under each rule of ``rules`` (one :func:`sweep` over the ``evidence``
    knob), one row per rule and state (``SUPERVISED``, ``AUTONOMOUS``).

    Columns: ``evidence``, ``alpha``, ``state``; ``classes`` (with evidence),
    ``reached`` (classes that got to the state), ``median_days`` (from a class's first
    case to its first day in the state, over the classes that reached it; NaN when none
    did), ``mean_days_waited`` (the same days averaged over every class, one that never
    got there counted to the end of the history: unlike the median of those that got
    there, it never falls when a stricter rule holds a class back); ``premature``
    (graduations, every entry into the state and not only a class's first, made while
    the class's true pass probability was below the state's pass bar, from the
    history's ``true_pass_p``) and ``judged`` (the graduations to the state whose truth
    is known): both NA without ground truth;
    ``approval_burden`` and ``failures_let_through`` (all states, so the same on both
    rows of a rule).
    """
    result = sweep(
        history,
        policy,
        {"evidence": list(rules)},
        traffic=traffic,
        window=window,
        progress=progress,
    )
    table = result.table[~result.table["no_evidence"]]
    truth = "true_pass_p" in history.columns and bool(history["true_pass_p"].notna().any())
    rows = []
    for rule in rules:
        mine = table[table["evidence"] == rule]
        for state in ("supervised", "autonomous"):
            days = mine[f"days_to_{state}"].dropna()
            # A class that never got there waited the whole history (from its first case).
            span = mine[["days_manual", "days_supervised", "days_autonomous"]].sum(axis=1)
            waited = mine[f"days_to_{state}"].fillna(span)
            premature = mine[f"premature_graduations_{state}"]
            # Judged: the graduations of classes whose every graduation's truth is known.
            graduations = int(mine[f"graduations_{state}"][premature.notna()].sum())
            rows.append(
                {
                    "evidence": rule,
                    "alpha": float(mine["alpha"].iloc[0]) if len(mine) else policy.graduation.alpha,
                    "state": state.upper(),
                    "classes": len(mine),
                    "reached": len(days),
                    "median_days": float(days.median()) if len(days) else np.nan,
                    "mean_days_waited": float(waited.mean()) if len(waited) else np.nan,
                    "premature": int(premature.sum()) if truth else pd.NA,
                    "judged": graduations if truth else pd.NA,
                    "approval_burden": float(mine["approval_burden"].sum()),
                    "failures_let_through": float(mine["failures_let_through"].sum()),
                }
            )
    out = pd.DataFrame(rows)
    out["premature"] = out["premature"].astype("Int64")
    out["judged"] = out["judged"].astype("Int64")
    return out
