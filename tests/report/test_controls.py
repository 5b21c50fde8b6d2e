"""The static controls of chapters 4 (β/γ) and 5 (the toy's dial): precomputed frames switched by plain JavaScript.

The control's HTML is opened in headless Chromium (tests/helpers/browser.py drives Debian's
chromedriver) and moved with the keyboard, as a reader of the static book would move it.
"""

import re

import matplotlib.pyplot as plt
import pytest

from llu_core import LLUClassifier, ZeroShotClassifier
from llu_core.data.toy import map_extent
from llu_core.evaluation.alignment import sweep_misalignment
from llu_core.method.defaults import BETA, GAMMA
from llu_core.report.controls import static_control
from llu_core.report.widgets import build_mask_explorer, describe_view, mask_view, static_mask_control, static_toy_control

from browser import ARROW_LEFT, ARROW_RIGHT, Browser
from synthetic import embedded_dataset

BETAS, GAMMAS = (0.0, 0.5, 1.0), (0.0, 20.0)


@pytest.fixture(scope="module")
def control():
    explorer = build_mask_explorer(embedded_dataset(n_classes=6, seed=3), shots=4, seed=1, epochs=10)
    return explorer, static_mask_control(explorer, betas=BETAS, gammas=GAMMAS, beta=BETA, gamma=GAMMA, dpi=40)


def as_page(body, folder):
    """The address of an HTML page in ``folder`` whose body is ``body``."""
    page = folder / "control.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>")
    return page.as_uri()


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
    browser = Browser()
    try:
        browser.open(as_page(made.html, tmp_path))
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


@pytest.fixture(scope="module")
def toy_control():
    sweep = sweep_misalignment({"zero_shot": ZeroShotClassifier(), "llu": LLUClassifier(epochs=3)}, [0.0, 0.6], 4, [1],
                               progress=False, train_per_class=8, test_per_class=6)
    extent = map_extent(sweep.toys[0.0])
    return sweep, static_toy_control(sweep, ["zero_shot", "llu"], extent, start=(0.0, "llu"), dpi=30)


def test_every_input_keeps_jupyterlabs_shortcuts_off_its_keys(control):
    # JupyterLab binds the arrow keys in a notebook's command mode (move between cells); Lumino
    # leaves an event alone whose target carries this attribute, so the keys move the input.
    page = control[1].html
    inputs = re.findall(r"<input [^>]*>", page)
    assert len(inputs) == 2 and all('data-lm-suppress-shortcuts="true"' in tag for tag in inputs)


def test_a_control_needs_one_frame_per_combination_of_its_dials():
    with pytest.raises(ValueError, match="one frame per combination"):
        static_control([("a", "a", ["1", "2"], 0), ("b", "b", ["x", "y", "z"], 0)], [(b"", "")] * 5, "alt")


def test_the_toy_control_has_every_setting_and_method_with_its_accuracies(toy_control):
    sweep, made = toy_control
    assert [(f["misalignment"], f["method"]) for f in made.frames] == [(0.0, "zero_shot"), (0.0, "llu"),
                                                                      (0.6, "zero_shot"), (0.6, "llu")]
    run = {(r["misalignment"], r["method"]): r for r in sweep.records}
    for frame in made.frames:  # the frame's numbers are the sweep's, for the same model
        assert frame["new"] == pytest.approx(run[(frame["misalignment"], frame["method"])]["new"])
    with pytest.raises(ValueError, match="first view"):
        static_toy_control(sweep, ["zero_shot", "llu"], map_extent(sweep.toys[0.0]), start=(0.3, "llu"))


def test_moving_the_toy_control_in_chromium_switches_setting_and_method(toy_control, tmp_path):
    _, made = toy_control
    browser = Browser()
    try:
        browser.open(as_page(made.html, tmp_path))
        figure, numbers = browser.find(".llu-toy-control img"), browser.find(".llu-toy-control p.llu-numbers")
        start = browser.attribute(figure, "src"), browser.text(numbers)
        assert start[1].startswith("misalignment 0, LLU:")
        browser.press(browser.find("input.llu-misalignment"), ARROW_RIGHT)  # 0 -> 0.6
        moved = browser.attribute(figure, "src"), browser.text(numbers)
        assert moved[0] != start[0] and moved[1].startswith("misalignment 0.6, LLU:")
        assert browser.text(browser.find("output.llu-misalignment")) == "0.6"
        browser.press(browser.find("input.llu-method"), ARROW_LEFT)  # LLU -> zero-shot
        assert browser.text(numbers).startswith("misalignment 0.6, Zero-shot:")
        assert browser.text(browser.find("output.llu-method")) == "Zero-shot"
    finally:
        browser.close()
