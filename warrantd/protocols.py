"""The seams an application fills: where metrics come from, where approvals go,
where the audit trail is written.

warrantd knows nothing about transports, providers or stores; implement these
small protocols with whatever your application uses. A :class:`TrustSignal` is
a :class:`MetricsProvider` that also declares whether its metrics carry
adversarial coverage; ready-made signals live in :mod:`warrantd.signals`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .decision import ActionRequest, Decision, EvalMetrics

if TYPE_CHECKING:
    from .audit import AuditEntry

__all__ = ["ApprovalGate", "AuditSink", "MetricsProvider", "TrustSignal"]


@runtime_checkable
class MetricsProvider(Protocol):
    """Supplies the current eval metrics of an action class."""

    def metrics_for(self, action: str) -> EvalMetrics:
        """Eval metrics for the action class named ``action``."""
        ...


@runtime_checkable
class TrustSignal(MetricsProvider, Protocol):
    """A source of graduation evidence: metrics, and whether they cover adversarial cases.

    ``adversarial`` is True when the signal's ``adversarial_pass_rate`` comes
    from real adversarial evals. Only such readings are held to the
    adversarial bars, and AUTONOMOUS on a CONSEQUENTIAL class needs at least
    one of them. warrantd cannot check the declaration: it is trusted exactly
    as far as the metrics are.
    """

    @property
    def adversarial(self) -> bool:
        """True when the metrics reflect adversarial eval coverage."""
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
