"""The graduation rule: which autonomy state an action class has earned.

This module is the single source of truth for graduation. Every other path in
the project (replay, sweeps, forecasts) is proven equal to
:meth:`GraduationEngine.allowed_state` by differential tests, and the engine
itself is proven equal to the published ``warrantd`` 0.1.0 and
``warrantd-core`` 0.3.0 (``tests/compat``).

The rule, in full:

* A state ``S`` *qualifies* when all three of its bars are met:
  ``pass_rate >= pass_rate[S]``, ``adversarial_pass_rate >=
  adversarial_pass_rate[S]`` and ``sample_size >= min_samples[S]``. A metric
  exactly on a bar meets it. The bars are checked in that order and the check
  stops at the first one missed. :data:`CRITERIA` is that table (metric, bar,
  direction, what a bar may be), read by the policy loader, the sweep's grid
  check, the replay's binding bars and the forecast's ``blocked_on``.
* :meth:`GraduationEngine.allowed_state`: the states at or below the class's
  ``max_state`` are tried from the top (AUTONOMOUS, then SUPERVISED) and the
  first that qualifies is the allowed state; ``MANUAL`` when none does.
  ``max_state`` is the only ceiling: the risk tier does not cap a class here.
* :meth:`GraduationEngine.combined_allowed_state`, for several trust signals:
  a state is earned only when *every* reading qualifies for it (per-state AND);
  a reading whose signal declares no adversarial coverage is judged without
  the adversarial bar; AUTONOMOUS on a ``CONSEQUENTIAL`` class also needs at
  least one adversarial reading; no readings at all is no evidence: MANUAL.
  A single adversarial reading gives exactly :meth:`allowed_state`.

How a *rate* meets its bar is the policy's evidence rule (``[graduation] evidence``,
:class:`GraduationSettings`; :func:`evidence_met`), applied to the pass rate on the
normal cases and the adversarial pass rate on the adversarial cases, each on its own
counts (``min_samples`` is always a plain count):

* ``point`` (the default, the published rule): the observed rate meets the bar.
* ``wilson``: the one-sided Wilson score lower bound at confidence ``1 - alpha``
  (:func:`wilson_lower_bound`) meets the bar. A fixed-sample bound: it holds at one
  look, and a gate that looks after every case spends its ``alpha`` again at every
  look, so a class just below its bar is still promoted more often than ``alpha``.
* ``anytime``: the lower bound of a time-uniform confidence sequence at level
  ``alpha`` meets the bar (:func:`anytime_met`): a class whose true rate is below its
  bar is promoted, *ever*, with probability at most ``alpha``, however often the gate
  looks, provided the counts are one unbroken stream (cumulative, restarted only by
  ``reset_on``; a trailing window drops cases, and the guarantee does not carry over
  a window start).

Both bounds need counts: under ``wilson`` or ``anytime`` the metrics must carry the
:class:`~warrantd.EvalMetrics` count fields (:class:`CountsMissingError` otherwise,
never a silent fallback to the point rule).

Hysteresis (:attr:`GraduationSettings.holds_state`: a ``demotion_margin`` above 0, or a
bound rule): a class already in a state keeps it while its *point estimates* stay at
or above ``bar - margin`` (and ``sample_size`` at or above ``min_samples``); promotion
stays evidence-gated, demotion stays fast. Under ``wilson`` and ``anytime`` this holds
with margin 0 too: the bound must clear the bar to promote, but a class is demoted only
when its estimate falls below the bar, never because the bound wobbled under it while
the estimate stayed above. The caller passes the state it holds (``current``); the rule
stays a pure function. Under ``point`` with margin 0 the current state is not
consulted: the rule is memoryless, as published.

The functions are pure: no I/O, no clock, no randomness, no hidden state.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from .autonomy import AutonomyState
from .decision import ActionClass, EvalMetrics
from .risk import RiskTier

__all__ = [
    "ANYTIME_PRIOR_SD",
    "CRITERIA",
    "EVIDENCE_RULES",
    "CountsMissingError",
    "Criterion",
    "GraduationEngine",
    "GraduationSettings",
    "GraduationThresholds",
    "SignalReading",
    "anytime_log_evidence",
    "anytime_lower_bound",
    "anytime_met",
    "anytime_prior",
    "ceiling",
    "evidence_met",
    "wilson_bounds",
    "wilson_lower_bound",
    "wilson_z",
]

_MANUAL = AutonomyState.MANUAL
_AUTONOMOUS = AutonomyState.AUTONOMOUS
# Tried from the top: the first state that qualifies is the one earned.
_TOP_DOWN = (AutonomyState.AUTONOMOUS, AutonomyState.SUPERVISED)


@dataclass(frozen=True)
class GraduationThresholds:
    """The bars a class must clear to reach each state, keyed by target state.

    Each dict maps ``SUPERVISED`` and ``AUTONOMOUS`` to a bar; MANUAL is the
    floor and needs none.
    """

    pass_rate: dict[AutonomyState, float]
    adversarial_pass_rate: dict[AutonomyState, float]
    min_samples: dict[AutonomyState, int]


#: The evidence rules a policy may choose (``[graduation] evidence``): ``point`` holds
#: the observed rate against the bar (the published rule, the default).
EVIDENCE_RULES = ("point", "wilson", "anytime")


@dataclass(frozen=True)
class GraduationSettings:
    """How evidence is gathered and judged, beyond the bars: a policy's ``[graduation]``.

    ``window`` says which past cases count (:mod:`warrantd.window`: None for
    cumulative, a case count, or a span such as ``"30D"``; kept as written).
    ``evidence`` names the rule a rate is held to its bar by (one of
    :data:`EVIDENCE_RULES`) at level ``alpha``; ``demotion_margin`` lets a class
    keep a state until its rate falls that far below the bar; ``reset_on`` names a
    history column (e.g. ``agent_version``) whose change restarts a class's
    evidence. The defaults are the published behaviour: a policy without a
    ``[graduation]`` table graduates exactly as warrantd 0.1.0 does.
    """

    window: int | str | None = None
    evidence: str = "point"
    alpha: float = 0.05
    demotion_margin: float = 0.0
    reset_on: str | None = None

    @property
    def holds_state(self) -> bool:
        """Whether the state a class holds is consulted (hysteresis): under a demotion
        margin, and under a bound rule (``wilson``, ``anytime``), whose promotion reads
        the bound but whose demotion reads the point estimate, so a bound dipping below
        the bar while the estimate stays above it demotes nothing. False only for the
        published rule (``point``, margin 0), which is memoryless."""
        return self.demotion_margin > 0 or self.evidence != "point"


@dataclass(frozen=True)
class SignalReading:
    """One trust signal's evidence for one action, read once per evaluation.

    ``adversarial`` is the signal's declaration that its
    ``adversarial_pass_rate`` reflects real adversarial coverage (see
    :class:`warrantd.protocols.TrustSignal`).
    """

    metrics: EvalMetrics
    adversarial: bool


@dataclass(frozen=True)
class Criterion:
    """One bar of the rule: which metric is held against which threshold, and how.

    ``bar`` names the :class:`GraduationThresholds` field (and the policy-file key),
    ``metric`` the :class:`~warrantd.EvalMetrics` field it is held against,
    ``kind`` what a bar value may be (``"rate"``: a number in [0, 1]; ``"count"``: a
    whole number >= 0), ``label`` the words for people, ``adversarial`` whether it is
    the bar a signal without adversarial coverage is judged without. The direction
    is the same for every criterion: higher is better, and a metric exactly on its
    bar meets it (:meth:`met`).
    """

    bar: str
    metric: str
    kind: str
    label: str
    adversarial: bool = False
    #: For a rate: the :class:`~warrantd.EvalMetrics` count fields it is measured on
    #: (passed, total), which the evidence rules read; empty for a count.
    counts: tuple[str, str] | tuple[()] = ()

    @staticmethod
    def met(value: Any, bar: Any) -> Any:
        """Whether a metric ``value`` meets ``bar``: ``value >= bar`` (numbers or arrays)."""
        return value >= bar

    def kept(self, value: Any, bar: Any, margin: float) -> Any:
        """Whether a class already holding a state keeps it on this criterion under
        hysteresis: a rate at or above ``bar - margin``, a count at or above ``bar``
        (numbers or arrays)."""
        if self.kind == "count":
            return value >= bar
        return value >= bar - margin

    @staticmethod
    def ordered(supervised_bar: Any, autonomous_bar: Any) -> Any:
        """Whether an AUTONOMOUS bar is at least the SUPERVISED bar of the same criterion
        (the rule a valid policy obeys; numbers or arrays)."""
        return autonomous_bar >= supervised_bar

    def problem(self, value: object) -> str | None:
        """Why ``value`` cannot be a bar of this criterion; None when it can."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            what = "a whole number of cases" if self.kind == "count" else "a rate in [0, 1]"
            return f"{value!r} is not {what}"
        if self.kind == "count":
            if not isinstance(value, numbers.Integral):
                return f"{value!r} is not a whole number of cases"
            return f"{value} is negative" if value < 0 else None
        number = float(value)
        if math.isnan(number) or not 0.0 <= number <= 1.0:
            return f"{value} is outside [0, 1]"
        return None


