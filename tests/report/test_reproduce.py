"""``make reproduce`` (llu_core.report.reproduce): its arguments checked before any kernel starts,
and the chapters it passes them to."""

import os
import re
from pathlib import Path

import pytest


# --- Every argument is checked before a kernel starts ---------------------------------------------


@pytest.fixture
def no_kernel(monkeypatch):
    """papermill's execution replaced by a failure: a test passes only if no kernel was started."""
    import papermill

    def started(*args, **kwargs):
        raise AssertionError(f"a kernel was started for {args[:2]}")

    monkeypatch.setattr(papermill, "execute_notebook", started)


@pytest.mark.parametrize("arguments, message", [
    (["--datasets", "../../x"], "--datasets: unknown data set '../../x'"),
    (["--datasets", "dtd", "dtd"], r"--datasets: \['dtd'\] listed more than once"),
    (["--datasets", "imagenet_a"], "--datasets: 'imagenet_a' is a test-only transfer target"),
    (["--chapters", "transfer", "--cross-targets", "../x"], "--cross-targets: unknown data set '../x'"),
    (["--shots", "0"], "--shots must be an integer >= 1, got 0"),
    (["--seeds", "1", "1"], r"--seeds lists \[1\] more than once"),
    (["--seeds", "-1"], "--seeds must be an integer >= 0, got -1"),
    (["--test-per-class", "-3"], "--test-per-class must be 0"),
    (["--backbone", "ViT-B-99"], "--backbone: unknown backbone 'ViT-B-99'"),
    (["--device", "cuda:99"], "--device: device 'cuda:99' is not available"),
], ids=["escaping-name", "repeated-dataset", "test-only", "escaping-target", "shots-0", "repeated-seed",
        "negative-seed", "negative-size", "backbone", "device"])
def test_reproduce_refuses_bad_arguments_before_any_kernel(arguments, message, tmp_path, capsys, no_kernel):
    from llu_core.report.reproduce import main

    output = tmp_path / "deep" / "results"
    with pytest.raises(SystemExit) as stopped:
        main([*arguments, "--output", str(output)])
    assert stopped.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not list(tmp_path.rglob("*.ipynb"))  # before: ../../x.ipynb beside --output


