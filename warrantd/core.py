"""The trust layer: the gate every agent action passes through.

``TrustLayer.evaluate`` is the decision flow, in this order:

1. a tripped kill switch (global or for this action) wins: the configured
   tripped verdict, state MANUAL;
2. look up the action class, read each trust signal once and compute the
   earned state with
   :meth:`~warrantd.graduation.GraduationEngine.combined_allowed_state`
   (one metrics provider is one adversarial signal: the same state as
   :meth:`~warrantd.graduation.GraduationEngine.allowed_state`);
3. READ actions are allowed whatever the value;
4. a value above ``hard_cap`` is blocked (exactly at the cap is not);
5. MANUAL needs approval; SUPERVISED allows values within ``auto_cap`` and
   needs approval above it; AUTONOMOUS allows.

The earned state follows the policy's ``[graduation]`` settings (evidence rule and
level). Under hysteresis (a ``demotion_margin`` above 0, or a ``wilson`` / ``anytime``
rule: :attr:`~warrantd.graduation.GraduationSettings.holds_state`) the layer remembers
the last state it earned per class and hands it to the engine as ``current``; under
the published rule (``point``, margin 0) nothing is remembered and every call is
judged afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from .audit import AuditEntry
from .autonomy import AutonomyState
from .decision import ActionClass, ActionRequest, Decision, Verdict
from .graduation import GraduationEngine, SignalReading
from .keys import idempotency_key
from .killswitch import KillSwitch
from .policy import TrustPolicy
from .protocols import AuditSink, MetricsProvider, TrustSignal
from .risk import RiskTier
from .signals import EvalSuiteSignal

__all__ = ["TrustLayer"]

_TRIPPABLE = (Verdict.BLOCK, Verdict.REQUIRE_APPROVAL)
_MANUAL = AutonomyState.MANUAL
_SUPERVISED = AutonomyState.SUPERVISED
_AUTONOMOUS = AutonomyState.AUTONOMOUS


class TrustLayer:
    """Gates agent actions against a policy, trust signals and kill switches.

    The evidence comes from exactly one of ``metrics`` (one provider, taken as
    an adversarial :class:`~warrantd.signals.EvalSuiteSignal`: the 0.1.0 call
    ``TrustLayer(policy, metrics, audit)``) or ``signals`` (one or more
    :class:`~warrantd.protocols.TrustSignal`, combined by
    :meth:`~warrantd.graduation.GraduationEngine.combined_allowed_state`).
    ``audit`` is required. ``ValueError`` otherwise, and when
    ``tripped_verdict`` is ALLOW.
    """

    def __init__(
        self,
        policy: TrustPolicy,
        metrics: MetricsProvider | None = None,
        audit: AuditSink | None = None,
        kill_switch: KillSwitch | None = None,
        tripped_verdict: Verdict = Verdict.BLOCK,
        *,
        signals: Sequence[TrustSignal] | None = None,
    ) -> None:
        if tripped_verdict not in _TRIPPABLE:
            raise ValueError(
                f"tripped_verdict must be Verdict.BLOCK or Verdict.REQUIRE_APPROVAL, "
                f"not {tripped_verdict!r}"
            )
        if audit is None:
            raise ValueError("an AuditSink is required (audit=None)")
        if (metrics is None) == (signals is None):
            raise ValueError("provide exactly one of 'metrics' or 'signals'")
        self.policy = policy
        #: The metrics provider given (read on every evaluate()), or None with signals.
        self.metrics = metrics
        self._signals: tuple[TrustSignal, ...] = tuple(signals or ())
        self.audit = audit
        self.kill_switch = kill_switch if kill_switch is not None else KillSwitch()
        self.tripped_verdict = tripped_verdict
        self.engine = GraduationEngine(policy.thresholds, policy.graduation)
        # The last state earned per class, kept only under hysteresis (a demotion margin,
        # or a bound rule: GraduationSettings.holds_state).
        self._remember = policy.graduation.holds_state
        self._last_state: dict[str, AutonomyState] = {}
        self._memory_lock = threading.Lock()

    def last_state(self, action: str) -> AutonomyState | None:
        """The state last earned by ``action`` under hysteresis (None before its first
        evaluation, and always None under the memoryless published rule: ``point`` with
        ``demotion_margin`` 0)."""
        return self._last_state.get(action)

    def forget(self, action: str | None = None) -> None:
        """Forget the remembered state of ``action`` (of every class when None): the next
        evaluation is judged afresh, as for a new agent version."""
        with self._memory_lock:
            if action is None:
                self._last_state.clear()
            else:
                self._last_state.pop(action, None)

    def remembered(self) -> dict[str, AutonomyState]:
        """Every class's remembered state (a copy): what a gate under hysteresis should
        keep across a restart, and hand back with :meth:`restore`."""
        with self._memory_lock:
            return dict(self._last_state)

    def restore(self, states: Mapping[str, AutonomyState | str | int]) -> None:
        """Hand back states remembered before a restart (:meth:`remembered`, saved by
        the caller), so a class a demotion margin or a bound rule was holding is not
        judged afresh and dropped by a new process. Every name must be a class of the
        policy (``KeyError`` naming it otherwise); a state is an :class:`AutonomyState`,
        its value, or its name in any case (``"supervised"``, as JSON keeps it). Under
        the memoryless published rule nothing is remembered, and nothing is restored."""
        for name in states:
            self.policy.action(name)
        held = {name: _state_of(state) for name, state in states.items()}
        if not self._remember:
            return
        with self._memory_lock:
            self._last_state.update(held)

    @property
    def signals(self) -> tuple[TrustSignal, ...]:
        """The trust signals every evaluate() reads once each, in order.

        Built from ``metrics``, that is the one adversarial
        :class:`~warrantd.signals.EvalSuiteSignal` wrapping it.
        """
        if self.metrics is not None:
            return (EvalSuiteSignal(self.metrics),)
        return self._signals

    def evaluate(self, req: ActionRequest) -> Decision:
        """ALLOW, REQUIRE_APPROVAL or BLOCK for ``req``, with the state and a reason."""
        name = req.action
        if self.kill_switch.is_tripped(name):
            return Decision(self.tripped_verdict, _MANUAL, f"kill switch is tripped for {name!r}")
        action = self.policy.action(name)
        if self._remember:
            state = self._earned_remembering(name, action)
        elif self.metrics is not None:
            # One adversarial reading: combined_allowed_state is allowed_state then
            # (graduation property 5b), without building the reading.
            state = self.engine.allowed_state(action, self.metrics.metrics_for(name))
        else:
            readings = [SignalReading(s.metrics_for(name), s.adversarial) for s in self._signals]
            state = self.engine.combined_allowed_state(action, readings)
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

    def _earned_remembering(self, name: str, action: ActionClass) -> AutonomyState:
        """The earned state under hysteresis: the engine is handed the last state earned,
        and the answer remembered (one lock around read, rule and write, so concurrent
        calls for a class see one sequence of states)."""
        if self.metrics is not None:
            readings = [SignalReading(self.metrics.metrics_for(name), True)]
        else:
            readings = [SignalReading(s.metrics_for(name), s.adversarial) for s in self._signals]
        with self._memory_lock:
            current = self._last_state.get(name)
            if self.metrics is not None:
                state = self.engine.allowed_state(action, readings[0].metrics, current)
            else:
                state = self.engine.combined_allowed_state(action, readings, current)
            self._last_state[name] = state
        return state

    async def record(self, entry: AuditEntry) -> None:
        """Hand ``entry`` to the audit sink."""
        await self.audit.record(entry)

    #: The published idempotency key of a request: see :func:`warrantd.keys.idempotency_key`.
    idempotency_key = staticmethod(idempotency_key)


def _state_of(state: AutonomyState | str | int) -> AutonomyState:
    """A state from itself, its value or its name (any case); ``ValueError`` naming it."""
    if isinstance(state, str):
        try:
            return AutonomyState[state.strip().upper()]
        except KeyError:
            names = ", ".join(s.name for s in AutonomyState)
            raise ValueError(f"{state!r} is not an autonomy state (expected {names})") from None
    return AutonomyState(state)
