"""The command line, ``python -m llu_core``: fit on an image folder, predict with the saved model, and
the errors a reader meets on the way. The folder is a few offline CIFAR-10 images copied into a
temporary folder; one fit (2 shots, the offline model) serves every test of the saved model."""

import contextlib
import io
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from llu_core import load_classifier, save_classifier
from llu_core.__main__ import main
from llu_core.data.paths import data_root
from llu_core.evaluation.image_folders import predict_images

REPO = Path(__file__).resolve().parents[2]
CLASSES = ("airplane", "automobile", "bird")


def make_folder(folder, classes=CLASSES, per_class=4):
    """``per_class`` offline CIFAR-10 training images of each class in ``folder/<class>/``."""
    for name in classes:
        (folder / name).mkdir(parents=True)
        for image in sorted((data_root() / "cifar10" / "train" / name).iterdir())[:per_class]:
            shutil.copy2(image, folder / name / image.name)
    return folder


def run(*arguments):
    """``python -m llu_core ARGUMENTS`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(argument) for argument in arguments])
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = make_folder(tmp_path_factory.mktemp("cli") / "photos")
    (folder / "classnames.txt").write_text("automobile car\n")
    (folder / "bird" / "broken.jpg").write_bytes(b"not an image")
    model = folder.parent / "model.safetensors"
    status, out, err = run("fit", folder, "--out", model, "--shots", 2, "--seed", 1)
    return SimpleNamespace(folder=folder, model=model, status=status, out=out, err=err)


def test_fit_reports_held_out_accuracy_and_statistics_and_saves_the_model(fitted):
    assert fitted.status == 0, fitted.err
    assert "photos: 3 classes (airplane, car, bird); backbone offline" in fitted.out
    assert "on 2 images per class (seed 1): 6 images; 6 held out" in fitted.out
    assert "held-out accuracy: zero-shot " in fitted.out and "suggested γ for this backbone" in fitted.out
    assert "median distance 1 − xᵀd of a test image to D" in fitted.out
    assert "broken.jpg cannot be decoded" in fitted.err and "left out" in fitted.err  # named and skipped
    model = load_classifier(fitted.model)
    assert model.classnames_ == ["airplane", "car", "bird"] and model.templates_ == ["a photo of a {}."]
    assert model.backbone_["name"] == "offline" and model.image_centre_.shape == (model.dim_,)


def test_predict_prints_path_class_and_probability_per_image(fitted):
    images = [fitted.folder / "bird" / "0000.jpg", fitted.folder / "airplane" / "0003.jpg"]
    status, out, err = run("predict", fitted.model, *images)
    assert status == 0 and "Traceback" not in err
    lines = [line.split("\t") for line in out.splitlines()]
    assert [line[0] for line in lines] == [str(image) for image in images]
    assert all(line[1] in ("airplane", "car", "bird") and 1 / 3 <= float(line[2]) <= 1.0 for line in lines)
    library = predict_images(fitted.model, images)
    assert [(p.classname, f"{p.probability:.4f}") for p in library] == [(line[1], line[2]) for line in lines]


def test_predict_names_and_skips_images_it_cannot_read(fitted):
    good, broken, missing = fitted.folder / "bird" / "0001.jpg", fitted.folder / "bird" / "broken.jpg", "missing.jpg"
    status, out, err = run("predict", fitted.model, broken, good, missing)
    assert status == 1
    assert [line.split("\t")[0] for line in out.splitlines()] == [str(good)]
    assert "broken.jpg cannot be decoded" in err and "missing.jpg does not exist" in err


def test_predict_refuses_a_model_of_another_backbone(fitted, tmp_path):
    model = load_classifier(fitted.model)
    other = SimpleNamespace(cache_key="open_clip-ViT-B-16-tag-openai", name="ViT-B-16 (openai)",
                            origin={"name": "offline", "pretrained": None})
    moved = tmp_path / "other.safetensors"
    save_classifier(model, moved, image_centre=model.image_centre_, classnames=model.classnames_,
                    templates=model.templates_, backbone=other)
    status, out, err = run("predict", moved, fitted.folder / "bird" / "0000.jpg")
    assert status == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"error: {moved}: the model was fitted on embeddings of another backbone: ViT-B-16")


@pytest.mark.parametrize("layout, message", [
    ({"cats": 3}, "has one class folder (cats): a classifier needs at least two classes"),
    ({"cats": 3, "dogs": 0}, "holds no images"),
    ({"cats": 3, "dogs": 2}, "shots=2: class 'dogs' has 2 image(s); it needs 3"),
])
def test_fit_stops_with_one_message_for_a_folder_it_cannot_use(tmp_path, layout, message):
    source = sorted((data_root() / "cifar10" / "train" / "cat").iterdir())
    for name, count in layout.items():
        (tmp_path / "photos" / name).mkdir(parents=True)
        for image in source[:count]:
            shutil.copy2(image, tmp_path / "photos" / name / image.name)
    status, out, err = run("fit", tmp_path / "photos", "--out", tmp_path / "model.safetensors", "--shots", 2)
    assert status == 1 and out == "" and message in err and "Traceback" not in err
    assert not (tmp_path / "model.safetensors").exists()


def test_fit_names_a_missing_folder_and_a_bad_classes_file(tmp_path):
    status, _, err = run("fit", tmp_path / "nowhere", "--out", tmp_path / "m.safetensors")
    assert status == 1 and "image folder" in err and "does not exist" in err
    folder = make_folder(tmp_path / "photos", classes=("cat", "dog"), per_class=1)
    (tmp_path / "names.txt").write_text("cat kitten\nhorse pony\n")
    status, _, err = run("fit", folder, "--out", tmp_path / "m.safetensors", "--classes-file", tmp_path / "names.txt")
    assert status == 1 and "line 2: 'horse' is not a class folder" in err


def test_the_command_line_lists_its_commands():
    completed = subprocess.run([sys.executable, "-m", "llu_core", "--help"], capture_output=True, text=True,
                               cwd=REPO, timeout=120)
    assert completed.returncode == 0
    assert all(command in completed.stdout for command in ("fetch-data", "fit", "predict"))
