"""Every chapter, executed by papermill on small parameters, checked on the results it writes."""

import re
from pathlib import Path

import papermill
import pytest

from llu_core.utils.io import read_json

from chapter_claims import (by_method, check_ablations, check_affine_adapter, check_base_to_new, check_clustering,
                            check_from_scratch, check_local_mask, check_many_datasets, check_own_images,
                            check_prompt_learning, check_successors, check_toy_model, check_transfer,
                            check_zero_shot)


NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CHAPTERS = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


def execute(tmp_path, notebook, **parameters):
    """Run ``notebook`` with ``parameters`` into ``tmp_path`` and return its JSON results."""
    results = tmp_path / "results.json"
    papermill.execute_notebook(str(NOTEBOOKS / notebook), str(tmp_path / notebook),
                               parameters=dict(parameters, results_path=str(results)), cwd=str(NOTEBOOKS),
                               progress_bar=False, kernel_name="python3")
    return read_json(results)


def test_chapters_are_stored_without_outputs_and_with_parameters():
    import nbformat

    assert CHAPTERS == ["01_zero_shot.ipynb", "02_from_scratch.ipynb", "03_affine_adapter.ipynb",
                        "04_local_mask.ipynb", "05_toy_model.ipynb", "06_clustering.ipynb", "07_base_to_new.ipynb",
                        "08_ablations.ipynb", "09_prompt_learning.ipynb", "10_transfer.ipynb",
                        "11_many_datasets.ipynb", "12_successors.ipynb", "13_your_own_images.ipynb"]
    for name in CHAPTERS:
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        assert notebook.cells[0].cell_type == "markdown"
        title = notebook.cells[0].source.splitlines()[0]
        assert re.fullmatch(r"# [^\d].*", title), f"{name}: {title!r} (the table of contents numbers the chapters)"
        assert "parameters" in notebook.cells[1].metadata.get("tags", []), name
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, name


def test_zero_shot(tmp_path):
    result = execute(tmp_path, "01_zero_shot.ipynb", datasets=["cifar10"], n_examples=4)
    check_zero_shot(result)
    assert len(result["examples"]["predicted"]) == 4


def test_from_scratch(tmp_path):
    result = execute(tmp_path, "02_from_scratch.ipynb", shots=2)
    assert result["epochs"] == 100 and result["shots"] == 2  # CoOp's epochs for 2 shots
    check_from_scratch(result)


def test_affine_adapter(tmp_path):
    result = execute(tmp_path, "03_affine_adapter.ipynb", shots=4, seeds=[1])
    check_affine_adapter(result, strict=False)
    assert set(by_method(result["records"])) == {"zero_shot", "clip_adapter", "linear", "no_mask", "llu"}


def test_local_mask(tmp_path):
    result = execute(tmp_path, "04_local_mask.ipynb", shots=4, gammas=[0.0, 20.0, 1000.0])
    assert result["dataset"] == "fashion_mnist"
    check_local_mask(result, strict=False)


def test_toy_model(tmp_path):
    result = execute(tmp_path, "05_toy_model.ipynb", misalignments=[0.0, 0.6], seeds=[1], datasets=["dtd"], shots=2)
    assert {r["misalignment"] for r in result["sweep"]} == {0.0, 0.6} and len(result["offline"]) == 1
    check_toy_model(result, strict=False)


def test_clustering(tmp_path):
    result = execute(tmp_path, "06_clustering.ipynb", shots=4, seeds=[1], n_clusters=[2, None], n_clusters_shown=3)
    assert result["sweep"][-1]["n_centres"] == 5 * 4 + 5  # 4 shots of 5 base classes, 5 base class texts
    check_clustering(result, strict=False)


def test_base_to_new(tmp_path):
    result = execute(tmp_path, "07_base_to_new.ipynb", datasets=["dtd"], shots=[2], seeds=[1])
    methods = by_method(result["records"], dataset="dtd")
    assert set(methods) == {"zero_shot", "clip_adapter", "tip_adapter", "linear_probe", "llu", "gda", "proker",
                            "lp_plus_plus", "clap"}
    assert {row["dataset"] for row in result["summary"]} == {"dtd", "average"}
    check_base_to_new(result, strict=False)


def test_ablations(tmp_path):
    result = execute(tmp_path, "08_ablations.ipynb", datasets=["dtd"], shots=[2], seeds=[1])
    variants = by_method(result["records"], dataset="dtd")
    assert list(variants) == ["zero_shot", "default", "no_cluster", "no_damping", "no_mask", "dirac_mask", "no_reg",
                              "random_init", "linear"]
    distances = {name: record.get("identity_distance") for name, record in variants.items()}
    assert distances.pop("zero_shot") is None and all(value >= 0.0 for value in distances.values())
    check_ablations(result)


