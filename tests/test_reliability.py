"""Reliability: no silent wrong answers from the cache, the model files or extreme inputs.

First one test (or a few) per silent failure that probing ``llu_core`` as a careless or hostile
user found (the numbered items of the issue), then one parametrised test over the inputs that
used to fail with an unclear error from deep inside numpy, torch or scikit-learn: each must
now raise our ``ValueError``/``FileNotFoundError`` naming the argument or the file, or be
accepted and handled correctly (the tests after it).
"""

import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from torch.overrides import TorchFunctionMode

from llu_core.backbones import offline as offline_model
from llu_core.backbones import load_backbone
from llu_core.estimators import (CLIPAdapterClassifier, LinearProbeClassifier, LLUClassifier, TipAdapterClassifier,
                                  ZeroShotClassifier)
from llu_core.estimators.prompt_learners import CoOpClassifier
from llu_core.data.cache import image_cache_folder
from llu_core.data.coop import read_split_file
from llu_core.data.datasets import load_dataset
from llu_core.data.embedded import class_balanced_subset, embed_dataset
from llu_core.data.features import encode_images, extract_features, extract_text_features
from llu_core.data.images import UnreadableImageError
from llu_core.data.labelled import ImageArrays, ImageFiles
from llu_core.utils.class_texts import ClassTexts
from llu_core.utils.io import checksum, write_json, write_tensors
from llu_core.utils.locations import cache_dir
from llu_core.estimators.persistence import load_classifier, save_classifier
from llu_core.evaluation.grids import run_grid
from llu_core.evaluation.protocols import evaluate_base_to_new, few_shot_indices
from llu_core.evaluation.transfer import run_transfer
from synthetic import random_unit, shifted_domain_task
from stand_in_backbones import CountingBackbone

X = random_unit(8, 6, seed=0)
T = random_unit(3, 6, seed=1)
y = np.array([0, 1, 2, 0, 1, 2, 0, 1])


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def task():
    return shifted_domain_task(n_test=6)


def png_files(folder, colours):
    """One 4x4 PNG per colour under ``folder/c/``; returns the relative paths."""
    (folder / "c").mkdir(parents=True, exist_ok=True)
    paths = [f"c/{index}.png" for index in range(len(colours))]
    for path, colour in zip(paths, colours):
        Image.new("RGB", (4, 4), colour).save(folder / path)
    return paths


def files_dataset(folder, paths):
    return ImageFiles("toy", "train", folder, paths, np.arange(len(paths)) % 2, ["a", "b"], ["a {}."])


def flip_bit(path, tensor, bit=30):
    """Flip one bit of the first element of ``tensor`` in a safetensors file (bit 30: the exponent)."""
    raw = bytearray(path.read_bytes())
    header_size = struct.unpack("<Q", raw[:8])[0]
    start = 8 + header_size + json.loads(raw[8:8 + header_size])[tensor]["data_offsets"][0]
    raw[start + bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(raw))


def edit_bytes(path, old, new):
    """Replace ``old`` by ``new`` (same length) in a file, as a bit-flip or a hand edit would."""
    raw = path.read_bytes()
    assert raw.count(old) == 1 and len(old) == len(new)
    path.write_bytes(raw.replace(old, new))


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


# --- 1. The image cache is keyed by the files, not only their names ---------------------------


def test_image_cache_is_keyed_by_the_data_root_and_the_files(cache, tmp_path, monkeypatch):
    root_a, root_b = tmp_path / "a", tmp_path / "b"
    paths = png_files(root_a, ["red", "green", "blue", "white"])
    assert png_files(root_b, ["black", "yellow", "cyan", "gray"]) == paths  # same names, other pixels
    for path in paths:  # even with identical modification times the roots' identities separate them
        stat = (root_a / path).stat()
        os.utime(root_b / path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    backbone = CountingBackbone()
    features_a, _ = extract_features(backbone, files_dataset(root_a, paths), progress=False)
    features_b, _ = extract_features(backbone, files_dataset(root_b, paths), progress=False)
    assert backbone.images_seen == 8
    assert torch.equal(features_b, encode_images(CountingBackbone(), files_dataset(root_b, paths), range(4))[1])
    assert not torch.equal(features_a, features_b)

    # An image edited in place (new pixels, new modification time) is a miss.
    Image.new("RGB", (4, 4), "purple").save(root_a / paths[0])
    stat = (root_a / paths[0]).stat()
    os.utime(root_a / paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10 ** 9))
    edited, _ = extract_features(backbone, files_dataset(root_a, paths), progress=False)
    assert backbone.images_seen == 12 and not torch.equal(edited[0], features_a[0])
    assert torch.equal(edited[1:], features_a[1:])

    # A hit looks at the files' sizes and times only: no image is decoded.
    def no_decoding(*args, **kwargs):
        raise AssertionError("a cache hit decoded an image")

    monkeypatch.setattr(Image, "open", no_decoding)
    hit, _ = extract_features(backbone, files_dataset(root_a, paths), progress=False)
    assert torch.equal(hit, edited) and backbone.images_seen == 12


# --- 2. The offline model's alignment file is verified ------------------------------------------


@pytest.fixture
def stand_in_towers(monkeypatch):
    """Random classifier rows and sentence embeddings in place of the two towers: an alignment
    builds in a second; the real fitting, writing and loading code runs."""
    rng = np.random.default_rng(0)
    rows = torch.from_numpy(rng.normal(size=(1000, 1280)).astype(np.float32))
    sentences = rng.normal(size=(1000, 384)).astype(np.float32)
    monkeypatch.setattr(offline_model, "image_tower", lambda *a, **k: SimpleNamespace(_fc=SimpleNamespace(weight=rows)))
    monkeypatch.setattr(offline_model, "text_tower", lambda *a, **k: None)
    monkeypatch.setattr(offline_model, "embed_sentences", lambda tower, names, templates: sentences[:len(names)])


def test_damaged_alignment_file_is_detected_and_rebuilt(tmp_path, stand_in_towers):
    path = tmp_path / "alignment.safetensors"
    offline_model.build_alignment(path)
    original = {name: tensor.clone() for name, tensor in offline_model.load_alignment(path)[0].items()}
    flip_bit(path, "basis")
    with pytest.warns(UserWarning, match="checksum"):
        rebuilt, _ = offline_model.load_alignment(path)
    assert torch.equal(rebuilt["basis"], original["basis"])
    assert torch.equal(offline_model.load_alignment(path)[0]["basis"], original["basis"])


