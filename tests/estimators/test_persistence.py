"""Save and load (llu_core.estimators.persistence): safetensors plus a JSON header, identical
scores, no pickle; damaged or crafted files refused, naming the file; a loaded model that its file
cannot change any more."""

import json
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors import safe_open

from llu_core import check_backbone
from llu_core.estimators import (ABLATIONS, CLAPClassifier, CLIPAdapterClassifier, GDAClassifier, LinearProbeClassifier,
                                 LLUClassifier, LPPlusPlusClassifier, ProKeRClassifier, TipAdapterClassifier,
                                 ZeroShotClassifier)
from llu_core.estimators.persistence import load_classifier, save_classifier
from llu_core.utils.io import checksum, write_tensors
from damage import edit_bytes, flip_bit
from fresh_python import DROP_ROOT, run_python
from our_errors import assert_raises_ours, our_error_cases
from synthetic import embedded_dataset, random_unit, shifted_domain_task, small_problem

X, y, T = small_problem()


@pytest.fixture(scope="module")
def task():
    return shifted_domain_task(n_test=10)


@pytest.fixture(scope="module")
def small_task():
    return shifted_domain_task(n_test=6)


# --- Save then load gives the same model ----------------------------------------------------------


@pytest.mark.parametrize("estimator", [
    ZeroShotClassifier(logit_scale=50.0), LLUClassifier(epochs=3, n_clusters=20),
    LLUClassifier(**ABLATIONS["linear"], epochs=2), CLIPAdapterClassifier(epochs=2),
    TipAdapterClassifier(finetune=True, epochs=2), LinearProbeClassifier(), GDAClassifier(), ProKeRClassifier(),
    LPPlusPlusClassifier(epochs=12), CLAPClassifier(epochs=2)])
def test_save_then_load_gives_identical_scores(task, estimator, tmp_path):
    estimator.fit(task.X_train, task.y_train, task.T[task.base])
    path = tmp_path / "model.safetensors"
    save_classifier(estimator, path)
    loaded = load_classifier(path)
    assert type(loaded) is type(estimator) and loaded.get_params() == estimator.get_params()
    T = task.T[task.base] if isinstance(estimator, LinearProbeClassifier) else task.T
    np.testing.assert_array_equal(loaded.decision_function(task.X_test, T), estimator.decision_function(task.X_test, T))
    for attribute in ("identity_distance_", "loss_history_", "n_epochs_", "alpha_", "beta_", "lam_",
                      "prototype_step_"):
        assert getattr(loaded, attribute, None) == getattr(estimator, attribute, None)
    with safe_open(str(path), framework="pt") as handle:
        header = json.loads(handle.metadata()["llu_core"])
    assert header["class"] == type(estimator).__name__
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, nothing left behind


def test_numpy_hyperparameters_are_saved_as_numbers(small_task, tmp_path):
    model = TipAdapterClassifier(beta=np.float32(0.5), alpha=np.float64(2.0), finetune=np.bool_(True),
                                 epochs=np.int64(2), batch_size=np.int32(16), seed=np.int64(3))
    model.fit(small_task.X_train, small_task.y_train, small_task.T[small_task.base])
    save_classifier(model, tmp_path / "tip.safetensors")
    loaded = load_classifier(tmp_path / "tip.safetensors")
    assert loaded.get_params() == model.get_params()
    assert all(type(value) in (bool, int, float, type(None)) for value in loaded.get_params().values())
    np.testing.assert_array_equal(loaded.decision_function(small_task.X_test, small_task.T),
                                  model.decision_function(small_task.X_test, small_task.T))


def test_a_save_path_with_a_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    model = ZeroShotClassifier().fit(X, y, T)
    save_classifier(model, "~/models/zero-shot.safetensors")
    assert (tmp_path / "models" / "zero-shot.safetensors").is_file()
    assert load_classifier("~/models/zero-shot.safetensors").dim_ == 6


def test_image_centre_is_saved_with_the_model_and_checked(small_task, tmp_path):
    centre = np.linspace(-1.0, 1.0, 12, dtype=np.float32)
    model = LLUClassifier(epochs=1).fit(small_task.X_train, small_task.y_train, small_task.T[small_task.base])
    path = tmp_path / "model.safetensors"
    save_classifier(model, path, image_centre=centre)
    loaded = load_classifier(path, image_centre=centre)
    np.testing.assert_array_equal(loaded.image_centre_, centre)
    with pytest.raises(ValueError, match="image_centre differs .* centred differently"):
        load_classifier(path, image_centre=centre + 0.1)
    save_classifier(model, tmp_path / "plain.safetensors")
    assert load_classifier(tmp_path / "plain.safetensors").image_centre_ is None
    with pytest.raises(ValueError, match="holds no image centre"):
        load_classifier(tmp_path / "plain.safetensors", image_centre=centre)


