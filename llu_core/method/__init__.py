"""The method on arrays: LLU's adapters, its local mask, the clustering of D and the training loop.

Pure torch (and scikit-learn's clustering): no files, no data sets, no backbones. Every
function works on unit-norm embedding rows.
"""

from .adapters import IDENTITY_NORMS, AffineAdapter, BottleneckAdapter
from .clustering import cluster_centres
from .defaults import BETA, DIRAC_THRESHOLD, GAMMA, LAM, N_CLUSTERS
from .locality import MASKS, interpolate, local_weight, nearest_distance
from .training import coop_epochs, coop_optimizer, coop_schedule, cosine_schedule, minimise, training_epochs

__all__ = ["IDENTITY_NORMS", "AffineAdapter", "BottleneckAdapter", "cluster_centres", "BETA", "DIRAC_THRESHOLD",
           "GAMMA", "LAM", "N_CLUSTERS", "MASKS", "interpolate", "local_weight", "nearest_distance", "coop_epochs",
           "coop_optimizer", "coop_schedule", "cosine_schedule", "minimise", "training_epochs"]