# --- 3. Saved classifiers are verified on load ---------------------------------------------------


@pytest.fixture
def saved_llu(task, tmp_path):
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


def test_numpy_hyperparameters_are_saved_as_numbers(task, tmp_path):
    model = TipAdapterClassifier(beta=np.float32(0.5), alpha=np.float64(2.0), finetune=np.bool_(True),
                                 epochs=np.int64(2), batch_size=np.int32(16), seed=np.int64(3))
    model.fit(task.X_train, task.y_train, task.T[task.base])
    save_classifier(model, tmp_path / "tip.safetensors")
    loaded = load_classifier(tmp_path / "tip.safetensors")
    assert loaded.get_params() == model.get_params()
    assert all(type(value) in (bool, int, float, type(None)) for value in loaded.get_params().values())
    np.testing.assert_array_equal(loaded.decision_function(task.X_test, task.T),
                                  model.decision_function(task.X_test, task.T))


def test_a_model_that_is_not_finite_cannot_be_saved(task, tmp_path):
    model = CLIPAdapterClassifier(epochs=1).fit(task.X_train, task.y_train, task.T[task.base])
    with torch.no_grad():
        model.adapter_.up.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="adapter_.up.weight has NaN"):
        save_classifier(model, tmp_path / "nan.safetensors")
    assert not (tmp_path / "nan.safetensors").exists()


# --- 4. Extreme finite inputs ----------------------------------------------------------------


@pytest.mark.parametrize("scale, dtype", [(1e20, np.float32), (1e30, np.float32), (1e300, np.float64),
                                          (1e-30, np.float32), (1e-300, np.float64)])
def test_rows_of_any_finite_magnitude_keep_their_direction(scale, dtype):
    model = ZeroShotClassifier().fit(X, y, T)
    expected = model.decision_function(X, T)
    np.testing.assert_allclose(model.decision_function(X.astype(dtype) * dtype(scale), T), expected, rtol=1e-5,
                               atol=1e-4)
    np.testing.assert_allclose(model.decision_function(X, T.astype(dtype) * dtype(scale)), expected, rtol=1e-5,
                               atol=1e-4)


@pytest.mark.parametrize("estimator", [LLUClassifier(lam=1e38, epochs=10), CLIPAdapterClassifier(lr=1e38, epochs=10)],
                         ids=["lam", "lr"])
def test_a_fit_whose_loss_stops_being_finite_raises(estimator):
    with pytest.raises(ValueError, match="training diverged .* lower them"):
        estimator.fit(X, y, T)
    assert not hasattr(estimator, "loss_history_")


# --- 5. extract_features' indices and the cache path ---------------------------------------------


@pytest.mark.parametrize("indices, message", [
    (np.arange(40) < 5, "flatnonzero"), ([1.7, 2.2], "integers, got dtype float64"), (["3"], "integers"),
])
def test_indices_that_are_not_integers_are_refused(cache, indices, message):
    dataset = ImageArrays("toy", "train", np.zeros((40, 4, 4, 3), np.uint8), np.arange(40) % 4, list("abcd"), ["{}"])
    with pytest.raises(ValueError, match=message):
        extract_features(CountingBackbone(), dataset, indices=indices, progress=False)


def test_split_name_cannot_leave_the_cache(cache):
    dataset = ImageArrays("toy", "x/../../../../../../escaped", np.zeros((4, 4, 4, 3), np.uint8), np.arange(4),
                          list("abcd"), ["{}"])
    backbone = CountingBackbone()
    folder = image_cache_folder(backbone, dataset)
    assert folder.parent == cache_dir() / "features" / backbone.cache_key
    extract_features(backbone, dataset, progress=False)
    assert all(cache in path.parents for path in cache.parent.rglob("part-*"))


# --- Tip-Adapter scores in chunks ------------------------------------------------------------


