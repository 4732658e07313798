"""Progress on stderr for the steps of a long run: one bar, one line per step.

Shown only on a terminal, and never with ``enabled=False`` (``-q``); what it
prints is never part of a command's output. The kit's own loops (the sweep's
chunks, the forecast's classes) show their own bars under the same rules.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType
from typing import Any

__all__ = ["Steps", "bar", "showing"]


def showing(enabled: bool) -> bool:
    """Whether progress is drawn: asked for, and stderr is a terminal."""
    return enabled and sys.stderr.isatty()


def bar(total: int, desc: str, enabled: bool, unit: str = "step") -> Any:
    """A tqdm bar on stderr (disabled unless :func:`showing`)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not showing(enabled),
        file=sys.stderr,
        leave=False,
    )


class Steps:
    """A bar over named steps: ``with Steps(["load", "replay"]) as s: ...; s.next(); ...``."""

    def __init__(self, labels: Sequence[str], *, enabled: bool = True) -> None:
        self.labels = list(labels)
        self._index = 0
        self._bar = bar(len(self.labels), self.labels[0] if self.labels else "", enabled)

    def next(self, label: str | None = None) -> None:
        """The current step is done; ``label`` (default: the next name) is under way."""
        self._index += 1
        self._bar.update(1)
        if label is None and self._index < len(self.labels):
            label = self.labels[self._index]
        if label is not None:
            self._bar.set_description_str(label)

    def __enter__(self) -> Steps:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._bar.close()
