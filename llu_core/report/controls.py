"""A control for a page without a kernel: precomputed frames switched by range inputs.

A static page (the built book) has no kernel to call back, so :func:`static_control` takes
frames computed beforehand, one per combination of its dials, and returns plain HTML with one
range input per dial that switches between them in the reader's browser (a few lines of
JavaScript, nothing loaded from a network); its inputs answer the mouse and the arrow keys on a
page and in JupyterLab alike (``data-lm-suppress-shortcuts`` keeps JupyterLab's notebook
shortcuts, which bind the arrow keys, off them). :func:`palette_png` keeps the inlined frames small;
:class:`StaticControl` shows the HTML in a notebook and keeps the numbers of every frame.
"""

import base64
import hashlib
import html
import io
import json
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
from PIL import Image


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
                f'step="1" value="{start}" aria-label="{html.escape(label)}" data-lm-suppress-shortcuts="true"> '
                f'<output class="llu-{name}" for="llu-{name}-{key}">{html.escape(values[start])}</output></label>')

    return (f'<div class="{css_class}">'
            f'<div>{"".join(slider(*dial) for dial in dials)}</div>'
            f'<img alt="{html.escape(alt)}" style="max-width:100%;height:auto">'
            f'<p class="llu-numbers"></p>'
            f'<script type="application/json" class="llu-frames">{data}</script>'
            f'<script>{_CONTROL_SCRIPT}</script></div>')
