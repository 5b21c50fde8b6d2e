"""The figures' layout rules: page-wide at most, legends off the data, no empty panels, Table 4's names."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from llu_core.report import plots
from llu_core.report.tables import VARIANT_LABELS


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def summary_rows(datasets, methods, shots=(1, 4, 16)):
    rng = np.random.default_rng(0)
    return [{"dataset": d, "method": m, "shots": s, "base_mean": 50 + rng.random(), "base_std": 1.0,
             "new_mean": 40 + rng.random(), "new_std": 1.0} for d in datasets for m in methods for s in shots]


def drawings():
    """A call of every plotting function of ``llu_core.report.plots`` on small data, by function name."""
    rng = np.random.default_rng(0)
    rows = [{"n_clusters": k, "n_centres": n, "memory_kib": 2.0 * n, "base": 60.0, "new": 50.0}
            for k, n in ((2, 7), (5, 10), (None, 85))]
    gains = [{"method": m, "dataset": d, "protocol": p, "alpha": a, "gain": g}
             for m in ("llu", "clip_adapter") for d, p, a, g in (("s", "source", 0.1, 8.0),
                                                                   ("c", "cross_dataset", 0.02, 1.0),
                                                                   ("d", "domain_generalisation", 0.05, -2.0))]
    speed = [{"method": m, "classes": 10, "batch_size": b, "total_s": 0.01 * b, "setting": s}
             for s in ("end to end", "cached") for m in ("llu", "clip_adapter", "coop") for b in (1, 4)]
    labels = np.repeat(np.arange(4), 3)
    toy_view = {"images_before": rng.normal(size=(12, 2)) * 0.3, "images_after": rng.normal(size=(12, 2)) * 0.3,
                "texts_before": rng.normal(size=(4, 2)) * 0.3, "texts_after": rng.normal(size=(4, 2)) * 0.3,
                "labels": labels, "correct": rng.random(12) < 0.7}
    toy_records = [{"method": m, "misalignment": a, "seed": s, "new": 50 + 10 * rng.random(),
                    "new_margin": 0.1 * (1 - a)} for m in ("zero_shot", "llu", "no_mask") for a in (0.0, 0.5)
                   for s in (1, 2)]
    draw = {
        "plot_local_interpolation": lambda: plots.plot_local_interpolation(),
        "plot_examples": lambda: plots.plot_examples([rng.random((8, 8, 3))] * 6, ["a"] * 6, ["a", "b"] * 3),
        "plot_grouped_bars": lambda: plots.plot_grouped_bars({"x": {"p": 1.0, "q": 2.0}, "y": {"p": 3.0, "q": 4.0}}),
        "plot_base_new": lambda: plots.plot_base_new([{"label": "a", "base": 60.0, "new": 50.0}]),
        "plot_loss_curves": lambda: plots.plot_loss_curves({"a": [1.0, 0.5], "b": [2.0, 1.0]}),
        "plot_mask_2d": lambda: plots.plot_mask_2d(rng.normal(size=(20, 2)), rng.random(20), rng.random(20) < 0.5,
                                                   rng.normal(size=(3, 2)), 0.5, 20.0, {"base": 70.0, "new": 60.0}),
        "plot_cluster_sweep": lambda: plots.plot_cluster_sweep(rows),
        "plot_clusters": lambda: plots.plot_clusters(rng.normal(size=(20, 2)), rng.integers(0, 3, 20),
                                                     rng.normal(size=(3, 2))),
        "plot_accuracy_vs_shots": lambda: plots.plot_accuracy_vs_shots(summary_rows(["a", "b", "c"],
                                                                                    ["zero_shot", "llu"])),
        "plot_image_rows": lambda: plots.plot_image_rows({"x": [rng.random((8, 8, 3))] * 3, "y": [rng.random((8, 8, 3))]}),
        "plot_gain_vs_alpha": lambda: plots.plot_gain_vs_alpha(gains),
        "plot_where_methods_learn": lambda: plots.plot_where_methods_learn(),
        "plot_training_speed": lambda: plots.plot_training_speed(speed),
        "plot_ablations": lambda: plots.plot_ablations(summary_rows(["average"], list(VARIANT_LABELS), shots=(16,))),
        "plot_toy_alpha": lambda: plots.plot_toy_alpha(rng.random((5, 5)) * 0.5, (-1, 1, -1, 1), 0.5,
                                                       rng.normal(size=(4, 2)) * 0.3, rng.normal(size=(6, 2)) * 0.3,
                                                       list("ABCD"), 2),
        "plot_toy_updates": lambda: plots.plot_toy_updates([{"title": "a", "view": toy_view, "alpha": None},
                                                            {"title": "b", "view": toy_view,
                                                             "alpha": np.full((3, 3), 0.2)}],
                                                           (-1, 1, -1, 1), 0.5, list("ABCD"), 2),
        "plot_toy_sweep": lambda: plots.plot_toy_sweep(toy_records),
        "plot_margin_effect": lambda: plots.plot_margin_effect(
            [{"margin": g, "effect": e, "spread": 1.0} for g, e in ((0.02, 5.0), (0.08, -3.0))],
            [{"label": "x", "margin": 0.03, "effect": 1.0}, {"label": "y", "margin": 0.1, "effect": -2.0,
                                                            "margin_range": (0.08, 0.12)}]),
    }
    return draw


def test_every_plotting_function_is_checked():
    functions = {name for name in dir(plots) if name.startswith("plot_") and callable(getattr(plots, name))}
    assert functions == set(drawings())


@pytest.mark.parametrize("name", sorted(drawings()))
def test_figures_fit_the_page_and_keep_legends_off_the_axes(name):
    figure = drawings()[name]()
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
