"""The base-to-new grid's figures: one panel per data set and none empty, zero-shot as a band
under the curves it could hide, error bars that are the standard errors given the test images.
The layout rules every figure keeps are checked in tests/report/test_plots.py."""

import numpy as np
import pytest

from llu_core.report import grid_plots, style

from synthetic import summary_rows


def test_no_empty_panel():
    figure = grid_plots.plot_accuracy_vs_shots(summary_rows(["a", "b", "c"], ["zero_shot", "llu"]))
    assert len(figure.axes) == 3 and all(ax.lines for ax in figure.axes)
    assert len(figure.legends) == 1


def test_zero_shot_is_a_band_under_the_curves_it_could_hide():
    rows = summary_rows(["a"], ["zero_shot", "tip_adapter"])
    for row in rows:  # Tip-Adapter on new classes is zero-shot exactly
        row["new_mean"] = 40.0
    ax = grid_plots.plot_accuracy_vs_shots(rows).axes[0]
    lines = {(line.get_color(), line.get_linestyle()): line for line in ax.lines if len(line.get_xdata()) == 3}
    band, on_top = lines[style.METHOD_COLOURS["zero_shot"], "--"], lines[style.METHOD_COLOURS["tip_adapter"], "--"]
    assert np.allclose(np.asarray(band.get_ydata(), float), np.asarray(on_top.get_ydata(), float))
    assert band.get_linewidth() > 3 * on_top.get_linewidth() and band.get_zorder() < on_top.get_zorder()


def test_error_bars_are_standard_errors_given_the_test_images():
    from llu_core.evaluation.noise import summary_standard_error

    rows = summary_rows(["a"], ["llu"])
    ax = grid_plots.plot_accuracy_vs_shots(rows, n_test={"a": {"base": 500, "new": 400}}).axes[0]
    spans = sorted(float(segment[1, 1] - segment[0, 1]) for container in ax.containers
                   for segment in container.lines[2][0].get_segments())
    expected = sorted(2 * summary_standard_error(row, metric, n) for row in rows
                      for metric, n in (("base", 500), ("new", 400)))
    assert np.allclose(spans, expected)


def test_base_against_new_draws_binomial_errors_and_leaves_out_methods_without_new_classes():
    rows = summary_rows(["cifar10", "dtd"], ["zero_shot", "llu", "linear_probe"], shots=(4, 16))
    for row in rows:
        if row["method"] == "linear_probe":
            row["new_mean"] = float("nan")
    figure = grid_plots.plot_base_against_new(rows, {"cifar10": {"base": 100, "new": 400}, "dtd": {"base": 100, "new": 400}})
    assert [ax.get_title() for ax in figure.axes] == ["CIFAR-10", "DTD"]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == ["Zero-shot", "LLU"]
    ax = figure.axes[0]
    assert len(ax.containers) == 2  # one point per method with new-class scores, at the largest shot count
    point = next(r for r in rows if r["dataset"] == "cifar10" and r["method"] == "zero_shot" and r["shots"] == 16)
    x_bar, y_bar = ax.containers[0].lines[2]
    x_ends = x_bar.get_segments()[0][:, 0]
    y_ends = y_bar.get_segments()[0][:, 1]
    p_new, p_base = point["new_mean"] / 100, point["base_mean"] / 100
    assert np.diff(x_ends)[0] / 2 == pytest.approx(100 * np.sqrt(p_new * (1 - p_new) / 400))
    assert np.diff(y_ends)[0] / 2 == pytest.approx(100 * np.sqrt(p_base * (1 - p_base) / 100))
