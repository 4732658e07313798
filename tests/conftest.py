"""Shared test setup: Hypothesis profiles, small policy builders, the audit log backends.

Hypothesis profiles: ``ci`` (the default, and ``make test``) draws 100 examples per
property, Hypothesis's own default; ``thorough`` (``make test-thorough``) draws 10,000.
The other switch for slow repetitions is ``WARRANTD_THOROUGH=1``: tests that repeat one
check many times (differential cases, seeds, kills, writers) run one meaningful share of
them in ``make test`` and all of them under it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from warrantd import ActionClass, GraduationThresholds, RiskTier, TrustPolicy

from .helpers import make_thresholds

ANALYTICS_TESTS = Path(__file__).resolve().parent / "analytics"

settings.register_profile(
    "ci",
    max_examples=100,
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """One throwaway PostgreSQL server for the whole session (tests/pg_server.py); the
    tests that need it skip, saying why, only when none can be started here."""
    from .pg_server import Server, unavailable

    why = unavailable()
    if why is not None:
        pytest.skip(f"no PostgreSQL for the audit log tests: {why}")
    server = Server()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_dsn(postgres_server: Any) -> str:
    """A fresh, empty database on the session's server: its DSN."""
    return str(postgres_server.new_database())


@pytest.fixture(params=["sqlite", "postgres"])
def audit_backend(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """A fresh, empty audit log location in each backend (tests/auditlog_helpers.py):
    a SQLite file, and a database on the session's PostgreSQL server (skipped, saying
    why, when psycopg or a server is missing)."""
    from .auditlog_helpers import PostgresBackend, SQLiteBackend

    if request.param == "sqlite":
        return SQLiteBackend(tmp_path / "audit.db")
    pytest.importorskip("psycopg", reason="psycopg 3 (the postgres extra) not installed")
    return PostgresBackend(request.getfixturevalue("pg_dsn"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The analytics kit's tests run with coverage paused (pytest-cov's ``no_cover``): their
    time goes into pandas and differential loops, and line tracing slows those by a third
    or more, while ``make test`` gates only the core's coverage, which the core's own tests
    meet (tests/test_core.py, test_graduation.py, test_evidence.py, test_signals.py,
    test_policyfile.py, test_packaging.py and the core property modules alone give
    graduation 98%, decision 100%, core 95%, keys 100%, signals 100%)."""
    for item in items:
        if ANALYTICS_TESTS in item.path.parents:
            item.add_marker(pytest.mark.no_cover)
