"""The embedding cache: hit, miss, key change, interrupted write, corrupt or foreign files."""

import shutil

import numpy as np
import pytest
import torch

from llu_core.data.cache import image_cache_folder
from llu_core.data.embedded import class_balanced_subset
from llu_core.data.features import extract_features, extract_text_features
from llu_core.data.labelled import ImageArrays
from stand_in_backbones import CountingBackbone


class FailingImages(ImageArrays):
    """Raises when image ``fail_at`` is loaded, like a run stopped half-way."""

    fail_at = None

    def load_image(self, index):
        if index == self.fail_at:
            raise KeyboardInterrupt("stopped")
        return super().load_image(index)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def images(n=40, seed=0, dataset_class=ImageArrays, invert=False):
    rng = np.random.default_rng(seed)
    return dataset_class("toy", "train", rng.integers(0, 256, size=(n, 4, 4, 3)), np.arange(n) % 4,
                         ["a", "b", "c", "d"], ["a {}."], invert=invert)


def parts(cache):
    return sorted(cache.rglob("part-*.safetensors"))


def test_miss_then_hit(cache):
    backbone, dataset = CountingBackbone(), images()
    features, labels = extract_features(backbone, dataset, progress=False)
    assert features.shape == (40, 8) and backbone.images_seen == 40
    assert torch.equal(labels, torch.from_numpy(dataset.labels))
    again, _ = extract_features(backbone, dataset, progress=False)
    assert backbone.images_seen == 40 and torch.equal(again, features)
    subset, subset_labels = extract_features(backbone, dataset, indices=[5, 3, 39], progress=False)
    assert backbone.images_seen == 40 and torch.equal(subset, features[[5, 3, 39]])
    assert subset_labels.tolist() == [1, 3, 3]
    assert not list(cache.rglob("*.tmp"))


def test_a_larger_subset_embeds_only_the_new_images(cache):
    backbone, dataset = CountingBackbone(), images()
    small, large = class_balanced_subset(dataset.labels, 3), class_balanced_subset(dataset.labels, 6)
    assert set(small) < set(large) and np.bincount(dataset.labels[large]).tolist() == [6, 6, 6, 6]
    extract_features(backbone, dataset, indices=small, progress=False)
    extract_features(backbone, dataset, indices=large, progress=False)
    assert backbone.images_seen == len(large)


def test_key_change_is_a_miss(cache):
    dataset = images()
    first, second, third = CountingBackbone("weights-a"), CountingBackbone("weights-b"), CountingBackbone("weights-a")
    extract_features(first, dataset, progress=False)
    extract_features(second, dataset, progress=False)  # other weights
    assert second.images_seen == 40
    extract_features(third, images(invert=True), progress=False)  # other loader preprocessing
    assert third.images_seen == 40
    extract_features(third, images(seed=1), progress=False)  # other pixels
    assert third.images_seen == 80
    assert len({image_cache_folder(first, dataset), image_cache_folder(second, dataset),
                image_cache_folder(first, images(invert=True))}) == 3


def test_interrupted_extraction_resumes_where_it_stopped(cache):
    backbone, dataset = CountingBackbone(), images(dataset_class=FailingImages)
    dataset.fail_at = 20
    with pytest.raises(KeyboardInterrupt):
        extract_features(backbone, dataset, chunk_size=8, batch_size=4, progress=False)
    assert len(parts(cache)) == 2 and not list(cache.rglob("*.tmp"))  # chunks 0-7 and 8-15 were kept
    dataset.fail_at = None
    resumed = CountingBackbone()
    features, _ = extract_features(resumed, dataset, chunk_size=8, batch_size=4, progress=False)
    assert resumed.images_seen == 40 - 16
    fresh, _ = extract_features(CountingBackbone(), dataset, progress=False)
    assert torch.equal(features, fresh)


def test_many_parts_are_merged(cache):
    backbone, dataset = CountingBackbone(), images()
    features, _ = extract_features(backbone, dataset, chunk_size=2, progress=False)  # 20 parts > 16
    assert len(parts(cache)) == 1
    again = CountingBackbone()
    assert torch.equal(extract_features(again, dataset, progress=False)[0], features) and again.images_seen == 0


@pytest.mark.parametrize("damage, reason", [
    (lambda path: path.write_bytes(path.read_bytes()[:50]), "cannot be read"),
    (lambda path: path.write_bytes(path.read_bytes()[:-4] + b"\x00\x00\x80\x7f"), "checksum"),
])
def test_corrupt_file_is_detected_and_rebuilt(cache, damage, reason):
    backbone, dataset = CountingBackbone(), images()
    features, _ = extract_features(backbone, dataset, progress=False)
    (part,) = parts(cache)
    damage(part)
    with pytest.warns(UserWarning, match=reason):
        rebuilt, _ = extract_features(backbone, dataset, progress=False)
    assert backbone.images_seen == 80 and torch.equal(rebuilt, features)


def test_file_of_another_key_is_not_used(cache):
    backbone, dataset = CountingBackbone(), images()
    extract_features(backbone, images(seed=1), progress=False)
    foreign = parts(cache)[0]
    folder = image_cache_folder(backbone, dataset)
    folder.mkdir(parents=True)
    shutil.copy(foreign, folder / foreign.name)
    with pytest.warns(UserWarning, match="another key"):
        extract_features(backbone, dataset, progress=False)
    assert backbone.images_seen == 80


def test_text_features_are_cached_and_checked(cache):
    backbone = CountingBackbone()
    text = extract_text_features(backbone, ["cat", "horse"], ["a {}.", "the {}."])
    (path,) = cache.rglob("*.safetensors")
    assert text.shape == (2, 3) and backbone.texts_seen == 2
    assert torch.equal(extract_text_features(backbone, ["cat", "horse"], ["a {}.", "the {}."]), text)
    assert backbone.texts_seen == 2
    extract_text_features(backbone, ["cat", "horse"], ["a {}."])  # other templates: a miss
    assert backbone.texts_seen == 4
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="cannot be read"):
        extract_text_features(backbone, ["cat", "horse"], ["a {}.", "the {}."])
    assert backbone.texts_seen == 6


def test_bad_input_is_refused(cache):
    backbone, dataset = CountingBackbone(), images()
    with pytest.raises(ValueError, match=r"\[0, 40\)"):
        extract_features(backbone, dataset, indices=[0, 40], progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        extract_features(backbone, dataset, indices=[], progress=False)
    with pytest.raises(ValueError, match="exactly one"):
        extract_text_features(backbone, ["cat"], ["no placeholder"])
    with pytest.raises(ValueError, match="per_class"):
        class_balanced_subset(dataset.labels, 0)
