"""The one summary (llu_core.evaluation.summary): the average over data sets, mean and spread over seeds."""

import numpy as np
import pytest

from llu_core.evaluation.protocols import harmonic_mean
from llu_core.evaluation.summary import add_average, summarise
from toy_grid import grid_datasets, grid_records


@pytest.fixture(scope="module")
def records():
    return grid_records(grid_datasets())


def test_dataset_average_and_summary(records):
    extended = add_average(records)
    averages = [r for r in extended if r["dataset"] == "average"]
    assert len(averages) == 2 * 2 * 2
    one = next(r for r in averages if (r["method"], r["shots"], r["seed"]) == ("llu", 1, 2))
    parts = [r for r in records if (r["method"], r["shots"], r["seed"]) == ("llu", 1, 2)]
    assert one["base"] == pytest.approx(np.mean([r["base"] for r in parts]))
    assert one["hm"] == pytest.approx(harmonic_mean(one["base"], one["new"]))

    summary = summarise(extended)
    row = next(r for r in summary if (r["method"], r["dataset"], r["shots"]) == ("llu", "toy_a", 1))
    seeds = [r["new"] for r in records if (r["method"], r["dataset"], r["shots"]) == ("llu", "toy_a", 1)]
    assert row["n_seeds"] == 2
    assert row["new_mean"] == pytest.approx(np.mean(seeds))
    assert row["new_std"] == pytest.approx(np.std(seeds))
    assert row["hm_mean"] == pytest.approx(harmonic_mean(row["base_mean"], row["new_mean"]))
