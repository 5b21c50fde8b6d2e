"""book/_ext/parallel_execution.py: the notebooks are executed several at a time before Sphinx reads
them, into the jupyter-cache that myst-nb reads, so that myst-nb executes none of them.

A small Sphinx project in a temporary folder: a chapter as .ipynb and a page as MyST Markdown,
each recording when its kernel ran and the threads it was given.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

EXTENSIONS = Path(__file__).resolve().parents[2] / "book" / "_ext"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

#: A cell that writes when its kernel ran, and with which threads, to ``<name>.json``.
RECORD = """import json, os, time
start = time.time()
time.sleep(2)
json.dump({"start": start, "end": time.time(), "threads": os.environ.get("OMP_NUM_THREADS")}, open("{name}.json", "w"))
print("ran {name}")"""


def make_project(folder, failing=False):
    folder.mkdir()
    (folder / "conf.py").write_text(f"import sys\nsys.path.insert(0, {str(EXTENSIONS)!r})\n"
                                    "extensions = ['myst_nb', 'parallel_execution']\n"
                                    "nb_execution_mode = 'cache'\nnb_execution_in_temp = False\n")
    (folder / "index.md").write_text("# Book\n\n```{toctree}\nchapter\npage\n```\n")
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    notebook.cells = [nbformat.v4.new_markdown_cell("# Chapter"),
                      nbformat.v4.new_code_cell(RECORD.replace("{name}", "chapter")
                                                + ("\nraise RuntimeError('broken')" if failing else ""))]
    nbformat.write(notebook, folder / "chapter.ipynb")
    header = ("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\nkernelspec:\n"
              + "".join(f"  {key}: {value}\n" for key, value in KERNELSPEC.items()) + "---\n")
    (folder / "page.md").write_text(header + "# Page\n\n```{code-cell} ipython3\n" + RECORD.replace("{name}", "page")
                                    + "\n```\n")


def build(folder):
    # The output folder beside the sources, as jupyter-book's _build: the jupyter-cache lands beside it.
    environment = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "-b", "html", str(folder), str(folder.parent / "html")],
                          capture_output=True, text=True, timeout=600, env=dict(environment, LLU_BOOK_JOBS="2"))


def test_notebooks_run_at_once_on_their_share_of_the_cores_and_myst_nb_reuses_them(tmp_path):
    project = tmp_path / "book"
    make_project(project)
    built = build(project)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    output = built.stdout + built.stderr
    assert "executing 2 notebooks, 2 at a time" in output
    assert "Executing notebook" not in output  # myst-nb found both in the cache
    runs = [json.loads((project / f"{name}.json").read_text()) for name in ("chapter", "page")]
    assert runs[0]["start"] < runs[1]["end"] and runs[1]["start"] < runs[0]["end"]  # at the same time
    assert {run["threads"] for run in runs} == {str(max(1, len(os.sched_getaffinity(0)) // 2))}
    for name in ("chapter", "page"):
        assert f"ran {name}" in (tmp_path / "html" / f"{name}.html").read_text()
    (project / "page.md").write_text((project / "page.md").read_text().replace("# Page", "# Page, reworded"))
    rebuilt = build(project)  # prose changed, code not: nothing executes
    assert rebuilt.returncode == 0 and "executing" not in rebuilt.stdout + rebuilt.stderr


def test_a_failing_notebook_fails_the_build_with_its_error(tmp_path):
    project = tmp_path / "book"
    make_project(project, failing=True)
    built = build(project)
    output = built.stdout + built.stderr
    assert built.returncode != 0 and "chapter.ipynb failed" in output and "RuntimeError" in output
