"""Every chapter, executed by papermill on small parameters, checked on the results it writes."""

import math
from pathlib import Path

import papermill
import pytest

from llu_core.io import read_json


NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CHAPTERS = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))


def execute(tmp_path, notebook, **parameters):
    """Run ``notebook`` with ``parameters`` into ``tmp_path`` and return its JSON results."""
    results = tmp_path / "results.json"
    papermill.execute_notebook(str(NOTEBOOKS / notebook), str(tmp_path / notebook),
                               parameters=dict(parameters, results_path=str(results)), cwd=str(NOTEBOOKS),
                               progress_bar=False, kernel_name="python3")
    return read_json(results)


def by_method(records, **where):
    return {r["method"]: r for r in records if all(r[key] == value for key, value in where.items())}


def test_chapters_are_stored_without_outputs_and_with_parameters():
    import nbformat

    assert CHAPTERS == ["01_zero_shot.ipynb", "02_affine_adapter.ipynb", "03_local_mask.ipynb",
                        "04_clustering.ipynb", "05_base_to_new.ipynb", "06_ablations.ipynb", "07_prompt_learning.ipynb"]
    for name in CHAPTERS:
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        assert notebook.cells[0].cell_type == "markdown"
        assert "parameters" in notebook.cells[1].metadata.get("tags", []), name
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, name


def test_zero_shot(tmp_path):
    result = execute(tmp_path, "01_zero_shot.ipynb", datasets=["cifar10"], n_examples=4)
    prompts = result["accuracy"]["cifar10"]
    assert set(prompts) == {"class name only", "data set template", "7-template ensemble"}
    for accuracy in prompts.values():
        assert 20.0 < accuracy <= 100.0  # ten classes: chance is 10 %
    assert len(result["examples"]["predicted"]) == 4


def test_affine_adapter(tmp_path):
    result = execute(tmp_path, "02_affine_adapter.ipynb", shots=4, seeds=[1])
    assert result["untrained_max_score_gap"] < 1e-3  # identity init scores like zero-shot
    distances = result["identity_distance"]
    assert distances["LLU"] < distances["Linear layer"]
    methods = by_method(result["records"])
    assert set(methods) == {"zero_shot", "clip_adapter", "linear", "no_mask", "llu"}
    for record in methods.values():
        assert 10.0 < record["base"] <= 100.0 and 0.0 <= record["new"] <= 100.0
    assert abs(methods["llu"]["new"] - methods["zero_shot"]["new"]) < 5.0
    assert methods["linear"]["new"] < methods["llu"]["new"]


def test_local_mask(tmp_path):
    result = execute(tmp_path, "03_local_mask.ipynb", shots=4, gammas=[0.0, 20.0, 1000.0])
    view = result["view"]
    assert view["mean_alpha_new"] < view["mean_alpha_base"] <= view["beta"]
    sweep = result["sweep"]
    assert sweep[0]["mean_alpha_new"] == pytest.approx(view["beta"])  # γ = 0: the global weight β
    assert sweep[0]["mean_alpha_new"] > sweep[1]["mean_alpha_new"] > sweep[2]["mean_alpha_new"]
    for row in sweep:
        assert 10.0 < row["base"] <= 100.0 and 10.0 < row["new"] <= 100.0


def test_clustering(tmp_path):
    result = execute(tmp_path, "04_clustering.ipynb", shots=4, seeds=[1], n_clusters=[2, None], n_clusters_shown=3)
    small, everything = result["sweep"]
    assert small["n_centres"] < everything["n_centres"]
    assert everything["n_centres"] == 5 * 4 + 5  # 4 shots of 5 base classes, 5 base class texts
    assert everything["memory_kib"] / small["memory_kib"] == pytest.approx(everything["n_centres"] / small["n_centres"])
    for row in result["sweep"]:
        assert 10.0 < row["base"] <= 100.0


