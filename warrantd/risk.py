"""Risk tiers: how much damage an action class can do if it goes wrong.

In the decision flow ``READ`` actions are always allowed (unless a kill switch
is tripped). In graduation, AUTONOMOUS on a ``CONSEQUENTIAL`` class needs at
least one adversarial signal (see
:meth:`warrantd.graduation.GraduationEngine.combined_allowed_state`); to keep a
class from ever reaching AUTONOMOUS, set its ``max_state``.

The member values are the member names (``RiskTier.READ.value == "READ"``), as
published in warrantd 0.1.0 and warrantd-core 0.3.0.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["RiskTier"]


class RiskTier(Enum):
    """How much harm an action can do: read-only, undoable, or not undoable."""

    READ = "READ"
    REVERSIBLE_WRITE = "REVERSIBLE_WRITE"
    CONSEQUENTIAL = "CONSEQUENTIAL"
