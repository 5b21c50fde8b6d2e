"""Build the book as `make book` does, check every chapter's claims on what it computed, then open
the built pages in headless Chromium.

This is where the chapters are executed, once per run, on their defaults: the build executes every
chapter of _toc.yml whose code the jupyter-cache in _build/.jupyter_cache does not hold yet, two
at a time on two cores (book/_ext/parallel_execution.py), and reuses the others, so `make book`
and the tests pay for each execution once between them. It runs with warnings as errors, so a
failing cell, a broken reference or a missing citation fails here. Every chapter's check of
tests/helpers/chapter_claims.py then reads the results its execution wrote (results/book/), at the
book's scale (``strict``). Each chapter page is loaded in Debian's Chromium, and its DOM is
checked for figures (img elements whose files exist and are not empty) and for error output.
Every page is checked for what a reader offline must not meet: a script or stylesheet from
another host, a progress-bar widget, a link to the placeholder repository or a launch
service. Chapter 4's static β/γ control is moved with the keyboard (tests/helpers/browser.py).

The pages are also read as a reader sees them, in Chromium windows 1280 and 420 px wide: every
image of a chapter (and of the method page) sits in a numbered, captioned figure, numbered
within its chapter; at 420 px no figure text is smaller than ``MIN_CSS_PX`` (computed from the
book's smallest figure font, ``llu_core.report.style.MIN_FONT_SIZE``, which tests/report/test_plots.py
holds every figure to, the PNG's resolution and pixel width, and the width it is drawn at);
at 1280 px no table cell breaks a number over two lines, and at 1280 and 420 px no line of code
or output is cut off.
"""

import base64
import fcntl
import io

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from book_toc import toc_chapters
from browser import ARROW_RIGHT, HOME, Browser
from chapter_claims import CHECKS, check_default_is_base_to_new_llu
from llu_core.report.style import MIN_FONT_SIZE
from llu_core.utils.io import read_json

#: One process runs every test of the built book (``make test`` runs pytest-xdist with ``--dist loadgroup``).
pytestmark = pytest.mark.xdist_group("book")

REPO = Path(__file__).resolve().parents[2]
HTML = REPO / "_build" / "html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=5000"]
CHAPTERS = toc_chapters()
#: Pages whose every image is a figure of the book.
FIGURE_PAGES = ["book/method", *(f"notebooks/{name}" for name in CHAPTERS)]
#: The smallest figure text a 420 px wide screen may show, in CSS pixels.
MIN_CSS_PX = 9.0
#: The figures each page shows at least: one for every chapter, more where named.
FIGURES = {"book/method": 1, **{f"notebooks/{name}": 1 for name in CHAPTERS}, "notebooks/01_zero_shot": 2,
           "notebooks/09_prompt_learning": 3, "notebooks/10_transfer": 2,
           "notebooks/05_toy_model": 6}


