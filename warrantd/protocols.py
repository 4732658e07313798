"""The seams an application fills: where metrics come from, where approvals go,
where the audit trail is written.

warrantd knows nothing about transports, providers or stores; implement these
three small protocols with whatever your application uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .decision import ActionRequest, Decision, EvalMetrics

if TYPE_CHECKING:
    from .audit import AuditEntry

__all__ = ["ApprovalGate", "AuditSink", "MetricsProvider"]


@runtime_checkable
class MetricsProvider(Protocol):
    """Supplies the current eval metrics of an action class."""

    def metrics_for(self, action: str) -> EvalMetrics:
        """Eval metrics for the action class named ``action``."""
        ...


@runtime_checkable
class ApprovalGate(Protocol):
    """Routes a REQUIRE_APPROVAL decision to a human and returns their answer."""

    async def request_approval(self, req: ActionRequest, decision: Decision) -> bool:
        """True when a human approved ``req``."""
        ...


@runtime_checkable
class AuditSink(Protocol):
    """Stores audit entries: every decision and what came of it."""

    async def record(self, entry: AuditEntry) -> None:
        """Persist ``entry``."""
        ...
