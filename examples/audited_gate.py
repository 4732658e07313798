"""warrantd with a durable audit trail: a gate that writes every decision and every human
approval to a hash-chained SQLite log, and graduates on the approvals in that log.

Run: python examples/audited_gate.py [LOG]   (LOG: a new file; default: a fresh temporary folder)

It gates 200 refund requests: each decision is appended to the log; a (simulated) human
answers every REQUIRE_APPROVAL, and that answer is appended too. The gate's evidence is
the eval suite AND the last 20 approvals in its own log, so ``issue_refund`` moves from
MANUAL to SUPERVISED once 20 clean approvals are on record. At the end it takes a
checkpoint, verifies the log, and shows what ``warrantd audit verify`` prints.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from warrantd import (
    ActionClass,
    ActionRequest,
    ApprovalHistorySignal,
    ApprovalRecord,
    AuditEntry,
    AutonomyState,
    EvalMetrics,
    EvalSuiteSignal,
    GraduationThresholds,
    RiskTier,
    TrustLayer,
    TrustPolicy,
    Verdict,
)
from warrantd.auditlog import SQLiteAuditSink, verify_audit, write_checkpoint

S, A = AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
policy = TrustPolicy(
    actions={
        "issue_refund": ActionClass(
            "issue_refund",
            RiskTier.REVERSIBLE_WRITE,
            auto_cap=Decimal("100"),
            hard_cap=Decimal("1000"),
        ),
    },
    thresholds=GraduationThresholds(
        pass_rate={S: 0.80, A: 0.95},
        adversarial_pass_rate={S: 0.70, A: 0.90},
        min_samples={S: 20, A: 500},
    ),
)


class Evals:
    """The eval suite's metrics: good enough for SUPERVISED, not AUTONOMOUS."""

    def metrics_for(self, action: str) -> EvalMetrics:
        return EvalMetrics(0.92, 0.85, 400)


async def main(path: Path) -> None:
    sink = SQLiteAuditSink(path)
    gate = TrustLayer(
        policy,
        audit=sink,
        signals=[EvalSuiteSignal(Evals()), ApprovalHistorySignal(sink, window=20)],
    )
    rng = random.Random(7)
    start = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
    counts: dict[str, int] = {}
    promoted_at = None
    for i in range(200):
        now = start + timedelta(minutes=7 * i)
        value = Decimal(rng.choice(["25.00", "60.00", "95.00", "150.00", "480.00", "2500.00"]))
        req = ActionRequest("issue_refund", tenant_id=f"tenant-{i % 3}", value=value)
        decision = gate.evaluate(req)
        if promoted_at is None and decision.autonomy_state is S:
            promoted_at = i
        approved = None
        if decision.verdict is Verdict.REQUIRE_APPROVAL:
            approved = rng.random() < 0.97  # the human says yes to nearly all of them
            await sink.record_approval(
                ApprovalRecord("issue_refund", approved, timestamp=now, approver="ops-oncall")
            )
        executed = decision.verdict is Verdict.ALLOW or bool(approved)
        await gate.record(
            AuditEntry(req, decision, approved, executed, gate.idempotency_key(req), now)
        )
        counts[decision.verdict.value] = counts.get(decision.verdict.value, 0) + 1

    print(f"log: {path}")
    print(f"decisions: {counts}")
    print(
        f"issue_refund became SUPERVISED at request {promoted_at}: 20 approvals on record, "
        "at least 80% of them clean"
    )
    checkpoint = sink.checkpoint()
    kept = write_checkpoint(checkpoint, path.with_suffix(".checkpoint.json"))
    print(f"checkpoint: {checkpoint.rows} rows, head {checkpoint.head[:16]}..., written to {kept}")
    print(verify_audit(path, checkpoint).describe())
    print(f"verify from the shell: warrantd audit verify {path} --checkpoint {kept}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        target = Path(sys.argv[1])
        if target.exists():
            sys.exit(f"{target} exists; give a new file name (this example never reuses a file)")
    else:
        target = Path(tempfile.mkdtemp(prefix="warrantd-audit-")) / "audit.db"
    asyncio.run(main(target))
