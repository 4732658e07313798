"""The JupyterLab tuner: every knob of a policy on a control, live figures, save.

``tune(history, policy, traffic=..., grid=...)`` returns a :class:`Tuner`, an
ipywidgets app a notebook shows in one line. It is a face of the kit, never a
second rule: every figure it shows comes from :func:`~warrantd.analytics.replay`
(the policy in force, and the settings on the controls) or :func:`~warrantd.analytics.sweep`
(the cloud of candidates and the pick); validity is the core's
:func:`~warrantd.policy.threshold_problems` / :func:`~warrantd.policy.settings_problems`;
the file is written by :func:`~warrantd.dump_policy`.

Boundaries:

* The controls are data (:class:`Knob`): one per threshold bar, from the core's
  criteria table, and one per field of :class:`~warrantd.graduation.GraduationSettings`
  that :data:`SETTING_CONTROLS` describes. A new criterion or setting becomes a
  control by adding a row there, not code.
* :class:`TunerState` holds the logic (positions, the trial policy, the figures,
  the policy diff, saving) without widgets, so it is tested without a browser;
  :class:`Tuner` only lays out the widgets and forwards their events.
* ipywidgets is imported when a :class:`Tuner` is built (the ``notebooks`` extra).
"""

from __future__ import annotations

import dataclasses
import html
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from .. import graduation as _graduation
from .._io import OutputError, require_folder
from ..autonomy import GRADUATION_STATES
from ..graduation import CRITERIA, EVIDENCE_RULES, GraduationSettings
from ..policy import TrustPolicy, settings_notes, settings_problems, threshold_problems
from ..policyfile import PolicyError, dump_policy
from ._engine import POLICY_WINDOW, parse_window, resolve_window, window_label
from .diff import key_changes
from .replay import COMPARED_FIGURES, Replay, compare, replay
from .sweep import THRESHOLD_KNOBS, Pick, SweepResult, sweep, to_thresholds

__all__ = [
    "SETTING_CONTROLS",
    "Knob",
    "Tuner",
    "TunerState",
    "compare_changed_first",
    "knobs_for",
    "policy_diff",
    "tune",
]

_STATE_NAMES = {state.name.lower(): state for state in GRADUATION_STATES}
_CRITERION = {f"{s}.{c.bar}": c for s in _STATE_NAMES for c in CRITERIA}
#: Rate bars are offered on this lattice (plus every grid value and the policy's own).
_RATE_LATTICE = np.round(np.arange(0.50, 1.0 + 1e-9, 0.01), 2)
#: Case-count bars: this many evenly spaced positions up to the largest value offered.
_COUNT_POSITIONS = 60


@dataclass(frozen=True)
class Knob:
    """One control of the tuner.

    ``key`` is the sweep knob (``supervised.pass_rate``, ``window``) or
    ``graduation.<field>``; ``policy_key`` the dotted key of the policy file it
    writes; ``options`` every position the control offers, in order (every value
    of the grid and the policy's own among them); ``start`` the policy in force.
    Which way a move goes (tightens, loosens, either) is not the knob's to say:
    :func:`policy_diff` asks :func:`~warrantd.analytics.diff.key_changes`, as
    ``warrantd diff`` does.
    """

    key: str
    label: str
    group: str
    options: tuple[Any, ...]
    start: Any
    policy_key: str

    def text(self, value: Any) -> str:
        """How a position reads on the control and in the diff."""
        if self.key in ("window", "graduation.window"):
            return window_label(value)
        if value is None:
            return "none"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)


@dataclass(frozen=True)
class SettingControl:
    """How one :class:`GraduationSettings` field becomes a control.

    ``options(policy_value, grid_values)`` gives the positions; ``needs``: a name
    the core must export before the kit grades by this setting (the control is
    offered only then, so it never moves nothing).
    """

    label: str
    options: Callable[[Any, Sequence[Any]], tuple[Any, ...]]
    needs: str | None = None


def _window_options(current: Any, grid: Sequence[Any]) -> tuple[Any, ...]:
    found: dict[str, Any] = {}
    for value in [None, current, *grid, "30D", "60D", "90D", 500, 1000]:
        parsed = parse_window(value) if isinstance(value, str) else value
        found.setdefault(window_label(parsed), parsed)

    def order(value: Any) -> tuple[int, float]:
        if value is None:
            return (0, 0.0)
        if isinstance(value, int):
            return (1, float(value))
        return (2, pd.Timedelta(value).total_seconds())

    return tuple(sorted(found.values(), key=order))


def _choices(values: Iterable[Any]) -> Callable[[Any, Sequence[Any]], tuple[Any, ...]]:
    fixed = tuple(values)

    def options(current: Any, grid: Sequence[Any]) -> tuple[Any, ...]:
        extra = [v for v in (current, *grid) if v not in fixed]
        if all(isinstance(v, (int, float)) for v in (*fixed, *extra)):
            return tuple(sorted({*fixed, *extra}))
        return (*fixed, *dict.fromkeys(extra))

    return options


