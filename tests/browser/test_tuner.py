"""The tuner in a real browser: JupyterLab on localhost, notebook 02 in headless Chromium.

Drives the system Chromium (/usr/bin/chromium, or ``chromium`` on the PATH) through
Playwright's ``executable_path``: no browser is ever downloaded. Skips, saying why,
only when Chromium or JupyterLab is missing. Redraw latency is measured in
benchmarks/bench_tune.py, not here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from warrantd import load_policy

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "02-tune-thresholds.ipynb"
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
SHOTS = (
    Path(os.environ.get("WARRANTD_SCREENSHOTS", ""))
    if os.environ.get("WARRANTD_SCREENSHOTS")
    else None
)

pytestmark = pytest.mark.browser


def _jupyterlab() -> bool:
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if CHROMIUM is None:
        pytest.skip("no system Chromium (make browser installs Debian's)")
    if not _jupyterlab():
        pytest.skip("JupyterLab is not installed (the notebooks extra)")
    root = tmp_path_factory.mktemp("lab")
    # A working copy one level below a root holding datasets/, as `make lab` lays it out.
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, root / "notebooks" / NOTEBOOK)
    (root / "datasets").symlink_to(ROOT / "datasets")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    log = (root / "lab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
            "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=", "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((root / "lab.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield url, root
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


KERNEL_IDLE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""


def _settle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_timeout(150)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.wait_for_timeout(100)


def _errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    outputs = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    return [outputs.nth(i).inner_text() for i in range(outputs.count())]


def test_tuner_in_jupyterlab(lab: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    url, root = lab
    saved = root / "notebooks" / "tuned.policy.toml"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{url}/lab/tree/notebooks/{NOTEBOOK}")
        page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)
        page.wait_for_function(KERNEL_IDLE, timeout=120_000)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".wd-tuner .noUi-handle", timeout=120_000)
        page.get_by_text("[thresholds.supervised]").first.wait_for(timeout=120_000)
        _settle(page)
        news = page.get_by_role("button", name="No")  # JupyterLab's news prompt, if any
        if news.count():
            news.first.click()
        page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
        assert _errors(page) == []
        assert saved.exists()  # the last cell wrote the settings in force
        tuner = page.locator(".wd-tuner").first
        tuner.scroll_into_view_if_needed()
        if SHOTS:
            page.screenshot(path=str(SHOTS / "tuner-before.png"))
        figures = tuner.locator(".wd-figures").nth(1)
        status = tuner.locator(".wd-problem, .wd-ok").first
        reset = tuner.get_by_role("button", name="Policy in force")
        handles = tuner.locator(".noUi-handle")
        # Three bars for each of two states, then the window (and, where the kit grades
        # by them, the evidence rule, alpha and the demotion margin).
        assert handles.count() >= 7
        for i in range(handles.count()):
            handle = handles.nth(i)
            start_numbers = figures.inner_text()
            seen_invalid = False
            changed = False
            handle.focus()
            handle.press("Home")
            _settle(page)
            for _ in range(40):
                before = handle.get_attribute("aria-valuenow")
                handle.press("PageUp")
                _settle(page)
                seen_invalid |= "Not a valid policy" in status.inner_text()
                changed |= figures.inner_text() != start_numbers
                if handle.get_attribute("aria-valuenow") == before:
                    break  # the end of the track
            handle.press("End")
            _settle(page)
            seen_invalid |= "Not a valid policy" in status.inner_text()
            if i < 6:  # every bar has a region above (below) the other state's bar
                assert seen_invalid, f"slider {i}: the invalid region was not explained"
            if i < 7:  # the bars and the window; a setting such as alpha matters only
                # under another (a bound-based evidence rule), so it may leave them be
                assert changed, f"slider {i}: the figures never changed"
            assert _errors(page) == [], f"slider {i}"
            reset.click()
            _settle(page)
            assert figures.inner_text() == start_numbers
        # Two steps up the SUPERVISED pass rate: 0.85 -> 0.87 (a tightening).
        handles.nth(0).focus()
        for _ in range(2):
            handles.nth(0).press("ArrowRight")
            _settle(page)
        assert "tightens" in tuner.inner_text()
        if SHOTS:
            page.screenshot(path=str(SHOTS / "tuner-after.png"))
        tuner.get_by_role("button", name="Save as policy").click()
        _settle(page)
        assert "exists. Replace it?" in tuner.inner_text()  # never replaced unasked
        assert load_policy(saved).thresholds.pass_rate[_sup()] == 0.85
        tuner.get_by_role("button", name="Replace it").click()
        _settle(page)
        assert "Saved" in tuner.inner_text()
        written = load_policy(saved)
        expected = load_policy(ROOT / "datasets" / "billing-agent.policy.toml")
        assert written.thresholds.pass_rate[_sup()] == 0.87
        assert written.thresholds.pass_rate[_aut()] == expected.thresholds.pass_rate[_aut()]
        assert written.thresholds.min_samples == expected.thresholds.min_samples
        assert written.actions == expected.actions
        assert str(written.graduation.window) == "30D"
        # A kernel restart leaves dead controls: the tuner says so in words.
        page.evaluate(
            "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()"
        )
        page.locator(".wd-dead").first.wait_for(state="visible", timeout=30_000)
        assert "run this cell again" in page.locator(".wd-dead").first.inner_text()
        if SHOTS:
            page.screenshot(path=str(SHOTS / "tuner-restarted.png"))
        browser.close()


def _sup():  # type: ignore[no-untyped-def]
    from warrantd import AutonomyState

    return AutonomyState.SUPERVISED


def _aut():  # type: ignore[no-untyped-def]
    from warrantd import AutonomyState

    return AutonomyState.AUTONOMOUS
