"""Controls for the reader: chapter 4's β/γ sliders and chapter 5's alignment dial.

:func:`build_mask_explorer` fits LLU once on the few-shot base classes of a data set (the
base-to-new protocol); :func:`mask_view` then recomputes, for any β and γ, the local weight
α(x, D_image) of Eq. 5 for every test image and the base/new accuracies, and draws α over a
2-D (PCA) view of the embeddings. The adapters g_I, g_T stay those trained at the explorer's
β and γ: the sliders change where and how strongly the trained update is applied, which is
what Eq. 4-5 control at prediction time. :func:`mask_sliders` puts two sliders on
:func:`mask_view` for a live notebook (the callback is a plain function, the ipywidgets part
only wires it).

A static page has no kernel to call back, so :func:`static_control` takes frames computed
beforehand, one per combination of its dials, and returns plain HTML with one range input per
dial that switches between them in the reader's browser (a few lines of JavaScript, nothing
loaded from a network). :func:`static_mask_control` feeds it :func:`mask_view` on a small β × γ
grid; :func:`static_toy_control` the toy model's updates over its dial and the methods.
"""

import base64
import copy
import hashlib
import html
import io
import json
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from sklearn.decomposition import PCA

from ..estimators import LLUClassifier
from ..evaluation.alignment import toy_view, weight_on_map
from ..evaluation.protocols import base_new_split, fit_on_base
from ..method.defaults import BETA, GAMMA
from ..utils.validation import check_in_range
from .plots import plot_mask_2d, plot_toy_updates
from .tables import METHOD_LABELS


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
        :func:`llu_core.data.embedded.embed_dataset`).
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


def palette_png(figure, dpi=80):
    """``figure`` as PNG bytes with a palette of 64 colours (the figure is closed).

    A palette keeps a figure of flat colours and one colour map at about a third of the bytes:
    pages that inline many frames stay small. It keeps its resolution
    (``dpi``), from which the page's text size can be told.
    """
    rendered = io.BytesIO()
    figure.savefig(rendered, format="png", dpi=dpi)
    plt.close(figure)
    palette = io.BytesIO()
    Image.open(rendered).convert("RGB").quantize(colors=64).save(palette, format="PNG", optimize=True, dpi=(dpi, dpi))
    return palette.getvalue()


def mask_frame(explorer, beta, gamma, dpi=80):
    """:func:`mask_view` as PNG bytes (:func:`palette_png`): ``(png, result)``."""
    figure, result = mask_view(explorer, beta, gamma)
    return palette_png(figure, dpi), result


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
class StaticControl:
    """A control for a page without a kernel: HTML with every frame precomputed.

    Attributes
    ----------
    html : str
        Self-contained HTML: one range input per dial, the figure (inline PNG) and its numbers,
        and a script that switches frames. Displayed by notebooks and myst-nb through ``_repr_html_``.
    frames : list of dict
        Per grid point, in the order of :func:`static_control` (first dial slowest), the numbers
        shown with it.
    """

    html: str
    frames: list

    def _repr_html_(self):
        return self.html


_CONTROL_SCRIPT = """(function () {
  var root = document.currentScript.parentElement;
  var data = JSON.parse(root.querySelector("script.llu-frames").textContent);
  var inputs = data.dials.map(function (dial) { return root.querySelector("input.llu-" + dial.name); });
  function show() {
    var index = 0;
    data.dials.forEach(function (dial, i) {
      var position = Number(inputs[i].value);
      index = index * dial.values.length + position;
      root.querySelector("output.llu-" + dial.name).textContent = dial.values[position];
    });
    var frame = data.frames[index];
    root.querySelector("img").src = "data:image/png;base64," + frame.png;
    root.querySelector("p.llu-numbers").textContent = frame.text;
  }
  inputs.forEach(function (input) { input.addEventListener("input", show); });
  show();
})();"""