class LargestResult(TorchFunctionMode):
    """Records the shape of every tensor that torch operations produce."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        if isinstance(result, torch.Tensor):
            self.shapes.append(tuple(result.shape))
        return result


def test_tip_adapter_scores_a_bounded_block_of_affinities_at_a_time(task, monkeypatch):
    import llu_core.estimators.baselines as classifiers

    model = TipAdapterClassifier().fit(task.X_train, task.y_train, task.T[task.base])
    n_keys, n_test = model.keys_.shape[0], task.X_test.shape[0]
    expected = model.decision_function(task.X_test, task.T)
    monkeypatch.setattr(classifiers, "_CHUNK_ELEMENTS", 7 * n_keys)  # 7 rows per block
    with LargestResult() as recorder:
        chunked = model.decision_function(task.X_test, task.T)
    np.testing.assert_allclose(chunked, expected, rtol=1e-5, atol=1e-5)
    assert (7, n_keys) in recorder.shapes and (n_test, n_keys) not in recorder.shapes  # never all n × keys


# --- image_centre travels with the model --------------------------------------------------------


def test_image_centre_is_saved_with_the_model_and_checked(task, tmp_path):
    centre = np.linspace(-1.0, 1.0, 12, dtype=np.float32)
    model = LLUClassifier(epochs=1).fit(task.X_train, task.y_train, task.T[task.base])
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


# --- Unclear errors: each is now ours, naming the argument or the file --------------------------

TINY_OPEN_CLIP = {"embed_dim": 16,
                  "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
                  "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}}


def _tiny_open_clip(tmp):
    import open_clip

    config = tmp / "llu-tiny-reliability.json"
    config.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(config)
    return "llu-tiny-reliability"


def _saved(tmp, name="model.safetensors"):
    path = tmp / name
    save_classifier(ZeroShotClassifier().fit(X, y, T), path)
    return path


def _truncated_model(tmp):
    path = _saved(tmp)
    path.write_bytes(path.read_bytes()[:-7])
    return load_classifier(path)


def _split_file_root(tmp, content):
    (tmp / "dtd" / "images").mkdir(parents=True)
    (tmp / "dtd" / "split_zhou_DescribableTextures.json").write_text(content)
    return load_dataset("dtd", "train", root=tmp)


def _text_checkpoint(tmp):
    (tmp / "weights.pt").write_text("these are not weights\n")
    return load_backbone(_tiny_open_clip(tmp), pretrained=tmp / "weights.pt", device="cpu")


UNCLEAR = [
    ("string labels", lambda tmp: LLUClassifier(epochs=1).fit(X, list("abcabcab"), T), ValueError,
     r"^y must hold integer"),
    ("None labels", lambda tmp: LLUClassifier(epochs=1).fit(X, [None] * 8, T), ValueError, r"^y must hold integer"),
    ("boolean labels", lambda tmp: ZeroShotClassifier().fit(X, y > 0, T), ValueError, r"^y must hold integer"),
    ("complex X", lambda tmp: ZeroShotClassifier().fit(X + 1j, y, T), ValueError, r"^X must hold real numbers"),
    ("string T", lambda tmp: ZeroShotClassifier().fit(X, y, [["a"] * 6] * 3), ValueError, r"^T must hold real"),
    ("ragged X", lambda tmp: ZeroShotClassifier().fit([[1.0, 2.0], [1.0]], y, T), ValueError, r"^X is not a numeric"),
    ("n_clusters=True", lambda tmp: LLUClassifier(n_clusters=True).fit(X, y, T), ValueError, r"^n_clusters must be"),
    ("batch_size=True", lambda tmp: LLUClassifier(batch_size=True).fit(X, y, T), ValueError, r"^batch_size must be"),
    ("epochs=2.5", lambda tmp: CLIPAdapterClassifier(epochs=2.5).fit(X, y, T), ValueError, r"^epochs must be"),
    ('finetune="no"', lambda tmp: TipAdapterClassifier(finetune="no").fit(X, y, T), ValueError, r"^finetune must be"),
    ("seed=None", lambda tmp: LLUClassifier(seed=None).fit(X, y, T), ValueError, r"^seed must be"),
    ("seed=-1", lambda tmp: CLIPAdapterClassifier(seed=-1).fit(X, y, T), ValueError, r"^seed must be"),
    ("unavailable device", lambda tmp: LLUClassifier(epochs=1, device="cuda:99").fit(X, y, T), ValueError,
     r"^device 'cuda:99' is not available"),
    ("unknown device", lambda tmp: ZeroShotClassifier(device="gpu").fit(X, y, T), ValueError, r"^device must be"),
    ("logit_scale=0", lambda tmp: ZeroShotClassifier(logit_scale=0).fit(X, y, T), ValueError, r"^logit_scale must"),
    ("C=0", lambda tmp: LinearProbeClassifier(C=0).fit(X, y, T), ValueError, r"^C must lie in \(0"),
    ("max_iter=True", lambda tmp: LinearProbeClassifier(max_iter=True).fit(X, y, T), ValueError, r"^max_iter must"),
    ("per_class=True", lambda tmp: class_balanced_subset(y, True), ValueError, r"^per_class must be"),
    ("extraction batch_size=True", lambda tmp: extract_features(CountingBackbone(), ImageArrays(
        "toy", "train", np.zeros((2, 4, 4, 3), np.uint8), [0, 1], ["a", "b"], ["{}"]), batch_size=True),
     ValueError, r"^batch_size must be"),
    ("base-to-new with no new class", lambda tmp: evaluate_base_to_new(ZeroShotClassifier(), X, 0 * y, X, 0 * y,
                                                                       T[:1], 1, 1), ValueError, r"^T has 1 class"),
    ("truncated model file", _truncated_model, ValueError, "{tmp}/model.safetensors cannot be read"),
    ("directory as model file", lambda tmp: load_classifier(tmp), ValueError, "path {tmp} is a directory"),
    ("missing model file", lambda tmp: load_classifier(tmp / "none.safetensors"), FileNotFoundError,
     "{tmp}/none.safetensors"),
    ("text file as model file", lambda tmp: (tmp / "a.safetensors").write_text("{}") and load_classifier(
        tmp / "a.safetensors"), ValueError, "{tmp}/a.safetensors cannot be read"),
    ("directory as save path", lambda tmp: save_classifier(ZeroShotClassifier().fit(X, y, T), tmp), ValueError,
     "path {tmp} is a directory"),
    ("directory as checkpoint", lambda tmp: load_backbone("RN50", pretrained=tmp, device="cpu"), ValueError,
     "checkpoint {tmp} is a directory"),
    ("text file as checkpoint", _text_checkpoint, ValueError, "checkpoint {tmp}/weights.pt cannot be loaded"),
    ("malformed split JSON", lambda tmp: _split_file_root(tmp, '{"train": [["a.jpg", 0, "x"]'), ValueError,
     "split file {tmp}/dtd/split_zhou_DescribableTextures.json is not valid JSON"),
    ("split item not a triple", lambda tmp: _split_file_root(tmp, json.dumps(
        {"train": [["a.jpg", "0"]], "val": [], "test": []})), ValueError, "split file {tmp}/dtd/.* item"),
    ("split item outside the root", lambda tmp: _split_file_root(tmp, json.dumps(
        {"train": [["../../../etc/passwd", 0, "x"]], "val": [], "test": []})), ValueError,
     "split file {tmp}/dtd/.*'../../../etc/passwd' of 'train' lies outside"),
    ("absolute split item", lambda tmp: _split_file_root(tmp, json.dumps(
        {"train": [["/etc/passwd", 0, "x"]], "val": [], "test": []})), ValueError, "'/etc/passwd' .* lies outside"),
]


@pytest.mark.parametrize("call, error, message", [case[1:] for case in UNCLEAR], ids=[case[0] for case in UNCLEAR])
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path):
    with pytest.raises(error) as raised:
        call(tmp_path)
    assert type(raised.value) is error  # ours, not a subclass from deep inside a library
    assert re.search(message.replace("{tmp}", re.escape(str(tmp_path))), str(raised.value)), str(raised.value)


# --- ... or accepted and handled correctly ---------------------------------------------------


def test_numpy_scalars_and_negative_strides_are_accepted():
    reference = LLUClassifier(epochs=2, seed=1, beta=0.5).fit(X, y, T)
    model = LLUClassifier(epochs=np.int64(2), seed=np.int64(1), beta=np.float32(0.5)).fit(X[::-1][::-1], y, T)
    np.testing.assert_array_equal(model.decision_function(X[::-1], T[::-1]),
                                  reference.decision_function(X[::-1].copy(), T[::-1].copy()))


def test_a_save_path_with_a_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    model = ZeroShotClassifier().fit(X, y, T)
    save_classifier(model, "~/models/zero-shot.safetensors")
    assert (tmp_path / "models" / "zero-shot.safetensors").is_file()
    assert load_classifier("~/models/zero-shot.safetensors").dim_ == 6


def test_new_files_follow_the_umask_not_mode_0600(tmp_path):
    previous = os.umask(0o022)
    try:
        write_json(tmp_path / "result.json", {"a": 1})
        write_tensors(tmp_path / "part.safetensors", {"x": torch.zeros(2)})
    finally:
        os.umask(previous)
    assert {(tmp_path / name).stat().st_mode & 0o777 for name in ("result.json", "part.safetensors")} == {0o644}


def test_a_truncated_image_loses_only_itself_and_is_named(cache, tmp_path):
    root = tmp_path / "images"
    paths = png_files(root, ["red", "green", "blue", "white", "black", "yellow"])
    dataset = files_dataset(root, paths)
    reference, _ = extract_features(CountingBackbone(), dataset, progress=False)
    damaged = root / paths[2]
    damaged.write_bytes(damaged.read_bytes()[:40])
    backbone = CountingBackbone()
    with pytest.warns(UserWarning, match=re.escape(str(damaged))):
        features, labels = extract_features(backbone, files_dataset(root, paths), progress=False)
    keep = [0, 1, 3, 4, 5]
    assert torch.equal(features, reference[keep]) and labels.tolist() == dataset.labels[keep].tolist()
    assert backbone.images_seen == 5  # the other images of the chunk were embedded and cached
    with pytest.warns(UserWarning, match=re.escape(str(damaged))):
        extract_features(backbone, files_dataset(root, paths), progress=False)
    assert backbone.images_seen == 5


def test_a_part_that_is_a_directory_is_ignored(cache):
    dataset = ImageArrays("toy", "train", np.zeros((6, 4, 4, 3), np.uint8) + np.arange(6)[:, None, None, None],
                          np.arange(6) % 2, ["a", "b"], ["{}"])
    backbone = CountingBackbone()
    folder = image_cache_folder(backbone, dataset)
    (folder / "part-directory.safetensors").mkdir(parents=True)
    with pytest.warns(UserWarning, match="part-directory.safetensors is not a file"):
        features, _ = extract_features(backbone, dataset, chunk_size=1, progress=False)
    assert features.shape == (6, 8) and backbone.images_seen == 6


def test_a_read_only_cache_with_a_corrupt_part_computes_in_memory(cache, monkeypatch):
    import llu_core.utils.locations as locations

    dataset = ImageArrays("toy", "train", np.arange(6 * 48, dtype=np.uint8).reshape(6, 4, 4, 3), np.arange(6) % 2,
                          ["a", "b"], ["{}"])
    reference, _ = extract_features(CountingBackbone(), dataset, progress=False)
    (part,) = cache.rglob("part-*.safetensors")
    flip_bit(part, "features")

    # What a read-only folder does to any user (tests may run as root, who could still write).
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refused)
    monkeypatch.setattr(locations, "write_tensors", refused)
    backbone = CountingBackbone()
    with pytest.warns(UserWarning) as warned:
        features, _ = extract_features(backbone, dataset, progress=False)
    assert torch.equal(features, reference) and backbone.images_seen == 6
    messages = " ".join(str(warning.message) for warning in warned)
    assert "checksum" in messages and "computed in memory" in messages


# === Round 3 ======================================================================================
# One section per class of failure; each test failed before its fix.


def run_python(code, timeout=120):
    """Run ``code`` in a fresh interpreter (on this checkout's llu_core); its CompletedProcess."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent / "helpers"), *sys.path]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=environment, cwd="/")


#: Code that makes a child process an ordinary user when the tests run as root (to whom every
#: file is readable); what it imports later must already be imported.
DROP_ROOT = "import os\nif os.geteuid() == 0:\n    os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"


def two_probes(tmp_path):
    """Two saved linear probes with files of the same size and different scores."""
    X40, y40 = random_unit(40, 6, seed=0), np.arange(40) % 3
    paths = []
    for C in (1.0, 0.01):
        paths.append(tmp_path / f"probe-{C}.safetensors")
        save_classifier(LinearProbeClassifier(C=C).fit(X40, y40, T), paths[-1])
    assert paths[0].stat().st_size == paths[1].stat().st_size
    return paths


# --- 6. A loaded model, cache file or alignment is not the file ------------------------------------


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


def test_cached_text_embeddings_are_not_the_cache_file(cache):
    backbone = CountingBackbone()
    extract_text_features(backbone, ["a", "bb"], ["{}"])
    text = extract_text_features(backbone, ["a", "bb"], ["{}"])  # from the cache file
    assert backbone.texts_seen == 2
    copy = text.clone()
    (path,) = cache.rglob("text/*/*.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-12:] = bytes(12)
    with open(path, "r+b") as handle:
        handle.write(bytes(raw))
    assert torch.equal(text, copy)


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


@pytest.mark.parametrize("reader, message", [
    (lambda path: load_classifier(path), "model file /dev/null is a character device; expected a regular file"),
    (lambda path: read_split_file(path), "split file /dev/null is a character device; expected a regular file"),
    (lambda path: load_backbone("RN50", pretrained=path, device="cpu"), "checkpoint /dev/null is not a regular file"),
], ids=["model", "split-file", "checkpoint"])
def test_a_device_is_refused(reader, message):
    with pytest.raises(ValueError, match=message):
        reader("/dev/null")


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


# --- 7. The cache keeps its promise on every write failure: one warning, computed in memory --------


def toy_images():
    return ImageArrays("toy", "train", np.arange(6 * 48, dtype=np.uint8).reshape(6, 4, 4, 3), np.arange(6) % 2,
                       ["a", "b"], ["{}"])


@pytest.mark.parametrize("where", ["a file", "below a file", "/dev/null"])
def test_a_cache_folder_that_cannot_be_created_computes_in_memory(where, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    folder = {"a file": tmp_path / "file", "below a file": tmp_path / "file" / "cache", "/dev/null": "/dev/null"}
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "reference"))
    reference, _ = extract_features(CountingBackbone(), toy_images(), progress=False)
    monkeypatch.setenv("LLU_CACHE_DIR", str(folder[where]))
    backbone = CountingBackbone()
    with pytest.warns(UserWarning) as warned:
        features, _ = extract_features(backbone, toy_images(), chunk_size=2, progress=False)
        text = extract_text_features(backbone, ["a", "bb"], ["{}"])
    assert torch.equal(features, reference) and text.shape == (2, 3)
    assert [str(w.message) for w in warned if "computed in memory" in str(w.message)] == [str(warned[0].message)]
    assert len(warned) == 1 and str(folder[where]) in str(warned[0].message)


def test_an_alignment_that_cannot_be_written_is_used_from_memory(tmp_path, monkeypatch, stand_in_towers):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "file"))
    with pytest.warns(UserWarning, match="computed in memory"):
        tensors, metadata = offline_model.load_alignment()
    assert tensors["basis"].shape == (offline_model.EMBED_DIM, 1280) and "report" in metadata