#: The controls for the ``[graduation]`` settings, by field. A field missing here is
#: kept as the policy has it (and said so under the controls).
SETTING_CONTROLS: dict[str, SettingControl] = {
    "window": SettingControl("window", _window_options),
    "evidence": SettingControl("evidence rule", _choices(EVIDENCE_RULES), needs="evidence_met"),
    "alpha": SettingControl(
        "alpha (evidence level)", _choices((0.01, 0.025, 0.05, 0.1, 0.2)), needs="evidence_met"
    ),
    "demotion_margin": SettingControl(
        "demotion margin",
        _choices(np.round(np.arange(0.0, 0.101, 0.01), 2).tolist()),
        needs="evidence_met",
    ),
}


def _rate_options(values: Iterable[float]) -> tuple[float, ...]:
    extra = [round(float(v), 6) for v in values]
    low = min([0.5, *extra])
    lattice = [float(v) for v in _RATE_LATTICE if v >= low] + [
        float(v) for v in np.round(np.arange(np.floor(low * 100) / 100, 0.5, 0.01), 2)
    ]
    return tuple(sorted({*lattice, *extra}))


def _count_options(values: Iterable[int]) -> tuple[int, ...]:
    extra = [int(v) for v in values]
    top = max(1000, 2 * max(extra, default=0))
    step = max(1, int(round(top / _COUNT_POSITIONS, -1)) or 1)
    return tuple(sorted({*range(0, top + 1, step), *extra}))


def _threshold_value(policy: TrustPolicy, key: str) -> Any:
    state, bar = key.split(".")
    value = getattr(policy.thresholds, bar)[_STATE_NAMES[state]]
    return int(value) if _CRITERION[key].kind == "count" else float(value)


def knobs_for(
    policy: TrustPolicy,
    grid: Mapping[str, Sequence[Any]] | None = None,
    window: Any = POLICY_WINDOW,
) -> tuple[Knob, ...]:
    """The tuner's controls for ``policy``, starting at its values, reaching every value
    of ``grid`` (a sweep grid): the six threshold bars, then the settings of
    :data:`SETTING_CONTROLS` the kit grades by."""
    grid = dict(grid or {})
    knobs = []
    for key in THRESHOLD_KNOBS:
        state, _ = key.split(".")
        criterion = _CRITERION[key]
        start = _threshold_value(policy, key)
        values = [start, *grid.get(key, [])]
        options = _count_options(values) if criterion.kind == "count" else _rate_options(values)
        knobs.append(
            Knob(
                key,
                criterion.label,
                state.upper(),
                tuple(options),
                start,
                f"thresholds.{key}",
            )
        )
    settings = dataclasses.replace(
        policy.graduation, window=cast(Any, resolve_window(window, policy))
    )
    for field in dataclasses.fields(GraduationSettings):
        control = SETTING_CONTROLS.get(field.name)
        if control is None or (control.needs and not hasattr(_graduation, control.needs)):
            continue
        current = getattr(settings, field.name)
        key = "window" if field.name == "window" else f"graduation.{field.name}"
        # A sweep grid names a rule knob without the table (``alpha``): reach its values.
        swept = [*grid.get(key, []), *(grid.get(field.name, []) if key != "window" else [])]
        options = control.options(current, swept)
        knobs.append(
            Knob(
                key,
                control.label,
                "evidence",
                options,
                current,
                f"graduation.{field.name}",
            )
        )
    return tuple(knobs)


# --------------------------------------------------------------------------- diff

#: The columns of :func:`policy_diff`.
_DIFF_COLUMNS = ("key", "before", "after", "change")


def policy_diff(base: TrustPolicy, new: TrustPolicy) -> pd.DataFrame:
    """The keys whose values differ between two policies, one row each in file order:
    ``key`` (dotted, as in the file), ``before``, ``after`` and ``change``, the
    direction ``tightens``, ``loosens`` or ``either`` (a window: it can go both ways).

    A table over :func:`~warrantd.analytics.diff.key_changes`, the one place that says
    which way a key moves (``warrantd diff`` lists the same keys with the same words).
    """
    rows = [(c.key, c.before, c.after, c.direction) for c in key_changes(base, new)]
    return pd.DataFrame(rows, columns=list(_DIFF_COLUMNS))


def compare_changed_first(before: Replay, after: Replay) -> pd.DataFrame:
    """:func:`~warrantd.analytics.compare` with the figures that changed for some class
    first (each as before, after, change), then those that did not."""
    table = compare(before, after)
    changed = [
        f
        for f in COMPARED_FIGURES
        if (table[f"{f}_change"].fillna(0) != 0).any()
        or (table[f"{f}_before"].isna() != table[f"{f}_after"].isna()).any()
    ]
    order = changed + [f for f in COMPARED_FIGURES if f not in changed]
    return table[
        ["action", *[f"{f}_{part}" for f in order for part in ("before", "after", "change")]]
    ]


# --------------------------------------------------------------------------- state


