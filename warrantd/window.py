"""Evidence windows, as a policy states them: which past cases count as evidence.

A window is one of three things:

* ``None`` (written ``"cumulative"`` in a policy file): every case so far;
* a positive whole number of cases: the last ``n`` cases of the class;
* a trailing time span, written as a number and a unit (``"30D"``, ``"36h"``,
  ``"2W"``, ``"90 minutes"``): the cases of the last 30 days, and so on.

This module is the one grammar for windows: the policy loader validates the
``[graduation] window`` key with :func:`parse_window`, and the analytics kit
reads every window a user types (CLI, sweep grids, notebooks) through it. It is
stdlib only; the kit turns the :class:`~datetime.timedelta` into its own time
type.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["WindowSpec", "parse_window", "window_text"]

#: What a window may be once parsed: None (cumulative), a case count, or a span.
WindowSpec = int | timedelta | None

_UNITS: dict[str, timedelta] = {
    **dict.fromkeys(("w", "week", "weeks"), timedelta(weeks=1)),
    **dict.fromkeys(("d", "day", "days"), timedelta(days=1)),
    **dict.fromkeys(("h", "hr", "hour", "hours"), timedelta(hours=1)),
    **dict.fromkeys(("min", "minute", "minutes"), timedelta(minutes=1)),
    **dict.fromkeys(("s", "sec", "second", "seconds"), timedelta(seconds=1)),
}
_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_CUMULATIVE = ("", "cumulative", "none")


def parse_window(value: object) -> WindowSpec:
    """``value`` as a checked window; ``ValueError`` saying why when it is not one.

    Accepts None, a positive ``int``, or text: ``"cumulative"`` / ``"none"`` /
    ``""`` (cumulative), digits optionally followed by ``cases`` (a case count),
    or a positive number followed by a unit (weeks ``W``, days ``D``, hours
    ``h``, minutes ``min``, seconds ``s``, or their names; any case). A
    ``timedelta`` passes through when positive.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(
            f"{value!r} is not a window (expected 'cumulative', a case count or '30D')"
        )
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"a case-count window must be positive, not {value}")
        return value
    if isinstance(value, timedelta):
        if value <= timedelta(0):
            raise ValueError(f"a time window must be positive, not {value}")
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"{value!r} is not a window (expected 'cumulative', a case count or '30D')"
        )
    text = value.strip().lower()
    if text in _CUMULATIVE:
        return None
    count = text.removesuffix("cases").strip()
    if count.isdigit():
        return parse_window(int(count))
    match = _SPAN.fullmatch(text)
    if match is None or match.group(2) not in _UNITS:
        if text.startswith("-"):
            _refuse_negative(text[1:].strip(), value)
        raise ValueError(f"{value!r} is neither a case count nor a time span such as '30D'")
    span = float(match.group(1)) * _UNITS[match.group(2)]
    if span <= timedelta(0):
        raise ValueError(f"a time window must be positive, not {value!r}")
    return span


def _refuse_negative(magnitude: str, value: str) -> None:
    """Say which kind of window a negative ``value`` would have been ("-5" a case count,
    "-3D" a time span), as the positive one is read; return if it is neither."""
    if magnitude.removesuffix("cases").strip().isdigit():
        raise ValueError(f"a case-count window must be positive, not {value!r}")
    match = _SPAN.fullmatch(magnitude)
    if match is not None and match.group(2) in _UNITS:
        raise ValueError(f"a time window must be positive, not {value!r}")


def window_text(window: WindowSpec) -> str:
    """The one spelling of a checked window: ``cumulative``, ``500 cases``, ``30D``, ``36h``.

    :func:`parse_window` reads every spelling back to the same window.
    """
    if window is None:
        return "cumulative"
    if isinstance(window, int):
        return f"{window} cases"
    seconds = window.total_seconds()
    for unit, label in ((86_400, "D"), (3_600, "h"), (60, "min"), (1, "s")):
        if seconds >= unit and seconds % unit == 0:
            return f"{int(seconds // unit)}{label}"
    return f"{seconds:g}s"
