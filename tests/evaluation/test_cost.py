"""What a fit costs: time, learned numbers and saved size, measured on the same shots."""

import math

import pytest

from llu_core import (CLAPClassifier, GDAClassifier, LLUClassifier, LPPlusPlusClassifier, ProKeRClassifier,
                      TipAdapterClassifier, ZeroShotClassifier)
from llu_core.evaluation.cost import LEARNED, base_fit_costs, fit_costs, learned_numbers, model_bytes

from synthetic import embedded_dataset, small_problem


def test_learned_numbers_count_each_estimators_learned_tensors():
    data = embedded_dataset(n_classes=4, dim=8, train_per_class=4, test_per_class=1)
    X, y, T = data.train_X, data.train_y, data.text  # 4 classes of 4 shots in 8 dimensions
    assert learned_numbers(ZeroShotClassifier().fit(X, y, T)) == 0
    assert learned_numbers(LLUClassifier(epochs=1).fit(X, y, T)) == 2 * (8 * 8 + 8)  # two affine adapters
    assert learned_numbers(GDAClassifier(alpha=1.0).fit(X, y, T)) == 4 * 8 + 4  # w_c and b_c
    assert learned_numbers(ProKeRClassifier(beta=1.0, lam=1.0).fit(X, y, T)) == 16 * 4  # A: shots × classes
    assert learned_numbers(CLAPClassifier(epochs=1).fit(X, y, T)) == 4 * 8
    assert learned_numbers(LPPlusPlusClassifier(epochs=1).fit(X, y, T)) == 4 * 8 + 4 + 4  # w_k, b_k, α_k
    assert learned_numbers(TipAdapterClassifier().fit(X, y, T)) == 0  # its keys are kept, not learned
    assert learned_numbers(TipAdapterClassifier(finetune=True, epochs=1).fit(X, y, T)) == 16 * 8


def test_learned_numbers_refuses_an_unknown_model():
    with pytest.raises(ValueError, match="learned_numbers knows"):
        learned_numbers(object())


def test_fit_costs_measures_every_method_on_the_same_shots():
    X, y, T = small_problem()
    records = fit_costs({"zero_shot": ZeroShotClassifier(), "gda": GDAClassifier(alpha=0.1)}, X, y, T, repeats=2)
    assert [r["method"] for r in records] == ["zero_shot", "gda"]
    for record in records:
        assert record["fit_s"] > 0.0 and record["model_bytes"] > 0
    assert records[1]["learned"] == 3 * 6 + 3
    # the saved GDA model holds at least its learned float32 numbers, more than the zero-shot model
    assert records[1]["model_bytes"] >= 4 * records[1]["learned"] > records[0]["model_bytes"] - 1000
    assert records[1]["model_bytes"] == model_bytes(GDAClassifier(alpha=0.1).fit(X, y, T))


def test_fit_costs_refuses_what_it_does_not_know():
    X, y, T = small_problem()
    with pytest.raises(ValueError, match=r"methods \['odd'\]"):
        fit_costs({"odd": object()}, X, y, T)
    with pytest.raises(ValueError, match="repeats"):
        fit_costs({"gda": GDAClassifier()}, X, y, T, repeats=0)


def test_base_fit_costs_fit_the_base_classes_and_give_ratios_to_llu():
    data = embedded_dataset(n_classes=6, dim=8, train_per_class=5, test_per_class=1)
    records = base_fit_costs({"llu": LLUClassifier(epochs=1), "proker": ProKeRClassifier(beta=1.0, lam=1.0)},
                             data, shots=4, seed=1)
    assert records[0]["ratio_to_llu"] == 1.0
    assert records[1]["ratio_to_llu"] == pytest.approx(records[1]["fit_s"] / records[0]["fit_s"])
    assert records[1]["learned"] == (3 * 4) * 3  # 4 shots of the 3 base classes, 3 outputs
    alone = base_fit_costs({"gda": GDAClassifier(alpha=1.0)}, data, shots=4, seed=1)
    assert math.isnan(alone[0]["ratio_to_llu"]) and alone[0]["learned"] == 3 * 8 + 3
    with pytest.raises(ValueError, match="methods is empty"):
        base_fit_costs({}, data, shots=4, seed=1)


def test_every_estimator_of_the_public_face_has_its_learned_attributes():
    import llu_core

    estimators = {name for name in llu_core.__all__ if name.endswith("Classifier")}
    # Not single fits on one set of shots: the prompt learners (images through the text tower) and
    # MultiLLUClassifier (fitted LLU updates of several data sets put together).
    others = {"CoOpClassifier", "CoCoOpClassifier", "ProGradClassifier", "KgCoOpClassifier", "MultiLLUClassifier"}
    assert estimators - others == set(LEARNED)
