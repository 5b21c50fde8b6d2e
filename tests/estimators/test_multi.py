"""One model for many data sets: K LLU updates combined by their local weights α_k (Eq. 5)."""

import numpy as np
import pytest

from llu_core import (ClassTexts, LLUClassifier, MultiLLUClassifier, few_shot_indices, load_classifier, save_classifier,
                      toy_family)
from llu_core.estimators.multi import union_classes
from llu_core.method.combination import COMBINATIONS

SHOTS = 8


def few_shot_set(data, shots, seed):
    chosen = few_shot_indices(data.train_y, shots, seed)
    return data.train_X[chosen], data.train_y[chosen]


@pytest.fixture(scope="module")
def family():
    """Three toy data sets on nearly orthogonal spheres of R^64, with a misalignment to learn."""
    return toy_family(3, misalignment=0.6, train_per_class=SHOTS, test_per_class=40)


@pytest.fixture(scope="module")
def updates(family):
    """Each data set's LLU, fitted alone."""
    return [LLUClassifier(epochs=30, device="cpu").fit(*few_shot_set(data, SHOTS, 1), data.text) for data in family]


def assembled(updates, family, combine="max", which=None):
    model = MultiLLUClassifier(combine=combine, device="cpu")
    for index in which or range(len(updates)):
        model.add(updates[index], family[index].name, family[index].text)
    return model


@pytest.mark.parametrize("combine", COMBINATIONS)
def test_one_update_is_the_plain_llu(family, updates, combine):
    model = assembled(updates, family, combine, which=[0])
    for data in family:  # its own test images, and images far from its D
        for T in (family[0].text, data.text):
            np.testing.assert_allclose(model.decision_function(data.test_X, T), updates[0].decision_function(data.test_X, T),
                                       rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.transform_texts(family[0].text), updates[0].transform_texts(family[0].text),
                               rtol=0, atol=1e-6)
    assert model.names_ == ["toy_1"] and model.text_.classnames == family[0].text.classnames


@pytest.mark.parametrize("combine", COMBINATIONS)
def test_adding_then_removing_restores_the_others_exactly(family, updates, combine):
    model = assembled(updates, family, combine, which=[0, 1])
    X = np.concatenate([data.test_X for data in family])
    before = model.decision_function(X, model.text_)
    model.add(updates[2], "toy_3", family[2].text)
    assert model.decision_function(X, model.text_).shape[1] == 18  # the union: 3 × 6 classes
    model.remove("toy_3")
    np.testing.assert_array_equal(model.decision_function(X, model.text_), before)
    # Removing the first data set leaves exactly the model of the second alone.
    model.remove("toy_1")
    alone = assembled(updates, family, combine, which=[1])
    np.testing.assert_array_equal(model.decision_function(X, model.text_), alone.decision_function(X, alone.text_))
    np.testing.assert_array_equal(model.classes_of("toy_2"), np.arange(6))


@pytest.mark.parametrize("combine", COMBINATIONS)
def test_data_sets_far_apart_keep_their_own_accuracy(family, updates, combine):
    model = assembled(updates, family, combine)
    alphas = model.local_weights(family[0].test_X)
    assert alphas.shape == (len(family[0].test_y), 3)
    assert alphas[:, 0].min() > 100 * alphas[:, 1:].max()  # its own D is far nearer than the others'
    for data, update in zip(family, updates):
        alone = 100 * update.score(data.test_X, data.test_y, data.text)
        assert alone > 100 * LLUClassifier(epochs=1, lr=0.0, device="cpu").fit(
            *few_shot_set(data, SHOTS, 1), data.text).score(data.test_X, data.test_y, data.text)  # LLU learned
        own = 100 * model.score(data.test_X, data.test_y, data.text)
        union = 100 * model.score(data.test_X, model.classes_of(data.name)[data.test_y], model.text_)
        assert abs(own - alone) <= 0.5 and abs(union - alone) <= 0.5


def test_save_and_load_give_identical_scores(family, updates, tmp_path):
    model = assembled(updates, family, "mixture")
    path = tmp_path / "multi.safetensors"
    save_classifier(model, path, classnames=list(model.text_.classnames))
    loaded = load_classifier(path, device="cpu")
    assert type(loaded) is MultiLLUClassifier and loaded.get_params() == model.get_params()
    assert loaded.names_ == model.names_ and loaded.classnames_ == list(model.text_.classnames)
    X = np.concatenate([data.test_X for data in family])
    np.testing.assert_array_equal(loaded.decision_function(X, loaded.text_), model.decision_function(X, model.text_))
    for name in model.names_:
        np.testing.assert_array_equal(loaded.classes_of(name), model.classes_of(name))
        assert loaded.updates_[name].get_params() == model.updates_[name].get_params()
    loaded.remove("toy_2")  # a loaded model is a model like any other
    assert loaded.names_ == ["toy_1", "toy_3"]


def test_bad_input_is_refused_with_clear_errors(family, updates):
    model = assembled(updates, family, which=[0])
    with pytest.raises(ValueError, match="'toy_1' is already in the model"):
        model.add(updates[1], "toy_1", family[1].text)
    with pytest.raises(ValueError, match=r"no data set 'toy_9' in the model; it holds \['toy_1'\]"):
        model.remove("toy_9")
    other = LLUClassifier(epochs=1, device="cpu").fit(np.eye(8, dtype=np.float32)[:2], [0, 1],
                                                       np.eye(8, dtype=np.float32)[2:4])
    with pytest.raises(ValueError, match="embedding dimension 8, the model's updates have 64"):
        model.add(other, "small", np.eye(8)[2:4], ["a", "b"])
    with pytest.raises(ValueError, match="texts of 'toy_2' have embedding dimension 8"):
        model.add(updates[1], "toy_2", np.eye(8)[:6], list("abcdef"))
    with pytest.raises(ValueError, match="pass classnames"):
        model.add(updates[1], "toy_2", np.asarray(family[1].text))
    with pytest.raises(ValueError, match="must be a fitted LLUClassifier"):
        model.add(object(), "toy_2", family[1].text)
    with pytest.raises(ValueError, match="not fitted"):
        model.add(LLUClassifier(), "toy_2", family[1].text)
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        model.add(updates[1], "  ", family[1].text)
    with pytest.raises(ValueError, match="logit_scale"):
        MultiLLUClassifier(logit_scale=50.0).add(updates[0], "toy_1", family[0].text)
    with pytest.raises(ValueError, match="combine must be one of"):
        MultiLLUClassifier(combine="sum").add(updates[0], "toy_1", family[0].text)
    assert model.names_ == ["toy_1"]  # nothing refused was added
    model.remove("toy_1")
    with pytest.raises(ValueError, match="not fitted"):
        model.decision_function(family[0].test_X, family[0].text)


def test_union_merges_shared_classes_and_tells_same_names_apart():
    rows = np.eye(4, dtype=np.float32)
    first = ClassTexts(rows[:2], ["cat", "dog"])
    second = ClassTexts(rows[[1, 2, 3]], ["dog", "cat", "bird"])  # "dog" shared, another "cat"
    union, where = union_classes({"pets": first, "zoo": second})
    assert union.classnames == ("cat", "dog", "cat (zoo)", "bird")
    np.testing.assert_array_equal(where["pets"], [0, 1])
    np.testing.assert_array_equal(where["zoo"], [1, 2, 3])

