"""Shared test setup: Hypothesis profiles and small policy builders."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings

from warrantd import ActionClass, GraduationThresholds, RiskTier, TrustPolicy

from .helpers import make_thresholds

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def thresholds() -> GraduationThresholds:
    return make_thresholds()


@pytest.fixture
def policy(thresholds: GraduationThresholds) -> TrustPolicy:
    return TrustPolicy(
        actions={
            "read_ledger": ActionClass("read_ledger", RiskTier.READ),
            "issue_refund": ActionClass(
                "issue_refund", RiskTier.REVERSIBLE_WRITE, Decimal("100"), Decimal("1000")
            ),
            "open_ticket": ActionClass("open_ticket", RiskTier.REVERSIBLE_WRITE),
        },
        thresholds=thresholds,
    )
