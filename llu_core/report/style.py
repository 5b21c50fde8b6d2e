"""The style every figure of the book shares: sizes, fonts, colours, and the legend under the panels.

Each plotting function (:mod:`~llu_core.report.plots`, :mod:`~llu_core.report.diagrams`,
:mod:`~llu_core.report.toy_plots`) takes plain numbers (arrays, result records, summaries) and
returns a :class:`matplotlib.figure.Figure` made with pyplot, so a notebook cell shows it
inline and a test can inspect or close it. Figures are drawn for the column they land in: at
most ``MAX_WIDTH`` inches wide at ``DPI`` (the book's text column on a wide screen shows them
at full size) and no text smaller than ``MIN_FONT_SIZE`` points, so that a phone 420 px wide,
which shrinks a figure to its ~380 px column, still shows every letter at 9 CSS pixels or more
(``tests/book/test_book.py`` measures it on the built pages). Legends sit beside or below the data,
never on it (:func:`legend_below`); labels never overlap each other (``tests/report/test_plots.py``);
colour scales span the data; spreads over seeds are error bars. Colours follow the paper's
figures where it has them: zero-shot CLIP blue and LLU red in its Figure 2
(:data:`METHOD_COLOURS`). Data sets and methods appear by their display names
(:mod:`llu_core.report.labels`).
"""

import functools

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

#: The widest figure, in inches, and the resolution figures are drawn at: 640 px, the book's
#: text column on a wide screen.
MAX_WIDTH = 6.4
DPI = 100
#: The smallest text of any figure, in points: at 420 px a 6.4-inch figure is drawn about 380 px
#: wide, where 12 points at 100 dpi are 9.4 CSS pixels.
MIN_FONT_SIZE = 12
#: The book's figure style: fonts (points) and resolution.
STYLE = {"font.size": MIN_FONT_SIZE, "axes.titlesize": 13, "axes.labelsize": MIN_FONT_SIZE,
         "xtick.labelsize": MIN_FONT_SIZE, "ytick.labelsize": MIN_FONT_SIZE, "legend.fontsize": MIN_FONT_SIZE,
         "legend.title_fontsize": MIN_FONT_SIZE, "figure.titlesize": 13, "figure.dpi": DPI}

#: Colour per method, as in the paper's Figure 2 where it has the method.
METHOD_COLOURS = {
    "zero_shot": "tab:blue", "llu": "tab:red", "clip_adapter": "tab:purple", "tip_adapter": "tab:olive",
    "tip_adapter_f": "tab:brown", "linear_probe": "tab:gray", "coop": "tab:green", "cocoop": "gold",
    "prograd": "tab:cyan", "no_mask": "tab:pink", "kgcoop": "magenta", "gda": "tab:orange", "proker": "navy",
    "lp_plus_plus": "teal", "clap": "darkgreen",
}
#: Marker per method where colour alone would have to tell them apart.
METHOD_MARKERS = {"zero_shot": "o", "llu": "D", "clip_adapter": "s", "tip_adapter": "^", "tip_adapter_f": "v",
                  "linear_probe": "P", "coop": "<", "cocoop": ">", "prograd": "X", "no_mask": "o", "kgcoop": "h",
                  "gda": "*", "proker": "p", "lp_plus_plus": "d", "clap": "8"}


#: The method every curve is read against, drawn as a broad pale band under the others.
REFERENCE_METHOD = "zero_shot"


def reference_style(method, marker=None):
    """Line keywords for ``method``'s curve: the reference (zero-shot) as a broad pale band under
    every other curve, which keeps a method that coincides with it visible; any other method
    thin, on top, with its own marker (or ``marker``)."""
    if method == REFERENCE_METHOD:
        return {"linewidth": 7.0, "alpha": 0.35, "marker": marker or "o", "markersize": 9, "zorder": 1}
    return {"linewidth": 1.6, "marker": marker or METHOD_MARKERS.get(method, "o"), "markersize": 5, "zorder": 3}


def styled(draw):
    """Decorate a plotting function so that it draws with the book's fonts and resolution (``STYLE``)."""

    @functools.wraps(draw)
    def styled_draw(*args, **kwargs):
        with plt.rc_context(STYLE):
            return draw(*args, **kwargs)

    return styled_draw


def legend_below(fig, handles=None, labels=None, ncol=3):
    """The figure's legend, under its panels (constrained layout makes room for it), in as many
    columns as fit the figure's width, at most ``ncol``; by default of every labelled artist of
    its axes, each label once."""
    if handles is None:
        handles, labels = [], []
        for ax in fig.axes:
            for handle, label in zip(*ax.get_legend_handles_labels()):
                if label not in labels:
                    handles.append(handle)
                    labels.append(label)
    renderer = fig.canvas.get_renderer()
    for columns in range(min(ncol, len(labels)), 0, -1):
        legend = fig.legend(handles, labels, loc="outside lower center", ncol=columns, frameon=False)
        if columns == 1 or legend.get_window_extent(renderer).width <= 0.98 * fig.bbox.width:
            return legend
        legend.remove()


def marker_entry(marker, label, **style):
    """A legend entry that shows a marker alone (for points whose colour is a scale)."""
    return Line2D([], [], linestyle="none", marker=marker, label=label, **style)
