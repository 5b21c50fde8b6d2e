"""llu_core.report.glued: the values a chapter glues, read back in a live kernel as myst-nb pastes them."""

import pytest

from llu_core.report import glued as module
from llu_core.report.glued import HIDDEN_PREFIX, glued, record


@pytest.fixture(autouse=True)
def empty():
    module.GLUED.clear()
    yield
    module.GLUED.clear()


def glue_message(name, text, hidden=True):
    key = (HIDDEN_PREFIX if hidden else "") + "text/plain"
    return {"content": {"data": {key: text}, "metadata": {"scrapbook": {"name": name, "mime_prefix": ""}}}}


def test_a_glued_value_is_recorded_and_its_message_passed_on():
    message = glue_message("distance_base", "0.08912")
    assert record(message) is message
    record(glue_message("shown", "12", hidden=False))
    assert glued("distance_base", ".3f") == "0.089" and glued("shown") == "12"


def test_other_display_messages_pass_unrecorded():
    message = {"content": {"data": {"text/plain": "1"}, "metadata": {}}}
    assert record(message) is message and module.GLUED == {}


@pytest.mark.parametrize("text, spec, expected", [("0.5", "g", "0.5"), ("20.0", "g", "20"), ("-0.04", "+.1f", "-0.0"),
                                                  ("0.1234", ".0%", "12%"), ("'fashion_mnist'", "", "fashion_mnist"),
                                                  ("'a name'", ".2f", "a name"), ("np.float64(0.25)", "", "np.float64(0.25)")])
def test_values_read_as_myst_nb_formats_them(text, spec, expected):
    record(glue_message("x", text))
    assert glued("x", spec) == expected


def test_a_name_not_glued_yet_says_to_run_the_cells_above():
    with pytest.raises(KeyError, match="run the cells above"):
        glued("missing")


def test_a_kernel_with_the_extension_answers_inline_expressions():
    # What jupyterlab-myst does for {eval}`glued("x", ".2f")`: a user expression after the cells ran.
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", extra_arguments=["--ext=llu_core.report.glued"])
    try:
        client.execute_interactive("from myst_nb import glue\nglue('x', 0.123456, display=False)", timeout=60)
        reply = client.execute_interactive("", user_expressions={"a": 'glued("x", ".2f")', "b": 'glued("y")'},
                                           timeout=60)
        expressions = reply["content"]["user_expressions"]
        assert expressions["a"]["data"]["text/plain"] == "'0.12'"
        assert expressions["b"]["status"] == "error" and expressions["b"]["ename"] == "KeyError"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