#: The three bars, in the order the rule checks them (the published order).
CRITERIA: tuple[Criterion, ...] = (
    Criterion("pass_rate", "pass_rate", "rate", "pass rate", counts=("passed_normal", "n_normal")),
    Criterion(
        "adversarial_pass_rate",
        "adversarial_pass_rate",
        "rate",
        "adversarial pass rate",
        adversarial=True,
        counts=("passed_adversarial", "n_adversarial"),
    ),
    Criterion("min_samples", "sample_size", "count", "samples"),
)


# --------------------------------------------------------------------------- evidence rules


class CountsMissingError(ValueError):
    """A non-point evidence rule was asked to judge metrics that carry no case counts."""


def wilson_z(alpha: float) -> float:
    """The normal quantile of a one-sided bound at confidence ``1 - alpha``; 0 for an
    ``alpha`` of 0.5 or more, where the bound is the observed rate itself."""
    return max(NormalDist().inv_cdf(1.0 - alpha), 0.0)


def wilson_bounds(rate: Any, n: Any, z: float, sqrt: Callable[[Any], Any] = math.sqrt) -> Any:
    """The Wilson score interval ``(lower, upper)`` of a rate observed on ``n > 0`` cases,
    at normal quantile ``z`` (two-sided 95%: ``z = 1.96``; one-sided at ``1 - alpha``:
    :func:`wilson_z`).

    The one definition of the Wilson interval: plain arithmetic, so it takes numbers,
    or numpy arrays with ``sqrt=numpy.sqrt`` (the kit's vectorized rule and its display
    intervals call this function; both square roots are correctly rounded, so a
    vectorized answer is the scalar one to the bit). Not clipped to [0, 1].
    """
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (rate + z2 / (2.0 * n)) / denom
    half = z * sqrt(rate * (1.0 - rate) / n + z2 / (4.0 * n * n)) / denom
    return centre - half, centre + half


