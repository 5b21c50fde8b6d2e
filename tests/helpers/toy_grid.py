"""One small grid of runs on synthetic embedded data: the records that grids, summaries and tables read."""

from llu_core import LLUClassifier, ZeroShotClassifier
from llu_core.evaluation.grids import run_grid
from synthetic import embedded_dataset

METHODS = {"zero_shot": ZeroShotClassifier(), "llu": LLUClassifier(epochs=5)}


def grid_datasets():
    """Two synthetic data sets, of 6 and 7 classes."""
    return [embedded_dataset("toy_a", seed=0), embedded_dataset("toy_b", n_classes=7, seed=1)]


def grid_records(datasets):
    """:data:`METHODS` at 1 and 2 shots, seeds 1 and 2, on ``datasets``."""
    return run_grid(METHODS, datasets, shots=[1, 2], seeds=[1, 2], progress=False)
