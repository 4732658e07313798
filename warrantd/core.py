"""The trust layer: the gate every agent action passes through.

``TrustLayer.evaluate`` is the decision flow, in this order:

1. a tripped kill switch (global or for this action) wins: the configured
   tripped verdict, state MANUAL;
2. look up the action class and its metrics, compute the earned state with
   :class:`~warrantd.graduation.GraduationEngine`;
3. READ actions are allowed whatever the value;
4. a value above ``hard_cap`` is blocked (exactly at the cap is not);
5. MANUAL needs approval; SUPERVISED allows values within ``auto_cap`` and
   needs approval above it; AUTONOMOUS allows.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from .audit import AuditEntry
from .autonomy import AutonomyState
from .decision import ActionRequest, Decision, Verdict
from .graduation import GraduationEngine
from .killswitch import KillSwitch
from .policy import TrustPolicy
from .protocols import AuditSink, MetricsProvider
from .risk import RiskTier

__all__ = ["TrustLayer"]

_TRIPPABLE = (Verdict.BLOCK, Verdict.REQUIRE_APPROVAL)
_MANUAL = AutonomyState.MANUAL
_SUPERVISED = AutonomyState.SUPERVISED
_AUTONOMOUS = AutonomyState.AUTONOMOUS


class TrustLayer:
    """Gates agent actions against a policy, live eval metrics and kill switches."""

    def __init__(
        self,
        policy: TrustPolicy,
        metrics: MetricsProvider,
        audit: AuditSink,
        kill_switch: KillSwitch | None = None,
        tripped_verdict: Verdict = Verdict.BLOCK,
    ) -> None:
        if tripped_verdict not in _TRIPPABLE:
            raise ValueError(
                f"tripped_verdict must be Verdict.BLOCK or Verdict.REQUIRE_APPROVAL, "
                f"not {tripped_verdict!r}"
            )
        self.policy = policy
        self.metrics = metrics
        self.audit = audit
        self.kill_switch = kill_switch if kill_switch is not None else KillSwitch()
        self.tripped_verdict = tripped_verdict
        self.engine = GraduationEngine(policy.thresholds)

    def evaluate(self, req: ActionRequest) -> Decision:
        """ALLOW, REQUIRE_APPROVAL or BLOCK for ``req``, with the state and a reason."""
        name = req.action
        if self.kill_switch.is_tripped(name):
            return Decision(self.tripped_verdict, _MANUAL, f"kill switch is tripped for {name!r}")
        action = self.policy.action(name)
        state = self.engine.allowed_state(action, self.metrics.metrics_for(name))
        if action.risk is RiskTier.READ:
            return Decision(Verdict.ALLOW, state, f"{name!r} is a READ action: always allowed")
        value = req.value
        # Reasons spell decimals with !s: the same text as format(), in half the time.
        if value is not None and action.hard_cap is not None and value > action.hard_cap:
            return Decision(
                Verdict.BLOCK,
                state,
                f"value {value!s} exceeds hard_cap {action.hard_cap!s} for {name!r}",
            )
        if state is _AUTONOMOUS:
            return Decision(Verdict.ALLOW, state, f"{name!r} is AUTONOMOUS")
        if state is _SUPERVISED:
            cap = action.auto_cap
            if value is None or cap is None or value <= cap:
                return Decision(
                    Verdict.ALLOW, state, f"{name!r} is SUPERVISED and the value is within auto_cap"
                )
            return Decision(
                Verdict.REQUIRE_APPROVAL,
                state,
                f"value {value!s} exceeds auto_cap {cap!s} for SUPERVISED {name!r}",
            )
        return Decision(
            Verdict.REQUIRE_APPROVAL, state, f"{name!r} is MANUAL: every call needs approval"
        )

    async def record(self, entry: AuditEntry) -> None:
        """Hand ``entry`` to the audit sink."""
        await self.audit.record(entry)

    @staticmethod
    def idempotency_key(req: ActionRequest) -> str:
        """SHA-256 hex of a canonical JSON of the request.

        Keys are sorted, so the order of ``params`` never matters; decimals are
        written as normalized strings, so equal values (``1.0`` and ``1``) give
        equal keys while ``None`` and ``0`` differ.
        """
        body = {
            "action": req.action,
            "tenant_id": req.tenant_id,
            "value": req.value,
            "params": req.params,
        }
        text = json.dumps(
            _canonical(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _canonical(value: Any) -> Any:
    """A JSON-ready copy of ``value`` in which equal values are spelled alike."""
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # 1.0 == 1 in Python, so equal requests must hash alike.
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    raise TypeError(
        f"idempotency_key cannot encode a {type(value).__name__} in the request: {value!r}"
    )
