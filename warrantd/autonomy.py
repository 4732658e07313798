"""Autonomy states an action class moves through as it earns trust.

``AutonomyState`` is an ``IntEnum`` so states compare and order naturally:
``MANUAL < SUPERVISED < AUTONOMOUS``.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["GRADUATION_STATES", "AutonomyState"]


class AutonomyState(IntEnum):
    """MANUAL: every call needs a human. SUPERVISED: small calls run alone.
    AUTONOMOUS: every call under the hard cap runs alone."""

    MANUAL = 0
    SUPERVISED = 1
    AUTONOMOUS = 2


#: The states an action class graduates *into*, lowest first. Thresholds are
#: keyed by these; MANUAL is the floor and needs no bar.
GRADUATION_STATES: tuple[AutonomyState, ...] = (
    AutonomyState.SUPERVISED,
    AutonomyState.AUTONOMOUS,
)
