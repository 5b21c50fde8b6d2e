"""The chapters, live: working copies opened in JupyterLab (``make lab``).

    python -m llu_core.report.lab                 # copies in lab/, JupyterLab on 127.0.0.1:8888
    python -m llu_core.report.lab --port 8890 -- --no-browser   # options after -- go to JupyterLab

The reader works on copies, never on the tracked chapters: :func:`make_working_copies` writes
each chapter of ``notebooks/`` to ``<folder>/notebooks/`` once (``lab/`` is ignored by git), so
a notebook saved after a live run, with its outputs, widget state and the reader's changes,
leaves the repository as it was, and a later ``make lab`` keeps what the reader changed (it
names the copies whose chapter has changed since; delete a copy to get the new one). Relative
paths of the chapters (``../results/...``) land in ``<folder>/``.

A copy differs from its chapter only where JupyterLab needs it to read like the book's page:

- the prose's book-wide roles are resolved (:mod:`llu_core.report.lab_prose`); a glued number
  becomes an inline expression that shows "…" until the cells above it have run, then the
  value (:mod:`llu_core.report.glued`);
- every figure is followed by its number and caption, as on the page;
- the bookkeeping cells (tagged ``remove-cell`` for the book) are collapsed, as the chapters
  store them, and a cell whose output the page leaves out (``remove-output``: chapter 4's live
  sliders) shows it;
- a first cell says how to run the copy.

JupyterLab runs on 127.0.0.1 with its own settings and kernel in ``<folder>/.jupyter/``: the
kernel loads :mod:`llu_core.report.glued`, and the reader's own Jupyter configuration is
neither read for the kernel nor changed.
"""

import argparse
import copy
import hashlib
import json
import os
import sys
from pathlib import Path

from ..utils.io import read_json, write_json
from ..utils.locations import checkout_root
from .lab_prose import BookIndex, cited_authors, figure_labels, glued_expressions, index_document, lab_prose

#: The JupyterLab extensions a live chapter needs: the sliders' widgets and the MyST prose.
EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "jupyterlab-myst")
#: The first line of a bookkeeping cell in a working copy (JupyterLab shows it for the collapsed cell).
BOOKKEEPING = "# Bookkeeping, not shown on the page"
#: What an inline expression shows before its cell has run.
NOT_RUN = "…"
#: JupyterLab settings for the copies' server: no news or update checks (nothing is fetched); every
#: cell of a notebook on the page at once (a short chapter; the browser's search finds any text);
#: no "Show more outputs" button under a bookkeeping cell, whose many `glue` calls each publish an
#: output that shows nothing (JupyterLab trims a cell's outputs past 50 by default).
SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                                "checkForUpdates": False},
            "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none",
                                                                           "maxNumberOutputs": 10000}}


def chapter_files(checkout):
    """The chapters and pages of the table of contents, in order: (document name, numbered)."""
    import yaml  # a dependency of the book's tools, as is this module

    toc = yaml.safe_load((checkout / "_toc.yml").read_text())
    found = [(toc["root"], False)]
    for part in toc.get("parts", []):
        found += [(chapter["file"], bool(part.get("numbered"))) for chapter in part["chapters"]]
    return found


def read_citations(bib_file):
    """Citation key → (authors as cited, year) for every entry of a BibTeX file."""
    from pybtex.database import parse_file
    from pybtex.richtext import Text

    citations = {}
    for key, entry in parse_file(str(bib_file)).entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        surnames = [Text.from_latex(" ".join(p.prelast_names + p.last_names)).render_as("text") for p in people]
        citations[key] = (cited_authors(surnames) if surnames else entry.fields["title"], entry.fields.get("year", "n.d."))
    return citations


def book_index(checkout):
    """The :class:`~llu_core.report.lab_prose.BookIndex` of the book in ``checkout``."""
    index = BookIndex(citations=read_citations(checkout / "book" / "references.bib"))
    number = 0
    for docname, numbered in chapter_files(checkout):
        number += numbered
        notebook = checkout / f"{docname}.ipynb"
        if notebook.is_file():
            content = read_json(notebook)
            index_document(index, docname, [_source(c) for c in content["cells"] if c["cell_type"] == "markdown"],
                           number if numbered else None, figure_labels(content))
        else:
            index_document(index, docname, [(checkout / f"{docname}.md").read_text()], number if numbered else None)
    return index


