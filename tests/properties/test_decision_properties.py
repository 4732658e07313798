"""Properties 6-11: the decision flow (TrustLayer.evaluate) and idempotency keys."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from warrantd import (
    ActionClass,
    ActionRequest,
    AutonomyState,
    EvalMetrics,
    GraduationThresholds,
    KillSwitch,
    RiskTier,
    TrustLayer,
    TrustPolicy,
    Verdict,
)

from .strategies import action_classes, amounts, metrics, params, requests, thresholds

# How permissive a verdict is: BLOCK < REQUIRE_APPROVAL < ALLOW.
PERMISSIVENESS = {Verdict.BLOCK: 0, Verdict.REQUIRE_APPROVAL: 1, Verdict.ALLOW: 2}
M, S, A = AutonomyState.MANUAL, AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
# Metrics that earn each state under THRESHOLDS.
THRESHOLDS = GraduationThresholds({S: 0.8, A: 0.95}, {S: 0.7, A: 0.9}, {S: 50, A: 200})
EARNING = {
    M: EvalMetrics(0.0, 0.0, 0),
    S: EvalMetrics(0.9, 0.8, 100),
    A: EvalMetrics(1.0, 1.0, 1000),
}


class Fixed:
    def __init__(self, m: EvalMetrics) -> None:
        self.m = m

    def metrics_for(self, action: str) -> EvalMetrics:
        return self.m


class Sink:
    async def record(self, entry: object) -> None: ...


def gate(
    action: ActionClass, m: EvalMetrics, t: GraduationThresholds = THRESHOLDS, **kw: object
) -> TrustLayer:
    return TrustLayer(TrustPolicy({action.name: action}, t), Fixed(m), Sink(), **kw)  # type: ignore[arg-type]


values = st.none() | amounts
# Offsets that probe just around a cap.
STEPS = [Decimal("-1"), Decimal("-0.01"), Decimal(0), Decimal("0.01"), Decimal(1)]
steps = st.sampled_from(STEPS)


@given(
    action_classes(),
    metrics,
    thresholds(),
    values,
    st.booleans(),
    st.sampled_from([Verdict.BLOCK, Verdict.REQUIRE_APPROVAL]),
)
def test_6_tripped_kill_switch_always_wins(
    action: ActionClass,
    m: EvalMetrics,
    t: GraduationThresholds,
    value: Decimal | None,
    global_trip: bool,
    tripped: Verdict,
) -> None:
    """A tripped kill switch always wins, with the configured verdict."""
    ks = KillSwitch()
    ks.trip(None if global_trip else action.name)
    d = gate(action, m, t, kill_switch=ks, tripped_verdict=tripped).evaluate(
        ActionRequest(action.name, "t", value)
    )
    assert d.verdict is tripped and d.autonomy_state is M


@given(action_classes(), metrics, thresholds(), values)
def test_7_read_is_always_allowed(
    action: ActionClass, m: EvalMetrics, t: GraduationThresholds, value: Decimal | None
) -> None:
    """READ is always ALLOW unless the kill switch is tripped."""
    read = dataclasses.replace(action, risk=RiskTier.READ)
    assert gate(read, m, t).evaluate(ActionRequest(read.name, "t", value)).verdict is Verdict.ALLOW


@given(action_classes(), values)
def test_8_caps_are_never_exceeded_by_an_allow(action: ActionClass, value: Decimal | None) -> None:
    """No ALLOW for a value above hard_cap; in SUPERVISED, no ALLOW above auto_cap.

    Each example probes the drawn value and every step around each cap, for both
    gated risk tiers and in every earned state.
    """
    caps = [c for c in (action.auto_cap, action.hard_cap) if c is not None]
    probes = [value, *(c + step for c in caps for step in STEPS)]
    for risk in (RiskTier.REVERSIBLE_WRITE, RiskTier.CONSEQUENTIAL):
        cls = dataclasses.replace(action, risk=risk)
        for earning in EARNING.values():
            trust = gate(cls, earning)
            for v in probes:
                d = trust.evaluate(ActionRequest(cls.name, "t", v))
                if d.verdict is Verdict.ALLOW and v is not None:
                    assert cls.hard_cap is None or v <= cls.hard_cap, (v, d)
                    if d.autonomy_state is S:
                        assert cls.auto_cap is None or v <= cls.auto_cap, (v, d)


@given(action_classes(), values, st.sampled_from([M, S]), st.sampled_from([S, A]))
def test_9a_higher_state_never_stricter(
    action: ActionClass, value: Decimal | None, low: AutonomyState, high: AutonomyState
) -> None:
    """A higher earned state never gives a stricter verdict for the same request."""
    if high <= low:
        return
    free = dataclasses.replace(action, max_state=A, risk=RiskTier.REVERSIBLE_WRITE)
    req = ActionRequest(free.name, "t", value)
    lo_d, hi_d = gate(free, EARNING[low]).evaluate(req), gate(free, EARNING[high]).evaluate(req)
    assert (lo_d.autonomy_state, hi_d.autonomy_state) == (low, high)
    assert PERMISSIVENESS[hi_d.verdict] >= PERMISSIVENESS[lo_d.verdict]


@given(action_classes(), metrics, st.lists(amounts, min_size=1, max_size=6), st.data())
def test_9b_larger_value_never_more_permissive(
    action: ActionClass, m: EvalMetrics, drawn: list[Decimal], data: st.DataObject
) -> None:
    """A larger value never gives a more permissive verdict.

    Each example sorts a handful of values (some just around the caps) and checks the
    verdicts never loosen along them, for every risk tier and in every earned state.
    """
    caps = [c for c in (action.auto_cap, action.hard_cap) if c is not None]
    near = [max(Decimal(0), c + data.draw(steps)) for c in caps]
    ordered = sorted([*drawn, *near])
    for risk in RiskTier:
        cls = dataclasses.replace(action, risk=risk)
        for earning in (*EARNING.values(), m):
            trust = gate(cls, earning)
            verdicts = [trust.evaluate(ActionRequest(cls.name, "t", v)).verdict for v in ordered]
            ranks = [PERMISSIVENESS[v] for v in verdicts]
            assert ranks == sorted(ranks, reverse=True), list(zip(ordered, verdicts, strict=True))


@given(action_classes(), metrics, thresholds(), values, st.booleans())
def test_10_every_decision_has_a_reason(
    action: ActionClass,
    m: EvalMetrics,
    t: GraduationThresholds,
    value: Decimal | None,
    trip: bool,
) -> None:
    """Every decision has a non-empty reason."""
    ks = KillSwitch()
    if trip:
        ks.trip(action.name)
    d = gate(action, m, t, kill_switch=ks).evaluate(ActionRequest(action.name, "t", value))
    assert d.reason.strip()


@given(requests, st.randoms())
def test_11a_equal_requests_equal_keys_in_any_param_order(req: ActionRequest, rnd) -> None:  # type: ignore[no-untyped-def]
    """Equal requests give equal keys; reordering params never changes the key."""
    items = list(req.params.items())
    rnd.shuffle(items)
    shuffled = ActionRequest(req.action, req.tenant_id, req.value, dict(items))
    assert shuffled == req
    assert TrustLayer.idempotency_key(shuffled) == TrustLayer.idempotency_key(req)
    copy = ActionRequest(req.action, req.tenant_id, req.value, dict(req.params))
    assert TrustLayer.idempotency_key(copy) == TrustLayer.idempotency_key(req)


@given(requests, st.sampled_from(["action", "tenant_id", "value", "params"]), st.data())
def test_11b_changing_any_field_changes_the_key(
    req: ActionRequest, field: str, data: st.DataObject
) -> None:
    """Changing any one field (to an unequal value) changes the key."""
    new_value = {
        "action": st.text(min_size=1, max_size=10),
        "tenant_id": st.text(max_size=10),
        "value": values,
        "params": params,
    }[field]
    other = dataclasses.replace(req, **{field: data.draw(new_value)})
    if getattr(other, field) == getattr(req, field):
        return
    assert TrustLayer.idempotency_key(other) != TrustLayer.idempotency_key(req)
