"""Policy as data: read and write a :class:`TrustPolicy` as a TOML file.

The format::

    [thresholds.supervised]
    pass_rate = 0.80
    adversarial_pass_rate = 0.70
    min_samples = 50

    [thresholds.autonomous]
    pass_rate = 0.95
    adversarial_pass_rate = 0.90
    min_samples = 200

    [actions.issue_refund]
    risk = "reversible_write"     # read | reversible_write | consequential
    auto_cap = "100"              # decimals as strings, so no float rounding
    hard_cap = "1000"
    max_state = "autonomous"      # optional: manual | supervised | autonomous

    [graduation]                  # optional, every key too; the defaults are shown
    window = "cumulative"         # or a case count (500) or a span ("30D", "36h", "2W")
    evidence = "point"            # point | wilson | anytime
    alpha = 0.05
    demotion_margin = 0.0
    # reset_on = "agent_version"  # a history column whose change restarts the evidence

Every problem found is reported in one :class:`PolicyError` that names the
file, the dotted key and what is wrong. The validity rules themselves live in
:func:`warrantd.policy.policy_problems`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from ._io import check_destination, read_toml, write_text
from .autonomy import GRADUATION_STATES, AutonomyState
from .decision import ActionClass
from .errors import InputError
from .graduation import CRITERIA, GraduationSettings, GraduationThresholds
from .policy import (
    Problem,
    TrustPolicy,
    action_problems,
    policy_problems,
    settings_problems,
    threshold_problems,
)
from .risk import RiskTier
from .window import parse_window, window_text

__all__ = ["PolicyError", "dump_policy", "load_policy"]

_CRITERIA = tuple(criterion.bar for criterion in CRITERIA)
_ACTION_KEYS = ("auto_cap", "hard_cap", "max_state", "risk")
_SETTINGS = GraduationSettings()
_SETTING_KEYS = ("window", "evidence", "alpha", "demotion_margin", "reset_on")
_TOP_LEVEL = ("thresholds", "actions", "graduation")
#: How alike (difflib's ratio) an unknown key must be to an expected one to be called a
#: typo of it: "rsk" is 0.86 like "risk", while "action" is only 0.62 like "graduation".
_CLOSE = 0.7


class PolicyError(InputError):
    """A policy file that cannot be read or breaks the policy rules.

    ``problems`` holds (dotted key, problem) pairs; the message names the file.
    """

    def __init__(self, path: str | os.PathLike[str], problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        super().__init__(
            self.path, [f"{key}: {problem}" if key else problem for key, problem in problems]
        )


def load_policy(path: str | os.PathLike[str]) -> TrustPolicy:
    """Read and validate the TOML policy at ``path``."""
    data, unreadable = read_toml(path, "policy file")
    if data is None:
        raise PolicyError(path, [("", unreadable)])
    problems: list[Problem] = []
    meant: set[str] = set()
    thresholds, actions = _parse(data, problems, meant)
    if thresholds is not None:
        # A typo such as ``adversarial_pas_rate`` was already reported with the key it most
        # likely meant; "missing the SUPERVISED bar" for that key would say the same thing twice.
        problems.extend(
            (key, problem)
            for key, problem in threshold_problems(thresholds)
            if not (key in meant and problem.startswith("missing"))
        )
    problems.extend(action_problems(actions))
    settings = _parse_settings(data.get("graduation"), problems)
    if problems or thresholds is None:
        raise PolicyError(path, problems)
    return TrustPolicy(actions=actions, thresholds=thresholds, graduation=settings)


def _unknown_keys(
    prefix: str,
    given: Iterable[str],
    expected: Sequence[str],
    problems: list[Problem],
    *,
    what: str = "unknown key",
    listed: str | None = None,
) -> set[str]:
    """Report every key of ``given`` that is not ``expected``, keyed ``prefix + key``.

    A key close to an expected key is most likely a typo of it: the problem says "did you
    mean ...?". When ``given`` lacks the key it meant, that dotted key is returned, so the
    caller can leave out its "missing" problem (one typo, one problem). Otherwise the
    problem lists the expected keys (``listed``, or ``expected`` joined by commas).
    """
    keys = list(given)
    meant: set[str] = set()
    for extra in sorted(set(keys) - set(expected)):
        close = difflib.get_close_matches(extra, expected, n=1, cutoff=_CLOSE)
        if close:
            problems.append((prefix + extra, f"{what} (did you mean {close[0]!r}?)"))
            if close[0] not in keys:
                meant.add(prefix + close[0])
            elif isinstance(given, Mapping) and isinstance(given[extra], dict):
                # [threshold.supervised] beside [thresholds.autonomous]: what the typo
                # holds is what the right table lacks, so it is not reported again.
                meant.update(prefix + close[0] + "." + path for path in _paths(given[extra]))
        else:
            problems.append((prefix + extra, f"{what} (expected {listed or ', '.join(expected)})"))
    return meant


def _paths(table: dict[str, Any]) -> Iterator[str]:
    """Every dotted key inside ``table``, tables and leaves alike."""
    for key, value in table.items():
        yield key
        if isinstance(value, dict):
            yield from (f"{key}.{inner}" for inner in _paths(value))


def _parse_settings(table: object, problems: list[Problem]) -> GraduationSettings:
    """The ``[graduation]`` table (absent: the published defaults)."""
    if table is None:
        return _SETTINGS
    if not isinstance(table, dict):
        problems.append(("graduation", f"must be a table, not {table!r}"))
        return _SETTINGS
    _unknown_keys("graduation.", table, _SETTING_KEYS, problems)
    values = {key: table[key] for key in _SETTING_KEYS if key in table}
    if isinstance(values.get("alpha"), int) and not isinstance(values["alpha"], bool):
        values["alpha"] = float(values["alpha"])
    if isinstance(values.get("demotion_margin"), int) and not isinstance(
        values["demotion_margin"], bool
    ):
        values["demotion_margin"] = float(values["demotion_margin"])
    settings = GraduationSettings(**values)
    found = settings_problems(settings)
    problems.extend(found)
    return _SETTINGS if found else settings


def _parse(
    data: dict[str, Any], problems: list[Problem], meant: set[str]
) -> tuple[GraduationThresholds | None, dict[str, ActionClass]]:
    """The thresholds and action classes that parse; what does not is a problem.

    ``meant`` collects the dotted keys that typos most likely meant (see :func:`_unknown_keys`).
    """
    meant |= _unknown_keys(
        "",
        data,
        _TOP_LEVEL,
        problems,
        what="unknown top-level key",
        listed="'thresholds', 'actions' and 'graduation'",
    )
    thresholds = _parse_thresholds(_table(data, "thresholds", problems, meant), problems, meant)
    actions_table = _table(data, "actions", problems, meant)
    if not actions_table and "actions" in data:
        problems.append(("actions", "defines no action classes"))
    actions = {
        name: action
        for name, spec in actions_table.items()
        if (action := _parse_action(name, spec, problems)) is not None
    }
    return thresholds, actions


def _table(
    data: dict[str, Any], key: str, problems: list[Problem], meant: set[str]
) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        if key not in meant:
            problems.append((key, "missing table"))
        return {}
    if not isinstance(value, dict):
        problems.append((key, f"must be a table, not {value!r}"))
        return {}
    return value


def _parse_state(key: str, text: object, problems: list[Problem]) -> AutonomyState | None:
    if isinstance(text, str) and text.upper() in AutonomyState.__members__:
        return AutonomyState[text.upper()]
    names = ", ".join(s.name.lower() for s in AutonomyState)
    problems.append((key, f"unknown state {text!r} (expected one of {names})"))
    return None


def _parse_thresholds(
    table: dict[str, Any], problems: list[Problem], meant: set[str]
) -> GraduationThresholds | None:
    bars: dict[str, dict[AutonomyState, Any]] = {c: {} for c in _CRITERIA}
    present = {k.lower() for k in table if k.upper() in AutonomyState.__members__}
    for state_key, spec in table.items():
        key = f"thresholds.{state_key}"
        absent = [s.name.lower() for s in GRADUATION_STATES if s.name.lower() not in present]
        close = difflib.get_close_matches(state_key.lower(), absent, n=1, cutoff=_CLOSE)
        if state_key.lower() not in present and close:
            # [thresholds.supervsed]: one problem, not three "missing the SUPERVISED bar"
            problems.append((key, f"unknown state {state_key!r} (did you mean {close[0]!r}?)"))
            meant.update(f"thresholds.{close[0]}.{criterion}" for criterion in _CRITERIA)
            continue
        state = _parse_state(key, state_key, problems)
        if state is None:
            continue
        if state not in GRADUATION_STATES:
            problems.append((key, "MANUAL is the floor and takes no bars"))
            continue
        if not isinstance(spec, dict):
            problems.append((key, f"must be a table, not {spec!r}"))
            continue
        meant |= _unknown_keys(f"{key}.", spec, _CRITERIA, problems)
        for criterion in _CRITERIA:
            if criterion in spec:
                bars[criterion][state] = spec[criterion]
    if not table:
        return None
    return GraduationThresholds(
        pass_rate=bars["pass_rate"],
        adversarial_pass_rate=bars["adversarial_pass_rate"],
        min_samples=bars["min_samples"],
    )


def _parse_action(name: str, spec: object, problems: list[Problem]) -> ActionClass | None:
    key = f"actions.{name}"
    if not isinstance(spec, dict):
        problems.append((key, f"must be a table, not {spec!r}"))
        return None
    before = len(problems)
    meant = _unknown_keys(f"{key}.", spec, _ACTION_KEYS, problems)
    risk_text = spec.get("risk")
    risk = None
    if isinstance(risk_text, str) and risk_text.upper() in RiskTier.__members__:
        risk = RiskTier[risk_text.upper()]
    elif risk_text is None and f"{key}.risk" in meant:
        pass  # a typo of "risk", already reported with "did you mean 'risk'?"
    else:
        tiers = ", ".join(t.name.lower() for t in RiskTier)
        shown = "missing" if risk_text is None else f"unknown risk tier {risk_text!r}"
        problems.append((f"{key}.risk", f"{shown} (expected one of {tiers})"))
    caps = {
        cap: _parse_cap(f"{key}.{cap}", spec.get(cap), problems) for cap in ("auto_cap", "hard_cap")
    }
    max_state = AutonomyState.AUTONOMOUS
    if "max_state" in spec:
        parsed = _parse_state(f"{key}.max_state", spec["max_state"], problems)
        # MANUAL is 0, so test for None: `or` would turn MANUAL into AUTONOMOUS.
        max_state = max_state if parsed is None else parsed
    if len(problems) > before or risk is None:
        return None
    return ActionClass(name, risk, caps["auto_cap"], caps["hard_cap"], max_state)


def _parse_cap(key: str, raw: object, problems: list[Problem]) -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        problems.append((key, f"{raw!r} is not a decimal amount"))
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        problems.append((key, f"{raw!r} is not a decimal amount"))
        return None
    if not value.is_finite() or value < 0:
        problems.append((key, f"{raw!r} is not a non-negative amount"))
        return None
    return value


def dump_policy(
    policy: TrustPolicy, path: str | os.PathLike[str], *, overwrite: bool = False
) -> None:
    """Write ``policy`` to ``path`` as TOML, atomically; invalid policies raise.

    An existing file is never replaced unless ``overwrite=True``
    (:class:`~warrantd._io.OutputError` names it): it may be a policy someone wrote by hand.
    """
    problems = policy_problems(policy)
    if problems:
        raise PolicyError(path, problems)
    check_destination(path, overwrite=overwrite, how_to_replace="pass overwrite=True to replace it")
    write_text(path, policy_to_toml(policy))


def policy_to_toml(policy: TrustPolicy) -> str:
    """The TOML text :func:`dump_policy` writes for ``policy``."""
    t = policy.thresholds
    lines: list[str] = []
    for state in GRADUATION_STATES:
        lines += [
            f"[thresholds.{state.name.lower()}]",
            f"pass_rate = {float(t.pass_rate[state])!r}",
            f"adversarial_pass_rate = {float(t.adversarial_pass_rate[state])!r}",
            f"min_samples = {int(t.min_samples[state])}",
            "",
        ]
    for name, action in policy.actions.items():
        lines.append(f"[actions.{_toml_key(name)}]")
        lines.append(f'risk = "{action.risk.name.lower()}"')
        for cap in ("auto_cap", "hard_cap"):
            value = getattr(action, cap)
            if value is not None:
                lines.append(f'{cap} = "{value}"')
        if action.max_state is not AutonomyState.AUTONOMOUS:
            lines.append(f'max_state = "{action.max_state.name.lower()}"')
        lines.append("")
    lines += _settings_lines(policy.graduation)
    return "\n".join(lines)


def _settings_lines(settings: GraduationSettings) -> list[str]:
    """The ``[graduation]`` table, with only the keys that differ from the defaults."""
    lines: list[str] = []
    window = parse_window(settings.window)
    if window is not None:
        lines.append(
            f"window = {window}" if isinstance(window, int) else f'window = "{window_text(window)}"'
        )
    if settings.evidence != _SETTINGS.evidence:
        lines.append(f'evidence = "{settings.evidence}"')
    if settings.alpha != _SETTINGS.alpha:
        lines.append(f"alpha = {float(settings.alpha)!r}")
    if settings.demotion_margin != _SETTINGS.demotion_margin:
        lines.append(f"demotion_margin = {float(settings.demotion_margin)!r}")
    if settings.reset_on is not None:
        lines.append(f"reset_on = {_toml_string(settings.reset_on)}")
    return ["[graduation]", *lines, ""] if lines else []


def _toml_key(name: str) -> str:
    if name and all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
        return name
    return _toml_string(name)


def _toml_string(text: str) -> str:
    escaped = "".join(c if c.isprintable() and c not in '"\\' else f"\\U{ord(c):08x}" for c in text)
    return f'"{escaped}"'