def test_a_full_disk_is_reported_and_leaves_no_file(tmp_path, monkeypatch):
    model = ZeroShotClassifier().fit(X, y, T)
    half = []

    def full_disk(descriptor, data):  # what the kernel answers once the disk is full
        if half:
            raise OSError(28, "No space left on device")
        half.append(data[:4])
        return 4

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError, match=f"cannot write {re.escape(str(tmp_path))}/model.safetensors: the disk is full"):
        save_classifier(model, tmp_path / "model.safetensors")
    assert half and list(tmp_path.iterdir()) == []  # no partial file, no temporary file


def test_a_file_size_limit_is_a_warning_for_the_cache_and_an_error_for_a_model(tmp_path):
    result = run_python(f"""
import os, resource, warnings
import numpy as np
from llu_core.data.features import extract_features
from llu_core.data.labelled import ImageArrays
from llu_core.estimators import ZeroShotClassifier
from llu_core.estimators.persistence import save_classifier
from stand_in_backbones import CountingBackbone
os.environ["LLU_CACHE_DIR"] = {str(tmp_path / "cache")!r}
resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
images = ImageArrays("toy", "train", np.zeros((6, 4, 4, 3), np.uint8), np.arange(6) % 2, ["a", "b"], ["{{}}"])
with warnings.catch_warnings(record=True) as warned:
    warnings.simplefilter("always")
    features, _ = extract_features(CountingBackbone(), images, chunk_size=2, progress=False)
print(features.shape[0], len(warned), "computed in memory" in str(warned[0].message))
try:
    save_classifier(ZeroShotClassifier().fit(np.eye(2), [0, 1], np.eye(2)), {str(tmp_path / "model.safetensors")!r})
except OSError as error:
    print(error)
""")
    assert result.stdout.splitlines() == [
        "6 1 True", f"[Errno 27] cannot write {tmp_path}/model.safetensors: the file would exceed the file-size limit"], \
        result.stdout + result.stderr[-3000:]
    assert not list(tmp_path.glob("*.safetensors")) and not list(tmp_path.rglob("*.tmp"))


