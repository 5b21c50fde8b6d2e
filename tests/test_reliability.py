"""Reliability: no silent wrong answers from the cache, the model files or extreme inputs.

First one test (or a few) per silent failure that probing ``llu_core`` as a careless or hostile
user found (the numbered items of the issue), then one parametrised test over the inputs that
used to fail with an unclear error from deep inside numpy, torch or scikit-learn: each must
now raise our ``ValueError``/``FileNotFoundError`` naming the argument or the file, or be
accepted and handled correctly (the tests after it).
"""

import json
import os
import re
import struct
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
from llu_core.data.datasets import ImageArrays, ImageFiles, load_dataset
from llu_core.data.features import class_balanced_subset, encode_images, extract_features, image_cache_folder
from llu_core.utils.io import checksum, write_json, write_tensors
from llu_core.utils.locations import cache_dir
from llu_core.estimators.persistence import load_classifier, save_classifier
from llu_core.evaluation.protocols import evaluate_base_to_new
from synthetic_embeddings import random_unit, shifted_domain_task
from test_features import CountingBackbone

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


def test_damaged_alignment_file_is_detected_and_rebuilt(tmp_path, monkeypatch):
    # Stand-in towers (random classifier rows and sentence embeddings) keep the build to a second;
    # the real fitting, writing and loading code runs.
    rng = np.random.default_rng(0)
    rows = torch.from_numpy(rng.normal(size=(1000, 1280)).astype(np.float32))
    sentences = rng.normal(size=(1000, 384)).astype(np.float32)
    monkeypatch.setattr(offline_model, "image_tower", lambda *a, **k: SimpleNamespace(_fc=SimpleNamespace(weight=rows)))
    monkeypatch.setattr(offline_model, "text_tower", lambda *a, **k: None)
    monkeypatch.setattr(offline_model, "embed_sentences", lambda tower, names, templates: sentences[:len(names)])
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
    import llu_core.data.features as features_module

    dataset = ImageArrays("toy", "train", np.arange(6 * 48, dtype=np.uint8).reshape(6, 4, 4, 3), np.arange(6) % 2,
                          ["a", "b"], ["{}"])
    reference, _ = extract_features(CountingBackbone(), dataset, progress=False)
    (part,) = cache.rglob("part-*.safetensors")
    flip_bit(part, "features")

    # What a read-only folder does to any user (tests may run as root, who could still write).
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refused)
    monkeypatch.setattr(features_module, "write_tensors", refused)
    backbone = CountingBackbone()
    with pytest.warns(UserWarning) as warned:
        features, _ = extract_features(backbone, dataset, progress=False)
    assert torch.equal(features, reference) and backbone.images_seen == 6
    messages = " ".join(str(warning.message) for warning in warned)
    assert "checksum" in messages and "computed in memory" in messages


# --- Training watches itself: a fit that diverges raises instead of returning a model --------------
# (Before, each of these fits returned a model, its loss far above where it started; the first
# two score below zero-shot on the base classes.)


@pytest.fixture(scope="module")
def offline_cifar10():
    from llu_core import embed_dataset

    return embed_dataset("offline", "cifar10", train_per_class=50, test_per_class=100, progress=False)


@pytest.mark.parametrize("estimator, named", [
    (LLUClassifier(init="random", mask="global", beta=1.0, lam=0.0, n_clusters=None, lr=1e3),  # the Linear ablation
     r"LLU: training diverged in epoch \d+: .* lr=1000 and lam=0 and logit_scale=100"),
    (CLIPAdapterClassifier(lr=100.0), r"CLIP-Adapter: training diverged .* lr=100 and logit_scale=100"),
], ids=["linear_lr_1e3", "clip_adapter_lr_100"])
def test_a_fit_whose_loss_grows_far_beyond_its_start_raises(offline_cifar10, estimator, named):
    from llu_core.estimators.together import fit_together
    from llu_core.evaluation.protocols import base_training_job, fit_on_base

    data = offline_cifar10
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
