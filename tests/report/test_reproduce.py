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
