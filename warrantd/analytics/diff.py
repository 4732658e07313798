"""Policy impact: what a change of policy would have done, on the same history.

:func:`policy_impact` replays one eval history (and, when given, one traffic
table) under a *base* policy and a *new* one, and reports per class and in total
which policy keys changed, whether each change loosens or tightens, and how the
figures of :func:`~warrantd.analytics.replay.replay` move. It computes no figure of
its own: every number is a replay figure (the engine defines them once) read on
both sides. The ``warrantd diff`` command and the report's "Policy change" section
are doors onto it; :meth:`PolicyImpact.check` holds the result against CI budgets.

**Direction of a key change** (:data:`DIRECTIONS`). A change *loosens* when, with
the same evidence and requests, it can only let more through without a human;
it *tightens* when it can only let less through; *either* when it can go both
ways (the effect is in the figures).

* ``thresholds.<state>.<bar>``: every bar of :data:`~warrantd.graduation.CRITERIA`
  is met by a metric at or above it, so a higher bar tightens and a lower bar
  loosens.
* ``actions.<name>.auto_cap`` / ``hard_cap``: a higher cap, or a cap removed (no cap
  lets every value through that step) loosens; a lower cap, or a cap added, tightens.
* ``actions.<name>.max_state``: a higher ceiling loosens, a lower one tightens.
* ``actions.<name>.risk``: READ is always allowed, CONSEQUENTIAL needs adversarial
  evidence for AUTONOMOUS with several signals; so a lower tier (towards READ)
  loosens and a higher tier tightens.
* ``actions.<name>`` added: the gate answered its requests with ``KeyError`` (never
  allowed); now it may allow them: loosens. Removed: tightens.
* ``graduation.evidence``: ``point`` < ``wilson`` < ``anytime`` in strictness (a
  confidence bound sits below the point rate; an anytime-valid bound below a
  fixed-sample one); towards ``anytime`` tightens. ``graduation.alpha``: a lower
  level (more confidence demanded) tightens. ``graduation.demotion_margin``: a
  larger margin keeps a state longer: loosens. ``graduation.reset_on``: *either*,
  however it changes: restarting evidence at a new version drops the old versions'
  failures as well as their passes, so it can graduate a class sooner or later.
* ``graduation.window``: *either*. A shorter window forgets old failures and old
  passes alike, so it can graduate sooner or later; the figures say which.

**Digests.** Every result carries the SHA-256 of both policies (of the file's bytes,
of the git blob, or of :func:`~warrantd.policyfile.policy_to_toml` for an
in-memory policy), of the history (the file's bytes; for a folder of logs, of each
file's relative path and digest in path order; for an in-memory frame, of its
pandas row hashes) and of the traffic, so a CI result can be traced to its inputs.

**Budgets** (:func:`parse_budget`): ``loosened`` (any key change that loosens),
``any-change`` (any key change), ``burden+N%`` (approval burden up by more than
N percent; from zero, any increase exceeds), ``burden+N`` (up by more than N
requests), ``failures+N`` (failures let through up by more than N),
``premature+N`` (premature graduations, ground truth, up by more than N; both sides
are judged against ``base``'s pass bars, so a lowered bar cannot hide one). A
figure budget holds when it holds for every class and for all classes together;
exactly on the limit is within it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from .. import __version__
from ..autonomy import GRADUATION_STATES
from ..errors import InputError
from ..graduation import CRITERIA, EVIDENCE_RULES
from ..policy import TrustPolicy
from ..policyfile import PolicyError, load_policy, policy_to_toml
from ..risk import RiskTier
from ..window import parse_window, window_text
from ._engine import POLICY_WINDOW
from .metrics import window_label
from .replay import Replay, replay

__all__ = [
    "DIRECTIONS",
    "IMPACT_FIGURES",
    "JSON_SCHEMA",
    "JSON_VERSION",
    "Breach",
    "Budget",
    "KeyChange",
    "PolicyImpact",
    "PolicySource",
    "input_digest",
    "key_changes",
    "parse_budget",
    "policy_impact",
    "policy_source",
    "read_policy",
]

#: The directions a key change may have.
DIRECTIONS = ("loosens", "tightens", "either")
#: The name and version of the JSON document :meth:`PolicyImpact.to_json` writes.
JSON_SCHEMA = "warrantd.diff"
JSON_VERSION = 1
#: The replay figures compared, before and after (counts, per class and in total).
IMPACT_FIGURES = (
    "approval_burden",
    "failures_let_through",
    "adversarial_failures_let_through",
    "demotions",
    "premature",
)
#: The first-reached dates compared (their shift in days).
IMPACT_DATES = ("first_supervised", "first_autonomous")

_LABELS = {
    "approval_burden": "approval burden",
    "failures_let_through": "failures let through",
    "adversarial_failures_let_through": "adversarial failures let through",
    "demotions": "demotions",
    "premature": "premature graduations",
    "first_supervised": "first SUPERVISED",
    "first_autonomous": "first AUTONOMOUS",
}
_RISK_ORDER = {RiskTier.READ: 0, RiskTier.REVERSIBLE_WRITE: 1, RiskTier.CONSEQUENTIAL: 2}


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class PolicySource:
    """A policy with where it came from and the SHA-256 of its bytes."""

    policy: TrustPolicy
    source: str
    sha256: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_policy(
    spec: str | os.PathLike[str], *, cwd: str | os.PathLike[str] | None = None
) -> PolicySource:
    """Read a policy file, or ``git:REF:PATH`` (the file at ``PATH`` in revision ``REF``,
    through ``git show REF:PATH`` run in ``cwd``; ``PATH`` as git reads it, from the
    repository's root, or ``./PATH`` from ``cwd``).

    Errors are :class:`~warrantd.errors.InputError` naming ``spec``: no such file, a
    ref or path git does not know, git missing, or an invalid policy (every problem).
    """
    text = os.fspath(spec)
    if not text.startswith("git:"):
        policy = load_policy(text)  # names the file and every problem
        with open(text, "rb") as fh:
            return PolicySource(policy, text, _sha256(fh.read()))
    ref, sep, path = text[4:].partition(":")
    if not sep or not ref or not path:
        raise InputError(text, ["not git:REF:PATH (e.g. git:origin/main:policy.toml)"])
    if ref.startswith("-"):
        raise InputError(text, [f"{ref!r} is not a git revision"])
    try:
        done = subprocess.run(
            ["git", "show", "--no-textconv", f"{ref}:{path}"],
            cwd=cwd,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise InputError(text, ["git is not installed (needed to read git:REF:PATH)"]) from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = said[0].removeprefix("fatal: ") if said else f"git show exited {done.returncode}"
        raise InputError(text, [why])
    data = done.stdout
    with tempfile.TemporaryDirectory(prefix="warrantd-diff-") as folder:
        staged = Path(folder) / "policy.toml"
        staged.write_bytes(data)
        try:
            policy = load_policy(staged)
        except PolicyError as exc:
            raise PolicyError(text, exc.problems) from None
    return PolicySource(policy, text, _sha256(data))


def policy_source(policy: TrustPolicy | PolicySource | str | os.PathLike[str]) -> PolicySource:
    """A :class:`PolicySource` for a policy, a file or ``git:REF:PATH`` (an in-memory
    policy is digested as the TOML :func:`~warrantd.policyfile.policy_to_toml` writes)."""
    if isinstance(policy, PolicySource):
        return policy
    if isinstance(policy, TrustPolicy):
        text = policy_to_toml(policy)
        return PolicySource(policy, "in-memory TrustPolicy", _sha256(text.encode("utf-8")))
    return read_policy(policy)


def input_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes; of a folder, over each file's relative path and
    digest, in path order (so a folder of eval logs has one digest)."""
    root = Path(path)
    if not root.is_dir():
        digest = hashlib.sha256()
        with open(root, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(file.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(input_digest(file).encode("ascii") + b"\n")
    return digest.hexdigest()


def _frame_digest(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return _sha256(np.ascontiguousarray(hashed).tobytes())


# --------------------------------------------------------------------------- key changes


@dataclass(frozen=True)
class KeyChange:
    """One policy key that differs: its dotted ``key``, the ``scope`` it applies to (an
    action class, or ``*`` for every class), both values as written and the
    ``direction`` (one of :data:`DIRECTIONS`; see the module docstring)."""

    key: str
    scope: str
    before: str
    after: str
    direction: str

    def describe(self) -> str:
        """``key: before -> after (direction)``."""
        return f"{self.key}: {self.before} -> {self.after} ({self.direction})"


def _by(lower_is_looser: bool, before: Any, after: Any) -> str:
    looser = after < before if lower_is_looser else after > before
    return "loosens" if looser else "tightens"


def _cap_text(cap: Decimal | None) -> str:
    return "none" if cap is None else str(cap)


def _cap_direction(before: Decimal | None, after: Decimal | None) -> str:
    if before is None:
        return "tightens"  # a cap where there was none
    if after is None:
        return "loosens"
    return _by(False, before, after)


def _bar_text(value: Any) -> str:
    return str(int(value)) if isinstance(value, (int, np.integer)) else repr(float(value))


def _window_text(value: Any) -> str:
    parsed = parse_window(value)
    if parsed is None:
        return "cumulative"
    return str(parsed) + " cases" if isinstance(parsed, int) else window_text(parsed)


def key_changes(base: TrustPolicy, new: TrustPolicy) -> list[KeyChange]:
    """Every key that differs between two policies, with its direction, in file order:
    thresholds, then action classes (by name), then ``[graduation]``."""
    changes: list[KeyChange] = []
    for state in GRADUATION_STATES:
        for criterion in CRITERIA:
            b = getattr(base.thresholds, criterion.bar)[state]
            a = getattr(new.thresholds, criterion.bar)[state]
            if b != a:
                key = f"thresholds.{state.name.lower()}.{criterion.bar}"
                # Criterion.met is "metric >= bar": a lower bar is met by more.
                changes.append(KeyChange(key, "*", _bar_text(b), _bar_text(a), _by(True, b, a)))
    for name in sorted(set(base.actions) | set(new.actions)):
        key = f"actions.{name}"
        if name not in new.actions:
            changes.append(KeyChange(key, name, "defined", "removed", "tightens"))
            continue
        if name not in base.actions:
            changes.append(KeyChange(key, name, "absent", "defined", "loosens"))
            continue
        b_cls, a_cls = base.actions[name], new.actions[name]
        if b_cls.risk is not a_cls.risk:
            changes.append(
                KeyChange(
                    f"{key}.risk",
                    name,
                    b_cls.risk.name.lower(),
                    a_cls.risk.name.lower(),
                    _by(True, _RISK_ORDER[b_cls.risk], _RISK_ORDER[a_cls.risk]),
                )
            )
        for cap in ("auto_cap", "hard_cap"):
            b_cap, a_cap = getattr(b_cls, cap), getattr(a_cls, cap)
            if b_cap != a_cap or (b_cap is None) != (a_cap is None):
                changes.append(
                    KeyChange(
                        f"{key}.{cap}",
                        name,
                        _cap_text(b_cap),
                        _cap_text(a_cap),
                        _cap_direction(b_cap, a_cap),
                    )
                )
        if b_cls.max_state != a_cls.max_state:
            changes.append(
                KeyChange(
                    f"{key}.max_state",
                    name,
                    b_cls.max_state.name.lower(),
                    a_cls.max_state.name.lower(),
                    _by(False, int(b_cls.max_state), int(a_cls.max_state)),
                )
            )
    changes.extend(_settings_changes(base, new))
    return changes


def _settings_changes(base: TrustPolicy, new: TrustPolicy) -> list[KeyChange]:
    b, a = base.graduation, new.graduation
    out: list[KeyChange] = []
    if parse_window(b.window) != parse_window(a.window):
        out.append(
            KeyChange(
                "graduation.window", "*", _window_text(b.window), _window_text(a.window), "either"
            )
        )
    if b.evidence != a.evidence:
        order = {rule: i for i, rule in enumerate(EVIDENCE_RULES)}
        out.append(
            KeyChange(
                "graduation.evidence",
                "*",
                b.evidence,
                a.evidence,
                _by(False, -order[b.evidence], -order[a.evidence]),
            )
        )
    if b.alpha != a.alpha:
        # A lower alpha demands more confidence before a bar counts as met.
        out.append(
            KeyChange(
                "graduation.alpha", "*", repr(b.alpha), repr(a.alpha), _by(False, b.alpha, a.alpha)
            )
        )
    if b.demotion_margin != a.demotion_margin:
        out.append(
            KeyChange(
                "graduation.demotion_margin",
                "*",
                repr(b.demotion_margin),
                repr(a.demotion_margin),
                _by(False, b.demotion_margin, a.demotion_margin),
            )
        )
    if b.reset_on != a.reset_on:
        # Like a window: a restart forgets old failures and old passes alike.
        out.append(
            KeyChange(
                "graduation.reset_on", "*", b.reset_on or "none", a.reset_on or "none", "either"
            )
        )
    return out


# --------------------------------------------------------------------------- budgets


@dataclass(frozen=True)
class Budget:
    """One ``--fail-on`` budget: ``kind`` is ``loosened``, ``any-change``, ``burden``,
    ``failures`` or ``premature``; ``limit`` the allowed increase (None for the key
    budgets); ``percent`` whether it is a share of the base figure."""

    text: str
    kind: str
    limit: float | None = None
    percent: bool = False


@dataclass(frozen=True)
class Breach:
    """A budget exceeded: where (a class, or ``all classes``) and by what."""

    budget: str
    scope: str
    message: str


_FIGURE_OF = {
    "burden": "approval_burden",
    "failures": "failures_let_through",
    "premature": "premature",
}
_BUDGET = re.compile(r"(burden|failures|premature)\+(\d+(?:\.\d+)?)(%?)")


def parse_budget(text: str) -> Budget:
    """A budget from its spelling (see the module docstring); :class:`InputError`
    (``--fail-on``) naming the value otherwise."""
    spelled = text.strip().lower()
    if spelled in ("loosened", "any-change"):
        return Budget(text, spelled)
    match = _BUDGET.fullmatch(spelled)
    if match is None or (match.group(3) and match.group(1) != "burden"):
        raise InputError(
            "--fail-on",
            [
                f"{text!r} is not a budget (loosened, any-change, burden+N%, burden+N, "
                "failures+N, premature+N)"
            ],
        )
    return Budget(text, match.group(1), float(match.group(2)), bool(match.group(3)))


# --------------------------------------------------------------------------- the result


def _count(value: Any) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def _whole(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    rounded = round(value)
    return f"{rounded:,}" if abs(value - rounded) < 1e-9 else f"{value:,.1f}"


def _signed(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return "0" if value == 0 else ("+" if value > 0 else "-") + _whole(abs(value))


def _date(value: Any) -> str:
    return "never" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _shift(before: Any, after: Any) -> float:
    if pd.isna(before) or pd.isna(after):
        return math.nan
    return float((pd.Timestamp(after) - pd.Timestamp(before)) / pd.Timedelta(days=1))


def format_date_move(before: Any, after: Any) -> str:
    if pd.isna(before) and pd.isna(after):
        return "never"
    if pd.isna(before) or pd.isna(after) or before == after:
        return _date(after) if before == after else f"{_date(before)} → {_date(after)}"
    days = _shift(before, after)
    return f"{_date(before)} → {_date(after)} ({days:+.1f} d)"


@dataclass(frozen=True)
class PolicyImpact:
    """The result of :func:`policy_impact`.

    ``table``: one row per action class of either policy: ``action``, ``status``
    (``changed``, ``unchanged``, ``added``, ``removed``), ``keys`` (the class's own
    changed keys, ``; ``-joined), ``loosens`` / ``tightens`` (any of them does),
    ``first_supervised_before`` / ``_after`` / ``_shift_days`` (and the same for
    ``first_autonomous``), then for each of :data:`IMPACT_FIGURES`
    ``<figure>_before`` / ``_after`` / ``_change`` (``premature`` counts the
    classes' premature graduations, both sides against the base policy's pass bars,
    NaN without ground truth), and ``newly_allowed``
    / ``newly_gated`` (requests of the traffic the new policy allows where the base
    did not, and the reverse; NaN without traffic). A class is ``changed`` when it
    has a key change of its own or any figure or date moved. ``changes``: every key
    change (policy-wide ones have scope ``*``). ``base`` / ``new``: the replays.
    ``digests``: SHA-256 of ``base_policy``, ``new_policy``, ``history`` and
    ``traffic`` (when given).
    """

    table: pd.DataFrame
    changes: tuple[KeyChange, ...]
    base_source: PolicySource
    new_source: PolicySource
    history_source: str
    traffic_source: str | None
    digests: Mapping[str, str]
    base: Replay = field(repr=False)
    new: Replay = field(repr=False)

    @property
    def loosened(self) -> tuple[KeyChange, ...]:
        """The key changes that loosen (empty when none does)."""
        return tuple(c for c in self.changes if c.direction == "loosens")

    @property
    def has_ground_truth(self) -> bool:
        """Whether the history has ``true_pass_p`` (the premature figures are defined)."""
        return bool(self.table["premature_before"].notna().any())

    def totals(self) -> dict[str, dict[str, float]]:
        """Per figure of :data:`IMPACT_FIGURES` (and ``newly_allowed`` / ``newly_gated``),
        ``before``, ``after`` and ``change`` summed over the classes (a class only in one
        policy counts on its side)."""
        t = self.table
        out: dict[str, dict[str, float]] = {}
        for figure in IMPACT_FIGURES:
            before = t[f"{figure}_before"]
            after = t[f"{figure}_after"]
            if figure == "premature" and not self.has_ground_truth:
                out[figure] = {"before": math.nan, "after": math.nan, "change": math.nan}
                continue
            b, a = float(before.sum()), float(after.sum())
            out[figure] = {"before": b, "after": a, "change": a - b}
        for name in ("newly_allowed", "newly_gated"):
            value = float(t[name].sum()) if t[name].notna().any() else math.nan
            out[name] = {"before": math.nan, "after": math.nan, "change": value}
        return out

    @property
    def unchanged(self) -> list[str]:
        """The classes with no key change of their own and no figure that moved."""
        return [str(a) for a in self.table.loc[self.table["status"] == "unchanged", "action"]]

    # ------------------------------------------------------------------ budgets

    def check(self, budgets: Iterable[Budget | str]) -> list[Breach]:
        """Every way the change exceeds ``budgets`` (empty: within budget)."""
        breaches: list[Breach] = []
        for given in budgets:
            budget = given if isinstance(given, Budget) else parse_budget(given)
            breaches.extend(self._check_one(budget))
        return breaches

    def _check_one(self, budget: Budget) -> list[Breach]:
        if budget.kind in ("loosened", "any-change"):
            hits = self.loosened if budget.kind == "loosened" else self.changes
            return [
                Breach(
                    budget.text,
                    "all classes" if c.scope == "*" else c.scope,
                    f"{c.describe()}",
                )
                for c in hits
            ]
        figure = _FIGURE_OF[budget.kind]
        if figure == "premature" and not self.has_ground_truth:
            raise InputError(
                "--fail-on",
                [f"{budget.text!r} needs ground truth (a true_pass_p column) the history lacks"],
            )
        assert budget.limit is not None
        rows = [
            (str(r["action"]), _count(r[f"{figure}_before"]), _count(r[f"{figure}_after"]))
            for r in self.table.to_dict("records")
        ]
        total = self.totals()[figure]
        rows.append(("all classes", total["before"], total["after"]))
        breaches = []
        for scope, before, after in rows:
            before = 0.0 if math.isnan(before) else before
            after = 0.0 if math.isnan(after) else after
            if budget.percent:
                allowed = before * (1 + budget.limit / 100)
                over = after > before and (before == 0 or after > allowed + 1e-9)
                limit = f"at most +{budget.limit:g}%"
                moved = f"{_whole(before)} -> {_whole(after)} " + (
                    f"({(after - before) / before:+.1%})" if before else "(from zero)"
                )
            else:
                over = after - before > budget.limit + 1e-9
                limit = f"at most +{_whole(budget.limit)}"
                moved = f"{_whole(before)} -> {_whole(after)} ({_signed(after - before)})"
            if over:
                breaches.append(Breach(budget.text, scope, f"{_LABELS[figure]} {moved}, {limit}"))
        return breaches

    # ------------------------------------------------------------------ outputs

    def headline(self, breaches: Sequence[Breach] = (), budgets: Sequence[Any] = ()) -> str:
        """One line: the verdict on the budgets, then what changed and by how much."""
        if not self.changes:
            what = "No policy change: the two policies are the same, key for key."
        else:
            n_loose = len(self.loosened)
            n_tight = sum(c.direction == "tightens" for c in self.changes)
            n_either = len(self.changes) - n_loose - n_tight
            parts = [f"{n_loose} loosen{'s' if n_loose == 1 else ''}"]
            parts.append(f"{n_tight} tighten{'s' if n_tight == 1 else ''}")
            if n_either:
                parts.append(f"{n_either} either way")
            t = self.totals()
            moved = [
                f"{_LABELS[f]} {_whole(t[f]['before'])} → {_whole(t[f]['after'])}"
                for f in ("approval_burden", "failures_let_through")
            ]
            keys = "key" if len(self.changes) == 1 else "keys"
            what = (
                f"{len(self.changes)} policy {keys} changed ({', '.join(parts)}); "
                + "; ".join(moved)
                + "."
            )
        if breaches:
            n = len({b.budget for b in breaches})
            return f"FAIL: {n} budget{'s' if n != 1 else ''} exceeded. {what}"
        if budgets:
            return f"PASS: within budget. {what}"
        return what

    def _changed_rows(self) -> list[dict[Any, Any]]:
        return [r for r in self.table.to_dict("records") if r["status"] != "unchanged"]

    def to_markdown(self, budgets: Iterable[Budget | str] = ()) -> str:
        """A compact Markdown summary for a pull-request comment or
        ``$GITHUB_STEP_SUMMARY``: headline, budget breaches, key changes, a table of
        the changed classes, the unchanged ones in one line, details folded."""
        parsed = [b if isinstance(b, Budget) else parse_budget(b) for b in budgets]
        breaches = self.check(parsed)
        lines = ["### warrantd diff", "", f"**{_md(self.headline(breaches, parsed))}**", ""]
        if breaches:
            lines.append("Budgets exceeded:")
            lines.append("")
            lines += [f"- {_code(b.budget)} {_md(b.scope)}: {_md(b.message)}" for b in breaches]
            lines.append("")
        if self.changes:
            lines += ["| key | before | after | direction |", "|---|---|---|---|"]
            lines += [
                f"| {_code(c.key)} | {_md(c.before)} | {_md(c.after)} | {c.direction} |"
                for c in self.changes
            ]
            lines.append("")
        changed = self._changed_rows()
        if changed:
            lines += [
                "| class | keys | approval burden | failures let through | adversarial | "
                "demotions | premature | first SUPERVISED | first AUTONOMOUS |",
                "|---|---|---:|---:|---:|---:|---:|---|---|",
            ]
            for r in changed:
                lines.append(
                    f"| {_md(r['action'])}{_status_note(r)} | {_md(_keys_cell(r))} | "
                    + " | ".join(format_move(r, f) for f in IMPACT_FIGURES)
                    + f" | {_dates(r, 'first_supervised')} | {_dates(r, 'first_autonomous')} |"
                )
            lines.append("")
        if self.unchanged:
            names = ", ".join(_md(n) for n in self.unchanged)
            lines += [f"Unchanged ({len(self.unchanged)}): {names}.", ""]
        lines += ["<details><summary>Details: totals, traffic, inputs</summary>", ""]
        lines += self._detail_lines()
        lines += ["", "</details>", ""]
        return "\n".join(lines)

    def _detail_lines(self) -> list[str]:
        t = self.totals()
        lines = ["| all classes | before | after | change |", "|---|---:|---:|---:|"]
        for figure in IMPACT_FIGURES:
            v = t[figure]
            lines.append(
                f"| {_LABELS[figure]} | {_whole(v['before'])} | {_whole(v['after'])} | "
                f"{_signed(v['change'])} |"
            )
        lines.append("")
        if self.traffic_source is not None:
            lines.append(
                f"Over the traffic ({_md(self.traffic_source)}): the new policy would allow "
                f"{_whole(t['newly_allowed']['change'])} requests the base policy did not, and "
                f"gate (approval or block) {_whole(t['newly_gated']['change'])} it allowed."
            )
        else:
            lines.append(
                "No traffic given: each eval case stands in for one request without a value, "
                "so caps play no part."
            )
        lines.append("")
        lines.append(_PREMATURE_SAID if self.has_ground_truth else _PREMATURE_NA)
        d = self.digests
        lines += [
            "",
            f"- base policy: {_code(self.base_source.source)} sha256 `{d['base_policy']}`",
            f"- new policy: {_code(self.new_source.source)} sha256 `{d['new_policy']}`",
            f"- history: {_code(self.history_source)} sha256 `{d['history']}`",
        ]
        if self.traffic_source is not None:
            lines.append(f"- traffic: {_code(self.traffic_source)} sha256 `{d['traffic']}`")
        lines.append(
            f"- window: base {window_label(self.base.window)}, new {window_label(self.new.window)}"
            f"; warrantd {__version__}"
        )
        return lines

    def to_dict(self, budgets: Iterable[Budget | str] = ()) -> dict[str, Any]:
        """The JSON document (schema :data:`JSON_SCHEMA` version :data:`JSON_VERSION`,
        documented in the README) as Python values."""
        parsed = [b if isinstance(b, Budget) else parse_budget(b) for b in budgets]
        breaches = self.check(parsed)
        classes = []
        for r in self.table.to_dict("records"):
            classes.append(
                {
                    "action": str(r["action"]),
                    "status": r["status"],
                    "keys": [k for k in str(r["keys"]).split("; ") if k],
                    "loosens": bool(r["loosens"]),
                    "tightens": bool(r["tightens"]),
                    "figures": {
                        f: {
                            "before": _json_number(r[f"{f}_before"]),
                            "after": _json_number(r[f"{f}_after"]),
                            "change": _json_number(r[f"{f}_change"]),
                        }
                        for f in IMPACT_FIGURES
                    },
                    "dates": {
                        d: {
                            "before": _json_date(r[f"{d}_before"]),
                            "after": _json_date(r[f"{d}_after"]),
                            "shift_days": _json_number(r[f"{d}_shift_days"]),
                        }
                        for d in IMPACT_DATES
                    },
                    "newly_allowed": _json_number(r["newly_allowed"]),
                    "newly_gated": _json_number(r["newly_gated"]),
                }
            )
        totals = self.totals()
        return {
            "schema": JSON_SCHEMA,
            "version": JSON_VERSION,
            "warrantd": __version__,
            "headline": self.headline(breaches, parsed),
            "inputs": {
                "base_policy": {
                    "source": self.base_source.source,
                    "sha256": self.digests["base_policy"],
                },
                "new_policy": {
                    "source": self.new_source.source,
                    "sha256": self.digests["new_policy"],
                },
                "history": {"source": self.history_source, "sha256": self.digests["history"]},
                "traffic": None
                if self.traffic_source is None
                else {"source": self.traffic_source, "sha256": self.digests["traffic"]},
                "window": {
                    "base": window_label(self.base.window),
                    "new": window_label(self.new.window),
                },
            },
            "changes": [
                {
                    "key": c.key,
                    "scope": c.scope,
                    "before": c.before,
                    "after": c.after,
                    "direction": c.direction,
                }
                for c in self.changes
            ],
            "loosened": bool(self.loosened),
            "totals": {
                f: {k: _json_number(v) for k, v in totals[f].items()} for f in IMPACT_FIGURES
            }
            | {
                "newly_allowed": _json_number(totals["newly_allowed"]["change"]),
                "newly_gated": _json_number(totals["newly_gated"]["change"]),
            },
            "classes": classes,
            "unchanged": self.unchanged,
            "budgets": [b.text for b in parsed],
            "breaches": [
                {"budget": b.budget, "scope": b.scope, "message": b.message} for b in breaches
            ],
            "exceeded": bool(breaches),
        }

    def to_json(self, budgets: Iterable[Budget | str] = ()) -> str:
        """:meth:`to_dict` as JSON text (sorted keys off: the documented order)."""
        return json.dumps(self.to_dict(budgets), indent=2, ensure_ascii=False) + "\n"

    def to_junit(self, budgets: Iterable[Budget | str] = ()) -> str:
        """JUnit XML: one test case per class and one for all classes together (the
        policy-wide keys and the totals), failing where a budget is exceeded there."""
        parsed = [b if isinstance(b, Budget) else parse_budget(b) for b in budgets]
        breaches = self.check(parsed)
        scopes = [str(a) for a in self.table["action"]] + ["all classes"]
        suite = ElementTree.Element(
            "testsuite",
            {
                "name": "warrantd diff",
                "tests": str(len(scopes)),
                "failures": str(len({b.scope for b in breaches})),
                "errors": "0",
            },
        )
        rows = {str(r["action"]): r for r in self.table.to_dict("records")}
        for scope in scopes:
            case = ElementTree.SubElement(
                suite, "testcase", {"classname": "warrantd.diff", "name": scope}
            )
            mine = [b for b in breaches if b.scope == scope]
            if mine:
                failure = ElementTree.SubElement(
                    case,
                    "failure",
                    {
                        "message": "; ".join(f"{b.budget}: {b.message}" for b in mine),
                        "type": "budget",
                    },
                )
                failure.text = "\n".join(f"{b.budget}: {b.message}" for b in mine)
            out = ElementTree.SubElement(case, "system-out")
            out.text = (
                self._junit_text(rows[scope]) if scope in rows else self.headline(breaches, parsed)
            )
        props = ElementTree.SubElement(suite, "properties")
        for name, digest in self.digests.items():
            ElementTree.SubElement(props, "property", {"name": f"sha256.{name}", "value": digest})
        ElementTree.indent(suite)
        body = ElementTree.tostring(suite, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    @staticmethod
    def _junit_text(r: Mapping[Any, Any]) -> str:
        moved = ", ".join(
            f"{_LABELS[f]} {_whole(_count(r[f + '_before']))} -> {_whole(_count(r[f + '_after']))}"
            for f in IMPACT_FIGURES
        )
        keys = str(r["keys"]) or "no key of its own changed"
        return f"{r['status']}: {keys}; {moved}"

    def to_text(self, budgets: Iterable[Budget | str] = ()) -> str:
        """The terminal table: headline, key changes, changed classes, unchanged ones."""
        parsed = [b if isinstance(b, Budget) else parse_budget(b) for b in budgets]
        breaches = self.check(parsed)
        lines = [self.headline(breaches, parsed).replace("→", "->")]
        for b in breaches:
            lines.append(f"  exceeded {b.budget} ({b.scope}): {b.message}")
        if self.changes:
            lines.append("")
            lines += [f"  {c.describe()}" for c in self.changes]
        changed = self._changed_rows()
        if changed:
            frame = pd.DataFrame(
                [
                    {
                        "class": f"{r['action']}{_status_note(r)}",
                        "burden": _plain_move(r, "approval_burden"),
                        "failures": _plain_move(r, "failures_let_through"),
                        "adversarial": _plain_move(r, "adversarial_failures_let_through"),
                        "demotions": _plain_move(r, "demotions"),
                        "premature": _plain_move(r, "premature"),
                        "first SUPERVISED": _dates(r, "first_supervised").replace("→", "->"),
                        "first AUTONOMOUS": _dates(r, "first_autonomous").replace("→", "->"),
                    }
                    for r in changed
                ]
            )
            lines += ["", frame.to_string(index=False)]
        if self.unchanged:
            lines += ["", f"unchanged ({len(self.unchanged)}): {', '.join(self.unchanged)}"]
        lines += ["", _PREMATURE_SAID if self.has_ground_truth else _PREMATURE_NA]
        lines.append("")
        for name, digest in self.digests.items():
            lines.append(f"sha256 {name}: {digest}")
        return "\n".join(lines)


def _json_number(value: Any) -> float | int | None:
    if value is None or pd.isna(value):
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


def _json_date(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def _md(text: Any) -> str:
    """Escape text for a Markdown table cell or line (names and paths are untrusted)."""
    out = str(text).replace("\\", "\\\\").replace("\n", " ").replace("\r", " ")
    for ch in "|*_`[]<>#":
        out = out.replace(ch, "\\" + ch)
    return out


def _code(text: Any) -> str:
    """``text`` as a Markdown code span: a fence longer than any backtick run in it, and
    ``|`` escaped so it cannot end a table cell."""
    out = str(text).replace("\n", " ").replace("\r", " ").replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", out)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if out.startswith("`") or out.endswith("`") else ""
    return f"{fence}{pad}{out}{pad}{fence}"


def _dates(r: Mapping[Any, Any], name: str) -> str:
    return format_date_move(r[f"{name}_before"], r[f"{name}_after"])


def _status_note(r: Mapping[str, Any]) -> str:
    return f" ({r['status']})" if r["status"] in ("added", "removed") else ""


def _keys_cell(r: Mapping[str, Any]) -> str:
    return str(r["keys"]) or "(policy-wide)"


def format_move(r: Mapping[Any, Any], figure: str) -> str:
    before, after = _count(r[f"{figure}_before"]), _count(r[f"{figure}_after"])
    if math.isnan(before) and math.isnan(after):
        return "n/a"
    if before == after:
        return _whole(after)
    return f"{_whole(before)} → {_whole(after)} ({_signed(_count(r[f'{figure}_change']))})"


def _plain_move(r: Mapping[str, Any], figure: str) -> str:
    return format_move(r, figure).replace("→", "->")


# --------------------------------------------------------------------------- the work


#: What the premature figure means, under the table (text and Markdown alike).
_PREMATURE_SAID = (
    "Premature graduations: a class reached a state (any time, not only its first) while "
    "its true pass rate (true_pass_p) was below the base policy's pass bar for that "
    "state; both sides are judged against the base policy's bars."
)
_PREMATURE_NA = "Premature graduations: n/a (the history has no true_pass_p)."


def _premature_count(summary: pd.DataFrame) -> pd.Series:
    """Per class, how many of its graduations (every entry to SUPERVISED or above, and to
    AUTONOMOUS, not only the first) were premature."""
    sup = summary["premature_graduations_supervised"].astype("Float64").fillna(0)
    aut = summary["premature_graduations_autonomous"].astype("Float64").fillna(0)
    return (sup + aut).astype("float64")


def _side(
    history: pd.DataFrame,
    traffic: pd.DataFrame | None,
    policy: TrustPolicy,
    window: Any,
    yardstick: TrustPolicy,
) -> tuple[Replay, np.ndarray | None, np.ndarray | None]:
    """A replay under ``policy`` of the rows it defines; each traffic row's verdict
    (by position in the traffic given; "" where the policy lacks the class)."""
    known = history["action"].isin(list(policy.actions)).to_numpy()
    hist = history if known.all() else history[known].reset_index(drop=True)
    if not len(hist):
        raise InputError(
            str(history.attrs.get("source", "history")),
            ["none of its action classes is defined in one of the policies"],
        )
    hist.attrs = dict(history.attrs)
    verdicts = None
    if traffic is not None:
        mask = traffic["action"].isin(list(policy.actions)).to_numpy()
        sub = traffic if mask.all() else traffic[mask].reset_index(drop=True)
        sub.attrs = dict(traffic.attrs)
        result = replay(hist, policy, traffic=sub, window=window, yardstick=yardstick)
        verdicts = np.full(len(traffic), "", dtype=object)
        verdicts[np.flatnonzero(mask)] = result.decisions["verdict"].astype(str).to_numpy()
        return result, verdicts, mask
    return replay(hist, policy, window=window, yardstick=yardstick), None, None


def _check_union(history: pd.DataFrame, base: TrustPolicy, new: TrustPolicy, what: str) -> None:
    known = set(base.actions) | set(new.actions)
    missing = sorted(set(history["action"].astype(str)) - known)
    if missing:
        shown = ", ".join(repr(m) for m in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise InputError(
            str(history.attrs.get("source", what)),
            [f"action class(es) {shown}{more} are defined in neither policy"],
        )


def policy_impact(
    base: TrustPolicy | PolicySource | str | os.PathLike[str],
    new: TrustPolicy | PolicySource | str | os.PathLike[str],
    history: pd.DataFrame,
    *,
    traffic: pd.DataFrame | None = None,
    window: Any = POLICY_WINDOW,
    history_source: str | os.PathLike[str] | None = None,
    traffic_source: str | os.PathLike[str] | None = None,
) -> PolicyImpact:
    """What changing ``base`` to ``new`` would have done on ``history`` (and ``traffic``).

    ``base`` and ``new`` are policies, policy files or ``git:REF:PATH``
    (:func:`read_policy`). Each side is replayed with its own ``[graduation] window``
    unless ``window`` is given (then both use it). ``history_source`` /
    ``traffic_source`` name the files read, for the digests (the file's bytes); an
    in-memory frame is digested by its content. Every action of the history and the
    traffic must be in at least one policy; a class in only one is replayed on that
    side (``added`` / ``removed``).
    """
    b_src, n_src = policy_source(base), policy_source(new)
    _check_union(history, b_src.policy, n_src.policy, "history")
    if traffic is not None:
        _check_union(traffic, b_src.policy, n_src.policy, "traffic")
    # Both sides' premature graduations are judged against the base policy's bars: on
    # its own bars a loosened policy would call the early graduations it allows earned.
    b_run, b_verdicts, _ = _side(history, traffic, b_src.policy, window, b_src.policy)
    n_run, n_verdicts, _ = _side(history, traffic, n_src.policy, window, b_src.policy)
    changes = tuple(key_changes(b_src.policy, n_src.policy))
    table = _table(b_run, n_run, changes, traffic, b_verdicts, n_verdicts)
    digests = {
        "base_policy": b_src.sha256,
        "new_policy": n_src.sha256,
        "history": input_digest(history_source)
        if history_source is not None
        else _frame_digest(history),
    }
    t_name = None
    if traffic is not None:
        digests["traffic"] = (
            input_digest(traffic_source) if traffic_source is not None else _frame_digest(traffic)
        )
        t_name = os.fspath(traffic_source) if traffic_source is not None else "in-memory traffic"
    return PolicyImpact(
        table=table,
        changes=changes,
        base_source=b_src,
        new_source=n_src,
        history_source=os.fspath(history_source)
        if history_source is not None
        else "in-memory history",
        traffic_source=t_name,
        digests=digests,
        base=b_run,
        new=n_run,
    )


def _table(
    b_run: Replay,
    n_run: Replay,
    changes: Sequence[KeyChange],
    traffic: pd.DataFrame | None,
    b_verdicts: np.ndarray | None,
    n_verdicts: np.ndarray | None,
) -> pd.DataFrame:
    def figures(run: Replay) -> pd.DataFrame:
        s = run.summary.set_index("action")
        frame = pd.DataFrame(index=s.index)
        for d in IMPACT_DATES:
            frame[d] = s[d]
        for f in IMPACT_FIGURES[:-1]:
            frame[f] = s[f].astype("float64")
        premature = _premature_count(s.reset_index())
        has_truth = run.events.true_pass_p is not None
        frame["premature"] = premature.to_numpy() if has_truth else np.nan
        return frame

    b, n = figures(b_run), figures(n_run)
    actions = sorted(set(b.index) | set(n.index))
    b, n = b.reindex(actions), n.reindex(actions)
    out = pd.DataFrame({"action": actions})
    own: dict[str, list[KeyChange]] = {a: [] for a in actions}
    for c in changes:
        if c.scope in own:
            own[c.scope].append(c)
    out["keys"] = ["; ".join(c.describe() for c in own[a]) for a in actions]
    out["loosens"] = [any(c.direction == "loosens" for c in own[a]) for a in actions]
    out["tightens"] = [any(c.direction == "tightens" for c in own[a]) for a in actions]
    moved = np.zeros(len(actions), dtype=bool)
    for d in IMPACT_DATES:
        before, after = b[d].to_numpy(), n[d].to_numpy()
        out[f"{d}_before"] = before
        out[f"{d}_after"] = after
        out[f"{d}_shift_days"] = [_shift(x, y) for x, y in zip(before, after, strict=True)]
        same = (pd.isna(b[d]) & pd.isna(n[d])) | (b[d] == n[d])
        moved |= ~same.to_numpy()
    for f in IMPACT_FIGURES:
        before = b[f].to_numpy(dtype="float64")
        after = n[f].to_numpy(dtype="float64")
        out[f"{f}_before"] = before
        out[f"{f}_after"] = after
        out[f"{f}_change"] = after - before
        moved |= ~((np.isnan(before) & np.isnan(after)) | (before == after))
    if traffic is not None and b_verdicts is not None and n_verdicts is not None:
        action_of = traffic["action"].astype(str).to_numpy()
        newly_allowed = (n_verdicts == "ALLOW") & (b_verdicts != "ALLOW")
        newly_gated = (b_verdicts == "ALLOW") & (n_verdicts != "ALLOW")
        na = pd.Series(newly_allowed).groupby(action_of).sum()
        ng = pd.Series(newly_gated).groupby(action_of).sum()
        out["newly_allowed"] = na.reindex(actions, fill_value=0).to_numpy(dtype="float64")
        out["newly_gated"] = ng.reindex(actions, fill_value=0).to_numpy(dtype="float64")
        moved |= (out["newly_allowed"] > 0).to_numpy() | (out["newly_gated"] > 0).to_numpy()
    else:
        out["newly_allowed"] = np.nan
        out["newly_gated"] = np.nan
    in_base = np.isin(actions, list(b_run.policy.actions))
    in_new = np.isin(actions, list(n_run.policy.actions))
    has_keys = out["keys"].astype(bool).to_numpy()
    out.insert(
        1,
        "status",
        np.where(
            ~in_new,
            "removed",
            np.where(~in_base, "added", np.where(has_keys | moved, "changed", "unchanged")),
        ),
    )
    return out
