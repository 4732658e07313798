"""warrantd quickstart: gate three actions with in-memory metrics and audit.

Run: python examples/quickstart.py
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from decimal import Decimal

from warrantd import (
    ActionClass,
    ActionRequest,
    AuditEntry,
    AutonomyState,
    EvalMetrics,
    GraduationThresholds,
    RiskTier,
    TrustLayer,
    TrustPolicy,
)


class InMemoryMetrics:
    """A MetricsProvider backed by a dict; unknown actions have no evidence yet."""

    def __init__(self, table: dict[str, EvalMetrics]) -> None:
        self.table = table

    def metrics_for(self, action: str) -> EvalMetrics:
        return self.table.get(action, EvalMetrics(0.0, 0.0, 0))


class InMemoryAudit:
    """An AuditSink that keeps entries in a list."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


policy = TrustPolicy(
    actions={
        "read_ledger": ActionClass(name="read_ledger", risk=RiskTier.READ),
        "issue_refund": ActionClass(
            name="issue_refund",
            risk=RiskTier.REVERSIBLE_WRITE,
            auto_cap=Decimal("100"),
            hard_cap=Decimal("1000"),
        ),
    },
    thresholds=GraduationThresholds(
        pass_rate={AutonomyState.SUPERVISED: 0.80, AutonomyState.AUTONOMOUS: 0.95},
        adversarial_pass_rate={AutonomyState.SUPERVISED: 0.70, AutonomyState.AUTONOMOUS: 0.90},
        min_samples={AutonomyState.SUPERVISED: 50, AutonomyState.AUTONOMOUS: 200},
    ),
)

# issue_refund has earned SUPERVISED (clears the 0.80/0.70/50 bars, not 0.95/0.90/200).
metrics = InMemoryMetrics({"issue_refund": EvalMetrics(0.91, 0.82, 140)})
audit = InMemoryAudit()
trust = TrustLayer(policy=policy, metrics=metrics, audit=audit)


async def main() -> None:
    requests = [
        ActionRequest("issue_refund", tenant_id="acme", value=Decimal("40")),
        ActionRequest("issue_refund", tenant_id="acme", value=Decimal("250")),
        ActionRequest("issue_refund", tenant_id="acme", value=Decimal("5000")),
    ]
    for req in requests:
        decision = trust.evaluate(req)
        print(f"{decision.verdict.name:<17} {req.action} value={req.value}: {decision.reason}")
        await trust.record(
            AuditEntry(
                request=req,
                decision=decision,
                approved=None,
                executed=decision.verdict.name == "ALLOW",
                idempotency_key=TrustLayer.idempotency_key(req),
                timestamp=datetime.now(timezone.utc),
            )
        )
    print(f"audit trail: {len(audit.entries)} entries")


if __name__ == "__main__":
    asyncio.run(main())
