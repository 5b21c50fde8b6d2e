"""ClassTexts (llu_core.utils.class_texts): class embeddings that keep their names and text tower,
and read as the plain array everywhere else."""

import numpy as np
import pytest

from llu_core import LLUClassifier
from llu_core.evaluation.protocols import base_new_split, fit_on_base, score_base_to_new
from llu_core.utils.class_texts import ClassTexts


def test_class_texts_is_an_array_whose_rows_keep_their_names(offline_cifar10):
    data = offline_cifar10
    text = data.text
    assert isinstance(text, ClassTexts) and text.shape == (10, 512) and len(text) == 10
    base, new = base_new_split(np.arange(len(text)))
    assert text[new].classnames == tuple(data.classnames[5:])
    assert text[np.arange(10) % 2 == 0].classnames == tuple(data.classnames[::2])
    np.testing.assert_array_equal(np.asarray(text[base]), text.embeddings[base])
    assert text[3].shape == (512,) and isinstance(text[:, :2], np.ndarray)
    # Array-only estimators and the protocol treat it exactly as its array.
    as_class_texts = fit_on_base(LLUClassifier(epochs=2), data.train_X, data.train_y, text, 2, 1)
    as_array = fit_on_base(LLUClassifier(epochs=2), data.train_X, data.train_y, text.embeddings, 2, 1)
    assert score_base_to_new(as_class_texts, data.test_X, data.test_y, text) == score_base_to_new(
        as_array, data.test_X, data.test_y, text.embeddings)


@pytest.mark.parametrize("rows, names, message", [
    (0, [], "empty"), (3, ["cat", "dog", "cat"], "duplicate"), (2, ["cat", ""], "non-empty"),
    (3, ["cat", "dog"], "3 embedding rows")])
def test_bad_class_names_raise(rows, names, message):
    with pytest.raises(ValueError, match=message):
        ClassTexts(np.eye(rows, 4), names)


@pytest.mark.parametrize("names, pair", [(["banded", "Banded", "cat"], "'banded' and 'Banded'"),
                                         (["sea lion", "cat", " sea  lion"], "'sea lion' and ' sea  lion'")])
def test_class_names_that_differ_only_in_case_or_spacing_are_refused(names, pair):
    with pytest.raises(ValueError, match=f"^duplicate class names {pair}"):
        ClassTexts(np.eye(3), names)
