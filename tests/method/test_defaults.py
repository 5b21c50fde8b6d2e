"""The paper's default hyperparameters (Sec. 4) and where the library reads them."""

from llu_core import LLUClassifier
from llu_core.method.locality import local_weight


def test_the_paper_defaults_have_one_home():
    # Sec. 4: "β = 0.5, γ = 20, λ = 1e3 and the number of clusters as 512"; the Dirac threshold is ours.
    from llu_core.method import defaults

    assert (defaults.BETA, defaults.GAMMA, defaults.LAM, defaults.N_CLUSTERS) == (0.5, 20.0, 1e3, 512)
    assert local_weight.__defaults__ == ("local", defaults.DIRAC_THRESHOLD)
    assert LLUClassifier().get_params()["dirac_threshold"] == defaults.DIRAC_THRESHOLD
