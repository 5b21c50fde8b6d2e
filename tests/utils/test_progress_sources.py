"""Every progress bar of llu_core goes through llu_core.progress, the one place that honours
TQDM_DISABLE in a Jupyter kernel (a bar made by tqdm.auto directly ends up as a widget on the
built pages)."""

import re
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "llu_core"


def test_only_the_progress_module_imports_tqdm():
    importers = [path.name for path in sorted(LIBRARY.glob("*.py")) if path.name != "progress.py"
                 and re.search(r"^\s*(from tqdm|import tqdm)", path.read_text(), re.MULTILINE)]
    assert importers == []
