"""Embedded data sets (llu_core.data.embedded): a source and its transfer targets centred by one
image centre, and class-balanced subsets."""

import numpy as np
import pytest

from llu_core.data.embedded import class_balanced_subset, embed_dataset, embed_target
from our_errors import assert_raises_ours, our_error_cases
from stand_in_backbones import CentringBackbone
from synthetic import small_problem

X, y, T = small_problem()


def test_targets_are_centred_by_the_source_centre(tmp_path, monkeypatch):
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "cache"))
    backbone = CentringBackbone()
    source = embed_dataset(backbone, "cifar10", train_per_class=2, test_per_class=2, progress=False)
    assert np.abs(source.image_centre).sum() > 0  # centred by its own training pool's mean
    explicit = embed_dataset(backbone, "cifar10", train_per_class=2, test_per_class=2, centre=source.image_centre,
                             progress=False)
    np.testing.assert_array_equal(explicit.test_X, source.test_X)  # an explicit centre is used as given

    # The same images with the same centre: embed_target embeds exactly as embed_dataset does.
    same = embed_target(backbone, "cifar10", source.image_centre, test_per_class=2, progress=False)
    np.testing.assert_array_equal(same.test_X, source.test_X)
    np.testing.assert_array_equal(same.test_y, source.test_y)
    assert same.train_X.shape == (0, 6) and same.train_y.shape == (0,)

    target = embed_target(backbone, "cifar10_gray_contrast", source.image_centre, test_per_class=2, progress=False)
    assert target.name == "cifar10_gray_contrast@3" and target.test_X.shape == (20, 6)
    np.testing.assert_array_equal(target.image_centre, source.image_centre)
    np.testing.assert_array_equal(target.test_y, same.test_y)  # the same test items, corrupted
    assert not np.allclose(target.test_X, same.test_X)
    other = embed_target(backbone, "cifar10_gray_contrast", source.image_centre + 1.0, test_per_class=2,
                         progress=False)
    assert not np.allclose(other.test_X, target.test_X)  # the centre given is the centre used
    np.testing.assert_array_equal(target.text, source.text)  # the same classes and prompts
    for bad in (np.zeros(5), np.full(6, np.nan)):
        with pytest.raises(ValueError, match=r"centre must be a finite array of shape \(6,\)"):
            embed_target(backbone, "cifar10_gray_contrast", bad, test_per_class=2, progress=False)


BAD_INPUT = [
    ("per_class=True", lambda tmp: class_balanced_subset(y, True), ValueError, r"^per_class must be"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)
