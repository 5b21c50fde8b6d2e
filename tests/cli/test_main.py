"""The command line, ``python -m llu_core``: fit on an image folder, predict with the saved model (with
classes named at prediction time), output that any name passes through, and the errors a reader meets
on the way. The folder is a few offline CIFAR-10 images copied into a temporary folder; one fit (2
shots, the offline model) serves every test of the saved model, another one the odd names."""

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from llu_core import load_classifier, save_classifier
from llu_core.__main__ import main
from llu_core.data.paths import data_root
from llu_core.evaluation import image_folders
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


def run_bytes(*arguments):
    """As :func:`run`, with a stdout of bytes as a terminal or a pipe has: (status, stdout bytes, stderr)."""
    raw, err = io.BytesIO(), io.StringIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", write_through=True)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(argument) for argument in arguments])
    return status, raw.getvalue(), err.getvalue()


def csv_rows(printed):
    """predict's CSV (text or bytes) as its header and its rows (path, class, probability)."""
    text = printed.decode("utf-8", "surrogateescape") if isinstance(printed, bytes) else printed
    header, *rows = csv.reader(io.StringIO(text, newline=""))
    assert header == ["path", "class", "probability"]
    return [(path, name, float(probability)) for path, name, probability in rows]


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
    rows = csv_rows(out)
    assert [row[0] for row in rows] == [str(image) for image in images]
    assert all(row[1] in ("airplane", "car", "bird") and 1 / 3 <= row[2] <= 1.0 for row in rows)
    library = predict_images(fitted.model, images)
    assert [(p.classname, round(p.probability, 4)) for p in library] == [row[1:] for row in rows]
    status, out, _ = run("predict", fitted.model, *images, "--format", "jsonl")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"path": path, "class": name, "probability": probability} for path, name, probability in rows]


def test_predict_names_and_skips_images_it_cannot_read(fitted):
    good, broken, missing = fitted.folder / "bird" / "0001.jpg", fitted.folder / "bird" / "broken.jpg", "missing.jpg"
    status, out, err = run("predict", fitted.model, broken, good, missing)
    assert status == 1
    assert [row[0] for row in csv_rows(out)] == [str(good)]
    assert "broken.jpg cannot be decoded" in err and "missing.jpg does not exist" in err
    status, out, err = run("predict", fitted.model, missing)
    assert status == 1 and out == "" and "missing.jpg does not exist" in err
    assert "error: none of the 1 image(s) could be read (missing.jpg)" in err


def test_predict_answers_a_class_named_at_prediction_time(fitted, tmp_path):
    frogs = sorted((data_root() / "cifar10" / "train" / "frog").iterdir())[:10]  # the model never saw a frog
    status, out, err = run("predict", fitted.model, *frogs)
    assert status == 0 and "frog" not in [name for _, name, _ in csv_rows(out)]
    status, out, err = run("predict", fitted.model, *frogs, "--classes", "frog", "truck")
    answers = [name for _, name, _ in csv_rows(out)]
    assert status == 0 and answers.count("frog") >= 8, answers  # 9 of the 10 when written
    (tmp_path / "new.txt").write_text("# classes the model was not fitted on\nfrog\n\ntruck\n")
    status, out, _ = run("predict", fitted.model, *frogs, "--classes-from", tmp_path / "new.txt")
    assert status == 0 and [name for _, name, _ in csv_rows(out)] == answers
    library = predict_images(fitted.model, frogs, classes=["frog", "truck"])
    assert [(p.classname, round(p.probability, 4)) for p in library] == [row[1:] for row in csv_rows(out)]


