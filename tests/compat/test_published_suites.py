"""The published test suites of warrantd 0.1.0 and warrantd-core 0.3.0, run against ours.

Each suite is taken from its source distribution at test time (``pip download
--no-binary :all:``, see ``published.py``; only its ``tests/`` directory is
extracted, nothing is copied into this repository) and run by pytest in a
subprocess of this interpreter, so ``import warrantd`` finds our package.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from .conftest import SUITES_RUN
from .published import CORE030, ROOT, V010, Published, ours_env, sdist_tests

#: Deselected published tests, each with its reason.
DESELECTED: dict[Published, dict[str, str]] = {
    V010: {},
    CORE030: {
        # It asserts warrantd.__version__ == importlib.metadata.version("warrantd-core"):
        # the *distribution name* warrantd-core, which ours is not (we are "warrantd").
        # Nothing about the API; the import package is the same.
        "tests/test_package.py::test_dunder_version_matches_distribution_metadata": (
            "checks the distribution is named warrantd-core; ours is named warrantd"
        ),
    },
}
#: How many tests each suite holds: a suite that shrank (or was not collected) fails.
EXPECTED_TESTS = {V010: 40, CORE030: 111}

INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


@pytest.mark.parametrize("pkg", [V010, CORE030], ids=lambda p: p.slug)
def test_published_suite_passes_against_ours(pkg: Published) -> None:
    suite = sdist_tests(pkg)
    (suite / "pytest.ini").write_text(INI)
    # The suite must import *our* warrantd: from this tree, not from anywhere else.
    where = subprocess.run(
        [sys.executable, "-c", "import warrantd; print(warrantd.__file__)"],
        cwd=suite,
        env=ours_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()) == ROOT / "warrantd" / "__init__.py"
    report = suite / "junit.xml"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        f"--junitxml={report}",
        *(f"--deselect={test}" for test in DESELECTED[pkg]),
        "tests",
    ]
    done = subprocess.run(
        cmd, cwd=suite, env=ours_env(), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{pkg.slug} suite failed:\n{done.stdout[-5000:]}{done.stderr}"
    totals = ET.parse(report).getroot()
    suite_node = totals if totals.tag == "testsuite" else totals.find("testsuite")
    assert suite_node is not None
    counts = {k: int(suite_node.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    passed = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    SUITES_RUN[pkg.slug] = (passed, len(DESELECTED[pkg]))
    assert counts["failures"] == counts["errors"] == counts["skipped"] == 0, counts
    assert passed + len(DESELECTED[pkg]) == EXPECTED_TESTS[pkg], counts
