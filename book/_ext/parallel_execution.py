"""Execute the book's notebooks several at a time, into the cache that myst-nb reads.

With ``execute_notebooks: cache`` myst-nb executes a notebook whose code it has not cached when
Sphinx reads that page, one page after the other, on one core. This extension runs before Sphinx
reads anything (``env-before-read-docs``): among the pages to read it finds the notebooks (the
chapters' ``.ipynb`` files and the MyST Markdown pages with code cells, read by myst-nb's own
reader, so that they hash as myst-nb hashes them) whose code the jupyter-cache does not hold,
executes them ``jobs`` at a time, each in its own kernel, and stores each executed notebook in
the cache as myst-nb stores it. myst-nb then finds every notebook in the cache and executes
none. Whatever executes the chapters first, ``make book`` or the tests, the other reuses it.

- ``jobs`` is the Sphinx setting ``parallel_execution_jobs``, else ``$LLU_BOOK_JOBS``, else the
  number of CPUs this process may use. Each kernel gets ``OMP_NUM_THREADS`` = CPUs / jobs
  (unless it is set already), so that the kernels' torch threads do not compete for the cores.
- Notebooks that an earlier build executed start longest first (the times the cache recorded);
  the others start first, in the order of the pages.
- A notebook that fails is not cached: myst-nb executes it again when it reads it and reports
  the failing cell as usual (a failing chapter fails the build).
- The timeout, ``allow_errors`` and the working directory (``run_in_temp``) are the book's
  ``execute:`` settings in ``_config.yml``; a notebook's own ``execution`` metadata overrides the
  first two, as in myst-nb.
"""

import os
import tempfile
import time
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path, PurePosixPath

from sphinx.util import logging

LOGGER = logging.getLogger(__name__)


def _usable_cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _jobs(app):
    jobs = app.config.parallel_execution_jobs or os.environ.get("LLU_BOOK_JOBS") or _usable_cpus()
    try:
        jobs = int(jobs)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise ValueError(f"parallel_execution_jobs (or LLU_BOOK_JOBS) must be an integer >= 1, got {jobs!r}")
    return jobs


def _outdated_notebooks(env, docnames):
    """``(path, notebook)`` of every page among ``docnames`` that myst-nb would execute now."""
    from jupyter_cache import get_cache
    from myst_nb.core.read import create_nb_reader

    config = env.mystnb_config
    if config.execution_mode != "cache":
        return [], None
    cache = get_cache(config.execution_cache_path)
    found = []
    for docname in docnames:
        path = Path(env.doc2path(docname))
        if any(PurePosixPath(path.as_posix()).match(pattern) for pattern in config.execution_excludepatterns):
            continue
        text = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), env.myst_config, config, text)
        if reader is None:
            continue
        notebook = reader.read(text)
        if notebook.metadata.get(config.metadata_key, {}).get("execution_mode", "cache") != "cache":
            continue
        if not any(cell.cell_type == "code" for cell in notebook.cells):
            continue
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            found.append((path, notebook))
    return found, cache


def _longest_first(cache, found):
    """``found`` reordered: notebooks without a recorded time first (in page order), then the rest
    by their last recorded execution time, longest first."""
    seconds = {}
    for record in sorted(cache.list_cache_records(), key=lambda record: record.created):
        seconds[record.uri] = (record.data or {}).get("execution_seconds")
    return sorted(found, key=lambda item: -(seconds.get(str(item[0])) or float("inf")))


def _execute(path, notebook, config, environment):
    """Execute ``notebook`` (from ``path``) in place; return (seconds, error text or None)."""
    from nbclient import NotebookClient

    settings = notebook.metadata.get("execution", {})
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() if config.execution_in_temp else nullcontext(path.parent) as folder:
        client = NotebookClient(notebook, timeout=settings.get("timeout", config.execution_timeout),
                                allow_errors=settings.get("allow_errors", config.execution_allow_errors),
                                resources={"metadata": {"path": str(folder)}}, record_timing=False)
        try:
            client.execute(env=environment)
        except Exception as error:  # a failing cell, a timeout, a dead kernel: myst-nb will report it
            return time.perf_counter() - start, f"{type(error).__name__}: {str(error)[-2000:]}"
    return time.perf_counter() - start, None


def execute_outdated(app, env, docnames):
    """``env-before-read-docs``: execute the outdated notebooks among ``docnames`` and cache them."""
    from jupyter_cache.base import CacheBundleIn

    found, cache = _outdated_notebooks(env, docnames)
    if not found:
        return
    jobs = min(_jobs(app), len(found))
    environment = dict(os.environ)
    environment.setdefault("OMP_NUM_THREADS", str(max(1, _usable_cpus() // jobs)))
    LOGGER.info(f"executing {len(found)} notebooks, {jobs} at a time "
                f"(OMP_NUM_THREADS={environment['OMP_NUM_THREADS']} each)")
    config = env.mystnb_config
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {pool.submit(_execute, path, notebook, config, environment): (path, notebook)
                   for path, notebook in _longest_first(cache, found)}
        for done, future in enumerate(as_completed(running), start=1):
            (path, notebook), (seconds, error) = running[future], future.result()
            name = os.path.relpath(path, app.srcdir)
            if error is None:
                cache.cache_notebook_bundle(CacheBundleIn(notebook, str(path), data={"execution_seconds": seconds}),
                                            check_validity=False, overwrite=True)
                LOGGER.info(f"[{done}/{len(found)}] executed {name} in {seconds:.0f} s")
            else:
                last = [line for line in error.splitlines() if line.strip()][-1:]
                LOGGER.info(f"[{done}/{len(found)}] {name} failed after {seconds:.0f} s (myst-nb runs it again "
                            f"and reports it): {' '.join(last)}")


def setup(app):
    app.add_config_value("parallel_execution_jobs", None, "")
    # After myst-nb's own builder-inited handler has set env.mystnb_config.
    app.connect("env-before-read-docs", execute_outdated)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
