"""The chapters as papermill sees them: stored without outputs, with a `parameters` cell that
papermill can fill, and run at parameters other than the book's where readers use them that way
(your own folder of images in chapter 13; chapters 7, 8 and 10 through `make reproduce`).

The chapters are executed on their defaults once per test run, by the book build of
tests/book/test_book.py, which checks every chapter's claims at the book's scale. The runs here
check, on the results they write, what holds at any scale (``strict=False`` in
tests/helpers/chapter_claims.py) and that the parameters reached the chapter.
"""

import re
from pathlib import Path

import nbformat
import papermill
import pytest

from llu_core.utils.io import read_json

from book_toc import toc_chapters
from chapter_claims import check_ablations, check_base_to_new, check_own_images, check_transfer


NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CHAPTERS = toc_chapters()


def execute(tmp_path, notebook, **parameters):
    """Run ``notebook`` with ``parameters`` into ``tmp_path`` and return its JSON results."""
    results = tmp_path / "results.json"
    papermill.execute_notebook(str(NOTEBOOKS / notebook), str(tmp_path / notebook),
                               parameters=dict(parameters, results_path=str(results)), cwd=str(NOTEBOOKS),
                               progress_bar=False, kernel_name="python3")
    return read_json(results)


def test_every_notebook_is_a_chapter_of_the_book():
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == sorted(CHAPTERS)


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_is_stored_without_outputs_and_with_parameters(name):
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert notebook.cells[0].cell_type == "markdown"
    title = notebook.cells[0].source.splitlines()[0]
    assert re.fullmatch(r"# [^\d].*", title), f"{name}: {title!r} (the table of contents numbers the chapters)"
    assert "parameters" in notebook.cells[1].metadata.get("tags", []), name
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, name
    # papermill reads the cell as parameters it can replace; every chapter writes its results where it is told.
    assert "results_path" in papermill.inspect_notebook(str(NOTEBOOKS / f"{name}.ipynb"))


def test_code_cells_fit_the_text_column():
    # A wide screen's text column shows 77 characters of code (14 px monospace in 684 px); the
    # lines a reader sees stay within it, so no code is cut off at 1280 px (the book's CSS wraps
    # them on narrower screens).
    for name in CHAPTERS:
        notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        shown = [cell for cell in notebook.cells
                 if cell.cell_type == "code" and "remove-cell" not in cell.metadata.get("tags", [])]
        long = [line for cell in shown for line in cell.source.splitlines() if len(line) > 76]
        assert not long, f"{name}: {long}"


def test_from_scratch_is_about_sixty_lines():
    # The introduction and chapter 2 say "about sixty lines" of plain torch: the cells tagged
    # from-scratch, without blank lines and comments.
    notebook = nbformat.read(NOTEBOOKS / "02_from_scratch.ipynb", as_version=4)
    cells = [cell for cell in notebook.cells if "from-scratch" in cell.metadata.get("tags", [])]
    lines = [line for cell in cells for line in cell.source.splitlines()
             if line.strip() and not line.strip().startswith("#")]
    assert len(cells) == 6 and 55 <= len(lines) <= 65, len(lines)


def test_your_own_images(tmp_path):
    # A folder of 3 classes x 6 images in tmp_path (not the book's folder), 2 shots: seconds.
    result = execute(tmp_path, "13_your_own_images.ipynb", folder=str(tmp_path / "photos"),
                     classes=["banded", "bubbly", "chequered"], images_per_class=6, shots=2)
    assert result["classes"] == ["banded", "bubbly", "checkered"] and result["n_images"] == 18
    assert len(result["predictions"]) == 3 and (tmp_path / "photos.safetensors").exists()
    check_own_images(result, strict=False)


def test_reproduce_command(tmp_path, capsys):
    from llu_core.report.reproduce import main

    assert main(["--chapters", "base_to_new", "ablations", "--datasets", "dtd", "--shots", "2", "--seeds", "1",
                 "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "## base_to_new" in printed and "## ablations" in printed and "Dirac mask" in printed
    assert "Paper" not in printed and "paper" not in printed  # offline model: nothing to compare with
    for chapter, n_methods in (("base_to_new", 9), ("ablations", 9)):
        assert (tmp_path / chapter / "dtd.ipynb").exists()
        combined = read_json(tmp_path / f"{chapter}.json")
        assert len(combined["records"]) == n_methods
        assert {row["dataset"] for row in combined["summary"]} == {"dtd", "average"}
        csv_lines = (tmp_path / f"{chapter}.csv").read_text().splitlines()
        assert len(csv_lines) == n_methods + 1 and csv_lines[0].startswith("method,dataset,shots,seed,base,new,hm")
    # The chapters' own results at these parameters: the claims that hold at any scale.
    base_to_new, ablations = (read_json(tmp_path / chapter / "dtd.json") for chapter in ("base_to_new", "ablations"))
    assert base_to_new["shots"] == ablations["shots"] == [2] and base_to_new["seeds"] == ablations["seeds"] == [1]
    check_base_to_new(base_to_new, strict=False)
    check_ablations(ablations)  # strict, as at the book's scale: Dirac mask below Default on base classes


def test_reproduce_transfer(tmp_path, capsys):
    from llu_core.report.reproduce import main

    assert main(["--chapters", "transfer", "--cross-targets", "dtd", "--shift-targets", "cifar10_sketch", "cifar10_jpeg",
                 "--shift-per-class", "5", "--shots", "1", "--seeds", "1", "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "## transfer" in printed and "**Cross dataset**" in printed and "**Domain generalisation**" in printed
    assert "CIFAR-10 (source)" in printed and "CIFAR-10 JPEG, severity 3" in printed and "paper" not in printed
    assert (tmp_path / "transfer" / "transfer.ipynb").exists()
    combined = read_json(tmp_path / "transfer.json")
    assert len(combined["records"]) == 5 * 4  # 5 methods on the source, DTD and two corrupted CIFAR-10s
    assert {row["dataset"] for row in combined["summary"]} == {"cifar10", "dtd", "cifar10_sketch@3", "cifar10_jpeg@3",
                                                               "average"}
    csv_lines = (tmp_path / "transfer.csv").read_text().splitlines()
    assert len(csv_lines) == 5 * 4 + 1 and csv_lines[0].startswith("protocol,method,source,dataset,shots,seed,accuracy")
    # The chapter's own results at these parameters: the claims that hold at any scale.
    result = read_json(tmp_path / "transfer" / "transfer.json")
    assert result["cross_dataset"] == ["dtd"] and result["domain_shift"] == ["cifar10_sketch@3", "cifar10_jpeg@3"]
    check_transfer(result, strict=False)