def _wilson_lower(rate: Any, n: Any, z: float, sqrt: Callable[[Any], Any]) -> Any:
    # No cases is rate 0 on one case, whose bound is exactly 0 after the clip below.
    lower = wilson_bounds(rate, n + (n == 0), z, sqrt)[0]
    # Clipped to [0, rate] (true of the exact bound; rounding can stray by an ulp).
    # Selection by multiplying with booleans keeps one expression for numbers and arrays.
    lower = lower * (lower > 0.0)
    return lower * (lower <= rate) + rate * (lower > rate)


def wilson_lower_bound(passed: int, n: int, alpha: float) -> float:
    """The one-sided Wilson lower bound at confidence ``1 - alpha`` of ``passed`` of
    ``n`` cases; 0.0 when ``n`` is 0."""
    rate = passed / n if n else 0.0
    return float(_wilson_lower(rate, n, wilson_z(alpha), math.sqrt))


#: The standard deviation of the anytime rule's Beta prior, which is centred on the bar
#: it tests (:func:`anytime_prior`): the prior spreads its weight over rates a few
#: points either side of the bar, where a class that must be told apart from its bar
#: lives. Chosen by ``benchmarks/bench_evidence.py`` (README, "Evidence rules"): over
#: bars 0.8, 0.95 and 0.99, 0.03 promoted a class just above its bar in about the
#: fewest cases at every bar, where any one fixed concentration was fastest at one bar
#: only; the guarantee holds whatever the prior.
ANYTIME_PRIOR_SD = 0.03


