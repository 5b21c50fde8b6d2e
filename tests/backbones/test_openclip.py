"""Backbones: the open_clip path on a tiny real open_clip model, and the offline model."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from llu_core import LinearProbeClassifier, LLUClassifier, ZeroShotClassifier, embed_dataset, load_backbone
from llu_core.evaluation.protocols import few_shot_indices
from stand_in_backbones import TINY_OPEN_CLIP


@pytest.fixture(scope="module")
def tiny_model_name(tmp_path_factory):
    """Register a tiny open_clip configuration (a real open_clip model, just small)."""
    import open_clip

    config = tmp_path_factory.mktemp("open_clip") / "llu-tiny-test.json"
    config.write_text(json.dumps(TINY_OPEN_CLIP))
    open_clip.add_model_config(config)
    return "llu-tiny-test"


def test_open_clip_model_runs_end_to_end(tiny_model_name):
    with pytest.warns(UserWarning, match="random weights"):
        backbone = load_backbone(tiny_model_name, device="cpu")
    images = torch.stack([backbone.preprocess(Image.new("RGB", (48, 40), colour)) for colour in ("red", "blue")])
    features = backbone.encode_image(images)
    assert features.shape == (2, 16) and torch.isfinite(features).all()
    text = backbone.encode_text(["cat", "dog", "car"], ["a photo of a {}.", "a {}."])
    assert text.shape == (3, 16)
    assert torch.allclose(text.norm(dim=1), torch.ones(3), atol=1e-5)
    assert backbone.logit_scale == pytest.approx(1 / 0.07, rel=1e-4)  # open_clip's initial temperature
    assert backbone.centre_images is False


def test_random_weights_are_reproducible(tiny_model_name):
    with pytest.warns(UserWarning):
        first, second = load_backbone(tiny_model_name, device="cpu"), load_backbone(tiny_model_name, device="cpu")
    assert first.cache_key == second.cache_key
    assert torch.equal(first.encode_text(["cat"], ["{}"]), second.encode_text(["cat"], ["{}"]))


def test_local_checkpoint_file_loads_its_weights(tiny_model_name, tmp_path):
    with pytest.warns(UserWarning):
        original = load_backbone(tiny_model_name, device="cpu")
    state = {name: value + 0.01 for name, value in original.model.state_dict().items()}
    checkpoint = tmp_path / "tiny.safetensors"
    save_file({name: value.contiguous() for name, value in state.items()}, str(checkpoint))
    loaded = load_backbone(tiny_model_name, pretrained=checkpoint, device="cpu")
    assert loaded.cache_key != original.cache_key and "file-" in loaded.cache_key
    assert torch.equal(loaded.model.state_dict()["text_projection"], state["text_projection"])


def test_bad_names_and_missing_weights_say_what_to_do(tiny_model_name, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="ViT-B-16"):
        load_backbone("ViT-B-17")
    with pytest.raises(ValueError, match="known tags: .*openai"):
        load_backbone("ViT-B-16", pretrained="no-such-tag")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_backbone(tiny_model_name, pretrained=tmp_path / "missing.pt")
    # A known tag whose weights are neither cached nor downloadable here.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(RuntimeError, match="pretrained='/path/to/RN50.pt'"):
        load_backbone("RN50", pretrained="openai", device="cpu")


@pytest.fixture(scope="module")
def offline():
    return load_backbone("offline", device="cpu")


def test_offline_model_aligns_unseen_imagenet_names(offline):
    report = offline.alignment_report
    # Rank-1 among 200 held-out ImageNet classes: chance is 0.5 %; measured 47 % (README).
    assert report["held_out_rank1"][str(report["alpha"])] > 0.30
    assert offline.cache_key == load_backbone("offline", device="cpu").cache_key
    text = offline.encode_text(["sneaker", "sandal", "coat"], ["a photo of a {}."])
    assert text.shape == (3, 512)
    assert torch.allclose(text.norm(dim=1), torch.ones(3), atol=1e-5)


# Zero-shot floors: measured 45.5 % (Fashion-MNIST) and 50.8 % (CIFAR-10) on these subsets, chance 10 %.
@pytest.mark.parametrize("name, zero_shot_floor", [("fashion_mnist", 35.0), ("cifar10", 40.0)])
def test_offline_model_sees_real_images(offline, name, zero_shot_floor):
    # The book's default subsets (50 training and 100 test images per class): shared cache.
    data = embed_dataset(offline, name, train_per_class=50, test_per_class=100, progress=False)
    assert data.test_X.shape == (1000, 512) and data.text.shape == (10, 512)
    assert np.allclose(np.linalg.norm(data.test_X, axis=1), 1.0, atol=1e-5)
    zero_shot = 100 * ZeroShotClassifier().fit(data.train_X, data.train_y, data.text).score(
        data.test_X, data.test_y, data.text)
    assert zero_shot > zero_shot_floor
    shots = few_shot_indices(data.train_y, 16, seed=1)
    llu = 100 * LLUClassifier(seed=1).fit(data.train_X[shots], data.train_y[shots], data.text).score(
        data.test_X, data.test_y, data.text)
    probe = 100 * LinearProbeClassifier().fit(data.train_X[shots], data.train_y[shots], data.text).score(
        data.test_X, data.test_y, data.text)
    assert llu > zero_shot + 3.0 and probe > zero_shot + 3.0  # few-shot training helps
