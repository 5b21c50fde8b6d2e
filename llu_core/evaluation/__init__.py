"""The experiments: the base-to-new and transfer protocols, grids and their summaries, the
embedding geometry the mask sees, and the training speed of Figure 3."""

from .grids import run_grid
from .protocols import (base_new_split, evaluate_base_to_new, few_shot_indices, fit_on_base, harmonic_mean,
                        score_base_to_new, validation_shots)
from .summary import add_average, summarise
from .transfer import fit_on_source, run_transfer

__all__ = ["run_grid", "base_new_split", "evaluate_base_to_new", "few_shot_indices", "fit_on_base", "harmonic_mean",
           "score_base_to_new", "validation_shots", "add_average", "summarise", "fit_on_source", "run_transfer"]
