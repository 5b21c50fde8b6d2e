"""The figures' layout rules: page-wide at most, legends off the data, no empty panels, Table 4's names."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from llu_core import plots
from llu_core.experiments import VARIANT_LABELS


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def summary_rows(datasets, methods, shots=(1, 4, 16)):
    rng = np.random.default_rng(0)
    return [{"dataset": d, "method": m, "shots": s, "base_mean": 50 + rng.random(), "base_std": 1.0,
             "new_mean": 40 + rng.random(), "new_std": 1.0} for d in datasets for m in methods for s in shots]


def figures():
    rng = np.random.default_rng(0)
    rows = [{"n_clusters": k, "n_centres": n, "memory_kib": 2.0 * n, "base": 60.0, "new": 50.0}
            for k, n in ((2, 7), (5, 10), (None, 85))]
    yield plots.plot_local_interpolation()
    yield plots.plot_examples([rng.random((8, 8, 3))] * 6, ["a"] * 6, ["a", "b"] * 3)
    yield plots.plot_grouped_bars({"x": {"p": 1.0, "q": 2.0}, "y": {"p": 3.0, "q": 4.0}})
    yield plots.plot_loss_curves({"a": [1.0, 0.5], "b": [2.0, 1.0]})
    yield plots.plot_mask_2d(rng.normal(size=(20, 2)), rng.random(20), rng.random(20) < 0.5,
                             rng.normal(size=(3, 2)), 0.5, 20.0, {"base": 70.0, "new": 60.0})
    yield plots.plot_cluster_sweep(rows)
    yield plots.plot_clusters(rng.normal(size=(20, 2)), rng.integers(0, 3, 20), rng.normal(size=(3, 2)))
    yield plots.plot_accuracy_vs_shots(summary_rows(["a", "b", "c"], ["zero_shot", "llu"]))


def test_figures_fit_the_page_and_keep_legends_off_the_axes():
    for figure in figures():
        assert figure.get_figwidth() <= plots.MAX_WIDTH + 1e-9
        assert all(ax.get_legend() is None for ax in figure.axes)  # legends are the figure's, outside


def test_no_empty_panel():
    figure = plots.plot_accuracy_vs_shots(summary_rows(["a", "b", "c"], ["zero_shot", "llu"]))
    assert len(figure.axes) == 3 and all(ax.lines for ax in figure.axes)
    assert len(figure.legends) == 1


def test_wrong_predictions_name_the_true_class():
    figure = plots.plot_examples([np.zeros((4, 4, 3))] * 2, ["cat", "dog"], ["cat", "cat"])
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["cat", "cat\n(true: dog)"]


def test_ablations_use_table_4_names():
    names = list(VARIANT_LABELS)
    figure = plots.plot_ablations(summary_rows(["average", "a"], names[::-1], shots=(16,)))
    labels = [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
    assert labels == [VARIANT_LABELS[name] for name in names]  # Table 4's order and names
    with pytest.raises(ValueError, match="no rows"):
        plots.plot_ablations(summary_rows(["a"], names, shots=(16,)))


def test_cluster_sweep_labels_only_the_measured_counts():
    rows = [{"n_clusters": k, "n_centres": n, "memory_kib": 2.0 * n, "base": 60.0, "new": 50.0}
            for k, n in ((2, 7), (5, 10), (None, 85))]
    ax = plots.plot_cluster_sweep(rows).axes[0]
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["7", "10", "85"]
    assert not any(t.get_text() for t in ax.xaxis.get_minorticklabels())
