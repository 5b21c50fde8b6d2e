"""The estimators on cached embeddings: LLU with its ablations, the baselines, its cheap successors
(GDA, ProKeR, LP++, CLAP), the prompt learners.

Every estimator follows one contract, scikit-learn's with the class embeddings as a third
argument (``fit(X, y, T)``, ``decision_function(X, T)``, ``predict``, ``score``; see
:mod:`llu_core.estimators._base`), and every fitted one can be saved and loaded
(:mod:`llu_core.estimators.persistence`).
"""

from ._base import EmbeddingClassifier, match_classes
from .baselines import CLIPAdapterClassifier, LinearProbeClassifier, TipAdapterClassifier, ZeroShotClassifier
from .clap import CLAPClassifier
from .gda import GDAClassifier
from .llu import ABLATIONS, LLUClassifier
from .lp_plus_plus import LPPlusPlusClassifier
from .persistence import load_classifier, save_classifier
from .prompt_learners import CoCoOpClassifier, CoOpClassifier, KgCoOpClassifier, ProGradClassifier
from .proker import ProKeRClassifier

__all__ = ["EmbeddingClassifier", "match_classes", "ABLATIONS", "LLUClassifier", "ZeroShotClassifier",
           "CLIPAdapterClassifier", "TipAdapterClassifier", "LinearProbeClassifier", "GDAClassifier",
           "ProKeRClassifier", "LPPlusPlusClassifier", "CLAPClassifier", "CoOpClassifier",
           "CoCoOpClassifier", "ProGradClassifier", "KgCoOpClassifier", "save_classifier", "load_classifier"]