# --- 8. One image decoder: every mode by its range, extreme sizes refused before resizing ----------


def _saved_image(folder, image, name):
    image.save(folder / name)
    return folder / name


def decoded(tmp_path, image, name):
    _saved_image(tmp_path, image, name)
    return np.asarray(files_dataset(tmp_path, [name]).load_image(0))


def test_a_16_bit_png_keeps_its_grey_levels(tmp_path):
    levels = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    assert Image.open(_saved_image(tmp_path, Image.fromarray(levels), "gray16.png")).mode == "I;16"
    np.testing.assert_array_equal(decoded(tmp_path, Image.fromarray(levels), "gray16.png")[..., 0],
                                  [[0, 1, 128, 255]])  # before: [[0, 255, 255, 255]], white


@pytest.mark.parametrize("values, mode, expected", [
    (np.array([[0.0, 0.5, 1.0, 0.25]], np.float32), "F", [[0, 128, 255, 64]]),  # before: 0 and 1, black
    (np.array([[0, 257, 65535, 514]], np.int32), "I", [[0, 1, 255, 2]]),
], ids=["float", "int32"])
def test_float_and_integer_images_are_scaled_by_their_range(tmp_path, values, mode, expected):
    np.testing.assert_array_equal(decoded(tmp_path, Image.fromarray(values, mode=mode), "image.tiff")[..., 1], expected)


@pytest.mark.parametrize("values, mode, message", [
    (np.array([[0.0, 2.0]], np.float32), "F", r"float pixels outside \[0, 1\]"),
    (np.array([[0, 70000]], np.int32), "I", r"32-bit integer pixels outside \[0, 65535\]"),
], ids=["float", "int32"])
def test_pixels_without_an_8_bit_equivalent_are_refused_naming_the_file(tmp_path, values, mode, message):
    path = _saved_image(tmp_path, Image.fromarray(values, mode=mode), "image.tiff")
    with pytest.raises(UnreadableImageError, match=f"^image file {re.escape(str(path))} has {message}"):
        files_dataset(tmp_path, ["image.tiff"]).load_image(0)


@pytest.mark.parametrize("size", [(3000, 1), (1, 30000), (17, 1)])
def test_extreme_aspect_ratios_are_refused_before_resizing(tmp_path, cache, size):
    path = _saved_image(tmp_path, Image.new("RGB", size), "strip.png")
    assert path.stat().st_size < 200  # a few bytes that Resize(224) would blow up to 600 MiB (3000 x 1)
    with pytest.raises(UnreadableImageError, match=f"^image file {re.escape(str(path))} is .* aspect ratio"):
        files_dataset(tmp_path, ["strip.png"]).load_image(0)


def test_in_memory_pixels_must_be_8_bit():
    with pytest.raises(ValueError, match=r"^pixels must be 8-bit: integers in \[0, 255\], got dtype uint16"):
        ImageArrays("toy", "train", np.full((2, 4, 4), 1000, np.uint16), [0, 1], ["a", "b"], ["{}"])  # wrapped to 232
    with pytest.raises(ValueError, match="^pixels is 3000 x 1 pixels, an aspect ratio"):
        ImageArrays("toy", "train", np.zeros((2, 1, 3000), np.uint8), [0, 1], ["a", "b"], ["{}"])
    np.testing.assert_array_equal(ImageArrays("toy", "train", np.full((2, 4, 4), 200), [0, 1], ["a", "b"],
                                              ["{}"]).pixels, 200)  # any integer dtype within [0, 255]


# --- 9. Class identity is explicit ----------------------------------------------------------------

