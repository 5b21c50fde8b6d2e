"""The figures' layout rules, checked on every plotting function: page-wide at most, no text
below the book's smallest font, legends off the data, no label over another or over the data;
and the particular rules: no empty panels, colour scales that span the data, error bars over
seeds, display names, Table 4's names."""

import importlib
import itertools
import pkgutil
from unittest import mock

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.patches import Rectangle
from matplotlib.text import Text

import llu_core.report
from llu_core.report import diagrams, grid_plots, many_datasets, plots, style, toy_plots
from llu_core.report.labels import VARIANT_LABELS

from synthetic import summary_rows


def drawings():
    """A call of every plotting function of ``llu_core.report`` on small data, by function name."""
    rng = np.random.default_rng(0)
    rows = [{"n_clusters": k, "n_centres": n, "memory_kib": 2.0 * n, "base": 60.0, "new": 50.0, "base_std": 1.0,
             "new_std": 2.0} for k, n in ((2, 7), (5, 10), (None, 85))]
    # Chapter 10's shape: the source, two other data sets and four shifted domains, five methods,
    # gains and α close together (where text labels beside the points used to collide).
    targets = [("cifar10", "source", 0.04), ("fashion_mnist", "cross_dataset", 0.0245), ("dtd", "cross_dataset", 0.0128),
               *((f"cifar10_{kind}@3", "domain_generalisation", 0.03 + 0.001 * i)
                 for i, kind in enumerate(("sketch", "gray_contrast", "blur_noise", "jpeg")))]
    gains = [{"method": m, "dataset": d, "protocol": p, "alpha": a, "gain": g + 0.3 * j}
             for j, m in enumerate(("clip_adapter", "tip_adapter", "llu", "no_mask"))
             for (d, p, a), g in zip(targets, (8.0, 1.0, -0.5, 0.2, 0.4, 0.1, 0.3))]
    speed = [{"method": m, "classes": c, "batch_size": b, "total_s": 0.01 * b, "setting": s}
             for s in ("end to end", "cached embeddings") for c in (10, 100)
             for m in ("llu", "clip_adapter", "coop", "prograd", "kgcoop") for b in (1, 4, 32)]
    speed += [{"method": "cocoop", "classes": 10, "batch_size": 1, "total_s": 0.5, "setting": "cached embeddings"}]
    labels = np.repeat(np.arange(4), 3)
    toy_view = {"images_before": rng.normal(size=(12, 2)) * 0.3, "images_after": rng.normal(size=(12, 2)) * 0.3,
                "texts_before": rng.normal(size=(4, 2)) * 0.3, "texts_after": rng.normal(size=(4, 2)) * 0.3,
                "labels": labels, "correct": rng.random(12) < 0.7}
    toy_records = [{"method": m, "misalignment": a, "seed": s, "new": 50 + 10 * rng.random(),
                    "new_margin": 0.1 * (1 - a)} for m in ("zero_shot", "llu", "no_mask") for a in (0.0, 0.5)
                   for s in (1, 2)]
    draw = {
        "plot_local_interpolation": lambda: diagrams.plot_local_interpolation(),
        "plot_examples": lambda: plots.plot_examples([rng.random((8, 8, 3))] * 8, ["automobile"] * 8,
                                                     ["automobile", "ankle boot"] * 4),
        "plot_grouped_bars": lambda: plots.plot_grouped_bars(
            {d: {"class name only": 60.1, "data set template": 60.3, "7-template ensemble": 61.0}
             for d in ("fashion_mnist", "cifar10", "dtd")}),
        "plot_base_new": lambda: plots.plot_base_new([{"label": "a", "base": 60.0, "new": 50.0}]),
        "plot_loss_curves": lambda: plots.plot_loss_curves({"a": [1.0, 0.5], "b": [2.0, 1.0]}),
        "plot_mask_2d": lambda: plots.plot_mask_2d(rng.normal(size=(20, 2)), rng.random(20), rng.random(20) < 0.5,
                                                   rng.normal(size=(3, 2)), 0.5, 20.0, {"base": 70.0, "new": 60.0}),
        "plot_cluster_sweep": lambda: plots.plot_cluster_sweep(rows),
        "plot_gamma_sweep": lambda: plots.plot_gamma_sweep(
            [{"gamma": g, "base": 60.0 + i, "new": 70.0 - i, "base_error": 1.0, "new_error": 2.0}
             for i, g in enumerate((None, 0.0, 2.0, 20.0, 1000.0))]),
        "plot_clusters": lambda: plots.plot_clusters(rng.normal(size=(20, 2)), rng.integers(0, 3, 20),
                                                     rng.normal(size=(3, 2))),
        "plot_accuracy_vs_shots": lambda: grid_plots.plot_accuracy_vs_shots(summary_rows(["a", "b", "c"],
                                                                                    ["zero_shot", "llu"])),
        "plot_base_against_new": lambda: grid_plots.plot_base_against_new(
            summary_rows(["fashion_mnist", "cifar10", "dtd"], ["zero_shot", "llu", "gda", "proker", "lp_plus_plus",
                                                               "clap"], shots=(16,)),
            {d: {"base": 500, "new": 500} for d in ("fashion_mnist", "cifar10", "dtd")}),
        "plot_image_rows": lambda: plots.plot_image_rows({"cifar10": [rng.random((8, 8, 3))] * 8,
                                                          "cifar10_gray_contrast@3": [rng.random((8, 8, 3))] * 8}),
        "plot_gain_vs_alpha": lambda: plots.plot_gain_vs_alpha(gains),
        "plot_where_methods_learn": lambda: diagrams.plot_where_methods_learn(),
        "plot_training_speed": lambda: plots.plot_training_speed(speed),
        "plot_ablations": lambda: plots.plot_ablations(summary_rows(["average"], list(VARIANT_LABELS), shots=(16,))),
        "plot_toy_alpha": lambda: toy_plots.plot_toy_alpha(rng.random((5, 5)) * 0.5, (-1, 1, -1, 1), 0.5,
                                                       rng.normal(size=(4, 2)) * 0.3, rng.normal(size=(6, 2)) * 0.3,
                                                       list("ABCD"), 2),
        "plot_toy_updates": lambda: toy_plots.plot_toy_updates([{"title": "a", "view": toy_view, "alpha": None},
                                                            {"title": "b", "view": toy_view,
                                                             "alpha": np.full((3, 3), 0.2)}],
                                                           (-1, 1, -1, 1), 0.5, list("ABCD"), 2),
        "plot_toy_sweep": lambda: toy_plots.plot_toy_sweep(toy_records),
        "plot_interference": lambda: many_datasets.plot_interference(
            {"updates": ["cifar10", "fashion_mnist", "dtd"], "datasets": ["cifar10", "fashion_mnist", "dtd"],
             "image": 0.01 + 0.2 * np.eye(3), "text": 5e-5 + 0.5 * np.eye(3)}),
        "plot_margin_effect": lambda: toy_plots.plot_margin_effect(
            [{"margin": g, "effect": e, "spread": 1.0} for g, e in ((0.02, 5.0), (0.08, -3.0))],
            [{"label": "x", "margin": 0.03, "effect": 1.0}, {"label": "y", "margin": 0.1, "effect": -2.0,
                                                            "margin_range": (0.08, 0.12)}]),
    }
    return draw


