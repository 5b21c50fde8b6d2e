"""Chapter 4's β/γ sliders: the callback is a plain function, the ipywidgets part only wires it.

:func:`build_mask_explorer` fits LLU once on the few-shot base classes of a data set (the
base-to-new protocol); :func:`mask_view` then recomputes, for any β and γ, the local weight
α(x, D_image) of Eq. 5 for every test image and the base/new accuracies, and draws α over a
2-D (PCA) view of the embeddings. The adapters g_I, g_T stay those trained at the explorer's
β and γ: the sliders change where and how strongly the trained update is applied, which is
what Eq. 4-5 control at prediction time. :func:`mask_sliders` puts two sliders on
:func:`mask_view` for a live notebook. A static page has no kernel to call back, so
:func:`static_mask_control` computes :func:`mask_view` on a small β × γ grid beforehand and
returns plain HTML with two range inputs that switch between the precomputed figures and
numbers in the reader's browser (a few lines of JavaScript, nothing loaded from a network).
"""

import base64
import copy
import hashlib
import html
import io
import json
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from sklearn.decomposition import PCA

from ..estimators import LLUClassifier
from ..evaluation.protocols import base_new_split, fit_on_base
from ..method.defaults import BETA, GAMMA
from ..utils.validation import check_in_range
from .plots import plot_mask_2d


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
        :func:`llu_core.data.features.embed_dataset`).
    shots, seed : int
        Few-shot samples per base class and the seed, as in the base-to-new protocol.
    **llu_parameters
        Keyword arguments of :class:`~llu_core.estimators.LLUClassifier`.
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


def mask_view(explorer, beta=BETA, gamma=GAMMA):
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


def mask_frame(explorer, beta, gamma, dpi=80):
    """:func:`mask_view` as PNG bytes (the figure is closed): ``(png, result)``.

    The PNG has a palette of 64 colours, which keeps the figure (flat colours and one colour
    map) at about a third of the bytes: pages that inline many frames stay small. It keeps
    its resolution (``dpi``), from which the page's text size can be told.
    """
    figure, result = mask_view(explorer, beta, gamma)
    rendered = io.BytesIO()
    figure.savefig(rendered, format="png", dpi=dpi)
    plt.close(figure)
    palette = io.BytesIO()
    Image.open(rendered).convert("RGB").quantize(colors=64).save(palette, format="PNG", optimize=True, dpi=(dpi, dpi))
    return palette.getvalue(), result


def describe_view(result):
    """The numbers of a :func:`mask_view` result as one sentence (shown beside the figure)."""
    return (f"base-class accuracy {result['base']:.1f} %, new-class accuracy {result['new']:.1f} %; "
            f"mean α: base-class test images {result['mean_alpha_base']:.3f}, "
            f"new-class test images {result['mean_alpha_new']:.3f}")


def mask_sliders(explorer, beta=BETA, gamma=GAMMA):
    """Sliders for β (linear, [0, 1]) and γ (logarithmic, [1, 1000]) that redraw :func:`mask_view`.

    The figure is an ``Image`` widget and the numbers an ``HTML`` widget, updated by the
    sliders' callbacks; there is no ``Output`` widget, whose capture protocol needs a round
    trip with the front end (executed without one, as when a book is built, it can stall).
    """
    import ipywidgets as widgets  # only a live notebook needs the widgets

    beta_slider = widgets.FloatSlider(value=beta, min=0.0, max=1.0, step=0.05, description="β",
                                      continuous_update=False)
    gamma_slider = widgets.FloatLogSlider(value=gamma, base=10, min=0, max=3, step=0.1, description="γ",
                                          continuous_update=False)
    image, numbers = widgets.Image(format="png"), widgets.HTML()

    def redraw(_=None):
        image.value, result = mask_frame(explorer, beta_slider.value, gamma_slider.value, dpi=96)
        numbers.value = html.escape(describe_view(result))

    redraw()
    beta_slider.observe(redraw, names="value")
    gamma_slider.observe(redraw, names="value")
    return widgets.VBox([widgets.HBox([beta_slider, gamma_slider]), image, numbers])