@pytest.mark.parametrize("arguments, message", [
    (["--classes", "bird"], "error: --classes: 'bird' is already a class of the model (its classes: 'airplane', 'car', "
                            "'bird'); name only new classes"),
    (["--classes", "frog", "frog"], "error: --classes: 'frog' is named twice"),
    (["--classes", " "], "error: --classes: item 0 (' ') is not a class name"),
    (["--classes", "Bird"], "error: --classes rows 2 and 3 ('bird' and 'Bird') are the same class embedding"),
    (["--classes-from", "nowhere.txt"], "error: classes file nowhere.txt does not exist"),
    (["--pretrained", "/nowhere/ViT.pt"], "error: --pretrained='/nowhere/ViT.pt': the offline backbone has its own "
                                          "weights"),
    (["--device", "cuda:7"], "error: --device 'cuda:7' is not available"),
])
def test_predict_refuses_classes_and_options_it_cannot_use_with_one_message(fitted, arguments, message):
    status, out, err = run("predict", fitted.model, fitted.folder / "bird" / "0000.jpg", *arguments)
    assert status == 1 and out == "" and message in err and "Traceback" not in err and err.count("error:") == 1


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
    assert all(command in completed.stdout for command in ("fetch-data", "fit", "predict", "reproduce"))


# --- Any name a folder or file can have passes through fit, predict and the results ---------------

#: Class folder names -> the CIFAR-10 class of their images.
ODD_CLASSES = {"tab\tname": "cat", "line\nbreak": "dog", "-dash": "ship", "ctl\x01\x1b[31m": "truck", "L" * 200: "horse",
               os.fsdecode(b"caf\xe9"): "bird", 'q"u,o;te': "deer"}
ODD_FILES = ["tab\tname.jpg", "line\nbreak.jpg", "-dash.jpg", os.fsdecode(b"\xff\xfe.jpg"), "N" * 240 + ".jpg",
             'q"u,o;te.jpg', "cr\rreturn.jpg"]


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd")
    for name, source in ODD_CLASSES.items():
        make_folder(root / "photos", classes=(source,), per_class=2)
        (root / "photos" / source).rename(root / "photos" / name)
    (root / "new").mkdir()
    for index, name in enumerate(ODD_FILES):
        shutil.copy2(sorted((data_root() / "cifar10" / "test" / "frog").iterdir())[index], root / "new" / name)
    model = root / "odd.safetensors"
    status, out, err = run_bytes("fit", root / "photos", "--out", model, "--shots", 1, "--format", "json")
    return SimpleNamespace(root=root, model=model, status=status, out=out, err=err)


def test_odd_class_names_pass_through_fit_its_report_and_the_saved_model(odd):
    assert odd.status == 0, odd.err
    report = json.loads(odd.out.decode("utf-8", "surrogateescape"))
    assert sorted(report["classnames"]) == sorted(ODD_CLASSES) and report["model_path"] == str(odd.model)
    assert load_classifier(odd.model).classnames_ == report["classnames"]
    status, out, _ = run_bytes("fit", odd.root / "photos", "--out", odd.root / "again.safetensors", "--shots", 1)
    text = out.decode("utf-8", "surrogateescape")
    assert status == 0 and text.splitlines()[0].startswith(f"{odd.root / 'photos'}: 7 classes (")
    assert len(text.splitlines()) == 10  # the text report: every name on one line, escaped where it must be
    assert "'tab\\tname'" in text and "'line\\nbreak'" in text and "'caf\\udce9'" in text


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_odd_file_and_class_names_pass_through_predict_parsed_back_exactly(odd, format, monkeypatch):
    monkeypatch.chdir(odd.root / "new")  # relative names: one starts with a dash
    new_classes = ["fr\tog", "line\nclass", "-x", 'a"b,c']
    status, out, err = run_bytes("predict", odd.model, "--format", format, *(f"--classes={name}" for name in new_classes),
                                 "--", *ODD_FILES)
    assert status == 0, err
    text = out.decode("utf-8", "surrogateescape")
    if format == "csv":
        rows = csv_rows(out)
    else:
        rows = [(record["path"], record["class"], record["probability"]) for record in map(json.loads, text.splitlines())]
        assert text.isascii() and len(text.splitlines()) == len(ODD_FILES)
    assert [path for path, _, _ in rows] == ODD_FILES
    assert all(name in [*ODD_CLASSES, *new_classes] for _, name, _ in rows)


