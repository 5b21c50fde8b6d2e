"""Chapter 4's static β/γ control: precomputed frames switched by plain JavaScript.

The control's HTML is opened in headless Chromium (tests/browser.py drives Debian's
chromedriver) and moved with the keyboard, as a reader of the static book would move it.
"""

import re

import matplotlib.pyplot as plt
import pytest

from llu_core.report.widgets import build_mask_explorer, describe_view, mask_view, static_mask_control
from llu_core.method.defaults import BETA, GAMMA

from browser import ARROW_LEFT, ARROW_RIGHT, Browser
from synthetic import embedded_dataset

BETAS, GAMMAS = (0.0, 0.5, 1.0), (0.0, 20.0)


@pytest.fixture(scope="module")
def control():
    explorer = build_mask_explorer(embedded_dataset(n_classes=6, seed=3), shots=4, seed=1, epochs=10)
    return explorer, static_mask_control(explorer, betas=BETAS, gammas=GAMMAS, beta=BETA, gamma=GAMMA, dpi=40)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_frames_are_mask_view_on_the_grid(control):
    explorer, made = control
    assert [(frame["beta"], frame["gamma"]) for frame in made.frames] == [(b, g) for b in BETAS for g in GAMMAS]
    for frame in made.frames[-2:]:
        _, view = mask_view(explorer, frame["beta"], frame["gamma"])
        assert {key: frame[key] for key in view} == pytest.approx(view)
    assert made.frames[0]["mean_alpha_base"] == 0.0  # β = 0: no update anywhere


def test_html_needs_no_network(control):
    page = control[1].html
    assert not re.search(r'\b(src|href)="(https?:)?//', page)  # nothing loaded from elsewhere
    frames = page.split('class="llu-frames">')[1].split("</script>")[0]
    assert len(re.findall(r'"png": "', frames)) == len(BETAS) * len(GAMMAS)  # every frame inline


def test_first_view_must_be_on_the_grid(control):
    explorer, _ = control
    with pytest.raises(ValueError, match="grid point"):
        static_mask_control(explorer, betas=BETAS, gammas=GAMMAS, beta=0.3, gamma=20.0)


def test_moving_the_control_in_chromium_changes_figure_and_numbers(control, tmp_path):
    _, made = control
    page = tmp_path / "control.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{made.html}</body></html>")
    browser = Browser()
    try:
        browser.open(page.as_uri())
        figure, numbers = browser.find(".llu-mask-control img"), browser.find("p.llu-numbers")

        def shown():
            return browser.attribute(figure, "src"), browser.text(numbers)

        start = shown()
        frame = {(f["beta"], f["gamma"]): f for f in made.frames}
        assert start[0].startswith("data:image/png;base64,")
        assert browser.run("return arguments[0].naturalWidth > 100", figure)  # the PNG decodes
        assert start[1] == describe_view(frame[(0.5, 20.0)])  # the first view is the one asked for

        browser.press(browser.find("input.llu-beta"), ARROW_RIGHT)  # β: 0.5 -> 1
        after_beta = shown()
        assert after_beta[0] != start[0] and after_beta[1] == describe_view(frame[(1.0, 20.0)])
        assert browser.text(browser.find("output.llu-beta")) == "1"

        browser.press(browser.find("input.llu-gamma"), ARROW_LEFT)  # γ: 20 -> 0
        after_gamma = shown()
        assert after_gamma[0] != after_beta[0] and after_gamma[1] == describe_view(frame[(1.0, 0.0)])
        assert browser.text(browser.find("output.llu-gamma")) == "0"
    finally:
        browser.close()
