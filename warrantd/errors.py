"""The one error type for bad input, and how its problems are printed.

Every error warrantd raises because of what a user gave it (a policy file, a
history, a grid, an option value, an output path) is an :class:`InputError`,
a ``ValueError``. The command line maps exactly these (and ``OSError`` for
files) to exit code 2 with no traceback; anything else is a bug and is
reported as one. A missing optional package (an extra the user did not
install) is a :class:`MissingExtraError`, also exit 2: it is a setup step, not a bug.

``str(error)`` is the message as printed: one line when there are at most
three problems (``source: a`` or ``source: 3 problems: a; b; c``), otherwise a
summary line followed by one indented line per problem. Values inside
problems are shown with ``repr`` so control characters stay visible, through
:func:`quote`, which shortens a huge one so the line stays one readable line.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "MAX_PROBLEMS",
    "InputError",
    "MissingExtraError",
    "OptionError",
    "format_problems",
    "quote",
]

#: Problems kept (and printed) per error; the total is still counted and said.
MAX_PROBLEMS = 20
#: Up to this many problems fit on one line.
ONE_LINE_PROBLEMS = 3
#: A value whose ``repr`` is longer than this is shortened in a problem (:func:`quote`).
QUOTE_LIMIT = 60
#: How much of each end of a shortened value is kept.
_QUOTE_ENDS = 10


def quote(value: object) -> str:
    """``repr(value)`` for a problem line, shortened when longer than :data:`QUOTE_LIMIT`.

    A long text keeps its first and last ten characters and says its length,
    ``'9999999999…9999999999' (400 characters)``: enough to find it in the file, and the
    line stays one line (a 400-digit cell once made a 450-character "one line"). Any
    other value (bytes, a number) has its ``repr`` shortened the same way.
    """
    text = repr(value)
    if len(text) <= QUOTE_LIMIT:
        return text
    if isinstance(value, str):
        ends = value[:_QUOTE_ENDS] + "…" + value[-_QUOTE_ENDS:]
        return f"{ends!r} ({len(value):,} characters)"
    ends = text[:_QUOTE_ENDS] + "…" + text[-_QUOTE_ENDS:]
    return f"{ends} ({len(text):,} characters)"


def format_problems(source: str, problems: Sequence[str], total: int | None = None) -> str:
    """The printed message for ``problems`` found in ``source`` (see the module docstring)."""
    total = len(problems) if total is None else total
    prefix = f"{source}: " if source else ""
    if total == 1 and len(problems) == 1:
        return prefix + problems[0]
    if total <= ONE_LINE_PROBLEMS and len(problems) == total:
        return f"{prefix}{total} problems: " + "; ".join(problems)
    shown = f" (the first {len(problems)} shown)" if total > len(problems) else ""
    return f"{prefix}{total:,} problems{shown}:" + "".join(f"\n  {p}" for p in problems)


class InputError(ValueError):
    """Bad input: a file, an option or an argument, with every problem found.

    ``source`` names what was read (a file path, an option such as
    ``--horizon``); ``lines`` holds the problems as printed, at most
    :data:`MAX_PROBLEMS`; ``total`` counts them all.
    """

    def __init__(self, source: str, problems: Sequence[str], total: int | None = None) -> None:
        self.source = source
        self.lines = list(problems[:MAX_PROBLEMS])
        self.total = len(problems) if total is None else total
        super().__init__(format_problems(source, self.lines, self.total))


class OptionError(InputError):
    """An argument or option value the library cannot use, e.g. ``window='30X'``.

    ``source`` is the option's name as the library spells it (``window``); the
    command line reports it under its flag (``--window``).
    """

    def __init__(self, option: str, problem: str) -> None:
        self.option = option
        self.problem = problem
        super().__init__(option, [problem])


class MissingExtraError(ImportError):
    """An optional package this call needs is not installed; the message says which extra.

    An ``ImportError`` (so ``except ImportError`` still catches it), printed by
    the command line as one line with exit 2 rather than as an internal error.
    """

    def __init__(self, needs: str, extra: str) -> None:
        self.extra = extra
        super().__init__(f"{needs}: pip install 'warrantd[{extra}]'")
