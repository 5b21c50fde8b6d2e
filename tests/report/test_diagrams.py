"""The figures that explain the method (llu_core.report.diagrams): the paper's Figure 1 drawn from
Eq. 4 and Eq. 5, and where adapters and prompt learners learn."""

import numpy as np
import pytest
from matplotlib.colors import to_rgba

from llu_core.report.diagrams import plot_local_interpolation, plot_where_methods_learn


def test_figure_1_moves_the_model_near_its_training_samples_and_leaves_it_far_away():
    train_angles = (1.2, 1.5, 4.0)
    figure = plot_local_interpolation(beta=0.5, gamma=20.0, train_angles=train_angles)
    top, bottom = figure.axes
    original, adapter, final = (line.get_ydata() for line in top.lines)
    theta, alpha = bottom.lines[0].get_xydata().T
    assert alpha.max() == pytest.approx(0.5, abs=1e-3) and bottom.get_ylim() == pytest.approx((0.0, 0.525))
    far = alpha < 1e-6  # α(x, D) vanishes far from D: the final model is the original there
    assert far.any() and np.allclose(final[far], original[far], atol=1e-5)
    near = np.abs(theta - 1.2) < 0.01  # at a training sample α = β: between the original and the adapter
    assert not np.allclose(final[near], original[near], atol=1e-3)
    assert np.all((final[near] - original[near]) * (adapter[near] - original[near]) > 0)
    points = top.collections[0].get_offsets()
    assert np.allclose(points[:, 0], train_angles)  # the training samples D, on the final model's curve
    assert np.allclose(points[:, 1], np.interp(train_angles, theta, final), atol=5e-3)


def test_figure_1_without_the_update_is_the_original_model_everywhere():
    top, bottom = plot_local_interpolation(beta=0.0).axes
    assert np.allclose(top.lines[2].get_ydata(), top.lines[0].get_ydata(), atol=1e-6)
    assert np.all(bottom.lines[0].get_ydata() == 0.0)


def test_adapters_learn_after_the_encoders_and_prompt_learners_before_the_text_encoder():
    learned, frozen = to_rgba("#f5a65b"), to_rgba("#d9d9d9")
    adapter, prompt = plot_where_methods_learn().axes
    colours = {ax: {text.get_text(): to_rgba(text.get_bbox_patch().get_facecolor()) for text in ax.texts
                    if text.get_bbox_patch() is not None} for ax in (adapter, prompt)}
    assert adapter.get_title() == "Adapter (CLIP-Adapter, LLU)" and prompt.get_title().startswith("Prompt learner")
    assert {name for name, colour in colours[adapter].items() if colour == learned} == {"$g_I$\n(both)",
                                                                                       "$g_T$\n(LLU)"}
    assert {name for name, colour in colours[prompt].items() if colour == learned} == {"[v₁ … v_M]\n{class}."}
    for ax in (adapter, prompt):
        assert colours[ax]["image\nencoder"] == frozen and colours[ax]["text\nencoder"] == frozen
