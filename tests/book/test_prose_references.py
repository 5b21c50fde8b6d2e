"""What the README and the book say about the project's own files: names that exist, a list that matches.

Every module path the README, the book's pages, its configuration and the chapters' prose name
(``llu_core.x.y``, ``llu_core.x.y.function``, ``llu_core/x/y.py``) must exist: a module that
imports, an attribute it has, or a file or folder of the package. The introduction's list of
chapters must be the table of contents' numbered chapters, in its order, each named by (a part
of) its title.
"""

import importlib
import re
from pathlib import Path

import pytest
import yaml

from llu_core.utils.io import read_json

REPO = Path(__file__).resolve().parents[2]
DOTTED = re.compile(r"\bllu_core(?:\.[A-Za-z_]\w*)+")
SLASHED = re.compile(r"\bllu_core(?:/[\w.-]+)+/?")
LIST_ITEM = re.compile(r"^\s*(?P<number>\d+)\. \{doc\}`(?P<text>[^<`]+?) <\.\./(?P<file>notebooks/[\w]+)>`", re.M)


def texts():
    """(where, text) for the README, the book's pages and configuration, and every chapter's markdown."""
    yield "README.md", (REPO / "README.md").read_text()
    for path in [*sorted((REPO / "book").glob("*.md")), REPO / "_config.yml", REPO / "_toc.yml"]:
        yield str(path.relative_to(REPO)), path.read_text()
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = read_json(path)["cells"]
        yield str(path.relative_to(REPO)), "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def resolves(dotted):
    """Whether ``llu_core.a.b.c`` is a module, or an attribute of the longest module prefix that imports."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def named_paths():
    found = []
    for where, text in texts():
        found += [(where, name) for name in DOTTED.findall(text)]
        found += [(where, name.rstrip("./")) for name in SLASHED.findall(text)]
    return found


def test_the_prose_names_module_paths():
    names = {name for _, name in named_paths()}
    assert "llu_core.report.reproduce" in names and "llu_core/backbones/offline.py" in names


@pytest.mark.parametrize("where, name", sorted(set(named_paths())))
def test_every_module_path_the_prose_names_exists(where, name):
    if "/" in name:
        assert (REPO / name).exists(), f"{where} names {name}, which does not exist"
    else:
        assert resolves(name), f"{where} names {name}, which does not import"


def test_a_wrong_path_is_caught():
    assert not resolves("llu_core.paper_results") and not resolves("llu_core.corruptions")
    assert resolves("llu_core.report.paper_results") and resolves("llu_core.data.fetch.export_mirror")
    assert not resolves("llu_core.data.fetch.no_such_function")


def test_the_introductions_chapter_list_is_the_table_of_contents():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    numbered = [chapter["file"] for part in toc["parts"] if part.get("numbered") for chapter in part["chapters"]]
    items = list(LIST_ITEM.finditer((REPO / "book" / "intro.md").read_text()))
    assert [int(item["number"]) for item in items] == list(range(1, len(numbered) + 1))
    assert [item["file"] for item in items] == numbered
    for item in items:
        title = "".join(read_json(REPO / f"{item['file']}.ipynb")["cells"][0]["source"]).splitlines()[0]
        assert item["text"].lower() in title.lower(), (item["text"], title)
