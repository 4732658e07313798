"""Trust signals that ship with warrantd, and approval history as evidence.

A trust signal (:class:`warrantd.protocols.TrustSignal`) is a metrics provider
that declares whether its metrics cover adversarial cases. Two come with the
core:

* :class:`EvalSuiteSignal` wraps any :class:`~warrantd.protocols.MetricsProvider`
  (an eval harness) and declares adversarial coverage. ``TrustLayer(policy,
  metrics, audit)`` is ``TrustLayer(policy, audit=audit,
  signals=[EvalSuiteSignal(metrics)])``.
* :class:`ApprovalHistorySignal` turns the decisions humans took on earlier
  requests (:class:`ApprovalRecord`) into metrics with
  :func:`approval_metrics`. It declares no adversarial coverage, so it is
  judged on pass rate and sample size only and can never, alone, lift a
  CONSEQUENTIAL class to AUTONOMOUS.

How readings combine is the graduation rule's business:
:meth:`warrantd.graduation.GraduationEngine.combined_allowed_state`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol, runtime_checkable

from .decision import EvalMetrics
from .protocols import MetricsProvider

__all__ = [
    "ApprovalHistorySignal",
    "ApprovalHistorySource",
    "ApprovalRecord",
    "EvalSuiteSignal",
    "InMemoryApprovalHistory",
    "approval_metrics",
]


@dataclass(frozen=True)
class ApprovalRecord:
    """What a human decided on one request of the action class ``action``.

    A record is *clean* when it was approved, not later ``overridden`` and its
    execution raised no ``error``. ``timestamp`` and ``approver`` are kept for
    stores and attribution; :func:`approval_metrics` does not read them.
    """

    action: str
    approved: bool
    overridden: bool = False
    error: bool = False
    timestamp: datetime | None = None
    approver: str | None = None


@runtime_checkable
class ApprovalHistorySource(Protocol):
    """Where the approval records of an action class come from.

    ``records_for`` returns them oldest first: a window keeps the last ones.
    """

    def records_for(self, action: str) -> Sequence[ApprovalRecord]:
        """The records of the action class named ``action``, oldest first."""
        ...


class InMemoryApprovalHistory:
    """An :class:`ApprovalHistorySource` held in a list, in the order added."""

    def __init__(self) -> None:
        self._records: list[ApprovalRecord] = []

    def add(self, record: ApprovalRecord) -> None:
        """Append ``record``."""
        self._records.append(record)

    def records_for(self, action: str) -> Sequence[ApprovalRecord]:
        """A new list of the records of ``action``, in the order they were added."""
        return [record for record in self._records if record.action == action]


def _is_clean(record: ApprovalRecord) -> bool:
    return record.approved and not record.overridden and not record.error


def approval_metrics(
    records: Sequence[ApprovalRecord], *, window: int | None = None
) -> EvalMetrics:
    """Approval history as eval metrics.

    Over the last ``window`` records (every record when ``window`` is None):
    ``pass_rate`` is the fraction that are clean, ``sample_size`` their
    number and ``adversarial_pass_rate`` is always 0.0, since approvals say
    nothing about adversarial inputs. No records (or ``window=0``) gives
    ``EvalMetrics(0.0, 0.0, 0)``.

    "The last N approvals were all clean" is ``window=N`` with the bars
    ``pass_rate = 1.0`` and ``min_samples = N``.
    """
    considered: Sequence[ApprovalRecord] = records
    if window is not None:
        # records[-window:], as published: a negative window (not a documented
        # use) therefore drops the *first* -window records.
        considered = records[-window:] if window else ()
    total = len(considered)
    if not total:
        return EvalMetrics(0.0, 0.0, 0)
    clean = sum(1 for record in considered if _is_clean(record))
    return EvalMetrics(clean / total, 0.0, total)


class EvalSuiteSignal:
    """A trust signal backed by an eval suite with adversarial cases.

    Reads its metrics from ``provider`` and declares adversarial coverage.
    """

    adversarial = True

    def __init__(self, provider: MetricsProvider) -> None:
        self._provider = provider

    def metrics_for(self, action: str) -> EvalMetrics:
        """The provider's metrics for ``action``."""
        return self._provider.metrics_for(action)


class ApprovalHistorySignal:
    """A trust signal from human approval decisions, without adversarial coverage.

    Reads ``source.records_for(action)`` and maps the last ``window`` records
    (all when None) with :func:`approval_metrics`. ``counts=True`` (opt-in: the
    published metrics carry no counts) adds the counts behind the rate (clean records
    of those considered, as the normal stream; no adversarial cases), which the
    ``wilson`` and ``anytime`` evidence rules need.
    """

    adversarial = False

    def __init__(
        self, source: ApprovalHistorySource, *, window: int | None = None, counts: bool = False
    ) -> None:
        self._source = source
        self._window = window
        self._counts = counts

    def metrics_for(self, action: str) -> EvalMetrics:
        """Approval metrics of ``action`` over the window (with counts if asked for)."""
        m = approval_metrics(self._source.records_for(action), window=self._window)
        if not self._counts:
            return m
        clean = round(m.pass_rate * m.sample_size)  # exact: clean / total * total
        return replace(
            m, n_normal=m.sample_size, passed_normal=clean, n_adversarial=0, passed_adversarial=0
        )