def anytime_prior(bar: float, sd: float = ANYTIME_PRIOR_SD) -> tuple[float, float]:
    """The anytime rule's prior for ``0 < bar < 1``: ``Beta(a, b)`` with mean ``bar`` and
    standard deviation ``sd`` (concentration ``a + b = bar (1 - bar) / sd**2 - 1``, at
    least 1 for bars so near 0 or 1 that no Beta with that spread has that mean)."""
    strength = max(bar * (1.0 - bar) / (sd * sd) - 1.0, 1.0)
    return strength * bar, strength * (1.0 - bar)


def anytime_log_evidence(
    passed: Any,
    n: Any,
    bar: float,
    lgamma: Callable[[Any], Any] = math.lgamma,
    sd: float = ANYTIME_PRIOR_SD,
) -> Any:
    """``log M_n(bar)``: the log of the Beta-Bernoulli mixture martingale against a true
    pass rate of ``bar`` after ``passed`` of ``n`` cases (``0 < bar < 1``).

    ``M_n(p) = B(a + passed, b + failed) / B(a, b) / (p**passed * (1 - p)**failed)``
    with the prior ``Beta(a, b)`` of :func:`anytime_prior` (mean ``bar``, standard
    deviation ``sd``; the rule's is :data:`ANYTIME_PRIOR_SD`, other values are for
    measuring that choice). The prior depends on the bar only, which is fixed before
    any case is seen. For every fixed ``p`` it is a nonnegative
    martingale with ``M_0 = 1`` when the cases pass with probability ``p``, so by
    Ville's inequality it ever reaches ``1 / alpha`` with probability at most ``alpha``.
    Plain arithmetic around ``lgamma``: numbers, or numpy arrays with an elementwise
    ``lgamma`` (the kit maps :func:`math.lgamma` itself over the distinct counts, so a
    vectorized answer is the scalar one to the bit).
    """
    a, b = anytime_prior(bar, sd)
    log_beta_prior = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    failed = n - passed
    return (
        lgamma(a + passed)
        + lgamma(b + failed)
        - lgamma(a + b + n)
        - log_beta_prior
        - passed * math.log(bar)
        - failed * math.log1p(-bar)
    )


def _anytime_met(
    passed: Any,
    n: Any,
    rate: Any,
    bar: float,
    alpha: float,
    lgamma: Callable[[Any], Any],
    sd: float = ANYTIME_PRIOR_SD,
) -> Any:
    if bar <= 0.0:  # every rate is at least 0
        return rate >= bar
    if bar >= 1.0:  # no finite record bounds a rate at 1 from below
        return rate > 1.0
    # The confidence sequence {p : M_n(p) < 1/alpha} (prior fixed by the bar) excludes
    # every p below the bar exactly when the observed rate is above the bar and
    # M_n(bar) >= 1/alpha: M_n(p) falls as p rises towards the observed rate.
    evidence = anytime_log_evidence(passed, n, bar, lgamma, sd) >= -math.log(alpha)
    return (rate > bar) & evidence


def anytime_met(
    passed: int, n: int, bar: float, alpha: float, sd: float = ANYTIME_PRIOR_SD
) -> bool:
    """Whether the anytime lower bound of ``passed`` of ``n`` cases at level ``alpha``
    meets ``bar`` (see :func:`anytime_log_evidence`): every rate below ``bar`` is
    excluded by the confidence sequence whose prior is centred on ``bar``."""
    rate = passed / n if n else 0.0
    return bool(_anytime_met(passed, n, rate, bar, alpha, math.lgamma, sd))


def anytime_lower_bound(passed: int, n: int, alpha: float, bar: float) -> float:
    """The lower end of the anytime confidence sequence built for ``bar`` (its prior is
    centred there), to within 1e-9: the least rate it does not exclude. For reading
    only; the rule is :func:`anytime_met`, and ``anytime_lower_bound(...) >= bar``
    agrees with it (up to that tolerance)."""
    if n == 0 or not 0.0 < bar < 1.0:
        return 0.0
    rate = passed / n
    threshold = -math.log(alpha)
    a, b = anytime_prior(bar)
    mixture = math.lgamma(a + passed) + math.lgamma(b + n - passed) - math.lgamma(a + b + n)
    mixture -= math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def excluded(p: float) -> bool:  # 0 < p < rate <= 1
        return mixture - (passed * math.log(p) + (n - passed) * math.log1p(-p)) >= threshold

    low, high = 0.0, rate  # every p near 0 is excluded once a case passed; the rate never
    if passed == 0:
        return 0.0
    while high - low > 1e-9:
        mid = (low + high) / 2.0
        if excluded(mid):
            low = mid
        else:
            high = mid
    return low