def test_a_saved_model_keeps_its_classes_and_refuses_another_backbone(tmp_path):
    data = embedded_dataset(n_classes=3, dim=16, train_per_class=4)
    model = LLUClassifier(epochs=1, n_clusters=4, seed=1).fit(data.train_X, data.train_y, data.text)
    backbone = SimpleNamespace(cache_key="toy-v1", name="toy", origin={"name": "toy", "pretrained": None})
    path = tmp_path / "model.safetensors"
    save_classifier(model, path, classnames=["a", "b", "c"], templates=["a photo of a {}."], backbone=backbone)
    loaded = load_classifier(path, backbone=backbone)
    assert loaded.classnames_ == ["a", "b", "c"] and loaded.templates_ == ["a photo of a {}."]
    assert loaded.backbone_ == {"cache_key": "toy-v1", "description": "toy", "name": "toy", "pretrained": None}
    other = SimpleNamespace(cache_key="toy-v2", name="toy 2")
    with pytest.raises(ValueError, match="another backbone: toy \\(toy-v1\\), not toy 2 \\(toy-v2\\).*load_backbone"):
        load_classifier(path, backbone=other)
    save_classifier(model, path)
    assert load_classifier(path).classnames_ is None
    with pytest.raises(ValueError, match="holds no backbone identity"):
        check_backbone(load_classifier(path), backbone)
    with pytest.raises(ValueError, match="distinct class names"):
        save_classifier(model, path, classnames=["a", "a", "c"])


# --- A model that cannot be right is not saved ----------------------------------------------------


def test_a_model_that_is_not_finite_cannot_be_saved(small_task, tmp_path):
    model = CLIPAdapterClassifier(epochs=1).fit(small_task.X_train, small_task.y_train, small_task.T[small_task.base])
    with torch.no_grad():
        model.adapter_.up.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="adapter_.up.weight has NaN"):
        save_classifier(model, tmp_path / "nan.safetensors")
    assert not (tmp_path / "nan.safetensors").exists()


# --- A damaged, crafted or foreign file is refused on load, naming the file -----------------------


def rewrite(path, edit_header=None, edit_tensors=None):
    """Rewrite a saved classifier as a crafted file would: edited content, a *valid* checksum."""
    with safe_open(str(path), framework="pt") as handle:
        header = json.loads(handle.metadata()["llu_core"])
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    if edit_header:
        edit_header(header)
    if edit_tensors:
        edit_tensors(tensors)
    text = json.dumps(header, sort_keys=True)
    write_tensors(path, tensors, metadata={"llu_core": text,
                                           "checksum": checksum(text, *(tensors[k] for k in sorted(tensors)))})


@pytest.fixture
def saved_llu(small_task, tmp_path):
    task = small_task
    model = LLUClassifier(epochs=2, n_clusters=10).fit(task.X_train, task.y_train, task.T[task.base])
    path = tmp_path / "llu.safetensors"
    save_classifier(model, path)
    return model, path


@pytest.mark.parametrize("damage, message", [
    (lambda path: flip_bit(path, "image_adapter_.linear.weight"), "checksum does not match"),
    (lambda path: edit_bytes(path, b'\\"gamma\\": 20.0', b'\\"gamma\\": 28.0'), "checksum"),
    (lambda path: rewrite(path, lambda h: h["params"].update(gamma=-1000.0)), "gamma must lie in"),
    (lambda path: rewrite(path, edit_tensors=lambda t: t["image_centres_"].fill_(float("nan"))), "NaN"),
    (lambda path: rewrite(path, lambda h: h.update({"class": "EmbeddingClassifier"})), "only .* can be loaded"),
    (lambda path: rewrite(path, lambda h: h["fitted"].update(predict="print")), "fitted values"),
    (lambda path: rewrite(path, lambda h: h["params"].update(__class__="x")), "hyperparameters"),
    (lambda path: rewrite(path, lambda h: h["fitted"].update(dim_=2 ** 20)), "dimension 1048576 needs F32 of shape"),
    (lambda path: rewrite(path, lambda h: h["fitted"].update(dim_=True)), "dim_=True"),
    (lambda path: rewrite(path, lambda h: h.update(format=99)), "format version 99"),
    (lambda path: rewrite(path, edit_tensors=lambda t: t.pop("text_centres_")), "stores the tensors"),
], ids=["flipped-bit", "edited-header", "gamma", "nan-centres", "foreign-class", "extra-attribute", "extra-param",
        "huge-dim", "bool-dim", "format", "missing-tensor"])
def test_damaged_or_crafted_model_files_are_refused(saved_llu, damage, message):
    _, path = saved_llu
    load_classifier(path)  # intact: loads
    damage(path)
    with pytest.raises(ValueError, match=message) as error:
        load_classifier(path)
    assert str(path) in str(error.value)


def test_unfitted_or_foreign_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        save_classifier(LLUClassifier(), tmp_path / "model.safetensors")
    from llu_core.utils.io import write_tensors
    import torch
    write_tensors(tmp_path / "other.safetensors", {"x": torch.zeros(1)})
    with pytest.raises(ValueError, match="not a classifier"):
        load_classifier(tmp_path / "other.safetensors")


def _saved(tmp, name="model.safetensors"):
    path = tmp / name
    save_classifier(ZeroShotClassifier().fit(X, y, T), path)
    return path


