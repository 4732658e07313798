"""Evidence rules (point, wilson, anytime), counts on EvalMetrics, hysteresis, and the
TrustLayer's memory: expected answers worked by hand in the comments."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from warrantd import (
    ActionClass,
    ActionRequest,
    AutonomyState,
    EvalMetrics,
    GraduationEngine,
    RiskTier,
    TrustLayer,
    TrustPolicy,
    Verdict,
)
from warrantd.graduation import (
    CountsMissingError,
    GraduationSettings,
    SignalReading,
    anytime_log_evidence,
    anytime_lower_bound,
    anytime_met,
    anytime_prior,
    evidence_met,
    wilson_bounds,
    wilson_lower_bound,
    wilson_z,
)
from warrantd.signals import ApprovalHistorySignal, ApprovalRecord, InMemoryApprovalHistory

from .helpers import make_thresholds

M, S, A = AutonomyState.MANUAL, AutonomyState.SUPERVISED, AutonomyState.AUTONOMOUS
WRITE = ActionClass("w", RiskTier.REVERSIBLE_WRITE)
UNIFORM_SD = math.sqrt(1 / 12)  # the standard deviation of Beta(1, 1)


# --------------------------------------------------------------------------- wilson


def test_wilson_lower_bound_by_hand() -> None:
    # 95 of 100 at alpha 0.05: z = 1.6449, z^2 = 2.7055; denom = 1.027055;
    # centre = (0.95 + 0.0135276) / denom = 0.938146;
    # half = 1.6449 * sqrt(0.000475 + 0.0000676) / denom = 0.037307 -> 0.900839.
    assert wilson_z(0.05) == pytest.approx(1.644854, abs=1e-6)
    assert wilson_lower_bound(95, 100, 0.05) == pytest.approx(0.900839, abs=1e-6)


def test_wilson_two_sided_interval_by_hand() -> None:
    # 8 of 10 at z = 1.96: z^2 = 3.8416, denom = 1.38416, centre = 0.99208 / 1.38416
    # = 0.716738; half = 1.96 * sqrt(0.025604) / 1.38416 = 0.313624 / 1.38416 = 0.226581.
    lo, hi = wilson_bounds(0.8, 10, 1.96)
    assert lo == pytest.approx(0.490157, abs=1e-6)
    assert hi == pytest.approx(0.943319, abs=1e-6)


def test_wilson_edges() -> None:
    assert wilson_lower_bound(0, 0, 0.05) == 0.0  # no cases: nothing is known
    assert wilson_lower_bound(0, 50, 0.05) == 0.0  # never below 0, never above the rate
    # 10 of 10: (1 + z^2/20 - z^2/20) / (1 + z^2/10) = 1 / 1.270554 = 0.787058
    assert wilson_lower_bound(10, 10, 0.05) == pytest.approx(0.787058, abs=1e-6)


# --------------------------------------------------------------------------- anytime


def test_anytime_by_hand_with_a_uniform_prior() -> None:
    # At bar 0.5 a prior with standard deviation sqrt(1/12) is Beta(1, 1). After n passes
    # out of n: M = B(1 + n, 1) / B(1, 1) / 0.5^n = 2^n / (n + 1). At alpha 0.05 the bar
    # needs M >= 20: n = 7 gives 128 / 8 = 16, n = 8 gives 256 / 9 = 28.4.
    assert anytime_prior(0.5, UNIFORM_SD) == pytest.approx((1.0, 1.0))
    assert math.exp(anytime_log_evidence(7, 7, 0.5, sd=UNIFORM_SD)) == pytest.approx(16.0)
    assert math.exp(anytime_log_evidence(8, 8, 0.5, sd=UNIFORM_SD)) == pytest.approx(256 / 9)
    assert not anytime_met(7, 7, 0.5, 0.05, sd=UNIFORM_SD)
    assert anytime_met(8, 8, 0.5, 0.05, sd=UNIFORM_SD)
    # alpha 0.03 needs M >= 33.3: n = 8 (28.4) is not enough, n = 9 (51.2) is.
    assert not anytime_met(8, 8, 0.5, 0.03, sd=UNIFORM_SD)
    assert anytime_met(9, 9, 0.5, 0.03, sd=UNIFORM_SD)


def test_anytime_needs_the_rate_above_the_bar() -> None:
    # 0 of 20 is overwhelming evidence *against* 0.5 (M = 2^20 / 21), never for it.
    assert anytime_log_evidence(0, 20, 0.5, sd=UNIFORM_SD) > math.log(20)
    assert not anytime_met(0, 20, 0.5, 0.05, sd=UNIFORM_SD)
    assert not anytime_met(10, 20, 0.5, 0.05)  # exactly on the bar


def test_anytime_prior_is_centred_on_the_bar() -> None:
    # bar 0.95, sd 0.03: concentration 0.0475 / 0.0009 - 1 = 51.78; a = 49.19, b = 2.589
    a, b = anytime_prior(0.95)
    assert a / (a + b) == pytest.approx(0.95)
    assert a + b == pytest.approx(0.0475 / 0.0009 - 1)
    # a bar so near 1 that no Beta with sd 0.03 has it as mean: concentration 1
    assert sum(anytime_prior(0.9999)) == pytest.approx(1.0)


def test_anytime_edges() -> None:
    assert anytime_met(0, 0, 0.0, 0.05)  # a bar of 0 is always met
    assert not anytime_met(10**6, 10**6, 1.0, 0.05)  # a bar of 1 never is
    assert not anytime_met(0, 0, 0.5, 0.05)


def test_anytime_lower_bound_agrees_with_the_rule() -> None:
    # 950 of 1000 at bar 0.9: met, and the bound it reads is between the bar and the rate
    assert anytime_met(950, 1000, 0.9, 0.05)
    assert 0.9 <= anytime_lower_bound(950, 1000, 0.05, 0.9) < 0.95
    # 915 of 1000 at bar 0.9 is not met: the bound is below the bar
    assert not anytime_met(915, 1000, 0.9, 0.05)
    assert anytime_lower_bound(915, 1000, 0.05, 0.9) < 0.9


def test_anytime_is_stricter_than_wilson_is_stricter_than_point() -> None:
    # 98 of 100: centre (0.98 + 0.0135277) / 1.0270554 = 0.967355, half 1.6449 *
    # sqrt(0.000196 + 0.0000676) / 1.0270554 = 0.026005: Wilson lower bound 0.94135.
    assert wilson_lower_bound(98, 100, 0.05) == pytest.approx(0.94135, abs=1e-5)
    assert evidence_met("point", 98, 100, 0.98, 0.95, 0.05)
    assert not evidence_met("wilson", 98, 100, 0.98, 0.95, 0.05)
    assert evidence_met("wilson", 98, 100, 0.98, 0.94, 0.05)
    assert not evidence_met("anytime", 98, 100, 0.98, 0.95, 0.05)
    with pytest.raises(ValueError, match="unknown evidence rule 'bayes'"):
        evidence_met("bayes", 98, 100, 0.98, 0.95, 0.05)


# --------------------------------------------------------------------------- the engine


def engine(evidence: str = "point", alpha: float = 0.05, margin: float = 0.0) -> GraduationEngine:
    return GraduationEngine(
        make_thresholds((0.80, 0.70, 50), (0.95, 0.90, 200)),
        GraduationSettings(evidence=evidence, alpha=alpha, demotion_margin=margin),
    )


def test_counts_on_metrics_are_optional_and_after_the_published_fields() -> None:
    m = EvalMetrics(0.9, 0.8, 100)
    assert (m.n_normal, m.passed_normal, m.n_adversarial, m.passed_adversarial) == (None,) * 4
    assert EvalMetrics.from_counts(80, 72, 20, 16) == EvalMetrics(0.9, 0.8, 100, 80, 72, 20, 16)
    assert EvalMetrics.from_counts(0, 0, 0, 0) == EvalMetrics(0.0, 0.0, 0, 0, 0, 0, 0)


def test_point_rule_ignores_counts() -> None:
    # the counts say 0 of 100 passed; the point rule reads the rates only
    m = EvalMetrics(0.96, 0.92, 300, 100, 0, 200, 0)
    assert engine().allowed_state(WRITE, m) is A


def test_wilson_rule_reads_the_counts() -> None:
    # 285 of 300 normal (0.95) and 190 of 200 adversarial (0.95): the point rule gives
    # AUTONOMOUS. Wilson at 0.05, normal: centre (0.95 + 0.00451) / 1.00902 = 0.94599,
    # half 1.6449 * sqrt(0.000158 + 0.0000075) / 1.00902 = 0.02099, lower 0.92500: below
    # 0.95, above 0.80. Adversarial: centre 0.95676 / 1.01353 = 0.94400, half 1.6449 *
    # 0.015950 / 1.01353 = 0.02589, lower 0.91811 >= 0.90. So SUPERVISED.
    m = EvalMetrics.from_counts(300, 285, 200, 190)
    assert engine("point").allowed_state(WRITE, m) is A
    assert engine("wilson").allowed_state(WRITE, m) is S
    assert wilson_lower_bound(285, 300, 0.05) == pytest.approx(0.92500, abs=1e-4)
    assert wilson_lower_bound(190, 200, 0.05) == pytest.approx(0.91811, abs=1e-4)


def test_missing_counts_are_a_clear_error_never_a_fallback() -> None:
    with pytest.raises(CountsMissingError, match=r"action class 'w': evidence rule 'anytime'"):
        engine("anytime").allowed_state(WRITE, EvalMetrics(1.0, 1.0, 10_000))
    with pytest.raises(CountsMissingError, match="n_normal"):
        engine("wilson").combined_allowed_state(
            WRITE, [SignalReading(EvalMetrics(1.0, 1.0, 10_000), True)]
        )
    with pytest.raises(ValueError, match="passed_normal=11 is not between 0 and n_normal=10"):
        engine("wilson").allowed_state(WRITE, EvalMetrics(1.0, 1.0, 10, 10, 11, 0, 0))


def test_engine_rejects_bad_settings() -> None:
    for settings, message in [
        (GraduationSettings(evidence="bayes"), "unknown evidence rule"),
        (GraduationSettings(alpha=0.0), "alpha"),
        (GraduationSettings(demotion_margin=-0.1), "demotion_margin"),
    ]:
        with pytest.raises(ValueError, match=message):
            GraduationEngine(make_thresholds(), settings)


# --------------------------------------------------------------------------- hysteresis


def test_hysteresis_keeps_a_state_until_the_point_estimate_falls_below_bar_minus_margin() -> None:
    e = engine(margin=0.05)
    low = EvalMetrics(0.76, 0.9, 100)  # 0.76 < 0.80 but >= 0.80 - 0.05
    assert e.allowed_state(WRITE, low) is M  # nothing held: promotion needs the bar
    assert e.allowed_state(WRITE, low, current=S) is S
    assert e.allowed_state(WRITE, low, current=A) is S  # AUTONOMOUS lost, SUPERVISED kept
    assert e.allowed_state(WRITE, EvalMetrics(0.7499, 0.9, 100), current=S) is M
    assert e.allowed_state(WRITE, EvalMetrics(0.76, 0.9, 49), current=S) is M  # min_samples
    # AUTONOMOUS kept at 0.9 (>= 0.95 - 0.05) and adversarial 0.86 (>= 0.90 - 0.05)
    assert e.allowed_state(WRITE, EvalMetrics(0.90, 0.86, 200), current=A) is A
    assert e.allowed_state(WRITE, EvalMetrics(0.90, 0.86, 200), current=S) is S  # no promotion


def test_point_with_margin_zero_never_reads_the_current_state() -> None:
    e = engine()
    below = EvalMetrics(0.79, 0.9, 100)  # under the SUPERVISED bar 0.80
    assert e.allowed_state(WRITE, below, current=A) is e.allowed_state(WRITE, below) is M
    assert not GraduationSettings().holds_state


def test_a_bound_rule_demotes_on_the_estimate_even_with_margin_zero() -> None:
    """A bound that dips below the bar while the estimate stays above demotes nothing."""
    for rule in ("wilson", "anytime"):
        e = engine(rule)
        assert GraduationSettings(evidence=rule).holds_state
        # 96 of 100 on both streams: the point rule gives AUTONOMOUS; the bound clears
        # the SUPERVISED bars (0.80, 0.70) but not yet 0.95 and 0.90.
        m = EvalMetrics.from_counts(100, 96, 100, 96)
        assert engine().allowed_state(WRITE, m) is A
        assert e.allowed_state(WRITE, m) is S  # promotion waits for the bound
        # Already AUTONOMOUS: kept, 0.96 >= 0.95 and 0.96 >= 0.90.
        assert e.allowed_state(WRITE, m, current=A) is A
        # 94 of 100: 0.94 < 0.95, AUTONOMOUS lost at once (SUPERVISED still earned).
        low = EvalMetrics.from_counts(100, 94, 100, 96)
        assert e.allowed_state(WRITE, low, current=A) is S, rule


def test_hysteresis_under_anytime_promotes_on_evidence_and_demotes_on_the_estimate() -> None:
    e = engine("anytime", margin=0.02)
    m = EvalMetrics.from_counts(100, 96, 100, 96)
    assert e.allowed_state(WRITE, m) is S  # promotion to AUTONOMOUS waits for evidence
    assert e.allowed_state(WRITE, m, current=A) is A  # 0.96 >= 0.93 and 0.96 >= 0.88
    # 92 of 100: 0.92 < 0.93, AUTONOMOUS is lost at once
    assert e.allowed_state(WRITE, EvalMetrics.from_counts(100, 92, 100, 96), current=A) is S


def test_hysteresis_with_several_signals() -> None:
    e = engine(margin=0.05)
    readings = [
        SignalReading(EvalMetrics(0.77, 0.9, 100), True),
        SignalReading(EvalMetrics(0.78, 0.0, 100), False),  # no adversarial bar for it
    ]
    assert e.combined_allowed_state(WRITE, readings) is M
    assert e.combined_allowed_state(WRITE, readings, current=S) is S
    readings.append(SignalReading(EvalMetrics(0.74, 0.9, 100), True))
    assert e.combined_allowed_state(WRITE, readings, current=S) is M


# --------------------------------------------------------------------------- TrustLayer


class Table:
    def __init__(self, m: EvalMetrics) -> None:
        self.m = m

    def metrics_for(self, action: str) -> EvalMetrics:
        return self.m


class Audit:
    async def record(self, entry: object) -> None:
        pass


def layer(table: Table, margin: float, evidence: str = "point") -> TrustLayer:
    policy = TrustPolicy(
        {"w": WRITE},
        make_thresholds((0.80, 0.70, 50), (0.95, 0.90, 200)),
        GraduationSettings(evidence=evidence, demotion_margin=margin),
    )
    return TrustLayer(policy, table, Audit())


def test_trust_layer_remembers_the_last_state_per_class() -> None:
    table = Table(EvalMetrics(0.85, 0.8, 100))
    trust = layer(table, margin=0.05)
    req = ActionRequest("w", "t", Decimal("1"))
    assert trust.last_state("w") is None
    assert trust.evaluate(req).autonomy_state is S
    table.m = EvalMetrics(0.77, 0.8, 100)  # below 0.80, within the margin: kept
    assert trust.evaluate(req).autonomy_state is S
    assert trust.last_state("w") is S
    table.m = EvalMetrics(0.74, 0.8, 100)  # below 0.75: demoted at once
    decision = trust.evaluate(req)
    assert (decision.autonomy_state, decision.verdict) == (M, Verdict.REQUIRE_APPROVAL)
    table.m = EvalMetrics(0.77, 0.8, 100)  # back within the margin: not re-promoted
    assert trust.evaluate(req).autonomy_state is M
    trust.forget("w")
    assert trust.last_state("w") is None


def test_trust_layer_without_margin_remembers_nothing() -> None:
    table = Table(EvalMetrics(0.85, 0.8, 100))
    trust = layer(table, margin=0.0)
    trust.evaluate(ActionRequest("w", "t"))
    table.m = EvalMetrics(0.79, 0.8, 100)
    assert trust.evaluate(ActionRequest("w", "t")).autonomy_state is M
    assert trust.last_state("w") is None


def test_trust_layer_under_a_bound_rule_remembers_with_margin_zero() -> None:
    # 980 of 1,000 on both streams: the Wilson bound (0.971) clears 0.95 and 0.90.
    table = Table(EvalMetrics.from_counts(1_000, 980, 1_000, 980))
    trust = layer(table, margin=0.0, evidence="wilson")
    req = ActionRequest("w", "t")
    assert trust.evaluate(req).autonomy_state is A
    # 240 of 250 (0.96): the estimate is above 0.95, its bound (0.934) is not: kept.
    table.m = EvalMetrics.from_counts(250, 240, 250, 240)
    assert trust.engine.allowed_state(WRITE, table.m) is not A
    assert trust.evaluate(req).autonomy_state is A
    assert trust.last_state("w") is A


def test_a_restarted_trust_layer_keeps_what_it_is_handed_back() -> None:
    table = Table(EvalMetrics(0.85, 0.8, 100))
    trust = layer(table, margin=0.05)
    req = ActionRequest("w", "t")
    assert trust.evaluate(req).autonomy_state is S
    table.m = EvalMetrics(0.77, 0.8, 100)  # below 0.80, within the margin
    saved = trust.remembered()
    assert saved == {"w": S}
    fresh = layer(table, margin=0.05)
    assert fresh.engine.allowed_state(WRITE, table.m) is M  # judged afresh: dropped
    fresh.restore(saved)
    assert fresh.evaluate(req).autonomy_state is S  # held, as before the restart
    with pytest.raises(KeyError, match="nope"):
        fresh.restore({"nope": S})
    fresh.restore({"w": "supervised"})  # as JSON keeps it
    assert fresh.last_state("w") is S
    with pytest.raises(ValueError, match="'held' is not an autonomy state"):
        fresh.restore({"w": "held"})
    memoryless = layer(table, margin=0.0)
    memoryless.restore(saved)  # nothing is remembered under the published rule
    assert memoryless.last_state("w") is None
    assert memoryless.evaluate(req).autonomy_state is M


def test_trust_layer_under_anytime_needs_counts() -> None:
    trust = layer(Table(EvalMetrics(1.0, 1.0, 10_000)), margin=0.0, evidence="anytime")
    with pytest.raises(CountsMissingError, match="'w'"):
        trust.evaluate(ActionRequest("w", "t"))


def test_approval_history_signal_carries_counts_when_asked() -> None:
    history = InMemoryApprovalHistory()
    for i in range(10):
        history.add(ApprovalRecord("w", approved=True, error=(i == 0)))
    assert ApprovalHistorySignal(history).metrics_for("w") == EvalMetrics(0.9, 0.0, 10)
    m = ApprovalHistorySignal(history, counts=True).metrics_for("w")
    assert (m.pass_rate, m.sample_size) == (0.9, 10)
    assert (m.n_normal, m.passed_normal, m.n_adversarial, m.passed_adversarial) == (10, 9, 0, 0)


def test_settings_text_says_every_setting_that_is_not_the_default() -> None:
    from warrantd.graduation import GraduationSettings
    from warrantd.policy import settings_text

    assert settings_text(GraduationSettings()) == "window cumulative, evidence point"
    assert settings_text(GraduationSettings(window=500)) == "window 500 cases, evidence point"
    every = GraduationSettings(
        window="30D", evidence="anytime", alpha=0.01, demotion_margin=0.02, reset_on="v"
    )
    assert settings_text(every) == (
        "window 30D, evidence anytime (alpha 0.01), demotion margin 0.02, reset on v"
    )
    # A window given on the command line replaces the policy's.
    assert settings_text(every, window="cumulative").startswith("window cumulative, ")
