"""The offline model (llu_core.backbones.offline): it aligns unseen class names, sees real images,
puts images and texts in cones, and verifies its alignment file."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from llu_core import LinearProbeClassifier, LLUClassifier, ZeroShotClassifier, embed_dataset, load_backbone
from llu_core.backbones import offline as offline_model
from llu_core.backbones.offline import CONTENT_DIM, EMBED_DIM, GAP, IMAGE_CONE, into_cone, modality_offsets
from llu_core.evaluation.protocols import few_shot_indices
from damage import flip_bit


# --- It aligns class names it never saw, and sees real images -------------------------------------


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


# --- Its cones: CLIP's geometry, zero-shot predictions kept ---------------------------------------


def test_cones_shrink_image_distances_uniformly_and_keep_zero_shot_predictions():
    image_offset, text_offset = modality_offsets()
    rng = np.random.default_rng(2)
    images, texts = torch.randn(30, EMBED_DIM, generator=torch.Generator().manual_seed(3)), torch.from_numpy(
        rng.normal(size=(7, EMBED_DIM)).astype(np.float32))
    content = torch.nn.functional.normalize(images[:, :CONTENT_DIM], dim=1)
    in_cone = into_cone(images, image_offset)
    assert torch.allclose(in_cone.norm(dim=1), torch.ones(30), atol=1e-6)
    content_distance = 1 - content @ content.T
    assert torch.allclose(1 - in_cone @ in_cone.T, content_distance * (1 - IMAGE_CONE), atol=1e-5)
    text_content = torch.nn.functional.normalize(texts[:, :CONTENT_DIM], dim=1)
    text_in_cone = into_cone(texts, text_offset)
    assert torch.equal((in_cone @ text_in_cone.T).argmax(1), (content @ text_content.T).argmax(1))
    # Uncorrelated contents: image-image cosine IMAGE_CONE, image-text cosine GAP.
    assert float(image_offset @ image_offset) / (1 + float(image_offset @ image_offset)) == pytest.approx(IMAGE_CONE)
    gap = float(image_offset @ text_offset) / np.sqrt((1 + float(image_offset @ image_offset))
                                                      * (1 + float(text_offset @ text_offset)))
    assert gap == pytest.approx(GAP)


# --- Its alignment file is verified, and used from memory when it cannot be written ---------------


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


def test_an_alignment_that_cannot_be_written_is_used_from_memory(tmp_path, monkeypatch, stand_in_towers):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "file"))
    with pytest.warns(UserWarning, match="computed in memory"):
        tensors, metadata = offline_model.load_alignment()
    assert tensors["basis"].shape == (offline_model.EMBED_DIM, 1280) and "report" in metadata