def evidence_met(
    rule: str,
    passed: Any,
    n: Any,
    rate: Any,
    bar: float,
    alpha: float,
    *,
    sqrt: Callable[[Any], Any] = math.sqrt,
    lgamma: Callable[[Any], Any] = math.lgamma,
) -> Any:
    """Whether a rate observed as ``passed`` of ``n`` cases meets ``bar`` under the
    evidence ``rule`` at level ``alpha``: the one definition of the evidence rules.

    ``rate`` is the point estimate (``passed / n``; 0.0 with no cases), the only thing
    ``point`` reads. Counts and rates may be numbers or numpy arrays (with ``sqrt`` and
    an elementwise ``lgamma`` for arrays, see :func:`wilson_bounds` and
    :func:`anytime_log_evidence`); ``bar`` and ``alpha`` are numbers.
    """
    if rule == "point":
        return rate >= bar
    if rule == "wilson":
        return _wilson_lower(rate, n, wilson_z(alpha), sqrt) >= bar
    if rule == "anytime":
        return _anytime_met(passed, n, rate, bar, alpha, lgamma)
    raise ValueError(
        f"unknown evidence rule {rule!r} (expected one of {', '.join(EVIDENCE_RULES)})"
    )


def ceiling(action_class: ActionClass) -> AutonomyState:
    """The highest state ``action_class`` may reach: its ``max_state``."""
    return action_class.max_state