def test_transfer(tmp_path):
    # Subsets of the book's default test images (nested subsets share the embedding cache).
    result = execute(tmp_path, "10_transfer.ipynb", cross_dataset=["dtd"],
                     domain_shift=["cifar10_sketch", "cifar10_jpeg"], shift_per_class=5, shots=[1], seeds=[1])
    assert result["cross_dataset"] == ["dtd"] and result["domain_shift"] == ["cifar10_sketch@3", "cifar10_jpeg@3"]
    runs = {(r["method"], r["dataset"]): r for r in result["records"]}
    assert len(runs) == len(result["records"]) == 5 * 4  # 5 methods on the source and 3 targets
    for (method, dataset), record in runs.items():
        assert 0.0 <= record["accuracy"] <= 100.0
        if dataset == "cifar10":
            assert record["protocol"] == "source" and record["accuracy"] > 10.0  # ten classes: chance is 10 %
        elif dataset in result["domain_shift"]:
            assert record["protocol"] == "domain_generalisation"
    check_transfer(result, strict=False)


def test_many_datasets(tmp_path):
    # Subsets of the book's default images (nested subsets share the embedding cache), one seed, 2 shots.
    result = execute(tmp_path, "11_many_datasets.ipynb", datasets=["cifar10", "dtd"], test_per_class=10, shots=2,
                     seeds=[1], toy_datasets=2, cost_repeats=1)
    assert result["datasets"] == ["cifar10", "dtd"] and [row["n_datasets"] for row in result["cost"]] == [1, 2]
    settings = {(r["method"], r["dataset"], r["setting"]) for r in result["records"]}
    assert ("oracle_llu", "dtd", "fitted") in settings and ("multi_max", "dtd", "unseen") in settings  # held out in turn
    assert set(result["zero_shot_by_centre"]) == {"dtd"}
    check_many_datasets(result, strict=False)


def test_prompt_learning(tmp_path):
    trained = ("clip_adapter", "llu", "coop", "cocoop", "prograd", "kgcoop")
    result = execute(tmp_path, "09_prompt_learning.ipynb", shots=2, train_per_class=10, test_per_class=10,
                     schedule_fractions={name: 0.01 for name in trained}, speed_batch_sizes=[1, 2])
    check_prompt_learning(result, strict=False)
    assert result["epochs"] == {name: 1 for name in trained}
    assert result["n_test"] == {"base": 50, "new": 50}
    assert all(r["encode_s"] == 0.0 and r["classes"] == 10 and r["total_s"] == r["step_s"] for r in result["speed"])


def test_successors(tmp_path):
    result = execute(tmp_path, "12_successors.ipynb", datasets=["cifar10"], shots=4, seeds=[1])
    methods = by_method(result["records"], dataset="cifar10")
    assert list(methods) == ["zero_shot", "llu", "gda", "proker", "lp_plus_plus", "clap"]
    assert [record["method"] for record in result["costs"]] == ["llu", "gda", "proker", "lp_plus_plus", "clap"]
    assert result["kernel_rows"] == 4 * 5 and result["n_test"] == {"cifar10": {"base": 500, "new": 500}}
    check_successors(result, strict=False)


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


def test_reproduce_transfer(tmp_path, capsys):
    from llu_core.report.reproduce import main

    assert main(["--chapters", "transfer", "--cross-targets", "dtd", "--shift-targets", "cifar10_jpeg",
                 "--shift-per-class", "5", "--shots", "1", "--seeds", "1", "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "## transfer" in printed and "**Cross dataset**" in printed and "**Domain generalisation**" in printed
    assert "CIFAR-10 (source)" in printed and "CIFAR-10 JPEG, severity 3" in printed and "paper" not in printed
    assert (tmp_path / "transfer" / "transfer.ipynb").exists()
    combined = read_json(tmp_path / "transfer.json")
    assert len(combined["records"]) == 5 * 3  # 5 methods on the source, DTD and JPEG-corrupted CIFAR-10
    assert {row["dataset"] for row in combined["summary"]} == {"cifar10", "dtd", "cifar10_jpeg@3", "average"}
    csv_lines = (tmp_path / "transfer.csv").read_text().splitlines()
    assert len(csv_lines) == 5 * 3 + 1 and csv_lines[0].startswith("protocol,method,source,dataset,shots,seed,accuracy")