TINY_512 = {**TINY_OPEN_CLIP, "embed_dim": 512}  # the offline model's width, another backbone


@pytest.fixture(scope="module")
def offline_cifar10():
    return embed_dataset("offline", "cifar10", train_per_class=4, test_per_class=4, device="cpu", progress=False)


def test_classes_with_the_same_embedding_are_refused_naming_both(offline_cifar10):
    from llu_core.data.embedded import _shared_backbone

    offline = _shared_backbone("offline", None, "cpu")
    rows = offline.encode_text(["striped", "banded", "Banded"], ["{} texture."]).numpy()  # MiniLM ignores case
    assert float(rows[1] @ rows[2]) > 1 - 1e-6
    data = offline_cifar10
    for estimator in (ZeroShotClassifier(), LLUClassifier(epochs=1), TipAdapterClassifier()):
        with pytest.raises(ValueError, match="^T rows 1 and 2 are the same class embedding"):
            estimator.fit(data.train_X[:3], [0, 1, 2], rows)
    model = ZeroShotClassifier().fit(data.train_X[:2], [0, 1], rows[:2])
    with pytest.raises(ValueError, match="^T rows 1 and 2 are the same class embedding"):
        model.decision_function(data.test_X, rows)
    with pytest.raises(ValueError, match="^embeddings rows 1 and 2 \\('banded' and 'banded 2'\\) are the same"):
        ClassTexts(rows, ["striped", "banded", "banded 2"])


@pytest.mark.parametrize("names, pair", [(["banded", "Banded", "cat"], "'banded' and 'Banded'"),
                                         (["sea lion", "cat", " sea  lion"], "'sea lion' and ' sea  lion'")])
def test_class_names_that_differ_only_in_case_or_spacing_are_refused(names, pair):
    with pytest.raises(ValueError, match=f"^duplicate class names {pair}"):
        ClassTexts(np.eye(3), names)


def test_a_prompt_learner_refuses_rows_that_are_not_its_names(offline_cifar10, tmp_path):
    data = offline_cifar10
    names = list(data.classnames)
    import open_clip

    (tmp_path / "llu-tiny-512.json").write_text(json.dumps(TINY_512))
    open_clip.add_model_config(tmp_path / "llu-tiny-512.json")
    with pytest.warns(UserWarning, match="random weights"):
        other = load_backbone("llu-tiny-512", device="cpu")
    assert data.templates == ["a photo of a {}."]  # ClassTexts' default templates
    cases = {"names in another order": ClassTexts(data.text.embeddings, names[1:] + names[:1], data.text.tower),
             "another backbone's tower of the same width": ClassTexts(data.text.embeddings, names,
                                                                      other.context_tower())}
    for case, texts in cases.items():
        with pytest.raises(ValueError, match="^T's rows are not its class names' embeddings by its text tower"):
            CoOpClassifier(epochs=1).fit(data.train_X, data.train_y, texts)
    model = CoOpClassifier(epochs=1).fit(data.train_X, data.train_y, data.text)  # the real one passes
    with pytest.raises(ValueError, match="^T's rows are not"):
        model.decision_function(data.test_X, cases["names in another order"])


def split_file_root(tmp, splits, name="x.jpg"):
    """A DTD folder with one image and the split file ``splits`` (JSON text or data)."""
    (tmp / "dtd" / "images").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp / "dtd" / "images" / name)
    text = splits if isinstance(splits, str) else json.dumps(splits)
    (tmp / "dtd" / "split_zhou_DescribableTextures.json").write_text(text)
    return tmp / "dtd" / "split_zhou_DescribableTextures.json"


def test_a_split_file_that_gives_one_label_two_names_is_refused(tmp_path):
    path = split_file_root(tmp_path, {"train": [["x.jpg", 0, "banded"]], "val": [], "test": [["x.jpg", 0, "dotted"]]})
    with pytest.raises(ValueError, match=f"^split file {re.escape(str(path))}: label 0 has two class names, 'banded' "
                                         "and 'dotted'"):
        load_dataset("dtd", "train", root=tmp_path)  # before: the last name won


