"""Kill switches: stop one action class, or all of them, at once.

``None`` names the global switch. A global trip makes every action tripped;
resetting the global switch leaves per-action trips in place, so an incident
on one action is not cleared by lifting a wider stop.
"""

from __future__ import annotations

import threading

__all__ = ["KillSwitch"]


class KillSwitch:
    """Thread-safe set of tripped switches: the global one and per action."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._global = False
        self._actions: frozenset[str] = frozenset()

    def trip(self, action: str | None = None) -> None:
        """Trip the switch for ``action``, or the global switch when ``None``."""
        with self._lock:
            if action is None:
                self._global = True
            else:
                self._actions = self._actions | {action}

    def reset(self, action: str | None = None) -> None:
        """Reset the switch for ``action``, or only the global switch when ``None``."""
        with self._lock:
            if action is None:
                self._global = False
            else:
                self._actions = self._actions - {action}

    def is_tripped(self, action: str | None = None) -> bool:
        """True when the global switch, or the switch for ``action``, is tripped."""
        # Reads need no lock: both fields are replaced whole, never mutated.
        return self._global or (action is not None and action in self._actions)