def _source(cell):
    return "".join(cell["source"])


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lab_notebook(notebook, docname, index):
    """The working copy of one chapter (nbformat 4 as a dict; see the module's doc)."""
    result = copy.deepcopy(notebook)
    cells = [{"cell_type": "markdown", "id": "lab-how-to-run", "metadata": {}, "source": (
        f"*Your working copy of chapter {index.numbers.get(docname, '')}, made by `make lab`; the book's notebook "
        "stays as it is.* Run it with **Run ▸ Run All Cells**: the numbers the text quotes appear in place of "
        f"“{NOT_RUN}” as the cells above them finish. Change the parameters cell and run again to see the "
        "chapter on other settings.")}]
    for cell in result["cells"]:
        tags, cell["source"] = cell["metadata"].get("tags", []), _source(cell)
        if cell["cell_type"] == "markdown":
            cell["source"] = lab_prose(cell["source"], docname, index)
            expressions = glued_expressions(cell["source"])
            if expressions:
                cell["metadata"]["user_expressions"] = [
                    {"expression": e, "result": {"status": "ok", "data": {"text/plain": NOT_RUN}, "metadata": {}}}
                    for e in expressions]
        if "remove-cell" in tags:
            cell["metadata"]["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
            if not cell["source"].startswith(BOOKKEEPING):  # the line JupyterLab shows of a collapsed cell
                cell["source"] = f"{BOOKKEEPING}\n{cell['source']}"
        cells.append(cell)
        name = cell["metadata"].get("mystnb", {}).get("figure", {}).get("name")
        if name:
            caption = lab_prose(cell["metadata"]["mystnb"]["figure"].get("caption", ""), docname, index)
            cells.append({"cell_type": "markdown", "id": f"lab-caption-{cell.get('id', name)}"[:64], "metadata": {},
                          "source": f"**Fig. {index.figures[name]}.** {caption}"})
    result["cells"] = cells
    return result


def make_working_copies(checkout, folder):
    """Write the working copy of every chapter that has none yet under ``folder/notebooks``.

    Returns
    -------
    (list of Path, list of Path)
        The copies written now, and the existing copies whose chapter changed since they were made.
    """
    index, written, outdated = book_index(checkout), [], []
    for docname, _ in chapter_files(checkout):
        source = checkout / f"{docname}.ipynb"
        if not source.is_file():
            continue
        target = folder / "notebooks" / source.name
        digest = _digest(source)
        if target.exists():
            made_from = read_json(target).get("metadata", {}).get("llu_book", {}).get("chapter_sha256")
            if made_from != digest:
                outdated.append(target)
            continue
        notebook = lab_notebook(read_json(source), docname, index)
        notebook["metadata"]["llu_book"] = {"chapter": f"{docname}.ipynb", "chapter_sha256": digest}
        write_json(target, notebook)
        written.append(target)
    return written, outdated


def missing_extensions():
    """The :data:`EXTENSIONS` that no JupyterLab extension folder of this environment holds."""
    from jupyter_core.paths import jupyter_path

    folders = [Path(p) for p in jupyter_path("labextensions")]
    return [name for name in EXTENSIONS if not any((f / name / "package.json").is_file() for f in folders)]


def lab_environment(folder):
    """The environment JupyterLab runs in: its settings and kernel under ``folder/.jupyter``."""
    jupyter = folder / ".jupyter"
    for name, settings in SETTINGS.items():
        write_json(jupyter / "lab" / "user-settings" / name, settings)
    write_json(jupyter / "data" / "kernels" / "python3" / "kernel.json", {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--ext=llu_core.report.glued"],
        "display_name": "Python 3 (LLU Book)", "language": "python"})
    environment = dict(os.environ, JUPYTER_PATH=str(jupyter / "data"),
                       JUPYTERLAB_SETTINGS_DIR=str(jupyter / "lab" / "user-settings"),
                       JUPYTERLAB_WORKSPACES_DIR=str(jupyter / "lab" / "workspaces"))
    environment.pop("MPLBACKEND", None)  # the kernel's own inline backend draws the figures
    return environment


def lab_command(folder, port, extra=()):
    """The ``jupyter lab`` command that serves ``folder/notebooks`` on 127.0.0.1."""
    command = [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.root_dir={folder / 'notebooks'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses root otherwise (containers run as root)
    return command + list(extra)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m llu_core.report.lab", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--folder", type=Path, default=Path("lab"), help="folder of the working copies")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab's port on 127.0.0.1")
    parser.add_argument("jupyter_options", nargs="*", help="options for jupyter lab (after --)")
    args = parser.parse_args(argv)
    checkout = checkout_root()
    if checkout is None:
        parser.error("llu_core is installed without the book: run this from a clone of the repository")
    missing = missing_extensions()
    if missing:
        print(f"error: JupyterLab extensions missing: {', '.join(missing)}; install the pinned requirements "
              "(make setup)", file=sys.stderr)
        return 2
    folder = args.folder.resolve()
    written, outdated = make_working_copies(checkout, folder)
    print(f"working copies in {folder / 'notebooks'}: {len(written)} written now")
    for path in outdated:
        print(f"note: {path.name} was copied before its chapter changed; delete it and rerun to get the new one")
    command = lab_command(folder, args.port, args.jupyter_options)
    sys.stdout.flush()
    os.execve(command[0], command, lab_environment(folder))  # JupyterLab in this process: Ctrl-C, signals reach it


if __name__ == "__main__":
    sys.exit(main())