def plotting_functions():
    """Every ``plot_*`` function defined in a module of ``llu_core.report``, by name."""
    found = {}
    for module_info in pkgutil.iter_modules(llu_core.report.__path__, "llu_core.report."):
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if name.startswith("plot_") and callable(value) and value.__module__ == module.__name__:
                assert name not in found, f"{name} is defined in {found.get(name)} and {module.__name__}"
                found[name] = module.__name__
    return found


def test_every_plotting_function_is_checked():
    functions = plotting_functions()
    assert {"llu_core.report.plots", "llu_core.report.diagrams", "llu_core.report.toy_plots"} <= set(functions.values())
    assert set(functions) == set(drawings())


def visible_texts(figure):
    """Every text the figure draws (not the labels of ticks outside the view), with its extent in pixels."""
    drawn, draw = [], Text.draw

    def record(text, renderer):
        if text.get_visible() and text.get_text().strip():
            drawn.append(text)
        return draw(text, renderer)

    with mock.patch.object(Text, "draw", record):
        figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return [(text, text.get_window_extent(renderer)) for text in drawn]


@pytest.mark.parametrize("name", sorted(drawings()))
def test_figures_fit_the_page_with_legible_text(name):
    figure = drawings()[name]()
    assert figure.get_figwidth() <= style.MAX_WIDTH + 1e-9 and figure.dpi == style.DPI
    figure.canvas.draw()
    drawn = figure.get_tightbbox(figure.canvas.get_renderer())  # the inline backend crops to it (+0.1 in)
    assert drawn.width <= style.MAX_WIDTH + 0.05
    small = [(text.get_text(), text.get_fontsize()) for text, _ in visible_texts(figure)
             if text.get_fontsize() < style.MIN_FONT_SIZE]
    assert not small