@dataclass
class StaticMaskControl:
    """A β/γ control for a page without a kernel: HTML with every frame precomputed.

    Attributes
    ----------
    html : str
        Self-contained HTML: two range inputs, the figure (inline PNG) and its numbers, and a
        script that switches frames. Displayed by notebooks and myst-nb through ``_repr_html_``.
    frames : list of dict
        Per grid point, in the order β-major: ``beta``, ``gamma`` and the :func:`mask_view` numbers.
    """

    html: str
    frames: list

    def _repr_html_(self):
        return self.html


_CONTROL_SCRIPT = """(function () {
  var root = document.currentScript.parentElement;
  var frames = JSON.parse(root.querySelector("script.llu-frames").textContent);
  var betas = frames.betas, gammas = frames.gammas;
  var beta = root.querySelector("input.llu-beta"), gamma = root.querySelector("input.llu-gamma");
  function show() {
    var frame = frames.frames[Number(beta.value) * gammas.length + Number(gamma.value)];
    root.querySelector("img").src = "data:image/png;base64," + frame.png;
    root.querySelector("output.llu-beta").textContent = betas[Number(beta.value)];
    root.querySelector("output.llu-gamma").textContent = gammas[Number(gamma.value)];
    root.querySelector("p.llu-numbers").textContent = frame.text;
  }
  beta.addEventListener("input", show);
  gamma.addEventListener("input", show);
  show();
})();"""


def static_mask_control(explorer, betas=(0.0, BETA, 1.0), gammas=(0.0, 5.0, GAMMA, 100.0), beta=BETA, gamma=GAMMA,
                        dpi=80):
    """Precompute :func:`mask_view` on a β × γ grid and return a control that needs no kernel.

    Parameters
    ----------
    explorer : MaskExplorer
    betas, gammas : sequence of float
        The grid; every combination is drawn once (``len(betas) * len(gammas)`` figures).
    beta, gamma : float
        The grid point shown first (must be in the grid).
    dpi : int
        Resolution of the figures; they are inlined as base64 PNGs, so the page grows with it.

    Returns
    -------
    StaticMaskControl
    """
    betas, gammas = [float(b) for b in betas], [float(g) for g in gammas]
    if not betas or not gammas:
        raise ValueError(f"the grid needs at least one β and one γ, got betas={betas}, gammas={gammas}")
    if float(beta) not in betas or float(gamma) not in gammas:
        raise ValueError(f"the first view (β = {beta}, γ = {gamma}) must be a grid point of betas={betas}, "
                         f"gammas={gammas}")
    frames, records = [], []
    for b in betas:
        for g in gammas:
            png, result = mask_frame(explorer, b, g, dpi=dpi)
            records.append(dict(result, beta=b, gamma=g))
            frames.append({"png": base64.b64encode(png).decode("ascii"), "text": describe_view(result)})
    data = json.dumps({"betas": [f"{b:g}" for b in betas], "gammas": [f"{g:g}" for g in gammas], "frames": frames})
    data = data.replace("</", "<\\/")  # "</script" may not appear inside the script element
    key = hashlib.sha256(data.encode()).hexdigest()[:8]

    def slider(name, symbol, values, start):
        return (f'<label style="margin-right:1.5em">{symbol} '
                f'<input type="range" class="llu-{name}" id="llu-{name}-{key}" min="0" max="{len(values) - 1}" '
                f'step="1" value="{values.index(start)}" aria-label="{symbol}"> '
                f'<output class="llu-{name}" for="llu-{name}-{key}">{start:g}</output></label>')

    page = (f'<div class="llu-mask-control">'
            f'<div>{slider("beta", "β", betas, float(beta))}{slider("gamma", "γ", gammas, float(gamma))}</div>'
            f'<img alt="α over a 2-D view of the test embeddings for the chosen β and γ" '
            f'style="max-width:100%;height:auto">'
            f'<p class="llu-numbers"></p>'
            f'<script type="application/json" class="llu-frames">{data}</script>'
            f'<script>{_CONTROL_SCRIPT}</script></div>')
    return StaticMaskControl(page, records)
