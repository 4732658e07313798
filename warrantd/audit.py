"""The audit record: one entry per gated action, written after it ran (or not)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .decision import ActionRequest, Decision

__all__ = ["AuditEntry"]


@dataclass(frozen=True)
class AuditEntry:
    """What was asked, what the gate said, what a human said, and what happened.

    ``approved`` is ``None`` when no approval step ran; ``error`` holds the
    failure message when execution failed.
    """

    request: ActionRequest
    decision: Decision
    approved: bool | None
    executed: bool
    idempotency_key: str
    timestamp: datetime
    error: str | None = None
