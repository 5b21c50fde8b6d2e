"""Bad input that must raise *our* error, naming the argument or the file.

Each test file lists its cases as ``(id, call, error, message)``: ``call(tmp_path)`` must raise
exactly ``error`` (not a subclass from deep inside numpy, torch or scikit-learn) with a message
that ``message`` matches, ``{tmp}`` standing for the temporary folder.
"""

import re

import pytest


def our_error_cases(cases):
    """Parametrise a test over ``cases`` as ``call, error, message``, each named by its id."""
    return pytest.mark.parametrize("call, error, message", [case[1:] for case in cases],
                                   ids=[case[0] for case in cases])


def assert_raises_ours(call, error, message, tmp_path):
    """``call(tmp_path)`` raises ``error`` itself, with a message that matches ``message``."""
    with pytest.raises(error) as raised:
        call(tmp_path)
    assert type(raised.value) is error  # ours, not a subclass from deep inside a library
    assert re.search(message.replace("{tmp}", re.escape(str(tmp_path))), str(raised.value)), str(raised.value)
