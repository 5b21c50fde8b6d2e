"""llu_core.report.lab: the chapters' working copies for JupyterLab and the server that opens them.

The copies are checked here without a browser; tests/book/test_lab.py opens one in JupyterLab.
"""

import json
import shutil

import pytest

from llu_core.report import lab
from llu_core.report.lab import (BOOKKEEPING, NOT_RUN, book_index, chapter_files, lab_command, lab_environment,
                                 lab_notebook, make_working_copies, missing_extensions)
from llu_core.report.lab_prose import ROLE
from llu_core.utils.io import read_json, write_json
from llu_core.utils.locations import checkout_root

CHECKOUT = checkout_root()


@pytest.fixture(scope="module")
def index():
    return book_index(CHECKOUT)


@pytest.fixture
def checkout(tmp_path):
    """A copy of the book's sources (table of contents, pages, bibliography, chapters)."""
    copy = tmp_path / "checkout"
    shutil.copytree(CHECKOUT / "book", copy / "book", ignore=shutil.ignore_patterns("_ext"))
    shutil.copytree(CHECKOUT / "notebooks", copy / "notebooks", ignore=shutil.ignore_patterns(".*"))
    shutil.copy(CHECKOUT / "_toc.yml", copy / "_toc.yml")
    return copy


def chapters():
    return [name for name, _ in chapter_files(CHECKOUT) if (CHECKOUT / f"{name}.ipynb").is_file()]


def test_the_index_numbers_chapters_and_figures_as_the_table_of_contents(index):
    numbered = [name for name, is_numbered in chapter_files(CHECKOUT) if is_numbered]
    assert [index.numbers[name] for name in numbered] == list(range(1, len(numbered) + 1))
    # Chapter 4's figures numbered in the order the chapter shows them: the toy's two, then Fashion-MNIST's.
    chapter = index.numbers["notebooks/04_local_mask"]
    shown = ["fig-mask-toy-alpha", "fig-mask-toy-sweep", "fig-alpha-view", "fig-mask-control", "fig-mask-fashion-sweep"]
    assert [index.figures[label] for label in shown] == [f"{chapter}.{k}" for k in range(1, 6)]
    assert index.titles["notebooks/04_local_mask"] == "The local mask"
    assert index.citations["ibing2022llu"] == ("Ibing et al.", "2022")
    assert index.labels["local-mask-without"][0] == "notebooks/04_local_mask"


@pytest.mark.parametrize("docname", chapters())
def test_every_chapters_copy_reads_without_book_wide_markup(index, docname):
    copy = lab_notebook(read_json(CHECKOUT / f"{docname}.ipynb"), docname, index)
    for cell in copy["cells"]:
        if cell["cell_type"] == "markdown":
            roles = {match["role"] for match in ROLE.finditer(cell["source"])}
            assert roles <= {"eval", "ref", "math"}, (roles, cell["source"][:300])
            results = [e["result"]["data"]["text/plain"] for e in cell["metadata"].get("user_expressions", [])]
            assert results == [NOT_RUN] * cell["source"].count("{eval}`glued(")


def test_a_copy_hides_bookkeeping_captions_figures_and_says_how_to_run(index):
    chapter = read_json(CHECKOUT / "notebooks" / "04_local_mask.ipynb")
    copy = lab_notebook(chapter, "notebooks/04_local_mask", index)
    assert "Run All Cells" in copy["cells"][0]["source"] and copy["cells"][1:] != chapter["cells"]
    bookkeeping = [c for c in copy["cells"] if "remove-cell" in c["metadata"].get("tags", [])]
    assert bookkeeping and all(c["metadata"]["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
                               and c["source"].startswith(BOOKKEEPING) for c in bookkeeping)
    figures = [i for i, c in enumerate(copy["cells"]) if c["metadata"].get("mystnb", {}).get("figure")]
    captions = [copy["cells"][i + 1]["source"] for i in figures]
    assert captions[0].startswith("**Fig. 4.1.** The toy model") and captions[1].startswith("**Fig. 4.2.**")
    code = [c["source"] for c in copy["cells"] if c["cell_type"] == "code"]
    assert [s.removeprefix(BOOKKEEPING + "\n") for s in code] == [
        "".join(c["source"]) for c in chapter["cells"] if c["cell_type"] == "code"]
    assert len({c["id"] for c in copy["cells"]}) == len(copy["cells"])


def test_every_bookkeeping_cell_of_the_chapters_is_stored_collapsed():
    for docname in chapters():
        for cell in read_json(CHECKOUT / f"{docname}.ipynb")["cells"]:
            if "remove-cell" in cell["metadata"].get("tags", []):
                assert cell["metadata"].get("jupyter") == {"source_hidden": True, "outputs_hidden": True}, docname


def test_copies_are_made_once_and_keep_the_readers_changes(checkout, tmp_path):
    folder = tmp_path / "lab"
    written, outdated = make_working_copies(checkout, folder)
    assert sorted(p.name for p in written) == sorted(p.name for p in (checkout / "notebooks").glob("*.ipynb"))
    assert outdated == []
    mine = folder / "notebooks" / "04_local_mask.ipynb"
    changed = read_json(mine)
    changed["cells"].append({"cell_type": "markdown", "id": "mine", "metadata": {}, "source": "my note"})
    write_json(mine, changed)
    assert make_working_copies(checkout, folder) == ([], [])
    chapter = checkout / "notebooks" / "04_local_mask.ipynb"
    chapter.write_text(chapter.read_text().replace("# The local mask", "# The local mask, revised"))
    assert make_working_copies(checkout, folder) == ([], [mine])
    assert read_json(mine)["cells"][-1]["source"] == "my note"
    mine.unlink()
    written, _ = make_working_copies(checkout, folder)
    assert written == [mine] and "revised" in json.dumps(read_json(mine))


def test_jupyterlab_runs_on_loopback_with_its_own_settings_and_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    environment = lab_environment(tmp_path)
    kernel = read_json(tmp_path / ".jupyter" / "data" / "kernels" / "python3" / "kernel.json")
    assert "--ext=llu_core.report.glued" in kernel["argv"]
    assert environment["JUPYTER_PATH"] == str(tmp_path / ".jupyter" / "data") and "MPLBACKEND" not in environment
    settings = tmp_path / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    assert read_json(settings / "apputils-extension" / "notification.jupyterlab-settings")["fetchNews"] == "false"
    command = lab_command(tmp_path, 8890, ["--no-browser"])
    assert "--ip=127.0.0.1" in command and "--port=8890" in command and command[-1] == "--no-browser"
    assert f"--ServerApp.root_dir={tmp_path / 'notebooks'}" in command


def test_the_widget_and_myst_extensions_are_found():
    assert missing_extensions() == []


def test_a_missing_extension_stops_before_anything_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(lab, "missing_extensions", lambda: ["jupyterlab-myst"])
    assert lab.main(["--folder", str(tmp_path / "lab")]) == 2
    assert "jupyterlab-myst" in capsys.readouterr().err and not (tmp_path / "lab").exists()