#: The per-class figures the tuner shows, as (title, columns, which way is better), in
#: the order of the table: what a change costs and risks, when classes get there, then
#: the failures by state. Two columns read as "all (or normal) / adversarial".
SHOWN: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("approval burden", ("approval_burden",), "lower"),
    ("failures let through (all / adversarial)",
     ("failures_let_through", "adversarial_failures_let_through"), "lower"),
    ("days to SUPERVISED", ("days_to_supervised",), None),
    ("days to AUTONOMOUS", ("days_to_autonomous",), None),
    ("premature SUPERVISED / AUTONOMOUS",
     ("premature_graduations_supervised", "premature_graduations_autonomous"), "lower"),
    ("failures while SUPERVISED+ (normal / adversarial)",
     ("normal_failures_while_supervised_or_above",
      "adversarial_failures_while_supervised_or_above"), "lower"),
    ("failures while AUTONOMOUS (normal / adversarial)",
     ("normal_failures_while_autonomous", "adversarial_failures_while_autonomous"), "lower"),
)  # fmt: skip


class TunerState:
    """The tuner without widgets: positions of the knobs, the trial policy, its replay
    against the policy in force, the sweep and its pick, and saving.

    ``given`` is the policy as given; ``policy`` the policy in force, which is
    ``given`` with the ``window`` the tuner was given (:attr:`window`) as its
    ``[graduation] window``: the figures and the live diff compare with it, and a
    saved file writes that window, so what the file changes against ``given`` is
    :meth:`diff` with ``base=state.given``.
    """

    def __init__(
        self,
        history: pd.DataFrame,
        policy: TrustPolicy,
        *,
        traffic: pd.DataFrame | None = None,
        grid: Mapping[str, Sequence[Any]] | None = None,
        window: Any = POLICY_WINDOW,
    ) -> None:
        self.history, self.traffic = history, traffic
        self.given = policy
        self.window = resolve_window(window, policy)
        self.policy = dataclasses.replace(
            policy, graduation=dataclasses.replace(policy.graduation, window=cast(Any, self.window))
        )
        self.grid = dict(grid) if grid is not None else default_grid(self.policy)
        self.knobs = knobs_for(self.policy, self.grid, self.window)
        self.start = {k.key: k.start for k in self.knobs}
        self.values = dict(self.start)
        self.baseline = replay(history, self.policy, traffic=traffic, window=self.window)
        self.sweep: SweepResult = sweep(
            history, self.policy, self.grid, traffic=traffic, window=self.window, progress=False
        )
        self.pick: Pick = self.sweep.pick(self.baseline.totals())
        self.trial: Replay = self.baseline
        self.problems: list[str] = []
        #: The keys the last :meth:`set` moved (its problems are said in their terms).
        self.moved: frozenset[str] = frozenset()

    # ---- positions

    def knob(self, key: str) -> Knob:
        return next(k for k in self.knobs if k.key == key)

    def pick_values(self) -> dict[str, Any] | None:
        """The knob values of the pick (None when nothing beats the policy in force)."""
        if self.pick.candidate is None:
            return None
        row = self.pick.candidate
        values = dict(self.start)
        for key in THRESHOLD_KNOBS:
            values[key] = _threshold_value(TrustPolicy({}, to_thresholds(dict(row))), key)
        values["window"] = parse_window(str(row["window"]))
        for knob in self.knobs:  # the pick's rule knobs too (evidence, alpha, margin)
            name = knob.policy_key.removeprefix("graduation.")
            if knob.key != "window" and name in row.index:
                values[knob.key] = row[name]
        return values

    def policy_for(self, values: Mapping[str, Any]) -> TrustPolicy:
        """The policy the positions ``values`` describe (the policy in force's classes)."""
        row = {k: values[k] for k in THRESHOLD_KNOBS}
        settings = {
            k.policy_key.split(".", 1)[1]: values[k.key]
            for k in self.knobs
            if k.policy_key.startswith("graduation.")
        }
        return TrustPolicy(
            self.policy.actions,
            to_thresholds(row),
            dataclasses.replace(self.policy.graduation, **settings),
        )

    def set(self, **values: Any) -> bool:
        """Move knobs (by key: ``set(**{"supervised.pass_rate": 0.9})``) and replay.

        Returns True when the positions make a valid policy (the figures are then
        those of the positions); otherwise :attr:`problems` says why, one line each, and
        the figures stay those of the last valid positions. Never raises for a value
        (only for a key that is no knob).
        """
        unknown = set(values) - set(self.values)
        if unknown:
            raise KeyError(f"unknown knob(s) {', '.join(sorted(unknown))}")
        self.values.update(values)
        self.moved = frozenset(values)
        try:
            candidate = self.policy_for(self.values)
        except (TypeError, ValueError) as exc:  # a bar that is no number, say
            bad = [k for k in THRESHOLD_KNOBS if not _is_real(self.values[k])]
            self.problems = [f"{k}: {self.values[k]!r} is not a number" for k in bad] or [
                _one_line(exc)
            ]
            return False
        problems = threshold_problems(candidate.thresholds) + settings_problems(
            candidate.graduation
        )
        self.problems = [self._problem_text(key, text) for key, text in problems]
        if self.problems:
            return False
        try:
            trial = replay(
                self.history,
                candidate,
                traffic=self.traffic,
                window=candidate.graduation.window,
                yardstick=self.policy,  # one yardstick for every position
            )
        except ValueError as exc:  # InputError, OptionError, CountsMissingError among them
            # Settings each valid that the history cannot be replayed under (a rule that
            # needs counts the rows lack, say): said in one line, as a bar out of order is.
            self.problems = [_one_line(exc)]
            return False
        self.trial = trial
        return True

    def _problem_text(self, key: str, text: str) -> str:
        """One problem in one line. A SUPERVISED bar above its AUTONOMOUS bar (the core
        files it under the AUTONOMOUS key) is said as the pair, led by the bar that was
        moved: ``supervised.pass_rate 0.96 is above autonomous.pass_rate 0.95``."""
        short = key.removeprefix("thresholds.")
        state, _, bar = short.partition(".")
        criterion = _CRITERION.get(short)
        if criterion is not None and state == "autonomous":
            low, high = f"supervised.{bar}", short
            sup, aut = self.values[low], self.values[high]
            if (
                criterion.problem(sup) is None
                and criterion.problem(aut) is None
                and not criterion.ordered(sup, aut)
            ):
                sup_text, aut_text = self.knob(low).text(sup), self.knob(high).text(aut)
                if high in self.moved and low not in self.moved:
                    return f"{high} {aut_text} is below {low} {sup_text}"
                return f"{low} {sup_text} is above {high} {aut_text}"
        return _one_line(f"{short}: {text}")

    def notes(self) -> list[str]:
        """What the settings on the controls do not do that they seem to, one line each,
        from the core's :func:`~warrantd.policy.settings_notes` (alpha under the ``point``
        rule, which reads no alpha; ``anytime`` under a trailing window); none while the
        positions are not a valid policy."""
        if self.problems:
            return []
        settings = self.policy_for(self.values).graduation
        return [_one_line(f"{key}: {text}") for key, text in settings_notes(settings)]

    # ---- figures

    def totals(self) -> tuple[dict[str, float], dict[str, float]]:
        """(policy in force, positions): burden and failures summed over the classes."""
        return self.baseline.totals(), self.trial.totals()

    def figures(self) -> pd.DataFrame:
        """Per class and in total, the shown figures of the positions and of the policy
        in force: columns ``<figure>`` and ``<figure>_in_force``; the total row sums the
        counts and counts the classes reaching each state (``days_to_*``)."""
        columns = [c for _, cols, _ in SHOWN for c in cols]
        now = self.trial.summary.set_index("action")[columns].astype(object)
        was = self.baseline.summary.set_index("action")[columns].reindex(now.index).astype(object)
        out = pd.concat([now, was.add_suffix("_in_force")], axis=1)
        total = {}
        for c in columns:
            for suffix, frame in (("", now), ("_in_force", was)):
                series = frame[c]
                total[c + suffix] = (
                    float(series.notna().sum())
                    if c.startswith("days_to_")
                    else float(pd.to_numeric(series.astype("Float64")).sum())
                )
        out.loc["all classes"] = pd.Series(total)
        return out

    def diff(
        self, values: Mapping[str, Any] | None = None, *, base: TrustPolicy | None = None
    ) -> pd.DataFrame:
        """The keys the positions (or ``values``, over them: e.g. :meth:`pick_values`)
        change against the policy in force, or against ``base`` (``base=state.given``:
        what a saved file changes against the policy as given): :func:`policy_diff`."""
        chosen = self.policy_for({**self.values, **(values or {})})
        return policy_diff(self.policy if base is None else base, chosen)

    # ---- saving

    @staticmethod
    def check_path(path: str | os.PathLike[str]) -> Path:
        """The file a save would write, or :class:`~warrantd._io.OutputError` in one line
        for a path that cannot be one: empty ("give a file name"), a folder ("is a
        directory"), or in a folder that does not exist (none is ever made). Whether the
        file exists is not checked here: :meth:`save` refuses that unless ``overwrite``."""
        text = os.fspath(path)
        if not text.strip():
            raise OutputError("", "the path is empty: give a file name")
        target = Path(text).expanduser()
        if target.is_dir():
            raise OutputError(target, "is a directory (give a file name)")
        require_folder(target)
        return target

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> TrustPolicy:
        """Write the positions as a policy file with :func:`~warrantd.dump_policy`; an
        existing file is replaced only with ``overwrite=True``, and a path that cannot be
        a file (:meth:`check_path`) never; both raise ``OutputError``."""
        if self.problems:
            raise ValueError("not a valid policy: " + "; ".join(self.problems))
        target = self.check_path(path)
        chosen = self.policy_for(self.values)
        dump_policy(chosen, target, overwrite=overwrite)
        return chosen


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _one_line(problem: object) -> str:
    return " ".join(str(problem).split())