def idx_file(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def fashion_mnist_root(tmp, n_images, n_labels, cut=0):
    folder = tmp / "fashion-mnist"
    folder.mkdir(parents=True)
    for split in ("train", "t10k"):
        idx_file(folder / f"{split}-images-idx3-ubyte.gz", np.zeros((n_images, 28, 28)))
        idx_file(folder / f"{split}-labels-idx1-ubyte.gz", np.arange(n_labels) % 10)
    if cut:
        images = folder / "train-images-idx3-ubyte.gz"
        raw = gzip.decompress(images.read_bytes())
        images.write_bytes(gzip.compress(raw[:-cut]))
    return folder


def test_idx_image_and_label_counts_must_match(tmp_path):
    folder = fashion_mnist_root(tmp_path, 10, 6)
    with pytest.raises(ValueError, match=f"^Fashion-MNIST in {re.escape(str(folder))}: train-images-idx3-ubyte.gz "
                                         "holds 10 images but train-labels-idx1-ubyte.gz 6 labels"):
        load_dataset("fashion_mnist", "train", root=tmp_path)  # before: 6 items


# --- 10. Every error names the argument or the file ------------------------------------------------


def _imagenet_root(tmp, classnames):
    (tmp / "imagenet" / "images" / "train" / "n01").mkdir(parents=True)
    (tmp / "imagenet" / "classnames.txt").write_text(classnames)
    return load_dataset("imagenet", "train", root=tmp)


def _fgvc_root(tmp, listing):
    (tmp / "fgvc_aircraft" / "images").mkdir(parents=True)
    (tmp / "fgvc_aircraft" / "variants.txt").write_text("707-320\nA300B4\n")
    (tmp / "fgvc_aircraft" / "images_variant_train.txt").write_text(listing)
    return load_dataset("fgvc_aircraft", "train", root=tmp)


def _split_item(tmp, relative):
    return load_dataset("dtd", "train", root=split_file_root(tmp, {"train": [[relative, 0, "x"]], "val": [],
                                                                   "test": []}).parent.parent)


def _truncated_idx(tmp):
    fashion_mnist_root(tmp, 10, 10, cut=100)
    return load_dataset("fashion_mnist", "train", root=tmp)


def _transfer_target(tmp, **changes):
    target = SimpleNamespace(name="dtd", test_X=X[:4], test_y=np.array([0, 1, 2, 0]), text=T)
    source = SimpleNamespace(name="cifar10", train_X=X, train_y=y, test_X=X, test_y=y, text=T)
    targets = changes.pop("targets", None) or [SimpleNamespace(**{**vars(target), **changes})]
    return run_transfer({"zero_shot": ZeroShotClassifier()}, source, cross_dataset=targets, shots=[1], seeds=[1],
                        progress=False)


TOY_DATA = SimpleNamespace(name="toy", train_X=X, train_y=y, test_X=X, test_y=y, text=T)

UNCLEAR_ROUND_3 = [
    ("NUL byte in a split file", lambda tmp: _split_item(tmp, "a\x00.jpg"), ValueError,
     r"^split file {tmp}/dtd/split_zhou_DescribableTextures.json: item 'a\\x00.jpg' of 'train' holds a NUL"),
    ("over-long name in a split file", lambda tmp: _split_item(tmp, "a" * 300 + ".jpg"), ValueError,
     r"^split file {tmp}/dtd/.* has a name part longer than 255 bytes"),
    ("unencodable name in a split file", lambda tmp: _split_item(tmp, "\ud800.jpg"), ValueError,
     r"^split file {tmp}/dtd/.* holds characters that have no UTF-8 encoding"),
    ("deeply nested split file", lambda tmp: load_dataset("dtd", "train", root=split_file_root(
        tmp, "[" * 100000).parent.parent), ValueError,
     r"^split file {tmp}/dtd/split_zhou_DescribableTextures.json is nested too deeply"),
    ("ImageNet class file line without a name", lambda tmp: _imagenet_root(tmp, "n01 tench\nn02\n"), ValueError,
     r"^class file {tmp}/imagenet/classnames.txt, line 2: 'n02' is not '<wnid> <class name>'"),
    ("ImageNet class file without a folder's wnid", lambda tmp: _imagenet_root(tmp, "n02 goldfish\n"), ValueError,
     r"^class file {tmp}/imagenet/classnames.txt has no class name for the folders \['n01'\]"),
    ("FGVC line without a variant", lambda tmp: _fgvc_root(tmp, "1025794\n"), ValueError,
     r"^image list {tmp}/fgvc_aircraft/images_variant_train.txt, line 1: '1025794' names no variant"),
    ("FGVC unknown variant", lambda tmp: _fgvc_root(tmp, "1025794 707-320\n1340192 Boeing 747\n"), ValueError,
     r"^image list {tmp}/fgvc_aircraft/images_variant_train.txt, line 2: '1340192 Boeing 747' names no variant"),
    ("truncated IDX file", _truncated_idx, ValueError,
     r"^IDX file {tmp}/fashion-mnist/train-images-idx3-ubyte.gz holds 7740 bytes of data where its header announces "
     r"7840"),
    ("load_dataset(None)", lambda tmp: load_dataset(None, "test"), ValueError, r"^name must be a data-set name"),
    ("severity @²", lambda tmp: load_dataset("cifar10_jpeg@²", "test"), ValueError,
     r"^severity must be an integer from 1 to 5, got '²'"),
    ("negative seed", lambda tmp: few_shot_indices(y, 1, -1), ValueError, r"^seed must be an integer >= 0"),
    ("fractional seed", lambda tmp: few_shot_indices(y, 1, 1.5), ValueError, r"^seed must be an integer >= 0"),
    ("fractional grid seed", lambda tmp: run_grid({"zero_shot": ZeroShotClassifier()}, [TOY_DATA], [1], [1.5],
                                                  progress=False), ValueError,
     r"^seeds must be an integer >= 0, got 1.5"),  # before: int(1.5), seed 1 silently
    ("repeated grid seed", lambda tmp: run_grid({"zero_shot": ZeroShotClassifier()}, [TOY_DATA], [1], [1, 1],
                                                progress=False), ValueError,
     r"^seeds lists \[1\] more than once"),
    ("batch_size=10**30", lambda tmp: LLUClassifier(batch_size=10 ** 30, epochs=1).fit(X, y, T), ValueError,
     r"^batch_size must be an integer in \[1, 2147483647\]"),
    ("extraction batch_size=10**30", lambda tmp: extract_features(CountingBackbone(), toy_images(),
                                                                  batch_size=10 ** 30), ValueError,
     r"^batch_size must be an integer in \[1, 2147483647\]"),
    ("template with a named field", lambda tmp: extract_text_features(CountingBackbone(), ["a"], ["a {} of {x}"]),
     ValueError, r"^templates: 'a \{\} of \{x\}' must hold exactly one replacement field"),
    ("empty transfer target", lambda tmp: _transfer_target(tmp, test_X=X[:0], test_y=y[:0]), ValueError,
     r"^target 'dtd' test_X is empty"),
    ("non-finite transfer target", lambda tmp: _transfer_target(tmp, test_X=np.where(X[:4] > 0.5, np.nan, X[:4])),
     ValueError, r"^target 'dtd' test_X has \d row\(s\) with NaN"),
    ("mislabelled transfer target", lambda tmp: _transfer_target(tmp, test_y=np.array([0, 1, 2, 5])), ValueError,
     r"^target 'dtd' test_y has labels outside the rows of T: \[5\]"),
    ("a transfer target listed twice", lambda tmp: _transfer_target(tmp, targets=[
        SimpleNamespace(name="dtd", test_X=X[:4], test_y=y[:4], text=T)] * 2), ValueError,
     r"^targets \['dtd'\] are listed more than once"),
]


@pytest.mark.parametrize("call, error, message", [case[1:] for case in UNCLEAR_ROUND_3],
                         ids=[case[0] for case in UNCLEAR_ROUND_3])
def test_bad_input_of_round_3_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    with pytest.raises(error) as raised:
        call(tmp_path)
    assert type(raised.value) is error
    assert re.search(message.replace("{tmp}", re.escape(str(tmp_path))), str(raised.value)), str(raised.value)


def test_a_context_longer_than_the_text_towers_positions_is_refused(offline_cifar10):
    data = offline_cifar10
    with pytest.raises(ValueError, match=r"^n_ctx=300: the prompt of class 'airplane' has 304 tokens, more than "
                                         r"the 256 positions of the text tower"):
        CoOpClassifier(n_ctx=300, ctx_init=None, epochs=1).fit(data.train_X, data.train_y, data.text)


def test_a_prompt_learner_in_run_transfer_gets_its_class_texts(offline_cifar10):
    data = offline_cifar10
    target = SimpleNamespace(name="cifar10 again", test_X=data.test_X, test_y=data.test_y, text=data.text)
    records = run_transfer({"coop": CoOpClassifier(epochs=1)}, data, cross_dataset=[target], shots=[1], seeds=[1],
                           progress=False)  # before: "T must be a ClassTexts ..., got ndarray"
    assert [record["dataset"] for record in records] == ["cifar10", "cifar10 again"]
    assert records[0]["accuracy"] == records[1]["accuracy"]


def test_file_names_that_are_not_utf_8_are_read(cache, tmp_path):
    folder = tmp_path / "cifar10" / "train"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        Image.new("RGB", (4, 4), "red").save(folder / label / "plain.png")
    Image.new("RGB", (4, 4), "blue").save(os.fsdecode(bytes(folder / "a") + b"/caf\xe9.png"))  # Latin-1
    dataset = load_dataset("cifar10", "train", root=tmp_path)
    features, labels = extract_features(CountingBackbone(), dataset, progress=False)  # before: UnicodeEncodeError
    assert features.shape[0] == 3 and labels.tolist() == [0, 0, 1]


# --- 11. reproduce checks every argument before a kernel starts -----------------------------------


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


# --- 12. Scores that cannot tie or overflow in their float type -----------------------------------


def test_the_linear_probe_agrees_with_scikit_learn_under_strong_regularisation(task):
    from sklearn.linear_model import LogisticRegression

    X_train, X_test = np.asarray(task.X_train, np.float32), np.asarray(task.X_test, np.float32)
    model = LinearProbeClassifier(C=1e-8).fit(X_train, task.y_train, task.T[task.base])
    reference = LogisticRegression(C=1e-8, max_iter=1000).fit(X_train, task.y_train)
    scores = model.decision_function(X_test, task.T[task.base])
    assert all((row == row.max()).sum() == 1 for row in scores)  # before: ties in most rows (float32)
    np.testing.assert_array_equal(model.predict(X_test, task.T[task.base]), reference.predict(X_test))
    assert scores.dtype == np.float64


def test_scores_that_would_underflow_or_overflow_are_refused(task):
    Tb = task.T[task.base]
    with pytest.raises(ValueError, match=r"^logit_scale must lie in \[0.01, 10000.0\], got 1e-45"):
        ZeroShotClassifier(logit_scale=1e-45).fit(task.X_train, task.y_train, Tb)  # before: every score 0, all ties
    with pytest.raises(ValueError, match=r"^alpha=1e\+38, logit_scale=100.0: the scores of this TipAdapterClassifier "
                                         "overflow float32"):
        TipAdapterClassifier(alpha=1e38).fit(task.X_train, task.y_train, Tb)  # before: infinite scores
    sharp = TipAdapterClassifier(beta=1e38).fit(task.X_train, task.y_train, Tb)
    scores = sharp.decision_function(task.X_train, Tb)  # each row is a key: 1 − xᵀk is 0 up to rounding
    assert np.isfinite(scores).all()  # before: exp of −β times a rounding error below 0: infinities
    zero_shot = ZeroShotClassifier().fit(task.X_train, task.y_train, Tb).decision_function(task.X_train, Tb)
    cache = scores - zero_shot  # α · the number of keys of each class at distance 0, at most its keys
    assert (cache >= -1e-3).all() and (cache <= np.bincount(task.y_train) + 1e-3).all()


def test_prograd_needs_a_finite_kl_gradient(offline_cifar10, monkeypatch):
    from llu_core.estimators.prompt_learners import ProGradClassifier

    data = offline_cifar10
    with pytest.raises(ValueError, match=r"^temperature must lie in \[1e-06, 10000.0\], got 1e\+30"):
        ProGradClassifier(temperature=1e30, epochs=1).fit(data.train_X, data.train_y, data.text)  # before: CoOp
    monkeypatch.setattr(ProGradClassifier, "kl_to_zero_shot", lambda self, logits, X, E: logits.sum() * float("inf"))
    with pytest.raises(ValueError, match="^temperature=1.0: the gradient of ProGrad's KL term is not finite"):
        ProGradClassifier(epochs=1).fit(data.train_X, data.train_y, data.text)


# --- Training watches itself: a fit that diverges raises instead of returning a model --------------
# (Before, each of these fits returned a model, its loss far above where it started; the first
# two score below zero-shot on the base classes.)


@pytest.fixture(scope="module")
def offline_cifar10_training():
    return embed_dataset("offline", "cifar10", train_per_class=50, test_per_class=100, progress=False)


@pytest.mark.parametrize("estimator, named", [
    (LLUClassifier(init="random", mask="global", beta=1.0, lam=0.0, n_clusters=None, lr=1e3),  # the Linear ablation
     r"LLU: training diverged in epoch \d+: .* lr=1000 and lam=0 and logit_scale=100"),
    (CLIPAdapterClassifier(lr=100.0), r"CLIP-Adapter: training diverged .* lr=100 and logit_scale=100"),
], ids=["linear_lr_1e3", "clip_adapter_lr_100"])
def test_a_fit_whose_loss_grows_far_beyond_its_start_raises(offline_cifar10_training, estimator, named):
    from llu_core.estimators.together import fit_together
    from llu_core.evaluation.protocols import base_training_job, fit_on_base

    data = offline_cifar10_training
    with pytest.raises(ValueError, match=named + ".* lower them"):
        fit_on_base(estimator, data.train_X, data.train_y, data.text, 16, 1)
    with pytest.raises(ValueError, match=named):  # LLU models trained together are watched one by one
        fit_together([base_training_job(estimator, data.train_X, data.train_y, data.text, 16, 1)], progress=False)


def test_a_tiny_model_with_lambda_beyond_sgds_stable_range_raises():
    # d = 6: Eq. 6's mean(b²) has curvature 2λ/d, so SGD's step on b is lr · 2λ/d; with momentum 0.9 it
    # is stable below 2 (1 + 0.9) = 3.8.
    LLUClassifier(lam=1e3, epochs=50).fit(X, y, T)  # step 0.67
    with pytest.raises(ValueError, match=r"training diverged in epoch \d+: the mean loss rose .* lam=10000 .* lower"):
        LLUClassifier(lam=1e4, epochs=50).fit(X, y, T)  # step 6.7: b oscillates and grows
