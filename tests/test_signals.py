"""Trust signals: approval records and their metrics, the shipped signals, and
TrustLayer fed by signals instead of one metrics provider."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from warrantd import (
    ActionClass,
    ActionRequest,
    ApprovalHistorySignal,
    ApprovalHistorySource,
    ApprovalRecord,
    AuditEntry,
    AutonomyState,
    EvalMetrics,
    EvalSuiteSignal,
    InMemoryApprovalHistory,
    KillSwitch,
    MetricsProvider,
    RiskTier,
    TrustLayer,
    TrustPolicy,
    TrustSignal,
    Verdict,
    approval_metrics,
)
from warrantd.signals import ApprovalRecord as RecordFromModule

from .helpers import make_thresholds

M, S, A = AutonomyState.MANUAL, AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
CLEAN = ApprovalRecord("refund", approved=True)
DENIED = ApprovalRecord("refund", approved=False)
OVERRIDDEN = ApprovalRecord("refund", approved=True, overridden=True)
FAILED = ApprovalRecord("refund", approved=True, error=True)


def test_record_fields_and_defaults() -> None:
    assert RecordFromModule is ApprovalRecord
    r = ApprovalRecord("refund", True)
    assert (r.overridden, r.error, r.timestamp, r.approver) == (False, False, None, None)
    when = datetime(2026, 3, 1, tzinfo=timezone.utc)
    r = ApprovalRecord("refund", False, True, True, when, "ana")
    assert (r.action, r.approved, r.overridden, r.error, r.timestamp, r.approver) == (
        "refund",
        False,
        True,
        True,
        when,
        "ana",
    )


class TestApprovalMetrics:
    def test_no_records_is_no_evidence(self) -> None:
        assert approval_metrics([]) == EvalMetrics(0.0, 0.0, 0)

    def test_clean_fraction(self) -> None:
        # 2 clean of 5: a denial, an overridden approval and a failed one are not clean.
        records = [CLEAN, DENIED, OVERRIDDEN, CLEAN, FAILED]
        assert approval_metrics(records) == EvalMetrics(0.4, 0.0, 5)

    def test_adversarial_pass_rate_is_always_zero(self) -> None:
        assert approval_metrics([CLEAN] * 1000) == EvalMetrics(1.0, 0.0, 1000)

    def test_window_keeps_the_last_records(self) -> None:
        records = [DENIED, DENIED, CLEAN, CLEAN, CLEAN]
        assert approval_metrics(records, window=3) == EvalMetrics(1.0, 0.0, 3)
        assert approval_metrics(records, window=4) == EvalMetrics(0.75, 0.0, 4)
        assert approval_metrics(records, window=50) == EvalMetrics(0.6, 0.0, 5)
        assert approval_metrics(records, window=None) == EvalMetrics(0.6, 0.0, 5)

    def test_window_zero_keeps_nothing(self) -> None:
        assert approval_metrics([CLEAN] * 3, window=0) == EvalMetrics(0.0, 0.0, 0)

    def test_negative_window_slices_as_published(self) -> None:
        # records[-window:]: window=-1 drops the first record (the published slice).
        assert approval_metrics([DENIED, CLEAN, CLEAN], window=-1) == EvalMetrics(1.0, 0.0, 2)

    def test_window_is_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            approval_metrics([CLEAN], 1)  # type: ignore[misc]

    def test_takes_any_sequence(self) -> None:
        assert approval_metrics((CLEAN, DENIED), window=1) == EvalMetrics(0.0, 0.0, 1)


def test_in_memory_history_filters_by_action_in_order() -> None:
    history = InMemoryApprovalHistory()
    first = ApprovalRecord("refund", True, approver="ana")
    history.add(first)
    history.add(ApprovalRecord("cancel", False))
    history.add(DENIED)
    assert history.records_for("refund") == [first, DENIED]
    assert history.records_for("cancel") == [ApprovalRecord("cancel", False)]
    assert history.records_for("other") == []
    assert isinstance(history, ApprovalHistorySource)


class Table:
    """A metrics provider with a fixed table; counts its reads."""

    def __init__(self, **metrics: EvalMetrics) -> None:
        self.table = metrics
        self.reads: list[str] = []

    def metrics_for(self, action: str) -> EvalMetrics:
        self.reads.append(action)
        return self.table.get(action, EvalMetrics(0.0, 0.0, 0))


class Counted:
    """A trust signal with a fixed reading that counts its reads."""

    def __init__(self, m: EvalMetrics, adversarial: bool) -> None:
        self.m, self._adversarial, self.reads = m, adversarial, 0

    @property
    def adversarial(self) -> bool:
        return self._adversarial

    def metrics_for(self, action: str) -> EvalMetrics:
        self.reads += 1
        return self.m


def test_eval_suite_signal_wraps_a_provider_and_is_adversarial() -> None:
    provider = Table(refund=EvalMetrics(0.9, 0.8, 70))
    signal = EvalSuiteSignal(provider)
    assert signal.adversarial is True
    assert signal.metrics_for("refund") == EvalMetrics(0.9, 0.8, 70)
    assert provider.reads == ["refund"]
    assert isinstance(signal, TrustSignal) and isinstance(signal, MetricsProvider)


def test_approval_history_signal_maps_the_window_and_is_not_adversarial() -> None:
    history = InMemoryApprovalHistory()
    for record in (DENIED, CLEAN, CLEAN, ApprovalRecord("cancel", True)):
        history.add(record)
    assert ApprovalHistorySignal(history).adversarial is False
    assert ApprovalHistorySignal(history).metrics_for("refund") == EvalMetrics(2 / 3, 0.0, 3)
    assert ApprovalHistorySignal(history, window=2).metrics_for("refund") == EvalMetrics(
        1.0, 0.0, 2
    )
    assert ApprovalHistorySignal(history, window=2).metrics_for("nothing") == EvalMetrics(
        0.0, 0.0, 0
    )
    assert isinstance(ApprovalHistorySignal(history), TrustSignal)


# --- TrustLayer with signals ---------------------------------------------------------
# Bars: SUPERVISED (0.80, 0.70, 50), AUTONOMOUS (0.95, 0.90, 200).

POLICY = TrustPolicy(
    {
        "refund": ActionClass("refund", RiskTier.REVERSIBLE_WRITE, Decimal(100), Decimal(1000)),
        "cancel": ActionClass("cancel", RiskTier.CONSEQUENTIAL, Decimal(10), Decimal(500)),
    },
    make_thresholds(),
)


class Audit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class TestConstructor:
    def test_metrics_and_signals_together_are_refused(self) -> None:
        with pytest.raises(ValueError, match="exactly one of 'metrics' or 'signals'"):
            TrustLayer(POLICY, Table(), Audit(), signals=[EvalSuiteSignal(Table())])

    def test_neither_is_refused(self) -> None:
        with pytest.raises(ValueError, match="exactly one"):
            TrustLayer(POLICY, audit=Audit())

    def test_audit_is_required(self) -> None:
        with pytest.raises(ValueError, match="AuditSink"):
            TrustLayer(POLICY, Table())
        with pytest.raises(ValueError, match="AuditSink"):
            TrustLayer(POLICY, signals=[EvalSuiteSignal(Table())])

    def test_tripped_verdict_is_checked_first(self) -> None:
        with pytest.raises(ValueError, match="tripped_verdict"):
            TrustLayer(POLICY, tripped_verdict=Verdict.ALLOW)

    def test_signals_is_keyword_only(self) -> None:
        with pytest.raises(TypeError):
            TrustLayer(POLICY, None, Audit(), None, Verdict.BLOCK, [])  # type: ignore[misc]

    def test_attributes(self) -> None:
        provider, audit = Table(), Audit()
        legacy = TrustLayer(POLICY, provider, audit)
        assert legacy.metrics is provider and legacy.audit is audit and legacy.policy is POLICY
        assert len(legacy.signals) == 1 and isinstance(legacy.signals[0], EvalSuiteSignal)
        assert legacy.signals[0].metrics_for("refund") == EvalMetrics(0.0, 0.0, 0)
        assert legacy.engine.thresholds is POLICY.thresholds
        assert legacy.tripped_verdict is Verdict.BLOCK
        signals = [Counted(EvalMetrics(1, 1, 1), True), Counted(EvalMetrics(1, 1, 1), False)]
        layer = TrustLayer(POLICY, audit=audit, signals=signals)
        assert layer.metrics is None and layer.signals == tuple(signals)

    def test_empty_signals_is_allowed_and_means_manual(self) -> None:
        layer = TrustLayer(POLICY, audit=Audit(), signals=[])
        d = layer.evaluate(ActionRequest("refund", "t", Decimal(1)))
        assert (d.verdict, d.autonomy_state) == (Verdict.REQUIRE_APPROVAL, M)


def test_each_signal_is_read_once_per_evaluate() -> None:
    a, b = Counted(EvalMetrics(0.99, 0.99, 500), True), Counted(EvalMetrics(0.9, 0.0, 100), False)
    layer = TrustLayer(POLICY, audit=Audit(), signals=[a, b])
    d = layer.evaluate(ActionRequest("refund", "t", Decimal(50)))
    assert (d.verdict, d.autonomy_state) == (Verdict.ALLOW, S)
    assert (a.reads, b.reads) == (1, 1)
    layer.evaluate(ActionRequest("refund", "t", Decimal(500)))
    assert (a.reads, b.reads) == (2, 2)


def test_no_signal_is_read_when_the_kill_switch_wins_or_the_action_is_unknown() -> None:
    a = Counted(EvalMetrics(0.99, 0.99, 500), True)
    ks = KillSwitch()
    layer = TrustLayer(POLICY, audit=Audit(), kill_switch=ks, signals=[a])
    ks.trip("refund")
    assert layer.evaluate(ActionRequest("refund", "t")).verdict is Verdict.BLOCK
    with pytest.raises(KeyError, match="nope"):
        layer.evaluate(ActionRequest("nope", "t"))
    assert a.reads == 0


@pytest.mark.parametrize("state_metrics", [EvalMetrics(0.5, 0.5, 10), EvalMetrics(0.9, 0.8, 100)])
@pytest.mark.parametrize("value", [None, "50", "500", "5000"])
def test_metrics_equals_one_eval_suite_signal(
    state_metrics: EvalMetrics, value: str | None
) -> None:
    req = ActionRequest("cancel", "t", None if value is None else Decimal(value))
    legacy = TrustLayer(POLICY, Table(cancel=state_metrics), Audit())
    explicit = TrustLayer(
        POLICY, audit=Audit(), signals=[EvalSuiteSignal(Table(cancel=state_metrics))]
    )
    assert legacy.evaluate(req) == explicit.evaluate(req)


def test_consequential_reaches_autonomous_only_with_an_adversarial_signal() -> None:
    history = InMemoryApprovalHistory()
    for _ in range(300):
        history.add(ApprovalRecord("cancel", True))
    approvals = ApprovalHistorySignal(history)
    req = ActionRequest("cancel", "t", Decimal(400))  # above auto_cap 10, within hard_cap 500
    alone = TrustLayer(POLICY, audit=Audit(), signals=[approvals]).evaluate(req)
    assert (alone.verdict, alone.autonomy_state) == (Verdict.REQUIRE_APPROVAL, S)
    evals = EvalSuiteSignal(Table(cancel=EvalMetrics(0.99, 0.99, 500)))
    both = TrustLayer(POLICY, audit=Audit(), signals=[approvals, evals]).evaluate(req)
    assert (both.verdict, both.autonomy_state) == (Verdict.ALLOW, A)
    # the metrics form of the same evals: one adversarial signal, AUTONOMOUS
    legacy = TrustLayer(POLICY, Table(cancel=EvalMetrics(0.99, 0.99, 500)), Audit()).evaluate(req)
    assert (legacy.verdict, legacy.autonomy_state) == (Verdict.ALLOW, A)


def test_graduation_from_approvals_alone_and_an_override_demotes() -> None:
    # "The last 10 approvals were clean": window 10, pass bar 1.0, 10 samples.
    policy = TrustPolicy(POLICY.actions, make_thresholds((1.0, 0.7, 10), (1.0, 0.9, 100)))
    history = InMemoryApprovalHistory()
    layer = TrustLayer(policy, audit=Audit(), signals=[ApprovalHistorySignal(history, window=10)])
    req = ActionRequest("refund", "t", Decimal(50))
    assert layer.evaluate(req).autonomy_state is M
    for _ in range(9):
        history.add(ApprovalRecord("refund", True))
    assert layer.evaluate(req).autonomy_state is M  # 9 of 10 samples
    history.add(ApprovalRecord("refund", True))
    d = layer.evaluate(req)
    assert (d.verdict, d.autonomy_state) == (Verdict.ALLOW, S)
    history.add(ApprovalRecord("refund", True, overridden=True))
    d = layer.evaluate(req)
    assert (d.verdict, d.autonomy_state) == (Verdict.REQUIRE_APPROVAL, M)


def test_hard_cap_blocks_whatever_the_signals() -> None:
    perfect = Counted(EvalMetrics(1.0, 1.0, 10_000), True)
    d = TrustLayer(POLICY, audit=Audit(), signals=[perfect]).evaluate(
        ActionRequest("refund", "t", Decimal("1000.01"))
    )
    assert (d.verdict, d.autonomy_state) == (Verdict.BLOCK, A)