@pytest.mark.parametrize("name", sorted(drawings()))
def test_legends_and_labels_stay_off_the_data_and_each_other(name):
    figure = drawings()[name]()
    assert all(ax.get_legend() is None for ax in figure.axes)  # legends are the figure's, outside
    texts = visible_texts(figure)
    renderer = figure.canvas.get_renderer()
    panels = [ax.get_window_extent(renderer) for ax in figure.axes if ax.get_visible() and ax.axison]
    for legend in figure.legends:
        extent = legend.get_window_extent(renderer)
        assert not any(extent.overlaps(panel) for panel in panels), "a legend covers a panel"
    overlapping = [(a.get_text(), b.get_text()) for (a, box_a), (b, box_b) in itertools.combinations(texts, 2)
                   if box_a.shrunk(0.98, 0.9).overlaps(box_b.shrunk(0.98, 0.9))]
    assert not overlapping
    for ax in figure.axes:  # labels written in a panel (values, names) cover no bar and no point
        data = [patch.get_window_extent(renderer) for patch in ax.patches if isinstance(patch, Rectangle)]
        points = np.concatenate([c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections
                                 if isinstance(c, PathCollection) and len(c.get_offsets())] or [np.empty((0, 2))])
        for text in ax.texts:
            box = text.get_window_extent(renderer).shrunk(0.98, 0.9)
            assert not any(box.overlaps(patch) for patch in data if patch.width > 1), text.get_text()
            assert not any(box.contains(x, y) for x, y in points), text.get_text()


def test_wrong_predictions_name_the_true_class():
    figure = plots.plot_examples([np.zeros((4, 4, 3))] * 2, ["cat", "dog"], ["cat", "cat"])
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["cat", "cat\n(true: dog)"]


def test_ablations_use_table_4_names():
    names = list(VARIANT_LABELS)
    figure = plots.plot_ablations(summary_rows(["average", "a"], names[::-1], shots=(16,)))
    labels = [tick.get_text() for tick in figure.axes[0].get_yticklabels()]
    assert labels == [VARIANT_LABELS[name] for name in names]  # Table 4's order and names
    with pytest.raises(ValueError, match="no rows"):
        plots.plot_ablations(summary_rows(["a"], names, shots=(16,)))


def test_colour_scale_of_the_mask_spans_zero_to_beta():
    rng = np.random.default_rng(0)
    for beta in (0.5, 0.2):
        figure = plots.plot_mask_2d(rng.normal(size=(20, 2)), beta * rng.random(20), rng.random(20) < 0.5,
                                    rng.normal(size=(3, 2)), beta, 20.0)
        colour_bar = figure.axes[-1]
        assert colour_bar.get_ylim() == pytest.approx((0.0, beta))


def test_cluster_centres_take_their_clusters_colours():
    coords, labels = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]), np.array([0, 1, 2])
    figure = plots.plot_clusters(coords, labels, coords)
    figure.canvas.draw()
    points, centres = figure.axes[0].collections
    assert np.allclose(points.get_facecolors(), centres.get_facecolors())  # centre k has cluster k's colour
    assert len({tuple(colour) for colour in centres.get_facecolors()}) == 3


def test_spreads_over_seeds_are_error_bars_and_small_differences_carry_values():
    rows = [{"n_clusters": k, "n_centres": n, "memory_kib": 2.0 * n, "base": 60.0, "new": 50.0, "base_std": 1.0,
             "new_std": 2.0} for k, n in ((2, 7), (None, 85))]
    ax = plots.plot_cluster_sweep(rows).axes[0]
    assert len(ax.containers) == 2 and all(container.has_yerr for container in ax.containers)
    names = list(VARIANT_LABELS)
    ax = plots.plot_ablations(summary_rows(["average"], names, shots=(16,))).axes[0]
    values = [text.get_text() for text in ax.texts]
    assert len(values) == 2 * len(names) and all("±" in value for value in values)  # every bar, with its spread
    assert any(line.get_xydata().size for line in ax.lines)  # error bars drawn
    single = [dict(row, n_seeds=1) for row in summary_rows(["average"], names, shots=(16,))]
    assert not any("±" in text.get_text() for text in plots.plot_ablations(single).axes[0].texts)


def test_data_sets_and_methods_appear_by_their_display_names():
    figure = grid_plots.plot_accuracy_vs_shots(summary_rows(["dtd", "fashion_mnist", "average"], ["zero_shot", "clip_adapter"]))
    assert [ax.get_title() for ax in figure.axes] == ["Average", "Fashion-MNIST", "DTD"]  # the paper's order
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["Zero-shot", "CLIP-Adapter"]
    figure = drawings()["plot_image_rows"]()
    assert [text.get_text() for text in figure.texts] == ["CIFAR-10", "CIFAR-10 grey, low contrast, severity 3"]


def test_cluster_sweep_labels_only_the_measured_counts():
    rows = [{"n_clusters": k, "n_centres": n, "memory_kib": 2.0 * n, "base": 60.0, "new": 50.0}
            for k, n in ((2, 7), (5, 10), (None, 85))]
    ax = plots.plot_cluster_sweep(rows).axes[0]
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["7", "10", "85"]
    assert not any(t.get_text() for t in ax.xaxis.get_minorticklabels())
