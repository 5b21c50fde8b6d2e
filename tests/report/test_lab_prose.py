"""llu_core.report.lab_prose: the book-wide MyST roles resolved for a live notebook, as the page resolves them."""

import pytest

from llu_core.report.lab_prose import BookIndex, cited_authors, figure_labels, glued_expressions, index_document, lab_prose


@pytest.fixture
def index():
    index = BookIndex(citations={"ibing2022llu": ("Ibing et al.", "2022"), "xiao2017": ("Xiao et al.", "2017"),
                                 "zhou2022coop": ("Zhou et al.", "2022a")})
    index_document(index, "book/intro", ["# LLU Book\n\nText."])
    index_document(index, "book/offline_model", ["# The offline model\n\n(geometry)=\n## CLIP's geometry\n"])
    index_document(index, "notebooks/02_from_scratch", ["# LLU from scratch", "(scratch-eq5)=\n## The local weight (Eq. 5)"],
                   number=2, figures=["fig-scratch-loss"])
    index_document(index, "notebooks/04_local_mask", ["# The local mask\n\n(mask-without)=\n\n## Without the mask"],
                   number=4, figures=["fig-alpha-view", "fig-mask-control"])
    return index


def test_citations_read_author_year(index):
    text = "CLIP {cite}`ibing2022llu` and {cite}`ibing2022llu,xiao2017`; {cite:t}`zhou2022coop` says"
    assert lab_prose(text, "notebooks/04_local_mask", index) == (
        "CLIP (Ibing et al., 2022) and (Ibing et al., 2022; Xiao et al., 2017); Zhou et al. (2022a) says")


def test_figures_are_numbered_by_chapter_and_place(index):
    assert lab_prose("In {numref}`fig-mask-control`, as in {numref}`fig-scratch-loss`", "notebooks/04_local_mask",
                     index) == "In Fig. 4.2, as in Fig. 2.1"
    assert lab_prose("{numref}`Figure %s <fig-alpha-view>`", "notebooks/04_local_mask", index) == "Figure 4.1"


def test_documents_link_to_working_copies_or_read_as_text(index):
    prose = lab_prose("see {doc}`02_from_scratch`, {doc}`chapter 2 <02_from_scratch>` and the {doc}`appendix "
                      "<../book/offline_model>`", "notebooks/04_local_mask", index)
    assert prose == ("see [LLU from scratch](02_from_scratch.ipynb), [chapter 2](02_from_scratch.ipynb) and the "
                     "appendix")
    assert lab_prose("{doc}`The local mask <../notebooks/04_local_mask>`", "book/intro", index) == (
        "[The local mask](04_local_mask.ipynb)")


def test_sections_of_this_chapter_stay_references_others_become_links(index):
    assert lab_prose("{ref}`mask-without` and {ref}`its line <scratch-eq5>`", "notebooks/04_local_mask", index) == (
        "{ref}`Without the mask <mask-without>` and [its line](02_from_scratch.ipynb)")
    assert lab_prose("{ref}`geometry`", "notebooks/04_local_mask", index) == "CLIP's geometry"


def test_glued_numbers_become_inline_expressions(index):
    prose = lab_prose("at {glue:text}`distance_base:.3f` and {glue:text}`n_new`", "notebooks/04_local_mask", index)
    assert prose == 'at {eval}`glued("distance_base", ".3f")` and {eval}`glued("n_new", "")`'
    assert glued_expressions(prose + " {eval}`1 + 1`") == ['glued("distance_base", ".3f")', 'glued("n_new", "")']


def test_other_myst_is_left_to_jupyterlab_myst(index):
    text = "(label)=\n## A section\n\n```{admonition} Note\n:class: note\n$x$ and {math}`y`\n```"
    assert lab_prose(text, "notebooks/04_local_mask", index) == text


@pytest.mark.parametrize("text, missing", [("{cite}`nobody2020`", "nobody2020"), ("{numref}`fig-none`", "fig-none"),
                                           ("{doc}`99_missing`", "99_missing"), ("{ref}`no-label`", "no-label")])
def test_a_name_the_book_does_not_hold_raises(index, text, missing):
    with pytest.raises(KeyError, match=missing):
        lab_prose(text, "notebooks/04_local_mask", index)


def test_authors_are_cited_as_the_bibliography_labels_them():
    assert cited_authors(["Xiao"]) == "Xiao"
    assert cited_authors(["Reimers", "Gurevych"]) == "Reimers and Gurevych"
    assert cited_authors(["Ibing", "Lim", "Kobbelt"]) == "Ibing et al."


def test_figure_labels_come_from_myst_nb_metadata_in_order():
    cells = [{"metadata": {"mystnb": {"figure": {"name": "fig-b", "caption": "b"}}}}, {"metadata": {}},
             {"metadata": {"mystnb": {"figure": {"caption": "unnamed"}}}}, {"metadata": {"mystnb": {"figure": {"name": "a"}}}}]
    assert figure_labels({"cells": cells}) == ["fig-b", "a"]