@pytest.fixture(scope="module")
def built():
    """The book built once per process, one build at a time: jupyter-cache's records are not safe
    against two builds writing at once, so a second process waits here (on the lock ``make book``
    takes too) and then finds every chapter in the cache."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    environment = dict(os.environ, TQDM_DISABLE="1")
    (REPO / "_build").mkdir(exist_ok=True)
    with open(REPO / "_build" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        completed = subprocess.run([str(jupyter_book), "build", str(REPO), "--warningiserror", "--keep-going"],
                                   capture_output=True, text=True, env=environment, timeout=1800)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    return HTML


def dom(page):
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run scripts/install-system-deps.sh"
    completed = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, "--dump-dom", page.as_uri()], capture_output=True,
                               text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


@pytest.mark.parametrize("page, n_figures", sorted(FIGURES.items()))
def test_page_renders_with_figures_and_without_errors(built, page, n_figures):
    html_file = built / f"{page}.html"
    assert html_file.exists()
    rendered = dom(html_file)
    assert "<main" in rendered and "</html>" in rendered
    sources = [src for src in re.findall(r'<img[^>]*\bsrc="([^"]+)"', rendered) if "logo" not in src]
    figures = [src for src in sources if src.startswith("data:image") or "_images/" in src]
    assert len(figures) >= n_figures, sources
    for src in figures:
        if not src.startswith("data:"):
            image = (html_file.parent / src).resolve()
            assert image.exists() and image.stat().st_size > 1000, src
    assert "Traceback" not in rendered
    assert not re.search(r'class="[^"]*\boutput (stderr|error|traceback)\b', rendered)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_built_chapter_numbers_back_its_prose(built, chapter):
    # Every chapter's prose, checked against the results the build itself computed.
    assert chapter in CHECKS, f"{chapter} has no check: add one to CHECKS in tests/helpers/chapter_claims.py"
    results = REPO / "results" / "book" / f"{chapter}.json"
    assert results.is_file(), (f"{results} is missing although the jupyter-cache holds the chapter's execution: "
                               "`make clean` (or delete _build/.jupyter_cache) executes it again")
    CHECKS[chapter](read_json(results))


def test_built_ablations_default_is_chapter_7s_llu(built):
    # Chapter 8's box "Why Default here is not chapter 7's LLU row": the shared seed gives the same runs.
    results = REPO / "results" / "book"
    check_default_is_base_to_new_llu(read_json(results / "08_ablations.json"), read_json(results / "07_base_to_new.json"))


def test_book_has_every_chapter_and_the_bibliography(built):
    index = dom(built / "book" / "intro.html")
    for name in CHAPTERS:
        assert f"{name}.html" in index
    references = (built / "book" / "references.html").read_text()
    assert "Localized Latent Updates" in references


def test_equations_render_without_network(built):
    # MathJax is copied into the book (sphinx-mathjax-offline); Chromium runs without network.
    method = dom(built / "book" / "method.html")
    assert "_static/mathjax/" in method
    assert method.count("<mjx-container") >= 5  # the equations of the method page, typeset


#: Addresses that a page must not link to: the placeholder repository of the removed buttons,
#: jupyter-book's default repository, and the launch services.
PLACEHOLDERS = ("llu-book/llu-book", "executablebooks/jupyter-book", "mybinder.org", "colab.research.google.com")


def test_pages_are_offline_and_carry_no_widgets_or_placeholders(built):
    pages = sorted(built.rglob("*.html"))
    assert len(pages) >= len(CHAPTERS) + 4
    for page in pages:
        html = page.read_text()
        loaded = re.findall(r'<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)="([^"]+)"', html)
        remote = [address for address in loaded if re.match(r"(https?:)?//", address)]
        assert not remote, f"{page.relative_to(built)} loads {remote}"
        assert "ProgressModel" not in html, f"{page.relative_to(built)} holds a progress-bar widget"
        assert "application/vnd.jupyter.widget-view+json" not in html, f"{page.relative_to(built)} shows a widget"
        for placeholder in PLACEHOLDERS:
            assert placeholder not in html, f"{page.relative_to(built)} links {placeholder}"


def test_chapter_3_control_moves_without_a_kernel(built):
    browser = Browser()
    try:
        browser.open((built / "notebooks" / "04_local_mask.html").as_uri())
        figure, numbers = browser.find(".llu-mask-control img"), browser.find(".llu-mask-control p.llu-numbers")
        before = browser.attribute(figure, "src"), browser.text(numbers)
        assert before[0].startswith("data:image/png;base64,") and "base-class accuracy" in before[1]
        assert browser.run("return arguments[0].naturalWidth > 100", figure)
        browser.press(browser.find(".llu-mask-control input.llu-beta"), ARROW_RIGHT)  # β = 1
        assert browser.attribute(figure, "src") != before[0]
        browser.press(browser.find(".llu-mask-control input.llu-gamma"), HOME)  # γ = 0: α = β everywhere
        after = browser.attribute(figure, "src"), browser.text(numbers)
        assert after[0] != before[0] and after[1] != before[1]
        assert "base-class test images 1.000, new-class test images 1.000" in after[1]
    finally:
        browser.close()


#: Every image of the page's article: its figure number and caption, its sizes.
IMAGES_JS = """
return Array.from(document.querySelectorAll('main article img')).map(img => {
  const figure = img.closest('figure');
  const caption = figure ? figure.querySelector('figcaption') : null;
  const number = caption ? caption.querySelector('.caption-number') : null;
  const heading = document.querySelector('main article h1 .section-number');
  return {src: img.getAttribute('src'), natural: img.naturalWidth, rendered: img.getBoundingClientRect().width,
          number: number ? number.textContent.trim() : null,
          caption: caption ? caption.textContent.replace(number ? number.textContent : '', '').trim() : '',
          chapter: heading ? heading.textContent.trim().replace(/\\.$/, '') : null};
});
"""

#: Every number (with its ± spread and % sign) in a table cell that the browser broke over two lines.
WRAPPED_NUMBERS_JS = """
const number = /\\d[\\d.,]*(?:e[-−]?\\d+)?(?:\\s*±\\s*\\d[\\d.,]*(?:e[-−]?\\d+)?)?(?:\\s*%)?/g;
const wrapped = [];
for (const cell of document.querySelectorAll('main article td, main article th')) {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.textContent.matchAll(number)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set(Array.from(range.getClientRects()).map(rect => Math.round(rect.bottom)));
      if (lines.size > 1) wrapped.push(match[0]);
    }
  }
}
return wrapped;
"""

#: Code and output blocks whose lines are wider than the block (cut off, to be scrolled sideways).
CUT_BLOCKS_JS = """
return Array.from(document.querySelectorAll('main article .cell_input pre, main article .cell_output pre'))
  .filter(pre => pre.scrollWidth > pre.clientWidth + 1).map(pre => pre.textContent.slice(0, 80));
