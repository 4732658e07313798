"""The mapping from a tool's log to the history schema: one small TOML file, or a dict.

Every key is optional; what is left out takes the tool's default (below), key by
key, so a mapping states only what differs. An Inspect AI example::

    format = "inspect"                    # optional: checked against format=
    action = ["metadata.action", "task"]  # where the action class comes from: first present wins
    timestamp = ["completed", "created"]  # sample completion time, else the log's creation time
    errors = "exclude"                    # errored samples: "exclude" (listed) or "fail"
    strict = false                        # true: a sample left out is an error

    [rename]                              # a name in the log -> the action class in the policy
    lookup_customer_v2 = "lookup_customer"

    [score]
    scorer = "includes"                   # which scorer (default: the only one in the log)
    passed = ["C"]                        # score values that count as passed
    failed = ["I", "N"]                   # score values that count as failed
    threshold = 0.5                       # a number at or above it passes, below it fails

    [adversarial]                         # a case is adversarial if any of these says so
    tasks = ["prompt_injection"]          # whole tasks
    tags = ["adversarial", "red-team"]    # eval tags
    metadata = ["adversarial"]            # a true/false field in the sample's (or task's) metadata

and a promptfoo one::

    format = "promptfoo"
    action = ["metadata.action", "vars.action", "suite"]
    timestamp = ["created"]

    [score]
    field = "success"                     # "success", "score" or "named_scores.<metric>"

    [adversarial]
    plugins = ["*"]                       # red-team plugin ids (glob); "*" = every red-team case
    metadata = ["adversarial"]

Field names ("selectors") a mapping may use in ``action`` and ``timestamp``:

- Inspect: ``task`` (the task name), ``model``, ``metadata.KEY`` (the sample's
  metadata), ``task_metadata.KEY`` (the eval's metadata, set on the ``Task`` or
  with ``--metadata``), ``tag.PREFIX`` (the rest of the first eval tag that
  starts with ``PREFIX``, e.g. ``tag.action:`` reads ``action:lookup_customer``);
  for ``timestamp`` also ``completed`` and ``started`` (the sample's times) and
  ``created`` (the log's creation time).
- promptfoo: ``suite`` (the config's ``description``), ``test`` (the test's
  ``description``), ``provider`` (its label, else its id), ``prompt`` (the
  prompt's label), ``plugin`` (the red-team plugin id), ``metadata.KEY`` (the
  test's metadata), ``vars.KEY`` (the test's vars); for ``timestamp`` also
  ``created`` (the eval's creation time; promptfoo keeps no time per case).

Problems are reported all at once in a :class:`MappingError` naming the file
and the key, like a policy file's.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..._io import read_toml
from ...errors import InputError

__all__ = ["LOG_FORMATS", "LogMapping", "MappingError", "default_mapping", "load_mapping"]

#: The tools whose logs :func:`warrantd.analytics.load_history` reads.
LOG_FORMATS = ("inspect", "promptfoo")

ScoreValue = str | int | float | bool

_TOP_KEYS = {"format", "action", "timestamp", "errors", "strict", "rename", "score", "adversarial"}
_SCORE_KEYS = {
    "inspect": {"scorer", "key", "passed", "failed", "threshold"},
    "promptfoo": {"field", "passed", "failed", "threshold"},
}
_ADVERSARIAL_KEYS = {
    "inspect": {"tasks", "tags", "metadata"},
    "promptfoo": {"plugins", "metadata"},
}
# selector name -> takes an argument after a dot ("metadata.action")
_ACTION_SELECTORS = {
    "inspect": {
        "task": False,
        "model": False,
        "metadata": True,
        "task_metadata": True,
        "tag": True,
    },
    "promptfoo": {
        "suite": False,
        "test": False,
        "provider": False,
        "prompt": False,
        "plugin": False,
        "metadata": True,
        "vars": True,
    },
}
_TIME_SELECTORS = {
    "inspect": {
        "completed": False,
        "started": False,
        "created": False,
        "metadata": True,
        "task_metadata": True,
    },
    "promptfoo": {"created": False, "metadata": True, "vars": True},
}
_PROMPTFOO_FIELDS = ("success", "score")


class MappingError(InputError):
    """A mapping that cannot be used, with every problem found: ``file: key: problem``."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__(
            source, [f"{key}: {problem}" if key else problem for key, problem in problems]
        )


