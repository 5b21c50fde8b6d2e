"""The style every figure shares (llu_core.report.style): the book's fonts while a figure is drawn,
the legend under the panels within the page's width, and one colour per method."""

import matplotlib.pyplot as plt
from matplotlib.colors import to_rgba

from llu_core.report import style
from llu_core.report.labels import METHOD_LABELS
from llu_core.report.style import (DPI, MAX_WIDTH, METHOD_COLOURS, METHOD_MARKERS, MIN_FONT_SIZE, legend_below,
                                   marker_entry, styled)


def test_a_styled_figure_is_drawn_in_the_books_fonts_and_the_caller_keeps_its_own():
    @styled
    def draw():
        """Draw nothing."""
        return plt.rcParams["font.size"], plt.rcParams["figure.dpi"], plt.figure()

    with plt.rc_context({"font.size": 7.0, "figure.dpi": 50}):
        font, dpi, figure = draw()
        assert plt.rcParams["font.size"] == 7.0  # restored after the drawing
    assert (font, dpi, figure.dpi) == (MIN_FONT_SIZE, DPI, DPI)
    assert draw.__name__ == "draw" and draw.__doc__ == "Draw nothing."


def test_the_legend_sits_under_the_panels_each_label_once_within_the_figures_width():
    figure, axes = plt.subplots(1, 2, figsize=(MAX_WIDTH, 3), layout="constrained")
    names = ["zero-shot CLIP", "LLU with clustering", "CLIP-Adapter, ratio 0.2", "Tip-Adapter-F, 20 epochs"]
    for ax in axes:  # both panels draw every method: the legend names each once
        for k, name in enumerate(names):
            ax.plot([0, 1], [k, k + 1], label=name)
    legend = legend_below(figure, ncol=4)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    box = legend.get_window_extent(renderer)
    assert [text.get_text() for text in legend.get_texts()] == names
    assert box.width <= figure.bbox.width and all(box.y1 <= ax.get_window_extent(renderer).y0 for ax in axes)
    columns = {round(text.get_window_extent(renderer).x0) for text in legend.get_texts()}
    assert 1 < len(columns) < 4  # four long labels do not fit one row of a page-wide figure: fewer columns
    assert figure.legends == [legend]


def test_a_marker_entry_shows_the_marker_alone():
    entry = marker_entry("D", "training images", color="black")
    assert entry.get_linestyle() == "None" and entry.get_marker() == "D" and entry.get_label() == "training images"


def test_every_method_has_its_own_colour_and_a_marker_and_the_papers_where_it_has_one():
    assert set(METHOD_COLOURS) == set(METHOD_MARKERS) == set(METHOD_LABELS)
    assert len({to_rgba(colour) for colour in METHOD_COLOURS.values()}) == len(METHOD_COLOURS)
    assert (METHOD_COLOURS["zero_shot"], METHOD_COLOURS["llu"]) == ("tab:blue", "tab:red")  # the paper's Figure 2
    assert style.STYLE["font.size"] == MIN_FONT_SIZE and all(
        size >= MIN_FONT_SIZE for key, size in style.STYLE.items() if "size" in key)
