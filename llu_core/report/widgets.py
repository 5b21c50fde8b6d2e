"""The explorers: chapter 4's β/γ sliders on the local mask and chapter 5's alignment dial.

:func:`build_mask_explorer` fits LLU once on the few-shot base classes of a data set (the
base-to-new protocol); :func:`mask_numbers` then scores it, for any β and γ, as the protocol
does (:func:`~llu_core.evaluation.protocols.score_base_to_new`) with the mean local weight
α(x, D_image) of Eq. 5 over the base- and new-class test images, and :func:`mask_view` draws α
over a 2-D (PCA) view of the embeddings beside those numbers. The adapters g_I, g_T stay those
trained at the explorer's β and γ: the sliders change where and how strongly the trained update
is applied, which is what Eq. 4-5 control at prediction time. :func:`mask_sliders` puts two
sliders on :func:`mask_view` for a live notebook (the callback is a plain function, the
ipywidgets part only wires it).

For a page without a kernel, :func:`static_mask_control` feeds :func:`mask_view` on a small
β × γ grid to the generic control of :mod:`llu_core.report.controls`, and
:func:`static_toy_control` the toy model's updates over its dial and the methods.
"""

import copy
import html
from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

from ..estimators import LLUClassifier
from ..evaluation.alignment import toy_view, weight_on_map
from ..evaluation.diagnostics import mean_test_weights
from ..evaluation.protocols import base_new_split, fit_on_base, score_base_to_new
from ..method.defaults import BETA, GAMMA
from ..utils.validation import check_in_range
from .controls import StaticControl, palette_png, static_control
from .labels import method_label
from .plots import plot_mask_2d
from .quoting import rounded, significant
from .toy_plots import plot_toy_updates


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


def _with_mask(explorer, beta, gamma):
    """The explorer's model with the mask's β and γ replaced, and its :func:`mask_numbers`."""
    check_in_range("beta", beta, 0.0, 1.0)
    check_in_range("gamma", gamma, low=0.0)
    model = copy.deepcopy(explorer.classifier).set_params(beta=float(beta), gamma=float(gamma))
    numbers = score_base_to_new(model, explorer.test_X, explorer.test_y, explorer.text)
    numbers.update(mean_test_weights(model, explorer.test_X, explorer.test_y, explorer.base))
    return model, numbers


def mask_numbers(explorer, beta=BETA, gamma=GAMMA):
    """What the explorer's model does with the mask's β and γ replaced (its adapters unchanged).

    Returns
    -------
    dict
        ``"base"``, ``"new"``, ``"hm"``: the base-to-new accuracies in percent
        (:func:`~llu_core.evaluation.protocols.score_base_to_new`); ``"mean_alpha_base"``,
        ``"mean_alpha_new"``: the mean α(x, D_image) (Eq. 5) of the test images of base and of
        new classes (:func:`~llu_core.evaluation.diagnostics.mean_test_weights`).
    """
    return _with_mask(explorer, beta, gamma)[1]


def mask_view(explorer, beta=BETA, gamma=GAMMA):
    """The slider callback: α over the 2-D view beside :func:`mask_numbers` for β and γ.

    Returns
    -------
    (matplotlib.figure.Figure, dict)
        The figure and :func:`mask_numbers`.
    """
    model, result = _with_mask(explorer, beta, gamma)
    alpha, is_base = model.local_weight(explorer.test_X, modality="image"), np.isin(explorer.test_y, explorer.base)
    centres = model.image_centres_.cpu().numpy()
    figure = plot_mask_2d(explorer.projection.transform(explorer.test_X), alpha, is_base,
                          explorer.projection.transform(centres) if len(centres) else np.empty((0, 2)),
                          beta, gamma, result)
    return figure, result


def mask_frame(explorer, beta, gamma, dpi=80):
    """:func:`mask_view` as PNG bytes (:func:`palette_png`): ``(png, result)``."""
    figure, result = mask_view(explorer, beta, gamma)
    return palette_png(figure, dpi), result


def describe_view(result):
    """The numbers of a :func:`mask_view` result as one sentence (shown beside the figure)."""
    return (f"base-class accuracy {result['base']:.1f} %, new-class accuracy {result['new']:.1f} %; "
            f"mean α: base-class test images {result['mean_alpha_base']:.3f}, "
            f"new-class test images {result['mean_alpha_new']:.3f}")


def as_shown(slider):
    """The value of a slider rounded as its readout shows it.

    ``readout_format`` ``".Nf"`` shows N decimals, ``".Nr"`` N significant digits (d3-format's
    rounding, which keeps 1000 from reading 1e+3). A logarithmic slider's positions are powers
    of its base, so the readout's 2.00 is 10^0.3 = 1.99526 underneath; the figure and the numbers
    use the value the reader sees.
    """
    digits = int(slider.readout_format[1:-1])
    if slider.readout_format.endswith("f"):
        return rounded(slider.value, digits)
    return significant(slider.value, digits)


def mask_sliders(explorer, beta=BETA, gamma=GAMMA):
    """Sliders for β (linear, [0, 1]) and γ (logarithmic, [1, 1000]) that redraw :func:`mask_view`.

    The figure is an ``Image`` widget and the numbers an ``HTML`` widget, updated by the
    sliders' callbacks; there is no ``Output`` widget, whose capture protocol needs a round
    trip with the front end (executed without one, as when a book is built, it can stall).
    Both sliders answer the mouse and the arrow keys; the callback draws the values as their
    readouts show them (:func:`as_shown`).
    """
    import ipywidgets as widgets  # only a live notebook needs the widgets

    beta_slider = widgets.FloatSlider(value=beta, min=0.0, max=1.0, step=0.05, description="β",
                                      continuous_update=False, readout_format=".2f")
    gamma_slider = widgets.FloatLogSlider(value=gamma, base=10, min=0, max=3, step=0.1, description="γ",
                                          continuous_update=False, readout_format=".3r")
    image, numbers = widgets.Image(format="png"), widgets.HTML()

    def redraw(_=None):
        image.value, result = mask_frame(explorer, as_shown(beta_slider), as_shown(gamma_slider), dpi=96)
        numbers.value = html.escape(describe_view(result))

    redraw()
    beta_slider.observe(redraw, names="value")
    gamma_slider.observe(redraw, names="value")
    return widgets.VBox([widgets.HBox([beta_slider, gamma_slider]), image, numbers])


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

    One frame per setting of the dial and method: :func:`~llu_core.report.toy_plots.plot_toy_updates`
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
            label = method_label(name)
            figure = plot_toy_updates([{"title": f"{label}, misalignment {misalignment:g}", "view": view,
                                        "alpha": weight_on_map(model, data, extent)}],
                                      extent, beta, data.classnames, n_base)
            frames.append((palette_png(figure, dpi), f"misalignment {misalignment:g}, {label}: base-class accuracy "
                                                      f"{view['accuracy']['base']:.1f} %, new-class accuracy "
                                                      f"{view['accuracy']['new']:.1f} %"))
            records.append({"misalignment": misalignment, "method": name, **view["accuracy"]})
    labels = [method_label(name) for name in methods]
    dials = [("misalignment", "misalignment", [f"{m:g}" for m in misalignments],
              misalignments.index(float(start[0]))),
             ("method", "method", labels, list(methods).index(start[1]))]
    page = static_control(dials, frames, "the toy's test images and class texts as the chosen method moves them, "
                                         "at the chosen misalignment", css_class="llu-toy-control")
    return StaticControl(page, records)