@dataclass(frozen=True)
class LogMapping:
    """How one tool's log maps onto the history schema (see the module docstring)."""

    format: str
    action: tuple[str, ...]
    timestamp: tuple[str, ...]
    rename: Mapping[str, str] = field(default_factory=dict)
    scorer: str | None = None  # inspect: the scorer; promptfoo: the field
    score_key: str | None = None  # inspect: the key of a dict-valued score
    passed: tuple[ScoreValue, ...] = ()
    failed: tuple[ScoreValue, ...] = ()
    threshold: float | None = None
    adversarial_tasks: tuple[str, ...] = ()
    adversarial_tags: tuple[str, ...] = ()
    adversarial_metadata: tuple[str, ...] = ()
    adversarial_plugins: tuple[str, ...] = ()
    errors: str = "exclude"
    strict: bool = False
    source: str = "<defaults>"

    def judge(self, value: object) -> bool | None:
        """Passed (True), failed (False), or not covered by this mapping (None)."""
        if _listed(value, self.passed):
            return True
        if _listed(value, self.failed):
            return False
        if (
            self.threshold is not None
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
        ):
            return value >= self.threshold
        return None

    def covered(self) -> str:
        """What this mapping covers, for an error message."""
        parts = [f"passed: {_show(self.passed)}", f"failed: {_show(self.failed)}"]
        if self.threshold is not None:
            parts.append(f"threshold: {self.threshold!r}")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (for ``frame.attrs`` and messages)."""
        out = {k: v for k, v in self.__dict__.items() if k != "source"}
        out["rename"] = dict(self.rename)
        return out


def _listed(value: object, values: tuple[ScoreValue, ...]) -> bool:
    if isinstance(value, (list, dict)) or value is None:
        return False
    # Strings match strings exactly; numbers (and true/false, which equal 1/0) by value.
    return any(isinstance(value, str) == isinstance(item, str) and value == item for item in values)


def _show(values: tuple[ScoreValue, ...]) -> str:
    return ", ".join(repr(v) for v in values) or "(none)"


def default_mapping(format: str) -> LogMapping:
    """The mapping used when none is given: the common case of each tool."""
    if format == "inspect":
        return LogMapping(
            format="inspect",
            action=("metadata.action", "task_metadata.action", "task"),
            timestamp=("completed", "created"),
            passed=("C", True, 1),
            failed=("I", False, 0),
            adversarial_tags=("adversarial", "red-team"),
            adversarial_metadata=("adversarial",),
        )
    if format == "promptfoo":
        return LogMapping(
            format="promptfoo",
            action=("metadata.action", "vars.action", "suite"),
            timestamp=("created",),
            scorer="success",
            passed=(True,),
            failed=(False,),
            adversarial_plugins=("*",),
            adversarial_metadata=("adversarial",),
        )
    raise ValueError(f"unknown log format {format!r} (expected one of {', '.join(LOG_FORMATS)})")


def load_mapping(
    mapping: LogMapping | Mapping[str, Any] | str | os.PathLike[str] | None, format: str
) -> LogMapping:
    """The mapping for ``format`` from a TOML file, a dict, or ``None`` (the defaults)."""
    base = default_mapping(format)
    if mapping is None:
        return base
    if isinstance(mapping, LogMapping):
        if mapping.format != format:
            raise MappingError(
                mapping.source, [("format", f"is {mapping.format!r}, not {format!r}")]
            )
        return mapping
    if isinstance(mapping, Mapping):
        source, data = "<mapping>", dict(mapping)
    else:
        source = str(mapping)
        read, unreadable = read_toml(mapping, "mapping file")
        if read is None:
            raise MappingError(source, [("", unreadable)])
        data = read
    problems: list[tuple[str, str]] = []
    changes = _parse(data, format, problems)
    if problems:
        raise MappingError(source, problems)
    return replace(base, source=source, **changes)


def _parse(data: dict[str, Any], format: str, problems: list[tuple[str, str]]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key in sorted(set(data) - _TOP_KEYS):
        problems.append((key, f"unknown key (expected {', '.join(sorted(_TOP_KEYS))})"))
    if "format" in data and data["format"] != format:
        problems.append(
            ("format", f"{data['format']!r} does not match the format being read ({format!r})")
        )
    for key, selectors in (("action", _ACTION_SELECTORS), ("timestamp", _TIME_SELECTORS)):
        if key in data:
            names = _selectors(key, data[key], selectors[format], format, problems)
            if names is not None:
                changes[key] = names
    if "errors" in data:
        if data["errors"] in ("exclude", "fail"):
            changes["errors"] = data["errors"]
        else:
            problems.append(("errors", f"{data['errors']!r} is not 'exclude' or 'fail'"))
    if "strict" in data:
        if isinstance(data["strict"], bool):
            changes["strict"] = data["strict"]
        else:
            problems.append(("strict", f"{data['strict']!r} is not true or false"))
    if "rename" in data:
        rename = _table("rename", data["rename"], problems)
        bad = [k for k, v in rename.items() if not isinstance(v, str) or not v.strip()]
        for k in bad:
            problems.append((f"rename.{k}", f"{rename[k]!r} is not an action name"))
        if rename and not bad:
            changes["rename"] = dict(rename)
    if "score" in data:
        changes.update(_parse_score(_table("score", data["score"], problems), format, problems))
    if "adversarial" in data:
        table = _table("adversarial", data["adversarial"], problems)
        for key in sorted(set(table) - _ADVERSARIAL_KEYS[format]):
            expected = ", ".join(sorted(_ADVERSARIAL_KEYS[format]))
            problems.append(
                (f"adversarial.{key}", f"unknown key for {format} (expected {expected})")
            )
        for key in sorted(set(table) & _ADVERSARIAL_KEYS[format]):
            names = _strings(f"adversarial.{key}", table[key], problems, allow_empty=True)
            if names is not None:
                changes[f"adversarial_{key}"] = names
    return changes


def _parse_score(
    table: dict[str, Any], format: str, problems: list[tuple[str, str]]
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key in sorted(set(table) - _SCORE_KEYS[format]):
        expected = ", ".join(sorted(_SCORE_KEYS[format]))
        problems.append((f"score.{key}", f"unknown key for {format} (expected {expected})"))
    for key in ("scorer", "key", "field"):
        if key in table and key in _SCORE_KEYS[format]:
            value = table[key]
            if not isinstance(value, str) or not value.strip():
                problems.append((f"score.{key}", f"{value!r} is not a name"))
            elif key == "field" and not (
                value in _PROMPTFOO_FIELDS
                or (value.startswith("named_scores.") and len(value) > len("named_scores."))
            ):
                problems.append(
                    (
                        "score.field",
                        f"{value!r} is not 'success', 'score' or 'named_scores.<metric>'",
                    )
                )
            else:
                changes["score_key" if key == "key" else "scorer"] = value
    for key in ("passed", "failed"):
        if key not in table:
            continue
        values = table[key]
        if not isinstance(values, list):
            values = [values]
        bad = [v for v in values if not isinstance(v, (str, int, float, bool))]
        if bad:
            problems.append(
                (f"score.{key}", f"{bad[0]!r} is not a score value (text, number or true/false)")
            )
        else:
            changes[key] = tuple(values)
    if "threshold" in table:
        value = table["threshold"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            problems.append(("score.threshold", f"{value!r} is not a number"))
        else:
            changes["threshold"] = float(value)
    both = [v for v in changes.get("passed", ()) if _listed(v, changes.get("failed", ()))]
    if both:
        problems.append(("score", f"{both[0]!r} is in both passed and failed"))
    return changes


def _table(key: str, value: object, problems: list[tuple[str, str]]) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    problems.append((key, f"must be a table, not {value!r}"))
    return {}


def _strings(
    key: str, value: object, problems: list[tuple[str, str]], allow_empty: bool = False
) -> tuple[str, ...] | None:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        problems.append((key, f"{value!r} is not a name or a list of names"))
        return None
    if not values and not allow_empty:
        problems.append((key, "is empty"))
        return None
    return tuple(values)


def _selectors(
    key: str,
    value: object,
    known: dict[str, bool],
    format: str,
    problems: list[tuple[str, str]],
) -> tuple[str, ...] | None:
    names = _strings(key, value, problems)
    if names is None:
        return None
    ok = True
    for name in names:
        head, dot, arg = name.partition(".")
        if head not in known or known[head] != bool(dot) or (dot and not arg):
            spelled = ", ".join(f"{k}.KEY" if takes else k for k, takes in known.items())
            problems.append((key, f"{name!r} is not a {format} field (expected one of {spelled})"))
            ok = False
    return names if ok else None
