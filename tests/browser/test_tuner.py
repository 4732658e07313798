"""The tuner in a real browser: JupyterLab on localhost, notebook 02 in headless Chromium.

Drives the system Chromium (/usr/bin/chromium, or ``chromium`` on the PATH) through
Playwright's ``executable_path``: no browser is ever downloaded. Skips, saying why,
only when Chromium or JupyterLab is missing. Redraw latency is measured in
benchmarks/bench_tune.py, not here.

One JupyterLab server, one browser page and one run of the notebook serve every test
here, in file order (each test also stands alone under ``-k``). No fixed sleeps: each
move waits for the tuner's redraw count (``data-rev`` on its status line) to change and
the kernel to be idle. ``make test`` takes every control to both ends (Home, End: each
bar's invalid region is at one of them); ``make test-thorough`` (WARRANTD_THOROUGH=1)
also walks each across its whole track by Page Up. The page is 1440x900 in JupyterLab's
default layout (the file browser open), where the tuner must fit (:func:`_fits`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from warrantd import load_policy

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "02-tune-thresholds.ipynb"
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
THOROUGH = bool(os.environ.get("WARRANTD_THOROUGH"))
LAB_CONFIG = ROOT / "notebooks" / "jupyter-config"  # what `make lab` layers in
SHOTS = (
    Path(os.environ.get("WARRANTD_SCREENSHOTS", ""))
    if os.environ.get("WARRANTD_SCREENSHOTS")
    else None
)

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Lab:
    """A JupyterLab server on localhost serving ``root`` (a working copy of notebook 02)."""

    url: str
    root: Path
    server: subprocess.Popen[bytes]

    def ready(self) -> None:
        """Wait until it answers, then start the notebook's kernel (see _wait_ready)."""
        _wait_ready(self.url, self.server, self.root)


