"""The chapters and the book's pages import ``llu_core`` only through its public face:
``from llu_core import ...`` of names in ``llu_core.__all__``, never a module below it."""

import ast
import re
from pathlib import Path

import nbformat
import pytest

import llu_core

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))
#: A code cell of a MyST page: ```{code-cell} ... ```, its options (``:tags:`` lines or a
#: ``---`` block) before the code.
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(?:---\n.*?\n---\n|(?::[^\n]*\n)*)(.*?)^```", re.S | re.M)


def code_cells(path):
    """The source of every code cell of a notebook or a MyST page."""
    if path.suffix == ".ipynb":
        return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    return CODE_CELL.findall(path.read_text())


def deep_imports(source, public=frozenset(llu_core.__all__)):
    """The imports of ``source`` that reach below ``llu_core`` or ask it for a name it does not export."""
    python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    problems = []
    for node in ast.walk(ast.parse(python)):
        if isinstance(node, ast.Import):
            problems += [f"import {alias.name}" for alias in node.names if alias.name.startswith("llu_core.")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "llu_core":
            if node.module != "llu_core":
                problems.append(f"from {node.module} import ...")
            problems += [f"from llu_core import {alias.name} (not in llu_core.__all__)" for alias in node.names
                         if alias.name not in public]
    return problems


def test_every_page_is_read():
    assert len([path for path in PAGES if path.suffix == ".ipynb"]) == 13
    assert any("from llu_core import" in cell for path in PAGES if path.suffix == ".md" for cell in code_cells(path))


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.name)
def test_pages_import_only_the_public_face(path):
    problems = [problem for cell in code_cells(path) for problem in deep_imports(cell)]
    assert problems == [], f"{path.name}: {problems}"


def test_the_check_sees_a_deep_import():
    source = ("%matplotlib inline\nfrom llu_core import LLUClassifier, no_such_name\n"
              "from llu_core.report.plots import plot_examples\nimport llu_core.utils.io\n")
    assert deep_imports(source) == ["from llu_core import no_such_name (not in llu_core.__all__)",
                                    "from llu_core.report.plots import ...", "import llu_core.utils.io"]
