"""Risk tiers: how much damage an action class can do if it goes wrong.

The tier decides two things in the decision flow: ``READ`` actions are always
allowed (unless a kill switch is tripped), and ``CONSEQUENTIAL`` actions carry a
risk ceiling that no eval result can lift (see :data:`RISK_CEILING` in
:mod:`warrantd.graduation`).
"""

from __future__ import annotations

from enum import Enum

__all__ = ["RiskTier"]


class RiskTier(Enum):
    """How much harm an action can do: read-only, undoable, or not undoable."""

    READ = "read"
    REVERSIBLE_WRITE = "reversible_write"
    CONSEQUENTIAL = "consequential"