def static_control(dials, frames, alt, css_class="llu-control"):
    """Plain HTML that switches between precomputed frames as the reader moves its dials.

    Parameters
    ----------
    dials : list of (name, label, values, start)
        One range input per dial: ``name`` (letters: the CSS class ``llu-<name>`` of its input
        and output), ``label`` (shown before it), ``values`` (the texts shown for its positions)
        and ``start`` (the position shown first).
    frames : list of (bytes, str)
        A PNG and the sentence shown under it, for every combination of dial positions, the
        first dial slowest (``itertools.product`` order).
    alt : str
        The figure's text alternative.
    css_class : str
        The class of the enclosing ``div``.

    Returns
    -------
    str
        HTML that needs neither a kernel nor a network: the frames are inlined as base64 PNGs and
        a few lines of JavaScript switch them.
    """
    sizes = [len(values) for _, _, values, _ in dials]
    if not dials or len(frames) != math.prod(sizes):
        raise ValueError(f"{len(frames)} frames for dials of {sizes} positions; expected one frame per combination")
    data = json.dumps({"dials": [{"name": name, "values": list(values)} for name, _, values, _ in dials],
                       "frames": [{"png": base64.b64encode(png).decode("ascii"), "text": text} for png, text in frames]})
    data = data.replace("</", "<\\/")  # "</script" may not appear inside the script element
    key = hashlib.sha256(data.encode()).hexdigest()[:8]

    def slider(name, label, values, start):
        return (f'<label style="margin-right:1.5em">{html.escape(label)} '
                f'<input type="range" class="llu-{name}" id="llu-{name}-{key}" min="0" max="{len(values) - 1}" '
                f'step="1" value="{start}" aria-label="{html.escape(label)}"> '
                f'<output class="llu-{name}" for="llu-{name}-{key}">{html.escape(values[start])}</output></label>')

    return (f'<div class="{css_class}">'
            f'<div>{"".join(slider(*dial) for dial in dials)}</div>'
            f'<img alt="{html.escape(alt)}" style="max-width:100%;height:auto">'
            f'<p class="llu-numbers"></p>'
            f'<script type="application/json" class="llu-frames">{data}</script>'
            f'<script>{_CONTROL_SCRIPT}</script></div>')


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
    StaticControl
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
            frames.append((png, describe_view(result)))
    dials = [("beta", "β", [f"{b:g}" for b in betas], betas.index(float(beta))),
             ("gamma", "γ", [f"{g:g}" for g in gammas], gammas.index(float(gamma)))]
    page = static_control(dials, frames, "α over a 2-D view of the test embeddings for the chosen β and γ",
                          css_class="llu-mask-control")
    return StaticControl(page, records)


def static_toy_control(sweep, methods, extent, start=(0.0, "llu"), beta=BETA, dpi=80):
    """The toy's dial and the methods on a page without a kernel (chapter 5).

    One frame per setting of the dial and method: :func:`~llu_core.report.plots.plot_toy_updates`
    of that model, with its base- and new-class accuracy.

    Parameters
    ----------
    sweep : ToySweep
        A :func:`llu_core.evaluation.alignment.sweep_misalignment` result; its first seed's
        models are drawn.
    methods : sequence of str
        Method names of the sweep, in the order of the control.
    extent : (u_min, u_max, v_min, v_max)
        The map region.
    start : (float, str)
        The misalignment and method shown first.
    beta : float
        The top of the colour scale of α.
    dpi : int

    Returns
    -------
    StaticControl
        Its ``frames``: ``misalignment``, ``method``, ``base``, ``new`` (percent) per frame.
    """
    misalignments = sorted(sweep.toys)
    if float(start[0]) not in misalignments or start[1] not in methods:
        raise ValueError(f"the first view {start} must be a misalignment of {misalignments} and a method of "
                         f"{list(methods)}")
    frames, records = [], []
    for misalignment in misalignments:
        data = sweep.toys[misalignment]
        n_base = len(base_new_split(np.arange(len(data.classnames)))[0])
        for name in methods:
            model = sweep.models[(misalignment, name)]
            view = toy_view(model, data)
            label = METHOD_LABELS.get(name, name)
            figure = plot_toy_updates([{"title": f"{label}, misalignment {misalignment:g}", "view": view,
                                        "alpha": weight_on_map(model, data, extent)}],
                                      extent, beta, data.classnames, n_base)
            frames.append((palette_png(figure, dpi), f"misalignment {misalignment:g}, {label}: base-class accuracy "
                                                      f"{view['accuracy']['base']:.1f} %, new-class accuracy "
                                                      f"{view['accuracy']['new']:.1f} %"))
            records.append({"misalignment": misalignment, "method": name, **view["accuracy"]})
    labels = [METHOD_LABELS.get(name, name) for name in methods]
    dials = [("misalignment", "misalignment", [f"{m:g}" for m in misalignments],
              misalignments.index(float(start[0]))),
             ("method", "method", labels, list(methods).index(start[1]))]
    page = static_control(dials, frames, "the toy's test images and class texts as the chosen method moves them, "
                                         "at the chosen misalignment", css_class="llu-toy-control")
    return StaticControl(page, records)
