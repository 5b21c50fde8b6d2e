"""The chapters' prose as JupyterLab shows it: MyST that needs the whole book, rewritten.

jupyterlab-myst renders a markdown cell's MyST (admonitions, math, targets, references within
the notebook), but it sees one notebook, not the book: a citation shows its bare key, a
reference to a figure or to another chapter its label, and a glued number its name. The
working copies that ``make lab`` opens (:mod:`llu_core.report.lab`) carry prose in which
:func:`lab_prose` has resolved those roles as the built book does:

- ``{cite}`key``` → "(Surname et al., 2022)", ``{cite:t}`` → "Surname et al. (2022)", from
  ``book/references.bib``;
- ``{numref}`fig-x``` → "Fig. 4.1", numbered as the book numbers figures (chapter number from
  ``_toc.yml``, then the figure's place in its chapter);
- ``{doc}`` → a link to the other chapter's working copy (its title unless the role names a
  text), or the text alone for a page of the book that is not a notebook;
- ``{ref}`` → the same for a section of another chapter; a section of this one stays a
  ``{ref}``, which jupyterlab-myst resolves;
- ``{glue:text}`name:spec``` → ``{eval}`glued("name", "spec")```, an inline expression that
  jupyterlab-myst evaluates in the kernel when the cell runs (:mod:`llu_core.report.glued`).
"""

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<content>[^`]*)`")
TARGET = re.compile(r"^\((?P<label>[^)\s]+)\)=\s*\n+#+\s*(?P<title>.+)$", re.M)
TITLE = re.compile(r"^#\s+(?P<title>.+)$", re.M)
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
#: The roles :func:`lab_prose` resolves; any other role is left for jupyterlab-myst.
RESOLVED = ("cite", "cite:t", "cite:p", "numref", "doc", "ref", "glue:text")


@dataclass
class BookIndex:
    """What resolving a role needs to know of the whole book.

    Attributes
    ----------
    titles : dict of str -> str
        Document name (``"notebooks/04_local_mask"``, ``"book/method"``) → its title.
    numbers : dict of str -> int
        Document name → chapter number, for the numbered chapters.
    labels : dict of str -> (str, str)
        Section label → (document name, section title).
    figures : dict of str -> str
        Figure label → its number as the book prints it (``"4.1"``).
    citations : dict of str -> (str, str)
        Citation key → (authors as cited, year).
    """

    titles: dict = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    citations: dict = field(default_factory=dict)


def cited_authors(surnames):
    """Authors as the text cites them: one surname, two joined by "and", or the first "et al."."""
    if len(surnames) > 2:
        return f"{surnames[0]} et al."
    return " and ".join(surnames)


def markdown_sources(notebook):
    """The source of every markdown cell of a notebook (a dict in nbformat 4)."""
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]


def figure_labels(notebook):
    """The labels of a notebook's numbered figures, in order (myst-nb's ``mystnb.figure.name``)."""
    return [cell["metadata"]["mystnb"]["figure"]["name"] for cell in notebook["cells"]
            if cell["metadata"].get("mystnb", {}).get("figure", {}).get("name")]


def index_document(index, docname, texts, number=None, figures=()):
    """Add one document's title, sections and figures to ``index`` (``texts``: its markdown)."""
    text = "\n\n".join(texts)
    title = TITLE.search(text)
    index.titles[docname] = title["title"].strip() if title else PurePosixPath(docname).name
    if number is not None:
        index.numbers[docname] = number
        index.figures.update({label: f"{number}.{position}" for position, label in enumerate(figures, 1)})
    for target in TARGET.finditer(text):
        index.labels[target["label"]] = (docname, target["title"].strip())


def _resolve(docname, target):
    """The document a ``{doc}`` target names, seen from ``docname`` (both without suffix)."""
    parts = []
    for part in (PurePosixPath(docname).parent / target).parts:
        if part == "..":
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _link(index, docname, target_doc, text):
    """A link from ``docname`` to the working copy of ``target_doc``, or ``text`` alone for a page."""
    if target_doc.startswith("notebooks/") and target_doc in index.titles:
        return f"[{text}]({PurePosixPath(target_doc).name}.ipynb)"
    return text


def _split(content):
    explicit = EXPLICIT.match(content)
    return (explicit["text"], explicit["target"].strip()) if explicit else (None, content.strip())


def _citation(index, role, content):
    works = []
    for key in (key.strip() for key in content.split(",")):
        if key not in index.citations:
            raise KeyError(f"{{{role}}}`{content}` cites {key!r}, which book/references.bib does not hold")
        works.append(index.citations[key])
    if role == "cite:t":
        return "; ".join(f"{authors} ({year})" for authors, year in works)
    return "(" + "; ".join(f"{authors}, {year}" for authors, year in works) + ")"


def lab_prose(text, docname, index):
    """``text`` (MyST of the document ``docname``) with the book-wide roles resolved (module doc).

    Raises
    ------
    KeyError
        For a citation key, figure, label or document the book does not hold: the page would
        not build either.
    """
    def replace(match):
        role, content = match["role"], match["content"]
        if role in ("cite", "cite:t", "cite:p"):
            return _citation(index, role, content)
        if role == "glue:text":
            name, _, spec = content.partition(":")
            return f'{{eval}}`glued("{name.strip()}", "{spec}")`'
        text, target = _split(content)
        if role == "numref":
            if target not in index.figures:
                raise KeyError(f"{{numref}}`{content}` names no figure of the book")
            number = f"Fig. {index.figures[target]}"
            return text.replace("%s", index.figures[target]) if text else number
        if role == "doc":
            target_doc = _resolve(docname, target)
            if target_doc not in index.titles:
                raise KeyError(f"{{doc}}`{content}` in {docname} names no page of the book")
            return _link(index, docname, target_doc, text or index.titles[target_doc])
        if role == "ref":
            if target not in index.labels:
                raise KeyError(f"{{ref}}`{content}` in {docname} names no section of the book")
            target_doc, title = index.labels[target]
            if target_doc == docname:
                return f"{{ref}}`{text or title} <{target}>`"
            return _link(index, docname, target_doc, text or title)
        return match[0]

    return ROLE.sub(replace, text)


def glued_expressions(text):
    """The inline expressions of :func:`lab_prose`'s output that ask for glued values."""
    return [match["content"] for match in ROLE.finditer(text)
            if match["role"] == "eval" and match["content"].startswith("glued(")]
