"""The corrupted CIFAR-10 test sets (llu_core.data.corruptions) on the real offline CIFAR-10:
deterministic, stronger with the severity, each a registry data set with its own cache key."""

import numpy as np
import pytest

from llu_core.data.cache import image_cache_folder
from llu_core.data.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from llu_core.data.datasets import CORRUPTED_DATASETS, TEST_ONLY, load_dataset
from llu_core.data.labelled import CorruptedImages


@pytest.fixture(scope="module")
def clean():
    test = load_dataset("cifar10", "test")
    return test, [test.load_image(index) for index in (0, 1500, 9999)]


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corruptions_are_deterministic_and_change_the_images(kind, clean):
    _, images = clean
    for index, image in enumerate(images):
        first = corrupt(image, kind, 3, seed=0, index=index)
        assert first.mode == "RGB" and first.size == image.size
        assert first.tobytes() == corrupt(image, kind, 3, seed=0, index=index).tobytes()  # same seed, same bytes
        distance = {s: np.abs(np.asarray(corrupt(image, kind, s, 0, index), dtype=float)
                              - np.asarray(image, dtype=float)).mean() for s in (1, 5)}
        assert distance[1] > 2.0  # gray levels: the image changed
        assert distance[5] > distance[1]  # the stronger the severity, the farther from the clean image
    if kind in ("sketch", "blur_noise"):  # the kinds with random parts: the seed drives them
        assert corrupt(images[0], kind, 3, seed=0).tobytes() != corrupt(images[0], kind, 3, seed=1).tobytes()
        assert corrupt(images[0], kind, 3, seed=0, index=0).tobytes() != \
            corrupt(images[0], kind, 3, seed=0, index=1).tobytes()


def test_unknown_corruption_and_bad_severity_raise_value_errors(clean):
    image = clean[1][0]
    with pytest.raises(ValueError, match="unknown corruption 'fog'; known corruptions: sketch"):
        corrupt(image, "fog", 3, seed=0)
    for severity in (0, 6, 2.5, True, "3"):
        with pytest.raises(ValueError, match="severity must be an integer from 1 to 5"):
            corrupt(image, "jpeg", severity, seed=0)
    for name in ("cifar10_jpeg@0", "cifar10_jpeg@6", "cifar10_jpeg@x", "cifar10_jpeg@"):
        with pytest.raises(ValueError, match="severity must be an integer from 1 to 5"):
            load_dataset(name, "test")
    for name in ("cifar10_fog", "cifar10@3", "dtd@2"):
        with pytest.raises(ValueError, match="unknown data set"):
            load_dataset(name, "test")
    with pytest.raises(ValueError, match="only a 'test' split"):
        load_dataset("cifar10_sketch", "train")


class _Backbone:
    cache_key = "key-only"

    @staticmethod
    def preprocess(image):
        return image


def test_corrupted_cifar10_is_a_registry_data_set_with_its_own_cache_key(clean):
    test, images = clean
    assert set(CORRUPTED_DATASETS) == {f"cifar10_{kind}" for kind in CORRUPTIONS} and len(CORRUPTIONS) >= 4
    assert set(CORRUPTED_DATASETS) < set(TEST_ONLY) and SEVERITIES == (1, 2, 3, 4, 5)
    default = load_dataset("cifar10_blur_noise", "test")
    assert isinstance(default, CorruptedImages) and default.name == "cifar10_blur_noise@3"
    assert default.severity == 3 and default.seed == 0 and default.split == "test"
    assert default.classnames == test.classnames and default.templates == test.templates
    np.testing.assert_array_equal(default.labels, test.labels)
    image, label = default[1500]
    assert label == test.labels[1500]
    assert image.tobytes() == corrupt(images[1], "blur_noise", 3, seed=0, index=1500).tobytes()
    assert image.tobytes() == load_dataset("cifar10_blur_noise", "test")[1500][0].tobytes()  # reloaded: same bytes
    strong = load_dataset("cifar10_blur_noise@5", "test")
    assert strong.name == "cifar10_blur_noise@5" and strong.preprocessing.endswith("blur_noise@5,seed=0")
    folders = {image_cache_folder(_Backbone(), data) for data in
               (test, default, strong, load_dataset("cifar10_jpeg", "test"))}
    assert len(folders) == 4  # clean, two severities and another kind: four cache entries
