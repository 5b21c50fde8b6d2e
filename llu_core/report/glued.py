"""The numbers a chapter glues, readable in a live notebook: an IPython extension.

On the page, myst-nb pastes a value that a cell glued (``glue("distance_base", value)``) into
the prose where it reads ``{glue:text}`distance_base:.3f```. JupyterLab knows no glue; the
chapters' working copies for JupyterLab (:mod:`llu_core.report.lab`) ask the kernel instead,
through jupyterlab-myst's inline expressions: ``{eval}`glued("distance_base", ".3f")```.

Loaded into a kernel (``--ext=llu_core.report.glued``), this module watches the display
messages the kernel sends: every message myst-nb's ``glue`` publishes carries the glued name in
its ``scrapbook`` metadata and the value's plain-text form, and :func:`glued` returns that text
formatted as myst-nb formats it. Nothing of the chapter's code changes.
"""

GLUED = {}
#: The prefix of the MIME types of a value glued with ``display=False`` (myst-nb's GLUE_PREFIX).
HIDDEN_PREFIX = "application/papermill.record/"


def record(message):
    """A display-publisher hook: remember the plain text of a glued value, pass the message on."""
    content = message.get("content", {})
    name = content.get("metadata", {}).get("scrapbook", {}).get("name")
    if name is not None:
        data = content.get("data", {})
        text = data.get("text/plain", data.get(HIDDEN_PREFIX + "text/plain"))
        if text is not None:
            GLUED[name] = str(text)
    return message


def glued(name, spec=""):
    """The value glued as ``name``, as ``{glue:text}`name:spec``` shows it on the page.

    As myst-nb does: the value's plain text without quotes, and with ``spec`` a format
    specification applied to that text read as a number (text that is no number stays as it is).

    Raises
    ------
    KeyError
        When no cell has glued ``name`` yet in this kernel (the cells above have not run).
    """
    if name not in GLUED:
        raise KeyError(f"nothing is glued as {name!r} yet: run the cells above")
    text = GLUED[name].strip("'")
    if spec:
        try:
            return f"{float(text):>{spec}}"
        except ValueError:
            pass
    return text


def load_ipython_extension(shell):
    """Record glued values from now on, and put :func:`glued` into the notebook's namespace."""
    shell.display_pub.register_hook(record)
    shell.user_ns["glued"] = glued


def unload_ipython_extension(shell):
    shell.display_pub.unregister_hook(record)
    shell.user_ns.pop("glued", None)
