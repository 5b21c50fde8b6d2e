"""Chapter 3's β/γ sliders: the callback is a plain function, the ipywidgets part only wires it.

:func:`build_mask_explorer` fits LLU once on the few-shot base classes of a data set (the
base-to-new protocol); :func:`mask_view` then recomputes, for any β and γ, the local weight
α(x, D_image) of Eq. 5 for every test image and the base/new accuracies, and draws α over a
2-D (PCA) view of the embeddings. The adapters g_I, g_T stay those trained at the explorer's
β and γ: the sliders change where and how strongly the trained update is applied, which is
what Eq. 4-5 control at prediction time. :func:`mask_sliders` puts two sliders on
:func:`mask_view` for a live notebook; the static book shows :func:`mask_view` at the defaults.
"""

import copy
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from .classifiers import LLUClassifier
from .protocols import fit_on_base
from .plots import plot_mask_2d
from .protocols import base_new_split
from .validation import check_in_range


@dataclass
class MaskExplorer:
    """A fitted LLU model with the test embeddings it is explored on.

    Attributes
    ----------
    classifier : LLUClassifier
        Fitted on the base classes (rows ``text[base]``).
    test_X : ndarray, shape (m, d)
    test_y : ndarray of int, shape (m,)
        Labels into the rows of ``text``.
    text : ndarray, shape (C, d)
    base, new : ndarray of int
        The class split (CoOp's rule).
    projection : sklearn.decomposition.PCA
        The 2-D view, fitted on the test embeddings.
    """

    classifier: LLUClassifier
    test_X: np.ndarray
    test_y: np.ndarray
    text: np.ndarray
    base: np.ndarray
    new: np.ndarray
    projection: PCA


def build_mask_explorer(data, shots=16, seed=1, **llu_parameters):
    """Fit LLU on ``shots`` samples per base class of ``data`` and prepare the 2-D view.

    Parameters
    ----------
    data : embedded data set
        With ``train_X``, ``train_y``, ``test_X``, ``test_y``, ``text`` (see
        :func:`llu_core.features.embed_dataset`).
    shots, seed : int
        Few-shot samples per base class and the seed, as in the base-to-new protocol.
    **llu_parameters
        Keyword arguments of :class:`~llu_core.classifiers.LLUClassifier`.
    """
    text = np.asarray(data.text, dtype=np.float32)
    classifier = fit_on_base(LLUClassifier(**llu_parameters), data.train_X, data.train_y, text, shots, seed)
    base, new = base_new_split(np.arange(text.shape[0]))
    test_X = np.asarray(data.test_X, dtype=np.float32)
    return MaskExplorer(classifier, test_X, np.asarray(data.test_y), text, base, new,
                        PCA(n_components=2, random_state=0).fit(test_X))


def mask_accuracies(explorer, beta, gamma):
    """Base and new accuracy (percent) of the explorer's model with the mask's β and γ replaced.

    Returns
    -------
    (LLUClassifier, dict)
        The re-parametrised copy of the model and ``{"base": ..., "new": ...}``.
    """
    check_in_range("beta", beta, 0.0, 1.0)
    check_in_range("gamma", gamma, low=0.0)
    model = copy.deepcopy(explorer.classifier).set_params(beta=float(beta), gamma=float(gamma))
    accuracies = {}
    for name, classes in (("base", explorer.base), ("new", explorer.new)):
        rows = np.isin(explorer.test_y, classes)
        labels = np.searchsorted(classes, explorer.test_y[rows])
        accuracies[name] = 100.0 * model.score(explorer.test_X[rows], labels, explorer.text[classes])
    return model, accuracies


def mask_view(explorer, beta=0.5, gamma=20.0):
    """The slider callback: α over the 2-D view and the base/new accuracies for β and γ.

    Returns
    -------
    (matplotlib.figure.Figure, dict)
        The figure and ``{"base": ..., "new": ..., "mean_alpha_base": ..., "mean_alpha_new": ...}``
        (accuracies in percent; mean α over the test images of base and of new classes).
    """
    model, result = mask_accuracies(explorer, beta, gamma)
    alpha = model.local_weight(explorer.test_X, modality="image")
    is_base = np.isin(explorer.test_y, explorer.base)
    result["mean_alpha_base"] = float(alpha[is_base].mean())
    result["mean_alpha_new"] = float(alpha[~is_base].mean())
    centres = model.image_centres_.cpu().numpy()
    figure = plot_mask_2d(explorer.projection.transform(explorer.test_X), alpha, is_base,
                          explorer.projection.transform(centres) if len(centres) else np.empty((0, 2)),
                          beta, gamma, result)
    return figure, result


def mask_sliders(explorer, beta=0.5, gamma=20.0):
    """Sliders for β (linear, [0, 1]) and γ (logarithmic, [1, 1000]) that redraw :func:`mask_view`."""
    import ipywidgets as widgets  # only a live notebook needs the widgets
    from IPython.display import display

    beta_slider = widgets.FloatSlider(value=beta, min=0.0, max=1.0, step=0.05, description="β",
                                      continuous_update=False)
    gamma_slider = widgets.FloatLogSlider(value=gamma, base=10, min=0, max=3, step=0.1, description="γ",
                                          continuous_update=False)

    def redraw(beta, gamma):
        figure, _ = mask_view(explorer, beta, gamma)
        display(figure)
        plt.close(figure)

    output = widgets.interactive_output(redraw, {"beta": beta_slider, "gamma": gamma_slider})
    return widgets.VBox([widgets.HBox([beta_slider, gamma_slider]), output])
