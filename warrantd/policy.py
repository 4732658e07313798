"""A trust policy: the action classes an agent may use and the graduation bars.

Also holds the rules a *valid* policy obeys (:func:`policy_problems`), so that
the TOML loader, the sweep (which skips invalid candidates) and users checking
an in-code policy all apply the same rules.
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from .autonomy import GRADUATION_STATES, AutonomyState
from .decision import ActionClass
from .errors import OptionError
from .graduation import CRITERIA, EVIDENCE_RULES, GraduationSettings, GraduationThresholds
from .window import parse_window, window_text

__all__ = [
    "TrustPolicy",
    "action_problems",
    "graduation_setting",
    "policy_problems",
    "settings_notes",
    "settings_problems",
    "settings_text",
    "threshold_problems",
    "with_graduation",
]

#: (key, problem) pairs; the key is a dotted path such as
#: ``thresholds.supervised.pass_rate`` or ``actions.issue_refund.auto_cap``.
Problem = tuple[str, str]


@dataclass(frozen=True)
class TrustPolicy:
    """Action classes by name, the thresholds every class graduates by, and how
    evidence is gathered and judged (``graduation``: optional, after the published
    fields; its defaults are the published behaviour)."""

    actions: dict[str, ActionClass]
    thresholds: GraduationThresholds
    graduation: GraduationSettings = field(default_factory=GraduationSettings)

    def action(self, name: str) -> ActionClass:
        """The class called ``name``; ``KeyError`` naming it when the policy lacks it."""
        try:
            return self.actions[name]
        except KeyError:
            known = ", ".join(sorted(self.actions)) or "none"
            raise KeyError(f"unknown action class {name!r} (policy defines: {known})") from None


def threshold_problems(thresholds: GraduationThresholds) -> list[Problem]:
    """Every way ``thresholds`` break the rules, empty when they are valid.

    Rules: both SUPERVISED and AUTONOMOUS bars exist for each criterion of
    :data:`~warrantd.graduation.CRITERIA`, each a valid bar of its kind (a rate in
    [0, 1], a whole number of cases >= 0); no AUTONOMOUS bar is lower than the
    SUPERVISED bar of the same criterion.
    """
    problems: list[Problem] = []
    for criterion in CRITERIA:
        bars: Mapping[AutonomyState, object] = getattr(thresholds, criterion.bar)
        found: list[Problem] = []
        for state in GRADUATION_STATES:
            key = f"thresholds.{state.name.lower()}.{criterion.bar}"
            if state not in bars:
                found.append((key, f"missing the {state.name} bar"))
            elif (problem := criterion.problem(bars[state])) is not None:
                found.append((key, problem))
        if not found:
            sup, aut = (bars[s] for s in GRADUATION_STATES)
            if not criterion.ordered(sup, aut):
                found.append(
                    (
                        f"thresholds.autonomous.{criterion.bar}",
                        f"AUTONOMOUS bar {aut} is lower than the SUPERVISED bar {sup}",
                    )
                )
        problems.extend(found)
    return problems


def _action_problems(key: str, action: ActionClass) -> list[Problem]:
    problems: list[Problem] = []
    for cap_name in ("auto_cap", "hard_cap"):
        cap = getattr(action, cap_name)
        if cap is not None and (not isinstance(cap, Decimal) or not cap.is_finite() or cap < 0):
            problems.append((f"{key}.{cap_name}", f"{cap!r} is not a non-negative decimal"))
    auto, hard = action.auto_cap, action.hard_cap
    if not problems and auto is not None and hard is not None and auto > hard:
        problems.append((f"{key}.auto_cap", f"auto_cap {auto} is above hard_cap {hard}"))
    return problems


def action_problems(actions: dict[str, ActionClass]) -> list[Problem]:
    """Every way the action classes break the rules (names and caps)."""
    problems: list[Problem] = []
    for name, action in actions.items():
        key = f"actions.{name}"
        if action.name != name:
            problems.append((key, f"is keyed {name!r} but its class is named {action.name!r}"))
        problems.extend(_action_problems(key, action))
    return problems


def settings_problems(settings: GraduationSettings) -> list[Problem]:
    """Every way the ``[graduation]`` settings break the rules, keyed ``graduation.<key>``."""
    problems: list[Problem] = []
    try:
        parse_window(settings.window)
    except ValueError as exc:
        problems.append(("graduation.window", str(exc)))
    if settings.evidence not in EVIDENCE_RULES:
        rules = ", ".join(EVIDENCE_RULES)
        problems.append(
            ("graduation.evidence", f"unknown rule {settings.evidence!r} (expected one of {rules})")
        )
    alpha = settings.alpha
    if not _is_number(alpha):
        problems.append(("graduation.alpha", _not_a_number(alpha)))
    elif not 0.0 < float(alpha) < 1.0:
        problems.append(("graduation.alpha", f"{alpha!r} is not a level strictly between 0 and 1"))
    margin = settings.demotion_margin
    if not _is_number(margin):
        problems.append(("graduation.demotion_margin", _not_a_number(margin)))
    elif not 0.0 <= float(margin) <= 1.0:
        problems.append(("graduation.demotion_margin", f"{margin!r} is not a rate in [0, 1]"))
    reset = settings.reset_on
    if reset is not None and (not isinstance(reset, str) or not reset.strip()):
        problems.append(("graduation.reset_on", f"{reset!r} is not a column name"))
    return problems


def _not_a_number(value: object) -> str:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            float(value)
            return f"{value!r} is text, not a number (write it without quotes)"
    return f"{value!r} is not a number"


def settings_notes(settings: GraduationSettings) -> list[Problem]:
    """Valid ``[graduation]`` settings that do not do what they seem to, keyed like
    :func:`settings_problems`: ``alpha`` set under the ``point`` rule (which reads no
    level), and ``anytime`` under a trailing window (its guarantee holds for one unbroken
    stream of evidence, and a window restarts it at every window start without spending
    any alpha). Empty when there is nothing to say; the settings are taken as checked."""
    notes: list[Problem] = []
    if settings.evidence == "point" and settings.alpha != GraduationSettings.alpha:
        notes.append(
            (
                "graduation.alpha",
                f"{settings.alpha:g} does nothing under the point rule "
                "(only wilson and anytime read a level)",
            )
        )
    window = parse_window(settings.window)
    if settings.evidence == "anytime" and window is not None:
        notes.append(
            (
                "graduation.evidence",
                f"anytime under a {window_text(window)} window: the guarantee (a class "
                "below its bar is ever promoted with probability at most alpha) holds for "
                "one unbroken stream, not across window starts; for it to hold use a "
                "cumulative window, with reset_on for new agent versions",
            )
        )
    return notes


#: The ``[graduation]`` keys a rule override may set (the window has its own options).
RULE_SETTINGS = ("evidence", "alpha", "demotion_margin", "reset_on")


def graduation_setting(key: str, value: Any) -> Any:
    """One ``[graduation]`` value checked by the policy rules (:func:`settings_problems`),
    e.g. from a command-line option: a number written as text is read as a number first.
    Returns the value to use; raises :class:`~warrantd.errors.OptionError` naming ``key``
    and the value."""
    if key not in RULE_SETTINGS:
        raise OptionError(key, f"not a [graduation] setting (expected {', '.join(RULE_SETTINGS)})")
    if key in ("alpha", "demotion_margin") and isinstance(value, str):
        with contextlib.suppress(ValueError):  # else left as written: the rule names it
            value = float(value)
    found = settings_problems(replace(GraduationSettings(), **{key: value}))
    for where, problem in found:
        if where == f"graduation.{key}":
            raise OptionError(key, problem)
    return value


def with_graduation(policy: TrustPolicy, **overrides: Any) -> TrustPolicy:
    """``policy`` with some of its ``[graduation]`` settings replaced (``evidence``,
    ``alpha``, ``demotion_margin``, ``reset_on``; a value of None leaves the policy's),
    each checked by :func:`graduation_setting`."""
    changes: dict[str, Any] = {
        k: graduation_setting(k, v) for k, v in overrides.items() if v is not None
    }
    if not changes:
        return policy
    return replace(policy, graduation=replace(policy.graduation, **changes))


def settings_text(
    settings: GraduationSettings, window: str | None = None, *, every: bool = False
) -> str:
    """The ``[graduation]`` settings in one line, as the command line prints them, e.g.
    ``window 30D, evidence anytime (alpha 0.01), demotion margin 0.02, reset on
    agent_version``; the defaults read ``window cumulative, evidence point``.

    ``window`` replaces the policy's own window (one given on the command line).
    ``every`` names the margin and the reset column even at their defaults
    (``demotion margin 0, reset on none``), as ``warrantd validate`` shows a policy.
    The settings are taken as checked (:func:`settings_problems`).
    """
    shown = window if window is not None else window_text(parse_window(settings.window))
    parts = [f"window {shown}", f"evidence {settings.evidence}"]
    if settings.evidence != "point":
        parts[-1] += f" (alpha {settings.alpha:g})"
    if settings.demotion_margin or every:
        parts.append(f"demotion margin {settings.demotion_margin:g}")
    if settings.reset_on or every:
        parts.append(f"reset on {settings.reset_on or 'none'}")
    return ", ".join(parts)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and not math.isnan(float(value))
    )


def policy_problems(policy: TrustPolicy) -> list[Problem]:
    """Every way ``policy`` breaks the rules (thresholds, action caps, graduation settings)."""
    return (
        threshold_problems(policy.thresholds)
        + action_problems(policy.actions)
        + settings_problems(policy.graduation)
    )
