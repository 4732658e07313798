"""Fixtures of the compatibility tests: the published packages and their workers."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from .published import CORE030, V010, Worker, venv_python

#: Cases compared per differential test: {test name: count}, for the summary line.
COMPARED: dict[str, int] = {}
#: Published suites run against ours: {slug: (passed, deselected)}.
SUITES_RUN: dict[str, tuple[int, int]] = {}


@pytest.fixture(scope="session")
def workers() -> Iterator[dict[str, Worker]]:
    """Worker processes on ours, on warrantd 0.1.0 and on warrantd-core 0.3.0."""
    pythons = {"0.1.0": venv_python(V010), "core-0.3.0": venv_python(CORE030)}
    started = {"ours": Worker(sys.executable, "ours")}
    started.update({label: Worker(python, label) for label, python in pythons.items()})
    try:
        yield started
    finally:
        for worker in started.values():
            worker.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for slug, (passed, deselected) in SUITES_RUN.items():
        terminalreporter.write_line(
            f"published suite {slug} against ours: {passed} passed, {deselected} deselected"
        )
    if COMPARED:
        total = sum(COMPARED.values())
        parts = ", ".join(f"{name} {n:,}" for name, n in COMPARED.items())
        terminalreporter.write_line(
            f"differential vs warrantd 0.1.0 / warrantd-core 0.3.0: {total:,} cases, "
            f"0 differences ({parts})"
        )