"""


def png_dpi(html_file, src):
    """The resolution (dots per inch) a figure's PNG was drawn at, from its pHYs chunk."""
    if src.startswith("data:"):
        data = base64.b64decode(src.split(",", 1)[1])
    else:
        data = (html_file.parent / src).read_bytes()
    dpi = Image.open(io.BytesIO(data)).info.get("dpi")
    assert dpi, f"{src[:60]}: the PNG does not say its resolution"
    return float(dpi[0])


def unnumbered_images(images):
    """The images that are not in a numbered, captioned figure, or numbered outside their chapter."""
    problems = []
    for image in images:
        if not image["number"] or not re.fullmatch(r"Fig\. (\d+\.)?\d+", image["number"]) or not image["caption"]:
            problems.append(f"{image['src'][:60]}: not in a numbered, captioned figure")
        elif image["chapter"] and not image["number"].startswith(f"Fig. {image['chapter']}."):
            problems.append(f"{image['number']} is not numbered within chapter {image['chapter']}")
    return problems


def smallest_text_px(image, dpi, font_size=MIN_FONT_SIZE):
    """The CSS pixel size of ``font_size`` points of figure text as the page draws the image."""
    return font_size / 72 * dpi * image["rendered"] / image["natural"]


def read_pages(root, pages, width, script):
    """Run ``script`` on every page (``root``/page.html) in a Chromium window ``width`` px wide."""
    browser = Browser(width=width)
    try:
        found = {}
        for page in pages:
            browser.open((root / f"{page}.html").as_uri())
            found[page] = browser.run(script)
        return found
    finally:
        browser.close()


def test_every_image_is_a_numbered_captioned_figure(built):
    images = read_pages(built, FIGURE_PAGES, 1280, IMAGES_JS)
    problems = {page: unnumbered_images(found) for page, found in images.items()}
    assert not any(problems.values()), problems
    assert all(images.values())


def test_figure_text_is_legible_at_420_px(built):
    images = read_pages(built, FIGURE_PAGES, 420, IMAGES_JS)
    small = {page: [f"{image['src'][:60]}: {size:.1f} px" for image in found
                    if (size := smallest_text_px(image, png_dpi(built / f"{page}.html", image["src"]))) < MIN_CSS_PX]
             for page, found in images.items()}
    assert not any(small.values()), small


def test_tables_keep_numbers_on_one_line_and_code_and_outputs_are_not_cut(built):
    pages = [*FIGURE_PAGES, "book/offline_model"]
    wrapped = {page: found for page, found in read_pages(built, pages, 1280, WRAPPED_NUMBERS_JS).items() if found}
    assert not wrapped, wrapped
    for width in (1280, 420):
        cut = {page: found for page, found in read_pages(built, pages, width, CUT_BLOCKS_JS).items() if found}
        assert not cut, (width, cut)
