"""What a saved classifier stores: every fitted tensor named in FITTED has the shape expected_shapes gives."""

import pytest

from llu_core import LLUClassifier, MultiLLUClassifier, TipAdapterClassifier, toy_family
from llu_core.estimators.layouts import FITTED, expected_shapes
from llu_core.estimators.persistence import fitted_class_count

D = 64


@pytest.fixture(scope="module")
def family():
    return toy_family(2, misalignment=0.6, train_per_class=4, test_per_class=4)


def stored_shapes(clf):
    """The shapes of the tensors the estimator's FITTED entry names, by their stored keys."""
    shapes = {}
    for attribute in FITTED[type(clf).__name__][0]:
        value = getattr(clf, attribute)
        items = value.state_dict().items() if hasattr(value, "state_dict") else [("", value)]
        for key, tensor in items:
            shapes[f"{attribute}.{key}" if key else attribute] = tuple(tensor.shape)
    return shapes


def matches(expected, actual):
    """Integers equal, and each letter one size throughout."""
    sizes = {}
    assert set(expected) == set(actual)
    for key, shape in expected.items():
        assert len(shape) == len(actual[key]), key
        for want, got in zip(shape, actual[key]):
            assert sizes.setdefault(want, got) == got if isinstance(want, str) else want == got, key


@pytest.mark.parametrize("estimator", [LLUClassifier(epochs=1, device="cpu"), TipAdapterClassifier(device="cpu")],
                         ids=lambda estimator: type(estimator).__name__)
def test_a_fitted_model_has_the_expected_shapes(family, estimator):
    data = family[0]
    clf = estimator.fit(data.train_X, data.train_y, data.text)
    matches(expected_shapes(type(clf).__name__, clf.get_params(), D), stored_shapes(clf))
    assert set(FITTED[type(clf).__name__][1]) <= set(vars(clf))  # every plain value is an attribute of the fit


def test_each_update_of_a_multi_model_has_its_own_letters(family):
    updates = [{"params": LLUClassifier().get_params()} for _ in family]
    shapes = expected_shapes("MultiLLUClassifier", {}, D, updates)
    assert shapes["updates.0.image_centres_"] == ("0k", D) and shapes["updates.1.image_centres_"] == ("1k", D)
    assert shapes["updates.1.texts"] == ("1C", D) and len(shapes) == 2 * 7
    model = MultiLLUClassifier(device="cpu").add(LLUClassifier(epochs=1, device="cpu").fit(
        family[0].train_X, family[0].train_y, family[0].text), "toy_1", family[0].text)
    assert fitted_class_count(model) is None  # the union of its classes is in its updates