def default_grid(policy: TrustPolicy) -> dict[str, list[Any]]:
    """A sweep grid around ``policy`` when none is given: each bar a step either side."""
    grid: dict[str, list[Any]] = {}
    for key in THRESHOLD_KNOBS:
        value = _threshold_value(policy, key)
        if _CRITERION[key].kind == "count":
            grid[key] = sorted({max(0, value // 2), value, value * 2})
        else:
            grid[key] = sorted(
                {max(0.0, round(value - 0.05, 4)), value, min(1.0, round(value + 0.025, 4))}
            )
    return grid


# --------------------------------------------------------------------------- widgets

#: The tuner's own style (inside the widget, so a restored widget brings it along).
#: JupyterLab marks every widget view ``jupyter-widgets-disconnected`` when its kernel
#: restarts or is gone (a reopened notebook whose widget state was saved): the controls
#: are then hidden, since moving them would do nothing, and the figures last shown stay,
#: dimmed, under the notice of :data:`_NOTICE`.
_STYLE = """<style>
.wd-tuner.jupyter-widgets-disconnected .wd-control { display: none !important; }
.wd-tuner.jupyter-widgets-disconnected .wd-body { opacity: 0.45; }
.wd-tuner.jupyter-widgets-disconnected::before, .wd-tuner .jupyter-widgets-disconnected::before {
  content: none !important; display: none !important; }
.wd-tuner .wd-figures { border-collapse: collapse; font-size: 13px; line-height: 1.35; }
.wd-tuner .wd-figures th { text-align: right; padding: 3px 8px; font-weight: 600;
  vertical-align: bottom; max-width: 150px; white-space: normal; }
.wd-tuner .wd-figures th:first-child, .wd-tuner .wd-figures td:first-child { text-align: left; }
.wd-tuner .wd-figures td { text-align: right; padding: 3px 8px; border-top: 1px solid #ddd;
  white-space: nowrap; }
.wd-tuner .wd-classes td { white-space: normal; padding: 3px 6px; }
.wd-tuner .wd-classes th { font-size: 12px; padding: 3px 5px; }
.wd-tuner .wd-delta { white-space: nowrap; }
.wd-tuner .wd-scroll .widget-html-content, .wd-tuner .wd-scroll.widget-html-content {
  overflow-x: auto; max-width: 100%; }
.wd-tuner .wd-scroll tr > :first-child { position: sticky; left: 0;
  background: var(--jp-layout-color0, #fff); }
.wd-tuner .wd-note { font-size: 12px; white-space: normal; line-height: 1.4; margin-top: 4px; }
.wd-tuner .wd-all td, .wd-tuner .wd-all th { font-size: 12px; }
.wd-tuner .wd-figures tr.wd-total td { font-weight: bold; border-top: 2px solid #333; }
.wd-tuner .wd-delta { font-size: 11px; color: #555; margin-left: 3px; }
.wd-tuner .wd-better { color: #007a55; }
.wd-tuner .wd-worse { color: #b03a00; }
.wd-tuner .wd-problem { color: #b03a00; font-weight: bold; }
.wd-tuner .wd-ok { color: #333; }
.wd-tuner .wd-tightens { color: #007a55; font-weight: 600; }
.wd-tuner .wd-loosens { color: #b03a00; font-weight: 600; }
.wd-tuner .wd-either { color: #7a5a00; font-weight: 600; }
.wd-tuner .wd-group { font-weight: bold; margin: 6px 0 0 0; font-size: 13px; }
</style>"""

#: A plain HTML output shown just above the widget (:meth:`Tuner._ipython_display_`),
#: for when no live tuner is there to show: the kernel restarted, or the notebook was
#: reopened, with or without its widget state saved (without it JupyterLab would show
#: only "Error displaying widget: model not found", which this style hides), or it is
#: read where widgets are not drawn at all. Its style hides it while a connected tuner
#: sits in the same cell's outputs (``:has``, JupyterLab 4's browsers all have it); it
#: waits a moment before showing so that a cell being run does not flash it.
_NOTICE = """<div class="wd-notice"><b>This tuner is not connected to a running kernel</b>
(the kernel restarted, or the notebook was reopened): run this cell again to use it.</div>
<style>
.wd-notice { padding: 8px 12px; margin: 4px 0; background: #fff3cd; border: 1px solid #d39e00;
  font-size: 14px; animation: wd-notice-in 1s step-end both; }
@keyframes wd-notice-in { from { visibility: hidden; } to { visibility: visible; } }
.jp-OutputArea:has(.wd-tuner:not(.jupyter-widgets-disconnected)) .wd-notice { display: none; }
.jp-OutputArea:has(.wd-notice) .jp-OutputArea-output.jupyter-widgets:not(:has(*)) {
  display: none; }
</style>"""

#: What a reader without widgets sees for the widget itself (nbconvert, a plain console).
_PLAIN = "warrantd tuner (an ipywidgets app: run this cell in JupyterLab to use it)"

_DESCRIPTION_WIDTH = "175px"
_CONTROL_WIDTH = "470px"


def _frame_html(frame: pd.DataFrame) -> str:
    """A DataFrame as the tuner's plain table: whole numbers with thousands separators,
    other numbers to one decimal, "–" where there is no value; the column names with
    spaces for underscores, so that a narrow header wraps rather than runs into the next."""

    def number(value: float) -> str:
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"

    # Whole-number columns go through the same formatter (to_html formats floats only).
    counts = frame.select_dtypes("integer").columns
    frame = frame.astype(dict.fromkeys(counts, "float64"))
    return frame.rename(columns=lambda c: str(c).replace("_", " ")).to_html(
        index=False, classes="wd-figures wd-all", border=0, na_rep="–", float_format=number
    )


def _count(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    return f"{float(value):,.0f}"


class Tuner:
    """The tuner app: displays itself in a notebook (``tune(...)`` as a cell's last line).

    ``state`` is the :class:`TunerState` behind it; ``controls`` maps each knob key to
    its widget; ``widget`` is the whole app (an ipywidgets ``VBox``).
    """

    def __init__(self, state: TunerState, out: str | os.PathLike[str]) -> None:
        import ipywidgets as w  # type: ignore[import-untyped]

        from . import charts

        self.state = state
        self._w = w
        self._charts = charts
        self.controls: dict[str, Any] = {}
        groups: dict[str, list[Any]] = {}
        for knob in state.knobs:
            control = self._control(knob)
            control.observe(self._moved(knob.key), names="value")
            control.add_class("wd-control")
            self.controls[knob.key] = control
            groups.setdefault(knob.group, []).append(control)
        kept = [
            f"{f.name} = {getattr(state.policy.graduation, f.name)!r}"
            for f in dataclasses.fields(GraduationSettings)
            if f"graduation.{f.name}" not in {k.policy_key for k in state.knobs}
        ]
        column: list[Any] = []
        for group, members in groups.items():
            title = f"{group} bars" if group != "evidence" else "evidence"
            heading = w.HTML(f'<div class="wd-group">{html.escape(title)}</div>')
            heading.add_class("wd-control")
            column.append(heading)
            column.extend(members)
        if kept:
            note = w.HTML(
                f"<small>kept as the policy has them: {html.escape(', '.join(kept))}</small>"
            )
            note.add_class("wd-control")
            column.append(note)
        self.reset_button = w.Button(description="Policy in force", icon="undo")
        self.pick_button = w.Button(
            description="Go to the pick", icon="star", disabled=state.pick.candidate is None
        )
        self.reset_button.on_click(lambda _: self._go_to(state.start))
        self.pick_button.on_click(lambda _: self._go_to(state.pick_values() or state.values))
        buttons = w.HBox([self.reset_button, self.pick_button])
        buttons.add_class("wd-control")
        column.append(buttons)
        self.totals = w.HTML()
        column.append(self.totals)
        # The chart takes the width the controls leave, up to its own, never more, at its
        # own shape: a flex item is stretched to the row's height unless it aligns to
        # the start, and "contain" keeps the picture's proportions whatever box it gets.
        self.chart_image = w.Image(
            format="png",
            layout=w.Layout(
                width="100%",
                max_width="760px",
                height="auto",
                align_self="flex-start",
                object_fit="contain",
            ),
        )
        self.status = w.HTML(layout=w.Layout(width="100%"))
        # The table scrolls sideways inside its own box (class first, kept in view) when
        # the notebook is narrower than it; it never widens the app past the notebook.
        self.figures = w.HTML(layout=w.Layout(width="100%", min_width="0"))
        self.figures.add_class("wd-scroll")
        # An HTML table, not a displayed DataFrame: building the app displays nothing
        # (in a plain script, IPython's display would print to stdout).
        self.all_figures = w.HTML(layout=w.Layout(width="100%", min_width="0"))
        self.all_figures.add_class("wd-scroll")
        more = w.Accordion([self.all_figures])
        more.set_title(0, "All figures per class, before and after (changed first)")
        more.selected_index = None
        more.add_class("wd-control")
        self.path = w.Text(
            value=str(out), description="policy file", layout=w.Layout(width="520px"),
            style={"description_width": "80px"},
        )  # fmt: skip
        self.save_button = w.Button(
            description="Save as policy", icon="save", button_style="primary",
            layout=w.Layout(width="auto"),
        )  # fmt: skip
        self.replace_button = w.Button(description="Replace it", button_style="warning")
        self.keep_button = w.Button(description="Keep the file")
        self.confirm = w.HBox(
            [self.replace_button, self.keep_button], layout=w.Layout(display="none")
        )
        self.confirm.add_class("wd-control")
        save_row = w.HBox([self.path, self.save_button])
        save_row.add_class("wd-control")
        self.message = w.HTML(layout=w.Layout(width="100%", min_width="0"))
        self.diff_view = w.HTML(layout=w.Layout(width="100%", min_width="0"))
        self.diff_view.add_class("wd-scroll")
        self.save_button.on_click(lambda _: self._save(overwrite=False))
        self.replace_button.on_click(lambda _: self._save(overwrite=True))
        self.keep_button.on_click(lambda _: self._hide_confirm("Nothing written."))
        pick_line = w.HTML(f"<b>Pick:</b> {html.escape(state.pick.reason)}")
        body = w.VBox(
            [
                w.HBox(
                    [
                        w.VBox(column, layout=w.Layout(flex="0 0 490px", width="490px")),
                        w.Box([self.chart_image], layout=w.Layout(flex="1 1 0", min_width="0")),
                    ]
                ),
                self.status,
                pick_line,
                self.figures,
                more,
                save_row,
                self.confirm,
                self.message,
                self.diff_view,
            ]
        )  # fmt: skip
        body.add_class("wd-body")
        body.layout.min_width = "0"
        self.widget = w.VBox([w.HTML(_STYLE), body], layout=w.Layout(min_width="0"))
        self.widget.add_class("wd-tuner")
        self._fig = charts.pareto_chart(state.sweep, marks=self._marks())
        self._mark = charts.MovingMark(self._fig, "your settings")
        self._refresh()

    # ---- building

    def _control(self, knob: Knob) -> Any:
        w = self._w
        # The widget holds each position's text (None, a cumulative window, is no
        # value to a selection widget); the handler maps it back to the knob's value.
        options = [knob.text(v) for v in knob.options]
        common = {
            "description": knob.label,
            "value": knob.text(knob.start),
            "style": {"description_width": _DESCRIPTION_WIDTH},
            "layout": w.Layout(width=_CONTROL_WIDTH),
        }
        # A slider for every knob, ordered or not: one way to move any of them, and the
        # keyboard moves each (arrows, Page Up/Down, Home/End).
        return w.SelectionSlider(options=options, continuous_update=False, **common)

    def _marks(self) -> dict[str, tuple[float, float]]:
        def point(r: Replay | Mapping[str, float]) -> tuple[float, float]:
            t = r.totals() if isinstance(r, Replay) else r
            return (float(t["approval_burden"]), float(t["failures_let_through"]))

        marks = {"policy in force": point(self.state.baseline)}
        if self.state.pick.candidate is not None:
            marks["pick"] = point(cast(Mapping[str, float], self.state.pick.candidate.to_dict()))
        marks["your settings"] = point(self.state.trial)
        return marks

    # ---- events

    def _moved(self, key: str) -> Callable[[dict[str, Any]], None]:
        def handler(change: dict[str, Any]) -> None:
            if self._moving:
                return
            knob = self.state.knob(key)
            try:
                value = knob.options[[knob.text(v) for v in knob.options].index(change["new"])]
                self.state.set(**{key: value})
                self._refresh()
            except Exception as exc:  # shown in words, never as a dead app
                self.status.value = (
                    f'<span class="wd-problem">Could not replay: {html.escape(str(exc))}</span>'
                )

        return handler

    _moving = False

    def _go_to(self, values: Mapping[str, Any]) -> None:
        self._moving = True
        try:
            for key, control in self.controls.items():
                control.value = self.state.knob(key).text(values[key])
        finally:
            self._moving = False
        self.state.set(**{k: values[k] for k in self.controls})
        self._refresh()

    _revision = 0

    def _refresh(self) -> None:
        s = self.state
        # The status line is written last and carries a count of redraws: a page (or a
        # test driving one) can tell when the figures of a move are all in place.
        self._revision += 1
        stamp = f' data-rev="{self._revision}"'
        if s.problems:
            self.save_button.disabled = True
            self.status.value = (
                f'<span class="wd-problem"{stamp}>Not a valid policy: '
                + html.escape("; ".join(s.problems))
                + ". The figures stay at the last valid settings; saving is off.</span>"
            )
            return
        self.save_button.disabled = False
        diff = s.diff()
        self.figures.value = self._figures_html()
        self.totals.value = self._totals_html()
        self.diff_view.value = self._diff_html(diff, self._in_force_title())
        self.chart_image.value = self._mark.png(self._marks()["your settings"])
        self.all_figures.value = _frame_html(compare_changed_first(s.baseline, s.trial))
        changed = len(diff)
        said = (
            "the same as the policy in force."
            if diff.empty
            else f"{changed} {'key' if changed == 1 else 'keys'} changed against the "
            "policy in force."
        )
        notes = "".join(f" Note: {html.escape(n)}." for n in s.notes())
        self.status.value = f'<span class="wd-ok"{stamp}>Valid policy; {said}{notes}</span>'

    def _in_force_title(self) -> str:
        """What the live diff compares with, said plainly when the tuner's window is
        not the one the policy was given with."""
        ours, its = (
            window_label(self.state.window),
            window_label(self.state.given.graduation.window),
        )
        if ours == its:
            return "Changes against the policy in force"
        return (
            f"Changes against the policy in force (the policy given, with window {ours} "
            f"instead of {its})"
        )

    _asked: Path | None = None  # the existing file "Replace it?" was last asked about

    def _save(self, *, overwrite: bool) -> None:
        # A path that can be no file (empty, a folder, a missing folder) is said at
        # once, before any question of replacing.
        try:
            path = self.state.check_path(self.path.value)
        except OutputError as exc:
            self._hide_confirm(
                f'<span class="wd-problem">Not saved: {html.escape(str(exc))}</span>'
            )
            return
        # "Replace it" answers for the file it was asked about: a path edited since then
        # is asked about afresh, never replaced on the strength of another's answer.
        overwrite = overwrite and path == self._asked
        if not overwrite and path.exists():
            self._asked = path
            # What an earlier save wrote is no answer to this question: the live diff.
            self.diff_view.value = self._diff_html(self.state.diff(), self._in_force_title())
            self.confirm.layout.display = "flex"
            self.message.value = f"<b>{html.escape(str(path))}</b> exists. Replace it?"
            return
        self._asked = None
        self.confirm.layout.display = "none"
        try:
            self.state.save(path, overwrite=overwrite)
        except (OutputError, PolicyError, OSError, ValueError) as exc:
            self.message.value = (
                f'<span class="wd-problem">Not saved: {html.escape(str(exc))}</span>'
            )
            return
        self.message.value = f"Saved <b>{html.escape(str(path))}</b>."
        # Against the policy as given to tune(), not the one in force: a window the
        # tuner was given is written into the file, and is a change of the file's.
        self.diff_view.value = self._diff_html(
            self.state.diff(base=self.state.given),
            "What the saved file changes against the policy given to tune()",
        )

    def _hide_confirm(self, text: str) -> None:
        self.confirm.layout.display = "none"
        self.message.value = text

    # ---- rendering

    def _totals_html(self) -> str:
        before, after = self.state.totals()
        rows = []
        for label, key in (
            ("approval burden", "approval_burden"),
            ("failures let through", "failures_let_through"),
            ("adversarial failures let through", "adversarial_failures_let_through"),
            ("failures while AUTONOMOUS", "failures_while_autonomous"),
            ("cases while AUTONOMOUS", "cases_while_autonomous"),
        ):
            better = None if key.startswith("cases") else "lower"
            cell = self._cell(after[key], before[key], better)
            rows.append(f"<tr><td>{label}</td><td>{cell}</td></tr>")
        return (
            '<table class="wd-figures"><tr><th>all classes</th><th>value (change)</th></tr>'
            + "".join(rows)
            + "</table>"
        )

    def _cell(self, now: Any, was: Any, better: str | None) -> str:
        text = _count(now)
        try:
            change = float(now) - float(was)
        except (TypeError, ValueError):
            change = float("nan")
        if np.isnan(change) or change == 0:
            if _count(now) != _count(was):
                return f'<b>{text}</b><wbr><span class="wd-delta">(was {_count(was)})</span>'
            return text
        tone = ""
        if better is not None:
            tone = "wd-better" if (change < 0) == (better == "lower") else "wd-worse"
        return f'<b>{text}</b><wbr><span class="wd-delta {tone}">({change:+,.0f})</span>'

    def _figures_html(self) -> str:
        frame = self.state.figures()
        has_truth = self.state.baseline.events.true_pass_p is not None
        shown = [s for s in SHOWN if has_truth or not s[1][0].startswith("premature")]
        head = "".join(f"<th>{html.escape(title)}</th>" for title, _, _ in shown)
        body = []
        for action, row in frame.iterrows():
            cells = []
            for _, columns, better in shown:
                parts = [self._cell(row[c], row[c + "_in_force"], better) for c in columns]
                if columns[0].startswith("days_to_") and action == "all classes":
                    parts = [
                        self._cell(row[columns[0]], row[columns[0] + "_in_force"], None) + " reach"
                    ]
                # A cell may wrap (before a change in brackets, after a "/"), so the
                # table narrows to the notebook before it has to scroll.
                cells.append(
                    "<td>" + " / ".join(f'<span class="wd-part">{p}</span>' for p in parts)
                    + "</td>"
                )  # fmt: skip
            css = ' class="wd-total"' if action == "all classes" else ""
            body.append(f"<tr{css}><td>{html.escape(str(action))}</td>{''.join(cells)}</tr>")
        return (
            f'<table class="wd-figures wd-classes"><tr><th>class</th>{head}</tr>'
            f"{''.join(body)}</table>"
            '<div class="wd-note">Each figure under the settings above, with its change '
            "against the policy in force in brackets where it differs (green: better, red: "
            "worse). Days to a state: from the class's first case; in the total row, how many "
            "classes get there.</div>"
        )

    @staticmethod
    def _diff_html(diff: pd.DataFrame, title: str) -> str:
        if diff.empty:
            return f"<b>{html.escape(title)}:</b> none."
        rows = "".join(
            f"<tr><td>{html.escape(str(r.key))}</td><td>{html.escape(str(r.before))}</td>"
            f"<td>{html.escape(str(r.after))}</td><td class='wd-{r.change}'>{r.change}</td></tr>"
            for r in diff.itertuples()
        )
        return (
            f"<b>{html.escape(title)}:</b>"
            '<table class="wd-figures"><tr><th>key</th><th>before</th><th>after</th>'
            f"<th>change</th></tr>{rows}</table>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = _PLAIN
        return bundle

    def _ipython_display_(self) -> None:
        """Two outputs: :data:`_NOTICE` (hidden while the tuner is live), then the app."""
        from IPython.display import HTML, display

        display(HTML(_NOTICE))  # type: ignore[no-untyped-call]
        display(self._repr_mimebundle_(), raw=True)  # type: ignore[no-untyped-call]


def tune(
    history: pd.DataFrame,
    policy: TrustPolicy,
    *,
    traffic: pd.DataFrame | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    window: Any = POLICY_WINDOW,
    out: str | os.PathLike[str] = "tuned.policy.toml",
) -> Tuner:
    """The tuner for ``policy`` over ``history`` (and ``traffic``, what the gate was
    asked): a widget app; show it by making it a cell's last line.

    ``grid`` is the sweep grid whose candidates make the cloud on the Pareto chart
    (and whose values every control can reach); without it, a step either side of
    each bar (:func:`default_grid`). ``window`` as in :func:`replay` (default: the
    policy's own). ``out`` is the file "Save as policy" proposes.
    """
    return Tuner(TunerState(history, policy, traffic=traffic, grid=grid, window=window), out)
