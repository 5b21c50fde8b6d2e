"""Chapter 4 live, as ``make lab`` opens it: JupyterLab on 127.0.0.1 in headless Chromium.

``python -m llu_core.report.lab`` writes the working copies and starts JupyterLab with the
project's environment (this interpreter's); Chromium, driven through Debian's chromedriver
(tests/helpers/browser.py), opens chapter 4's copy, runs every cell (the parameters cell made
small, as papermill would), then reads the page as a reader sees it: the prose with its
numbers and citations resolved and no MyST markup left, the figure captions, the bookkeeping
cells collapsed; and moves the controls with the keyboard: β and γ of the live sliders, which
must redraw the figure and change the accuracies, and the static control below them.
Screenshots (1280 px wide) are left in the test's temporary folder.
"""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from browser import ARROW_LEFT, ARROW_RIGHT, Browser
from llu_core.report.lab import NOT_RUN
from llu_core.utils.io import read_json, write_json

CHAPTER = "04_local_mask.ipynb"
#: Small parameters (as papermill would inject them), so that the run takes seconds, not a minute.
SMALL = {"train_per_class": 20, "test_per_class": 40, "shots": 4, "gammas": [0.0, 20.0, 1000.0]}
#: How long all cells may take, and JupyterLab to start, in seconds.
RUN_LIMIT, START_LIMIT = 240, 90
RAW_MYST = re.compile(r"\{(glue:text|glue|cite|cite:t|numref|doc|ref|eval)\}`|^\([\w-]+\)=$", re.M)
NOTEBOOK = "window.jupyterapp.shell.currentWidget.content"


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _small(folder):
    """Append the small parameters to the parameters cell of chapter 4's working copy."""
    path = folder / "notebooks" / CHAPTER
    notebook = read_json(path)
    cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = "".join(cell["source"]) + "".join(f"\n{k} = {v!r}" for k, v in SMALL.items())
    write_json(path, notebook)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The URL of a JupyterLab serving the working copies, stopped after the module."""
    from llu_core.report.lab import make_working_copies
    from llu_core.utils.locations import checkout_root

    folder = tmp_path_factory.mktemp("lab")
    make_working_copies(checkout_root(), folder)
    _small(folder)
    port, token = _free_port(), secrets.token_hex(16)
    log = open(folder / "jupyterlab.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "llu_core.report.lab", "--folder", str(folder), "--port", str(port),
                               "--", "--no-browser", f"--IdentityProvider.token={token}",
                               "--LabApp.expose_app_in_browser=True"], stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, TQDM_DISABLE="1"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_LIMIT
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        assert server.poll() is None, (folder / "jupyterlab.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "JupyterLab did not start within START_LIMIT s"
        time.sleep(0.5)
    yield f"{url}/lab/tree/{CHAPTER}?reset&token={token}", folder
    server.terminate()
    server.wait(timeout=30)
    log.close()


def wait_for(browser, script, limit, what):
    """Poll ``script`` (JavaScript returning a value) until it is truthy; return that value."""
    deadline = time.monotonic() + limit
    while True:
        value = browser.run(script)
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} within {limit} s"
        time.sleep(0.5)


def run_all(browser):
    """Run every cell of the open notebook and wait until the kernel has run them all."""
    wait_for(browser, f"return window.jupyterapp && window.jupyterapp.shell.currentWidget "
                      f"&& {NOTEBOOK}.widgets.length > 0 "
                      f"&& window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'",
             START_LIMIT, "the notebook did not open with an idle kernel")
    browser.run("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    wait_for(browser, f"""const cells = {NOTEBOOK}.widgets;
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        const shown = cells.flatMap(c => c.model.getMetadata('user_expressions') || [])
            .map(e => (e.result.data || {{}})['text/plain']);
        return kernel.status === 'idle' && cells.every(c => c.model.type !== 'code' || c.model.executionCount)
            && shown.length > 0 && !shown.includes({json.dumps(NOT_RUN)});""", RUN_LIMIT, "the cells did not all run")


def settle(browser, view, limit=60):
    """Wait until the kernel is idle and ``view`` (a script) returns the same twice, a second apart."""
    idle = "return window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle';"
    deadline, last = time.monotonic() + limit, None
    while True:
        now = browser.run(view) if browser.run(idle) else None
        if now is not None and now == last:
            return now
        assert time.monotonic() < deadline, f"the sliders' view did not settle within {limit} s"
        last = now
        time.sleep(1)


def errors(browser):
    return browser.run(f"""return {NOTEBOOK}.widgets.filter(c => c.model.type === 'code')
        .flatMap(c => c.model.sharedModel.outputs.filter(o => o.output_type === 'error')
        .map(o => o.ename + ': ' + o.evalue));""")


def scroll_to(browser, css):
    browser.run(f"document.querySelector({json.dumps(css)}).scrollIntoView({{block: 'center'}});")
    time.sleep(0.5)


def test_chapter_4_runs_live_and_reads_like_the_page(lab, tmp_path):
    url, folder = lab
    browser = Browser(width=1280, height=900)
    try:
        browser.open(url)
        run_all(browser)
        assert errors(browser) == []
        text = browser.run(f"return {NOTEBOOK}.node.innerText;")
        browser.run(f"[...{NOTEBOOK}.node.querySelectorAll('.jp-MarkdownCell')]"
                    ".find(c => c.innerText.includes('In Fig. 4.3')).scrollIntoView({block: 'center'});")
        browser.screenshot(tmp_path / "lab_prose.png")

        # The prose reads like the page: numbers, citations, figure numbers, no MyST markup.
        assert not RAW_MYST.search(text), RAW_MYST.search(text)
        assert "(Ibing et al., 2022)" in text
        assert re.search(r"In Fig\. 4\.3, at β = 0\.5 and γ = 20, base-class test images receive a mean α of "
                         r"\d\.\d{3}", text), text[:3000]
        assert "Fig. 4.1." in text and "Fig. 4.2." in text
        # Bookkeeping stays collapsed: its code is not on the page.
        bookkeeping = browser.run(f"""return {NOTEBOOK}.widgets.filter(c => (c.model.getMetadata('tags') || [])
            .includes('remove-cell')).map(c => [c.inputHidden, c.outputArea.node.innerText.trim()]);""")
        assert len(bookkeeping) == 7 and all(hidden and not output for hidden, output in bookkeeping), bookkeeping
        assert "write_json(results_path" not in text and "glue(" not in text

        # The live sliders: β and γ by keyboard redraw the figure and change the accuracies.
        live = ".jp-OutputArea .widget-vbox"
        scroll_to(browser, live)
        figure, numbers = f"{live} .widget-image", f"{live} .widget-html"
        handles = browser.run(f"""const found = document.querySelectorAll('{live} .noUi-handle');
            found.forEach((handle, i) => handle.setAttribute('id', 'lab-test-handle-' + i)); return found.length;""")
        assert handles == 2
        view = f"return [document.querySelector('{figure}').src, document.querySelector('{numbers}').innerText, " \
               f"[...document.querySelectorAll('{live} .widget-readout')].map(r => r.innerText)];"
        before = browser.run(view)
        browser.press(browser.find("#lab-test-handle-0"), ARROW_LEFT * 10)  # β: 0.5 → 0, the update off
        after_beta = wait_for(browser, f"""const now = (() => {{ {view} }})();
            return now[0] !== {json.dumps(before[0])} && now[1] !== {json.dumps(before[1])} && now;""",
                              60, "β's slider did not redraw the figure and the numbers")
        assert after_beta[2][0] == "0.00", after_beta[2]
        browser.press(browser.find("#lab-test-handle-1"), ARROW_RIGHT * 3)
        after_gamma = wait_for(browser, f"""const now = (() => {{ {view} }})();
            return now[0] !== {json.dumps(after_beta[0])} && now;""", 60, "γ's slider did not redraw the figure")
        assert after_gamma[2][1] != before[2][1], after_gamma[2]
        settle(browser, view)
        browser.screenshot(tmp_path / "lab_sliders.png")

        # The static control below them answers the keyboard in JupyterLab as on the page.
        static = ".jp-OutputArea .llu-mask-control"
        scroll_to(browser, static)
        shown = browser.run(f"return [document.querySelector('{static} img').src, "
                            f"document.querySelector('{static} p.llu-numbers').innerText];")
        browser.press(browser.find(f"{static} input.llu-beta"), ARROW_RIGHT)
        now = browser.run(f"return [document.querySelector('{static} img').src, "
                          f"document.querySelector('{static} p.llu-numbers').innerText, "
                          f"document.querySelector('{static} output.llu-beta').innerText];")
        assert now[0] != shown[0] and now[1] != shown[1] and now[2] == "1", now
        browser.screenshot(tmp_path / "lab_static_control.png")
    finally:
        browser.close()
