"""scripts/clip_geometry.py: its arguments, and a run end to end on a tiny open_clip model."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

from llu_core.evaluation.geometry import CLIP_VIT_B32, STATISTICS, statistics_range
from stand_in_backbones import TINY_OPEN_CLIP

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "clip_geometry.py"


@pytest.fixture(scope="module")
def script():
    specification = importlib.util.spec_from_file_location("clip_geometry", SCRIPT)
    module = importlib.util.module_from_spec(specification)
    specification.loader.exec_module(module)
    return module


def test_defaults_are_the_published_row(script):
    arguments = script.parse_arguments([])
    assert arguments.backbone == "ViT-B-32" and arguments.datasets == ["caltech101", "oxford_pets"]
    assert (arguments.shots, arguments.seed, arguments.beta, arguments.gamma) == (16, 1, 0.5, 20.0)
    assert arguments.train_per_class is None and arguments.test_per_class is None  # whole splits


@pytest.mark.parametrize("argv, message", [
    (["--shots", "0"], "--shots: expected an integer ≥ 1, got 0"),
    (["--shots", "two"], "--shots: expected an integer, got 'two'"),
    (["--beta", "1.5"], r"--beta: expected a number \[0, 1\], got 1.5"),
    (["--gamma", "-1"], "--gamma: expected a number ≥ 0, got -1"),
    (["--test-per-class", "-3"], "--test-per-class: expected an integer ≥ 0, got -3"),
    (["--train-per-class", "4", "--shots", "8"], "--train-per-class 4 is smaller than --shots 8"),
])
def test_bad_arguments_are_refused_by_name(script, capsys, argv, message):
    with pytest.raises(SystemExit) as stopped:
        script.parse_arguments(argv)
    assert stopped.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_statistics_range_spans_the_rows():
    rows = [dict.fromkeys(STATISTICS, 0.2), dict.fromkeys(STATISTICS, 0.1), dict.fromkeys(STATISTICS, 0.4)]
    assert statistics_range(rows) == dict.fromkeys(STATISTICS, (0.1, 0.4))
    assert set(CLIP_VIT_B32) == set(STATISTICS)
    with pytest.raises(ValueError, match="at least one data set"):
        statistics_range([])


def test_runs_end_to_end_on_a_tiny_open_clip_model(script, tmp_path, monkeypatch, capsys):
    import open_clip

    config = tmp_path / "llu-tiny-geometry.json"
    config.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(config)
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "cache"))
    output = tmp_path / "geometry.json"
    with pytest.warns(UserWarning, match="random weights"):
        status = script.main(["--backbone", "llu-tiny-geometry", "--device", "cpu", "--datasets", "cifar10", "dtd",
                              "--shots", "2", "--train-per-class", "2", "--test-per-class", "2",
                              "--output", str(output)])
    assert status == 0
    printed = capsys.readouterr().out
    assert printed.count("llu-tiny-geometry") >= 2 and "in the form of CLIP_VIT_B32" in printed
    result = json.loads(output.read_text())
    assert list(result["statistics"]) == ["llu-tiny-geometry, cifar10", "llu-tiny-geometry, dtd"]
    rows = list(result["statistics"].values())
    for key in STATISTICS:
        low, high = result["range"][key]
        assert low == min(row[key] for row in rows) and high == max(row[key] for row in rows)
    for row in rows:  # random weights: no regime to expect, only quantities in their ranges
        assert 0.0 <= row["median_distance_base"] <= 2.0 and 0.0 <= row["median_distance_new"] <= 2.0
        assert 0.0 <= row["mean_alpha_base"] <= 0.5 and 0.0 <= row["mean_alpha_new"] <= 0.5
        assert -1.0 <= row["cosine_other_texts"] <= 1.0 and -1.0 <= row["cosine_own_text"] <= 1.0