def _truncated_model(tmp):
    path = _saved(tmp)
    path.write_bytes(path.read_bytes()[:-7])
    return load_classifier(path)


BAD_INPUT = [
    ("truncated model file", _truncated_model, ValueError, "{tmp}/model.safetensors cannot be read"),
    ("directory as model file", lambda tmp: load_classifier(tmp), ValueError, "path {tmp} is a directory"),
    ("missing model file", lambda tmp: load_classifier(tmp / "none.safetensors"), FileNotFoundError,
     "{tmp}/none.safetensors"),
    ("text file as model file", lambda tmp: (tmp / "a.safetensors").write_text("{}") and load_classifier(
        tmp / "a.safetensors"), ValueError, "{tmp}/a.safetensors cannot be read"),
    ("directory as save path", lambda tmp: save_classifier(ZeroShotClassifier().fit(X, y, T), tmp), ValueError,
     "path {tmp} is a directory"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)


def test_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    result = run_python(f"""
from llu_core.estimators.persistence import load_classifier
try:
    load_classifier({str(fifo)!r})
except ValueError as error:
    print(error)
""", timeout=60)  # before: open() waited for a writer for ever
    assert result.stdout.strip() == f"model file {fifo} is a FIFO; expected a regular file", result.stderr


def test_an_unreadable_file_is_reported_as_such(tmp_path):
    folder = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        folder.chmod(0o755)
        readable, path = two_probes(folder)
        path.chmod(0o000)
        result = run_python(f"""
from llu_core.estimators.persistence import load_classifier
load_classifier({str(readable)!r})
{DROP_ROOT}
try:
    load_classifier({str(path)!r})
except Exception as error:
    print(type(error).__name__, error)
""")
        assert result.stdout.strip() == f"PermissionError model file {path} cannot be read: permission denied", \
            result.stdout + result.stderr[-2000:]
    finally:
        shutil.rmtree(folder)


# --- A loaded model is not its file ---------------------------------------------------------------


def two_probes(tmp_path):
    """Two saved linear probes with files of the same size and different scores."""
    X40, y40 = random_unit(40, 6, seed=0), np.arange(40) % 3
    paths = []
    for C in (1.0, 0.01):
        paths.append(tmp_path / f"probe-{C}.safetensors")
        save_classifier(LinearProbeClassifier(C=C).fit(X40, y40, T), paths[-1])
    assert paths[0].stat().st_size == paths[1].stat().st_size
    return paths


def test_a_loaded_model_keeps_its_scores_when_another_is_copied_over_its_file(tmp_path):
    first, second = two_probes(tmp_path)
    model = load_classifier(first)
    scores = model.decision_function(X, T)
    with open(first, "r+b") as handle:  # in place, as cp does: the same inode, new bytes
        handle.write(second.read_bytes())
    np.testing.assert_array_equal(model.decision_function(X, T), scores)
    assert not np.array_equal(load_classifier(first).decision_function(X, T), scores)


def test_truncating_a_loaded_model_file_does_not_kill_the_process(tmp_path):
    path, _ = two_probes(tmp_path)
    result = run_python(f"""
import numpy as np
from llu_core.estimators.persistence import load_classifier
from synthetic import random_unit
model = load_classifier({str(path)!r})
open({str(path)!r}, "w").close()
print(model.decision_function(random_unit(8, 6, seed=0), random_unit(3, 6, seed=1)).shape)
""")
    assert result.returncode == 0, result.stderr[-2000:]  # before: -7, SIGBUS
    assert result.stdout.strip() == "(8, 3)"


def test_class_names_must_name_every_class_the_model_keeps(small_task, tmp_path):
    X, y, T = small_task.X_train, small_task.y_train, small_task.T
    llu = LLUClassifier(epochs=1).fit(X, y, T)
    with pytest.raises(ValueError, match=f"classnames has 1 name\\(s\\); the LLUClassifier was fitted on {len(T)} "
                                         "classes"):
        save_classifier(llu, tmp_path / "m.safetensors", classnames=["only one"])
    probe = LinearProbeClassifier().fit(X, y, T)  # fitted on the classes of y, the base classes
    known = len(np.unique(y))
    with pytest.raises(ValueError, match=f"the LinearProbeClassifier was fitted on {known} classes, each needs its name"):
        save_classifier(probe, tmp_path / "m.safetensors", classnames=[f"c{k}" for k in range(known - 1)])
    assert not (tmp_path / "m.safetensors").exists()


def test_class_names_of_any_characters_are_saved_and_loaded_exactly(small_task, tmp_path):
    X, y, T = small_task.X_train, small_task.y_train, small_task.T
    names = ["tab\there", "line\nbreak", "-dash", "ctl\x01\x1b", "L" * 300, os.fsdecode(b"caf\xe9"), 'q"u,o'][:len(T)]
    names += [f"class {k}" for k in range(len(T) - len(names))]
    save_classifier(LLUClassifier(epochs=1).fit(X, y, T), tmp_path / "m.safetensors", classnames=names,
                    templates=["a photo of a {}."])
    assert load_classifier(tmp_path / "m.safetensors").classnames_ == names