def test_base_to_new(tmp_path):
    result = execute(tmp_path, "05_base_to_new.ipynb", datasets=["dtd"], shots=[2], seeds=[1])
    methods = by_method(result["records"], dataset="dtd")
    assert set(methods) == {"zero_shot", "clip_adapter", "tip_adapter", "linear_probe", "llu"}
    for record in methods.values():
        assert 10.0 < record["base"] <= 100.0
    assert math.isnan(methods["linear_probe"]["new"])
    assert methods["tip_adapter"]["new"] == pytest.approx(methods["zero_shot"]["new"])  # empty cache: zero-shot
    assert abs(methods["llu"]["new"] - methods["zero_shot"]["new"]) < 5.0
    assert {row["dataset"] for row in result["summary"]} == {"dtd", "average"}


def test_ablations(tmp_path):
    result = execute(tmp_path, "06_ablations.ipynb", datasets=["dtd"], shots=[2], seeds=[1])
    variants = by_method(result["records"], dataset="dtd")
    assert list(variants) == ["zero_shot", "default", "no_cluster", "no_damping", "no_mask", "dirac_mask", "no_reg",
                              "random_init", "linear"]
    distances = {name: record.get("identity_distance") for name, record in variants.items()}
    assert distances.pop("zero_shot") is None and all(value >= 0.0 for value in distances.values())
    assert distances["linear"] == max(distances.values())
    assert distances["default"] < distances["random_init"]
    assert variants["dirac_mask"]["new"] == pytest.approx(variants["zero_shot"]["new"], abs=1.0)
    assert variants["no_cluster"] == dict(variants["default"], method="no_cluster")  # 10 < 512 training points


def test_prompt_learning(tmp_path):
    result = execute(tmp_path, "07_prompt_learning.ipynb")  # the book's own defaults
    methods = by_method(result["records"], dataset="cifar10")
    prompt_learners = {"coop", "cocoop", "prograd", "kgcoop"}
    assert set(methods) == {"zero_shot", "clip_adapter", "tip_adapter", "linear_probe", "llu"} | prompt_learners
    for record in methods.values():
        assert 10.0 < record["base"] <= 100.0
    for name in prompt_learners:  # scored on classes never trained on, from their names
        assert 10.0 < methods[name]["new"] <= 100.0
    assert math.isnan(methods["linear_probe"]["new"])
    assert methods["tip_adapter"]["new"] == pytest.approx(methods["zero_shot"]["new"])
    assert abs(methods["llu"]["new"] - methods["zero_shot"]["new"]) <= 6.0  # 50 new-class test images: 2 points each
    timed = {(r["method"], r["batch_size"]) for r in result["speed"]}
    assert timed == {(m, b) for m in ("llu", "clip_adapter", "coop", "prograd", "kgcoop") for b in (1, 8)} | {("cocoop", 1)}
    assert all(r["step_s"] >= 0.0 and r["encode_s"] == 0.0 and r["classes"] == 10 for r in result["speed"])


def test_reproduce_command(tmp_path, capsys):
    from llu_core.reproduce import main

    assert main(["--datasets", "dtd", "--shots", "2", "--seeds", "1", "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "## base_to_new" in printed and "## ablations" in printed and "Dirac mask" in printed
    assert "Paper" not in printed and "paper" not in printed  # offline model: nothing to compare with
    for chapter, n_methods in (("base_to_new", 5), ("ablations", 9)):
        assert (tmp_path / chapter / "dtd.ipynb").exists()
        combined = read_json(tmp_path / f"{chapter}.json")
        assert len(combined["records"]) == n_methods
        assert {row["dataset"] for row in combined["summary"]} == {"dtd", "average"}
        csv_lines = (tmp_path / f"{chapter}.csv").read_text().splitlines()
        assert len(csv_lines) == n_methods + 1 and csv_lines[0].startswith("method,dataset,shots,seed,base,new,hm")
