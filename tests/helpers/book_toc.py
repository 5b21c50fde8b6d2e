"""The book's table of contents (_toc.yml), read as the tests need it: which pages, which chapters.

The tests of the chapters and of the built book take their list from here, so a chapter added to
_toc.yml is executed, built and checked without a test naming it.
"""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def toc_pages(toc=REPO / "_toc.yml"):
    """Every page of ``toc`` in reading order, as paths without suffix (``book/intro``, ``notebooks/01_zero_shot``)."""
    def entries(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if key in node:
                    yield node[key]
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []):
                    yield from entries(child)

    return list(entries(yaml.safe_load(Path(toc).read_text())))


def toc_chapters(toc=REPO / "_toc.yml"):
    """The chapters of ``toc``: the notebooks of ``notebooks/`` it lists, by file name without suffix."""
    return [page.split("/", 1)[1] for page in toc_pages(toc) if page.startswith("notebooks/")]