@pytest.mark.parametrize("where", ["a file", "read-only"])
def test_reproduce_refuses_an_output_it_cannot_write(where, tmp_path, capsys, no_kernel, monkeypatch):
    from llu_core.report.reproduce import main

    output = tmp_path / "results"
    if where == "a file":
        output.write_text("a file")
    else:  # what a read-only folder does to any user (tests may run as root, who could still write)
        output.mkdir()
        real = os.open

        def refused(path, *args, **kwargs):
            if Path(path).parent == output:
                raise PermissionError(13, "Permission denied")
            return real(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", refused)
    with pytest.raises(SystemExit):
        main(["--chapters", "ablations", "--output", str(output)])
    expected = f"--output {output} is not a folder" if where == "a file" else f"--output {output} cannot be written"
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize("arguments, message", [
    (["--pretrained", "/nonexistent.pt"], "--pretrained: pretrained='/nonexistent.pt': the offline backbone has "
                                          "its own weights"),
    (["--backbone", "ViT-B-16", "--pretrained", "/nonexistent.pt"], "--pretrained: checkpoint /nonexistent.pt does "
                                                                    "not exist"),
    (["--backbone", "ViT-B-16", "--pretrained", "no-such-tag"], "--pretrained: open_clip has no pretrained tag"),
    (["--data-root", "{tmp}/nowhere"], "--data-root {tmp}/nowhere does not exist or is not a folder"),
    (["--data-root", "{tmp}"], "data set 'cifar10' cannot be read: "),
    (["--datasets", "imagenet"], "data set 'imagenet' cannot be read: "),
    (["--chapters", "transfer", "--cross-targets", "caltech101"], "data set 'caltech101' cannot be read: "),
], ids=["offline-weights", "missing-checkpoint", "unknown-tag", "missing-root", "empty-root", "absent-dataset",
        "absent-target"])
def test_reproduce_checks_weights_and_data_before_any_kernel(arguments, message, tmp_path, capsys, no_kernel):
    from llu_core.__main__ import main

    arguments = [argument.replace("{tmp}", str(tmp_path)) for argument in arguments]
    with pytest.raises(SystemExit) as stopped:
        main(["reproduce", *arguments, "--output", str(tmp_path / "results")])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and message.replace("{tmp}", str(tmp_path)) in err
    assert err.count("error:") == 1 and "Traceback" not in err


def test_a_chapter_that_fails_ends_the_command_with_status_1_and_one_message(monkeypatch, tmp_path, capsys):
    import papermill

    import llu_core.report.reproduce as reproduce

    def failing(chapter, datasets, output, **parameters):
        raise papermill.PapermillExecutionError(4, 3, "load_dataset(...)", "ValueError", "the data set is damaged", [])

    monkeypatch.setattr(reproduce, "run_chapter", failing)
    assert reproduce.main(["--chapters", "ablations", "--datasets", "cifar10", "--output", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: a chapter failed: ValueError: the data set is damaged")
    assert captured.err.count("\n") == 1 and "## ablations" not in captured.out


# --- Each chapter gets its own parameters ---------------------------------------------------------


def test_reproduce_passes_the_prompt_learners_to_chapter_5_only(monkeypatch, tmp_path):
    import llu_core.report.reproduce as reproduce

    calls = []
    monkeypatch.setattr(reproduce, "run_chapter", lambda chapter, datasets, output, **parameters: calls.append(
        (chapter, parameters.get("prompt_learners"))) or [])
    monkeypatch.setattr(reproduce, "save_and_format", lambda *arguments: "")
    reproduce.main(["--prompt-learners", "--chapters", "base_to_new", "ablations", "--output", str(tmp_path)])
    reproduce.main(["--chapters", "base_to_new", "--output", str(tmp_path)])
    assert calls == [("base_to_new", True), ("ablations", None), ("base_to_new", None)]


@pytest.mark.parametrize("arguments, message", [
    (["--many-datasets", "dtd"], "--many-datasets: fit at least two data sets"),
    (["--many-datasets", "dtd", "cifar10", "--unseen", "dtd"], "none of them also --unseen"),
    (["--many-datasets", "dtd", "imagenet_a"], "--many-datasets: 'imagenet_a' is a test-only transfer target"),
    (["--unseen", "../x"], "--unseen: unknown data set '../x'"),
], ids=["one-data-set", "fitted-and-unseen", "test-only", "escaping-unseen"])
def test_reproduce_refuses_bad_many_datasets_arguments(arguments, message, tmp_path, capsys, no_kernel):
    from llu_core.report.reproduce import main

    with pytest.raises(SystemExit) as stopped:
        main(["--chapters", "many_datasets", *arguments, "--output", str(tmp_path / "results")])
    assert stopped.value.code == 2 and re.search(message, capsys.readouterr().err)


def test_reproduce_runs_the_many_datasets_chapter_once_per_shot_count(monkeypatch, tmp_path):
    import papermill

    import llu_core.report.reproduce as reproduce

    runs = []

    def executed(source, target, parameters, **options):
        runs.append((Path(source).name, Path(target).name, parameters["datasets"], parameters["unseen"],
                     parameters["shots"]))
        reproduce.write_json(parameters["results_path"], {"records": [
            {"method": "zero_shot", "dataset": name, "setting": "fitted", "classes": "own", "shots": parameters["shots"],
             "seed": 1, "accuracy": 50.0} for name in parameters["datasets"]]})

    monkeypatch.setattr(papermill, "execute_notebook", executed)
    reproduce.main(["--chapters", "many_datasets", "--many-datasets", "dtd", "cifar10", "--shots", "1", "4",
                    "--seeds", "1", "--output", str(tmp_path)])
    assert runs == [("11_many_datasets.ipynb", f"{shots}shots.ipynb", ["dtd", "cifar10"], [], shots) for shots in (1, 4)]
    assert (tmp_path / "many_datasets.csv").read_text().startswith("method,dataset,setting,classes,shots,seed,accuracy")
