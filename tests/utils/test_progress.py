"""Progress bars honour TQDM_DISABLE, also where tqdm itself does not (its notebook widget bar)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from llu_core.utils.progress import bars_disabled, progress_bar

LIBRARY = Path(__file__).resolve().parents[2] / "llu_core"


@pytest.mark.parametrize("value, disabled", [("1", True), ("true", True), ("0", False), ("", False)])
def test_environment_switch(monkeypatch, value, disabled):
    monkeypatch.setenv("TQDM_DISABLE", value)
    assert bars_disabled() is disabled
    with progress_bar(range(3), desc="test") as bar:
        assert bar.disable is disabled
    assert progress_bar(range(3), show=False).disable


def test_the_notebook_bar_is_what_ignores_the_variable():
    # The cause progress_bar works around. tqdm reads TQDM_* when it is imported, as defaults of
    # the arguments a caller leaves out; tqdm.notebook (what tqdm.auto picks in a kernel) passes
    # disable=False itself, so its widget bar ignores TQDM_DISABLE. If tqdm fixes this, the
    # workaround may go.
    check = ("from tqdm import tqdm; from tqdm.notebook import tqdm as widget_bar; "
             "print(tqdm(range(3)).disable, widget_bar(range(3), display=False).disable)")
    completed = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, TQDM_DISABLE="1"))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["True", "False"]


def test_only_the_progress_module_imports_tqdm():
    """Every progress bar of llu_core goes through llu_core.utils.progress, the one place that honours
    TQDM_DISABLE in a Jupyter kernel (a bar made by tqdm.auto directly ends up as a widget on the
    built pages)."""
    importers = [str(path.relative_to(LIBRARY)) for path in sorted(LIBRARY.rglob("*.py"))
                 if path != LIBRARY / "utils" / "progress.py"
                 and re.search(r"^\s*(from tqdm|import tqdm)", path.read_text(), re.MULTILINE)]
    assert importers == []