def test_a_name_that_is_not_utf_8_keeps_its_bytes_on_a_real_stdout(odd):
    completed = subprocess.run([sys.executable, "-m", "llu_core", "predict", str(odd.model), os.fsencode(ODD_FILES[3])],
                               capture_output=True, cwd=odd.root / "new", timeout=300,
                               env=dict(os.environ, TQDM_DISABLE="1", PYTHONPATH=str(REPO)))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith(b'path,class,probability\n"\xff\xfe.jpg","')


# --- Every argument that names a file is checked before any work -----------------------------------


@pytest.fixture
def nothing_loads(monkeypatch):
    """load_backbone replaced by a failure: a refusal passes only if it came before any backbone loaded."""
    def loaded(*args, **kwargs):
        raise AssertionError("a backbone was loaded")

    monkeypatch.setattr(image_folders, "load_backbone", loaded)


@pytest.mark.parametrize("options, message", [
    (["--out", "{tmp}/fifo"], "error: --out {tmp}/fifo is a FIFO; expected a regular file or a new file"),
    (["--out", "{tmp}"], "error: --out {tmp} is a directory; expected a file path"),
    (["--out", "{tmp}/photos/cat/0000.jpg"], "error: --out {tmp}/photos/cat/0000.jpg must name a .safetensors file"),
    (["--out", "{tmp}/a file/m.safetensors"], "cannot be written: {tmp}/a file is a file, not a folder"),
    (["--out", ""], "error: --out is empty; expected a file path"),
    (["--pretrained", "/nowhere/ViT.pt"], "error: --pretrained='/nowhere/ViT.pt': the offline backbone has its own"),
    (["--backbone", "ViT-B-16", "--pretrained", "{tmp}/missing.pt"], "error: checkpoint {tmp}/missing.pt does not exist"),
    (["--gamma", "-1"], "error: --gamma must lie in [0.0, inf], got -1.0"),
    (["--seed", "-1"], "error: --seed must be an integer >= 0, got -1"),
    (["--hold-out-classes", "horse"], "error: --hold-out-classes: 'horse' is not a class of photos; its classes are "
                                      "'cat', 'dog'"),
    (["--hold-out-classes", "cat"], "error: --hold-out-classes leaves 1 class(es) to fit on; LLU needs at least two"),
    (["--classes-file", "{tmp}/fifo"], "error: classes file {tmp}/fifo is a FIFO; expected a regular file"),
])
def test_fit_checks_every_argument_before_loading_anything(tmp_path, options, message, nothing_loads):
    folder = make_folder(tmp_path / "photos", classes=("cat", "dog"), per_class=2)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "a file").write_text("")
    options = [option.replace("{tmp}", str(tmp_path)) for option in options]
    status, out, err = run("fit", folder, "--shots", 1, *(["--out", tmp_path / "m.safetensors"] if "--out" not in options
                                                          else []), *options)
    assert status == 1 and out == "" and message.replace("{tmp}", str(tmp_path)) in err, err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert os.path.exists(tmp_path / "fifo") and not os.path.isfile(tmp_path / "fifo")  # left as it was
    Image.open(folder / "cat" / sorted(os.listdir(folder / "cat"))[0]).verify()  # the image is intact


@pytest.mark.parametrize("root, message", [("", "error: the data root is empty"),
                                           ("{tmp}/a file", "error: the data root {tmp}/a file is not a folder")])
def test_fetch_data_checks_its_root_before_anything(tmp_path, root, message):
    (tmp_path / "a file").write_text("")
    status, out, err = run("fetch-data", "--root", root.replace("{tmp}", str(tmp_path)))
    assert status == 1 and out == "" and err.startswith(message.replace("{tmp}", str(tmp_path)))