def _jupyterlab() -> bool:
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if CHROMIUM is None:
        pytest.skip("no system Chromium (make browser installs Debian's)")
    if not _jupyterlab():
        pytest.skip("JupyterLab is not installed (the notebooks extra)")
    root = tmp_path_factory.mktemp("lab")
    # A working copy one level below a root holding datasets/, as `make lab` lays it out.
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, root / "notebooks" / NOTEBOOK)
    (root / "datasets").symlink_to(ROOT / "datasets")
    # No news prompt over the page (JupyterLab asks once whether to fetch news).
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(root / ".settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(root / ".workspaces"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "JUPYTER_CONFIG_PATH": str(LAB_CONFIG),
        # Its own data dir: the notebook signatures (trust) it writes stay in the test's.
        "JUPYTER_DATA_DIR": str(root / ".data"),
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
        # The page fixture launches Chromium while the server starts (Lab.ready waits).
        yield Lab(url, root, server)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_ready(url: str, server: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError((root / "lab.log").read_text()[-3000:]) from None
            time.sleep(0.2)
    # The notebook's kernel starts now, while the page loads: JupyterLab joins the session.
    request = urllib.request.Request(
        f"{url}/api/sessions",
        data=json.dumps(
            {"path": f"notebooks/{NOTEBOOK}", "name": NOTEBOOK, "type": "notebook",
             "kernel": {"name": "python3"}}
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=60).read()


KERNEL_IDLE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""
REVISION = """() => {
  const e = document.querySelector('.wd-tuner [data-rev]');
  return e ? e.dataset.rev : null;
}"""
NOTICE = ".wd-notice"
MODEL_NOT_FOUND = "model not found"


def _revision(page) -> str | None:  # type: ignore[no-untyped-def]
    return page.evaluate(REVISION)  # type: ignore[no-any-return]


def _redrawn(page, before: str | None) -> None:  # type: ignore[no-untyped-def]
    """Wait until the tuner has redrawn since ``before`` (its redraw count) and the
    kernel is idle again: a condition, never a fixed sleep."""
    page.wait_for_function(f"(r) => ({REVISION})() !== r", arg=before, timeout=60_000)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)


def _press(page, handle, key: str) -> bool:  # type: ignore[no-untyped-def]
    """Press ``key`` on a slider handle; wait for the redraw when the position moved."""
    position, rev = handle.get_attribute("aria-valuenow"), _revision(page)
    handle.press(key)
    if handle.get_attribute("aria-valuenow") == position:
        return False  # the end of the track: nothing was sent
    _redrawn(page, rev)
    return True


def _click(page, button) -> None:  # type: ignore[no-untyped-def]
    rev = _revision(page)
    button.click()
    _redrawn(page, rev)


def _errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    outputs = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    return [outputs.nth(i).inner_text() for i in range(outputs.count())]


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SHOTS:
        page.screenshot(path=str(SHOTS / name))


@pytest.fixture(scope="module")
def page(lab: Lab) -> Iterator[object]:
    """Notebook 02 open in Chromium at 1440x900, all cells run, the tuner in view."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        lab.ready()
        page.goto(f"{lab.url}/lab/tree/notebooks/{NOTEBOOK}")
        page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)
        page.wait_for_function(KERNEL_IDLE, timeout=120_000)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_selector(".wd-tuner .noUi-handle", timeout=120_000)
        page.get_by_text("[thresholds.supervised]").first.wait_for(timeout=120_000)
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        # JupyterLab's default layout, the file browser open: the notebook is about
        # 1440 - 300 px wide, and every check runs there (a user does not hide it first).
        assert page.locator("#jp-left-stack").is_visible()
        try:
            yield page
        finally:
            browser.close()


LAYOUT = """() => {
  const notebook = document.querySelector('.jp-NotebookPanel-notebook').getBoundingClientRect();
  const tuner = document.querySelector('.wd-tuner');
  const past = [];
  for (const e of tuner.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > notebook.right + 1) past.push(e.tagName + '.' + e.className);
  }
  const table = tuner.querySelectorAll('table.wd-figures')[1];  // per class (0: totals)
  const box = table.parentElement;
  const chart = tuner.querySelector('img');
  const shown = chart.getBoundingClientRect();
  return {past: past.slice(0, 5), tableWidth: box.scrollWidth, boxWidth: box.clientWidth,
          chart: [shown.width, shown.height, chart.naturalWidth, chart.naturalHeight]};
}"""


def _fits(page) -> None:  # type: ignore[no-untyped-def]
    """Nothing of the tuner reaches past the notebook's right edge, the per-class table
    fits its box (no scrolling needed), and the chart keeps the PNG's proportions."""
    layout = page.evaluate(LAYOUT)
    assert layout["past"] == [], layout
    assert layout["tableWidth"] <= layout["boxWidth"], layout
    width, height, natural_width, natural_height = layout["chart"]
    assert width > 300, layout  # drawn, and not squeezed to a thumbnail
    assert abs(width / height - natural_width / natural_height) < 0.02, layout


def _tuner(page):  # type: ignore[no-untyped-def]
    """The tuner, its top at the top of the notebook's view (where a person starts)."""
    tuner = page.locator(".wd-tuner").first
    tuner.evaluate("e => e.scrollIntoView({block: 'start'})")
    return tuner


def test_notebook_runs_and_every_control_reaches_both_ends(page, lab) -> None:  # type: ignore[no-untyped-def]
    root = lab.root
    assert _errors(page) == []
    assert (root / "notebooks" / "tuned.policy.toml").exists()  # the last cell wrote it
    tuner = _tuner(page)
    # A live tuner: its "run this cell again" notice is hidden.
    assert not page.locator(NOTICE).first.is_visible()
    _fits(page)
    _shot(page, "tuner-before.png")
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
        seen_invalid = changed = False
        handle.focus()
        for key in ("Home", "End"):
            _press(page, handle, key)
            said = status.inner_text()
            seen_invalid |= "Not a valid policy" in said
            # A move the app could not replay is said, not raised: never at any end.
            assert "Could not replay" not in said, f"slider {i}, {key}: {said}"
            changed |= figures.inner_text() != start_numbers
        if i < 6:  # every bar has a region above (below) the other state's bar
            assert seen_invalid, f"slider {i}: the invalid region was not explained"
        if i < 7:  # the bars and the window; a setting such as alpha matters only
            # under another (a bound-based evidence rule), so it may leave them be
            assert changed, f"slider {i}: the figures never changed"
        assert _errors(page) == [], f"slider {i}"
        _click(page, reset)
        assert figures.inner_text() == start_numbers


@pytest.mark.skipif(not THOROUGH, reason="make test-thorough: every track step by step")
def test_every_control_across_its_whole_track(page) -> None:  # type: ignore[no-untyped-def]
    tuner = _tuner(page)
    figures = tuner.locator(".wd-figures").nth(1)
    status = tuner.locator(".wd-problem, .wd-ok").first
    reset = tuner.get_by_role("button", name="Policy in force")
    handles = tuner.locator(".noUi-handle")
    for i in range(handles.count()):
        handle = handles.nth(i)
        start_numbers = figures.inner_text()
        seen_invalid = changed = False
        handle.focus()
        _press(page, handle, "Home")
        for _ in range(60):
            moved = _press(page, handle, "PageUp")
            said = status.inner_text()
            seen_invalid |= "Not a valid policy" in said
            assert "Could not replay" not in said, f"slider {i}: {said}"
            changed |= figures.inner_text() != start_numbers
            assert _errors(page) == [], f"slider {i}"
            if not moved:
                break
        else:
            pytest.fail(f"slider {i}: Page Up never reached the end of the track")
        if i < 6:
            assert seen_invalid, f"slider {i}: the invalid region was not explained"
        if i < 7:
            assert changed, f"slider {i}: the figures never changed"
        _click(page, reset)
        assert figures.inner_text() == start_numbers


def test_save_writes_a_policy_that_loads(page, lab) -> None:  # type: ignore[no-untyped-def]
    root = lab.root
    saved = root / "notebooks" / "tuned.policy.toml"
    tuner = _tuner(page)
    _click(page, tuner.get_by_role("button", name="Policy in force"))
    # Two steps up the SUPERVISED pass rate: 0.85 -> 0.87 (a tightening).
    handle = tuner.locator(".noUi-handle").nth(0)
    handle.focus()
    for _ in range(2):
        assert _press(page, handle, "ArrowRight")
    _fits(page)  # the changes in brackets widen the table: it still fits
    assert "1 key changed against the policy in force" in tuner.inner_text()
    assert "tightens" in tuner.inner_text()
    _shot(page, "tuner-after.png")
    tuner.locator(".wd-figures").nth(1).evaluate("e => e.scrollIntoView({block: 'start'})")
    _shot(page, "tuner-after-table.png")
    path = tuner.locator(".widget-text input").first
    save = tuner.get_by_role("button", name="Save as policy")
    message = tuner.locator(".wd-problem", has_text="Not saved")
    # A path that can be no file: one line at once, never "Replace it?" first.
    for given, said in (
        (str(root / "notebooks"), "is a directory (give a file name)"),
        ("", "the path is empty: give a file name"),
        (str(root / "nodir" / "x.toml"), "does not exist; create it first"),
    ):
        path.fill(given)
        save.click()
        message.filter(has_text=said).wait_for(timeout=30_000)
        assert message.count() == 1
        assert not tuner.get_by_text("Replace it?").is_visible()
    assert not (root / "nodir").exists()  # no folder made
    path.fill(str(saved))
    save.click()
    tuner.get_by_text("exists. Replace it?").wait_for(timeout=30_000)  # never replaced unasked
    assert load_policy(saved).thresholds.pass_rate[_sup()] == 0.85
    tuner.get_by_role("button", name="Replace it").click()
    tuner.get_by_text("Saved", exact=False).first.wait_for(timeout=30_000)
    # What the file changes against the policy file as loaded: the notebook's window too.
    changes = tuner.get_by_text("What the saved file changes", exact=False).locator("..")
    assert "graduation.window" in changes.inner_text()
    assert "either" in changes.inner_text()
    _fits(page)
    changes.evaluate("e => e.scrollIntoView({block: 'end'})")
    _shot(page, "tuner-saved.png")
    written = load_policy(saved)
    expected = load_policy(ROOT / "datasets" / "billing-agent.policy.toml")
    assert written.thresholds.pass_rate[_sup()] == 0.87
    assert written.thresholds.pass_rate[_aut()] == expected.thresholds.pass_rate[_aut()]
    assert written.thresholds.min_samples == expected.thresholds.min_samples
    assert written.actions == expected.actions
    assert str(written.graduation.window) == "30D"


def _dead_tuner_is_explained(page) -> None:  # type: ignore[no-untyped-def]
    """The notice is shown, JupyterLab's "model not found" line is not, and no control
    of the tuner is left on screen to move."""
    notice = page.locator(NOTICE).first
    notice.wait_for(state="visible", timeout=30_000)
    assert "run this cell again" in notice.inner_text()
    notice.scroll_into_view_if_needed()
    assert MODEL_NOT_FOUND not in page.locator(".jp-Notebook").inner_text()
    dead = page.locator(
        ".wd-tuner .noUi-handle:visible, .wd-tuner button:visible, .wd-tuner input:visible"
    )
    assert dead.count() == 0


def test_kernel_restart_says_run_this_cell_again(page) -> None:  # type: ignore[no-untyped-def]
    _tuner(page)
    page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    _dead_tuner_is_explained(page)
    _shot(page, "tuner-restarted.png")


def _reopen(page, path: str) -> None:  # type: ignore[no-untyped-def]
    page.evaluate(
        "(p) => { window.jupyterapp.commands.execute('docmanager:open', {path: p}); }", path
    )
    page.wait_for_function(KERNEL_IDLE, timeout=120_000)
    # The widget manager has answered for every widget output (drawn, or given up).
    page.wait_for_function(
        "() => !document.querySelector('.jp-Notebook') ? false : "
        "!document.querySelector('.jp-Notebook').innerText.includes('Loading widget')",
        timeout=60_000,
    )


def test_a_reopened_notebook_says_run_this_cell_again(page, lab) -> None:  # type: ignore[no-untyped-def]
    """Saved, closed, its kernel shut down, opened again: as `make lab` saves it (with
    the widget state: what the widgets last showed, dimmed, without controls); as
    JupyterLab saves it by default (trusted, no widget state: the model is gone, where
    JupyterLab alone says "Error displaying widget: model not found"); and untrusted
    (someone else's copy: no widget is drawn at all)."""
    from nbformat.sign import NotebookNotary

    root = lab.root
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    on_disk = root / "notebooks" / NOTEBOOK
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.evaluate("window.jupyterapp.shell.currentWidget.close()")
    page.evaluate(
        "async () => { const s = window.jupyterapp.serviceManager.sessions;"
        " for (const m of Array.from(s.running())) { await s.shutdown(m.id); } }"
    )
    book = nbformat.read(on_disk, as_version=4)
    assert "application/vnd.jupyter.widget-state+json" in book.metadata.get("widgets", {})
    # The same notebook as a JupyterLab without `make lab`'s setting saves it: without
    # the widget state, and signed as the server signs what its user ran.
    del book.metadata["widgets"]
    NotebookNotary(data_dir=str(root / ".data")).sign(book)
    nbformat.write(book, root / "notebooks" / "stateless.ipynb")
    book.metadata.pop("signature", None)
    book.cells[0].source += "\n# someone else's copy"
    nbformat.write(book, root / "notebooks" / "untrusted.ipynb")

    _reopen(page, f"notebooks/{NOTEBOOK}")
    _dead_tuner_is_explained(page)
    _shot(page, "tuner-reopened.png")
    page.evaluate("window.jupyterapp.shell.currentWidget.close()")

    _reopen(page, "notebooks/stateless.ipynb")
    assert page.locator(".jp-OutputArea-output.jp-mod-trusted").count() > 0  # trusted
    _dead_tuner_is_explained(page)
    # JupyterLab did write its line for the lost model; the notice's style hides it.
    lost = page.locator(".jp-OutputArea-output.jupyter-widgets", has_text=MODEL_NOT_FOUND)
    assert lost.count() == 1 and not lost.is_visible()
    _shot(page, "tuner-reopened-without-state.png")
    page.evaluate("window.jupyterapp.shell.currentWidget.close()")

    _reopen(page, "notebooks/untrusted.ipynb")
    _dead_tuner_is_explained(page)
    _shot(page, "tuner-reopened-untrusted.png")


def _sup():  # type: ignore[no-untyped-def]
    from warrantd import AutonomyState

    return AutonomyState.SUPERVISED


def _aut():  # type: ignore[no-untyped-def]
    from warrantd import AutonomyState

    return AutonomyState.AUTONOMOUS