class GraduationEngine:
    """Computes the autonomy state that eval metrics have earned.

    ``settings`` (optional, after the published argument) chooses the evidence rule, its
    level and the demotion margin (:class:`GraduationSettings`; ``window`` and
    ``reset_on`` say which cases the metrics hold, which is the provider's business).
    The default is the published rule.
    """

    __slots__ = ("_hysteresis", "_rule", "settings", "thresholds")

    def __init__(
        self, thresholds: GraduationThresholds, settings: GraduationSettings | None = None
    ) -> None:
        settings = GraduationSettings() if settings is None else settings
        if settings.evidence not in EVIDENCE_RULES:
            rules = ", ".join(EVIDENCE_RULES)
            raise ValueError(
                f"unknown evidence rule {settings.evidence!r} (expected one of {rules})"
            )
        if not 0.0 < settings.alpha < 1.0:
            raise ValueError(f"alpha must be strictly between 0 and 1, not {settings.alpha!r}")
        if not 0.0 <= settings.demotion_margin <= 1.0:
            raise ValueError(f"demotion_margin must be in [0, 1], not {settings.demotion_margin!r}")
        self.thresholds = thresholds
        self.settings = settings
        self._rule = settings.evidence
        self._hysteresis = settings.holds_state

    def _rate_met(self, criterion: Criterion, m: EvalMetrics, bar: float) -> bool:
        rule = self._rule
        if rule == "point":
            return bool(getattr(m, criterion.metric) >= bar)
        passed_field, total_field = criterion.counts  # type: ignore[misc]
        passed, total = getattr(m, passed_field), getattr(m, total_field)
        if passed is None or total is None:
            raise CountsMissingError(
                f"evidence rule {rule!r} needs case counts, but the metrics carry no "
                f"{passed_field}/{total_field}: supply them (EvalMetrics count fields) "
                f'or use evidence = "point"'
            )
        if not 0 <= passed <= total:
            raise ValueError(
                f"{passed_field}={passed!r} is not between 0 and {total_field}={total!r}"
            )
        rate = passed / total if total else 0.0
        return bool(evidence_met(rule, passed, total, rate, bar, self.settings.alpha))

    def qualifies(
        self, state: AutonomyState, m: EvalMetrics, *, check_adversarial: bool = True
    ) -> bool:
        """True when ``m`` meets every bar of ``state`` under the evidence rule.

        ``check_adversarial=False`` leaves out the adversarial-pass-rate bar (for
        signals without adversarial coverage); ``pass_rate`` and ``min_samples``
        always apply. The bars are looked up for ``state`` as given: MANUAL has
        none in a valid policy, so asking for it raises ``KeyError``. Under
        ``wilson`` or ``anytime`` a rate bar reads the metrics' counts
        (:class:`CountsMissingError` when they have none).
        """
        t = self.thresholds
        if self._rule == "point":  # the published rule, kept on its fast path
            return (
                m.pass_rate >= t.pass_rate[state]
                and (
                    not check_adversarial
                    or m.adversarial_pass_rate >= t.adversarial_pass_rate[state]
                )
                and m.sample_size >= t.min_samples[state]
            )
        for criterion in CRITERIA:
            if criterion.adversarial and not check_adversarial:
                continue
            bar = getattr(t, criterion.bar)[state]
            if criterion.kind == "count":
                met = criterion.met(getattr(m, criterion.metric), bar)
            else:
                met = self._rate_met(criterion, m, bar)
            if not met:
                return False
        return True

    def keeps(
        self, state: AutonomyState, m: EvalMetrics, *, check_adversarial: bool = True
    ) -> bool:
        """True when a class already holding ``state`` keeps it under hysteresis: every
        rate's point estimate at or above its bar minus ``demotion_margin``, and
        ``sample_size`` at or above ``min_samples`` (:meth:`Criterion.kept`)."""
        t, margin = self.thresholds, self.settings.demotion_margin
        return all(
            criterion.kept(getattr(m, criterion.metric), getattr(t, criterion.bar)[state], margin)
            for criterion in CRITERIA
            if check_adversarial or not criterion.adversarial
        )

    def allowed_state(
        self, ac: ActionClass, m: EvalMetrics, current: AutonomyState | None = None
    ) -> AutonomyState:
        """The highest state at or below ``ac.max_state`` whose bars ``m`` meets.

        ``current``: the state the class holds now. Under hysteresis
        (:attr:`GraduationSettings.holds_state`) a state at or below it is kept while
        :meth:`keeps` holds; otherwise it is not read.
        """
        try:
            return self._allowed(ac, m, current)
        except CountsMissingError as exc:
            raise CountsMissingError(f"action class {ac.name!r}: {exc}") from None

    def _allowed(
        self, ac: ActionClass, m: EvalMetrics, current: AutonomyState | None
    ) -> AutonomyState:
        top = ac.max_state
        hold = self._hysteresis and current is not None
        for state in _TOP_DOWN:
            if state > top:
                continue
            if self.qualifies(state, m):
                return state
            if hold and current >= state and self.keeps(state, m):  # type: ignore[operator]
                return state
        return min(_MANUAL, top)

    def combined_allowed_state(
        self,
        ac: ActionClass,
        readings: Sequence[SignalReading],
        current: AutonomyState | None = None,
    ) -> AutonomyState:
        """The highest state at or below ``ac.max_state`` that every reading earns.

        Conservative AND, per state and independent of the readings' order; a
        non-adversarial reading is judged without the adversarial bar;
        AUTONOMOUS on a ``CONSEQUENTIAL`` class needs at least one adversarial
        reading; no readings means MANUAL. ``current`` as in :meth:`allowed_state`: a
        state at or below it is kept while every reading :meth:`keeps` it.
        """
        try:
            return self._combined(ac, readings, current)
        except CountsMissingError as exc:
            raise CountsMissingError(f"action class {ac.name!r}: {exc}") from None

    def _combined(
        self,
        ac: ActionClass,
        readings: Sequence[SignalReading],
        current: AutonomyState | None,
    ) -> AutonomyState:
        top = ac.max_state
        if not readings:
            return min(_MANUAL, top)
        hold = self._hysteresis and current is not None
        for state in _TOP_DOWN:
            if state > top:
                continue
            if (
                state is _AUTONOMOUS
                and ac.risk is RiskTier.CONSEQUENTIAL
                and not any(r.adversarial for r in readings)
            ):
                continue
            if all(
                self.qualifies(state, r.metrics, check_adversarial=r.adversarial) for r in readings
            ):
                return state
            if (
                hold
                and current >= state  # type: ignore[operator]
                and all(
                    self.keeps(state, r.metrics, check_adversarial=r.adversarial) for r in readings
                )
            ):
                return state
        return min(_MANUAL, top)
