"""Chapter 5's toy figures (llu_core.report.toy_plots); the layout rules every figure keeps are in test_plots.py."""

import numpy as np

from llu_core.report import toy_plots


def test_toy_sweep_draws_the_mean_and_spread_over_seeds():
    records = [{"method": m, "misalignment": a, "seed": s, "new": 50.0 + 10 * a + s + (m == "llu"),
                "new_margin": 0.1 * (1 - a)} for m in ("zero_shot", "llu") for a in (0.5, 0.0) for s in (1, 4)]
    ax = toy_plots.plot_toy_sweep(records).axes[0]
    bars = {container.get_label(): container for container in ax.containers}
    assert set(bars) == {"Zero-shot", "LLU"}
    for label, offset in (("Zero-shot", 0.0), ("LLU", 1.0)):
        line, _, (errors,) = bars[label].lines
        assert np.allclose(line.get_xdata(), [0.0, 0.5])
        assert np.allclose(line.get_ydata(), [52.5 + offset, 57.5 + offset])  # seeds 1 and 4: 2.5 above 50 + 10 a
        spans = [float(segment[1, 1] - segment[0, 1]) for segment in errors.get_segments()]
        assert np.allclose(spans, 3.0)  # ± 1.5, the standard deviation over the two seeds


def test_toy_sweep_error_bars_are_standard_errors_given_the_test_images():
    from llu_core.evaluation.noise import summary_standard_error

    records = [{"method": "llu", "misalignment": a, "seed": s, "new": 50.0 + s, "new_margin": 0.1 * (1 - a)}
               for a in (0.0, 0.5) for s in (1, 2, 3)]
    (container,) = toy_plots.plot_toy_sweep(records, n_test=300).axes[0].containers
    row = {"new_mean": 52.0, "new_std": float(np.std([51.0, 52.0, 53.0])), "n_seeds": 3}
    spans = [float(segment[1, 1] - segment[0, 1]) for segment in container.lines[2][0].get_segments()]
    assert np.allclose(spans, 2 * summary_standard_error(row, "new", 300))
