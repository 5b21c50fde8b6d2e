"""Chapter 4's slider callback, tested as a plain function (no browser, no kernel)."""

import copy

import matplotlib.pyplot as plt
import numpy as np
import pytest

from llu_core import ZeroShotClassifier
from llu_core.evaluation.protocols import evaluate_base_to_new, score_base_to_new
from llu_core.report.widgets import build_mask_explorer, mask_numbers, mask_sliders, mask_view

from synthetic import embedded_dataset


@pytest.fixture(scope="module")
def data():
    return embedded_dataset(n_classes=6, seed=3)


@pytest.fixture(scope="module")
def explorer(data):
    return build_mask_explorer(data, shots=4, seed=1, epochs=10)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_beta_zero_gives_zero_shot_accuracies(data, explorer):
    zero_shot = evaluate_base_to_new(ZeroShotClassifier(), data.train_X, data.train_y, data.test_X, data.test_y,
                                     data.text, 4, 1)
    accuracies = mask_numbers(explorer, beta=0.0, gamma=20.0)
    assert accuracies["base"] == pytest.approx(zero_shot["base"])
    assert accuracies["new"] == pytest.approx(zero_shot["new"])


def test_trained_update_changes_base_accuracy(data, explorer):
    off = mask_numbers(explorer, beta=0.0, gamma=20.0)
    on = mask_numbers(explorer, beta=1.0, gamma=1.0)
    assert on["base"] != off["base"]


def test_numbers_are_the_protocols_scores_of_the_model_with_the_new_mask(explorer):
    numbers = mask_numbers(explorer, beta=0.3, gamma=5.0)
    model = copy.deepcopy(explorer.classifier).set_params(beta=0.3, gamma=5.0)
    scores = score_base_to_new(model, explorer.test_X, explorer.test_y, explorer.text)
    assert {key: numbers[key] for key in scores} == pytest.approx(scores)
    alpha = model.local_weight(explorer.test_X)
    is_base = np.isin(explorer.test_y, explorer.base)
    assert numbers["mean_alpha_base"] == pytest.approx(alpha[is_base].mean())
    assert numbers["mean_alpha_new"] == pytest.approx(alpha[~is_base].mean())
    assert mask_view(explorer, beta=0.3, gamma=5.0)[1] == pytest.approx(numbers)


def test_view_returns_a_figure_and_a_local_mask(explorer):
    figure, result = mask_view(explorer, beta=0.5, gamma=20.0)
    assert len(figure.axes) == 2  # the scatter and its colour bar
    assert set(result) == {"base", "new", "hm", "mean_alpha_base", "mean_alpha_new"}
    assert 0.0 <= result["mean_alpha_new"] < result["mean_alpha_base"] <= 0.5
    # A sharper mask (larger γ) applies the update less far from D.
    _, sharp = mask_view(explorer, beta=0.5, gamma=200.0)
    assert sharp["mean_alpha_new"] < result["mean_alpha_new"]
    # γ → 0 is the global mask: α = β everywhere.
    _, flat = mask_view(explorer, beta=0.5, gamma=0.0)
    assert flat["mean_alpha_new"] == pytest.approx(0.5) and flat["mean_alpha_base"] == pytest.approx(0.5)


def test_view_does_not_change_the_explorer(explorer):
    before = explorer.classifier.get_params()
    mask_view(explorer, beta=0.9, gamma=3.0)
    assert explorer.classifier.get_params() == before


@pytest.mark.parametrize("beta, gamma", [(1.5, 20.0), (-0.1, 20.0), (0.5, -1.0), (0.5, np.nan)])
def test_bad_slider_values_raise(explorer, beta, gamma):
    with pytest.raises(ValueError):
        mask_view(explorer, beta=beta, gamma=gamma)


def test_sliders_wire_the_callback(explorer):
    import ipywidgets

    box = mask_sliders(explorer, beta=0.25, gamma=50.0)
    beta_slider, gamma_slider = box.children[0].children
    assert (beta_slider.value, beta_slider.min, beta_slider.max) == (0.25, 0.0, 1.0)
    assert gamma_slider.value == pytest.approx(50.0)
    # The figure is an Image widget and the numbers an HTML widget: no Output widget, whose
    # capture round trip with a front end can stall an execution without one.
    image, numbers = box.children[1:]
    assert not any(isinstance(child, ipywidgets.Output) for child in box.children)
    shown = bytes(image.value), numbers.value
    assert shown[0].startswith(b"\x89PNG") and "base-class accuracy" in shown[1]
    beta_slider.value = 1.0
    assert bytes(image.value) != shown[0] and numbers.value != shown[1]


def test_sliders_draw_the_values_their_readouts_show(explorer):
    from llu_core.report.widgets import as_shown, mask_frame

    box = mask_sliders(explorer, beta=0.25, gamma=50.0)
    beta_slider, gamma_slider = box.children[0].children
    image = box.children[1]
    gamma_slider.value = 10 ** 0.3  # the readout shows 2.00
    assert gamma_slider.value != 2.0 and as_shown(gamma_slider) == 2.0
    assert bytes(image.value) == mask_frame(explorer, 0.25, 2.0, dpi=96)[0]
    gamma_slider.value = 1000.0
    beta_slider.value = 0.1 + 0.2
    assert (as_shown(beta_slider), as_shown(gamma_slider)) == (0.3, 1000.0)
    assert bytes(image.value) == mask_frame(explorer, 0.3, 1000.0, dpi=96)[0]
