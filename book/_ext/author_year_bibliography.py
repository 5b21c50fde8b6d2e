"""The bibliography's style: entries labelled as the text cites them (author–year), with links.

The text cites with sphinxcontrib-bibtex's ``author_year`` reference style, "(Radford et al.,
2021)". pybtex's bibliography styles label entries differently ("[RKH+21]" or "[1]"), so this
extension registers a pybtex style, ``author_year_links``, whose labels are the text's own:
"Radford et al., 2021" (one author: the surname; two: both; more: the first "et al."), sorted by
author, year and title. The entries are formatted as pybtex's ``unsrt`` formats them, which
links an ``eprint`` field to arXiv and a ``doi`` field to doi.org. Two works of the same
authors and year carry the year with a letter in ``references.bib`` ("2022a", "2022b"), so text
and bibliography tell them apart alike.
"""

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting.author_year_title import SortingStyle


def _surname(person):
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Surname, year", "Surname and Surname, year" or "Surname et al., year"."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            authors = entry.persons.get("author") or entry.persons.get("editor") or []
            if not authors:
                names = Text.from_latex(entry.fields["title"]).render_as("text")
            elif len(authors) == 1:
                names = _surname(authors[0])
            elif len(authors) == 2:
                names = f"{_surname(authors[0])} and {_surname(authors[1])}"
            else:
                names = f"{_surname(authors[0])} et al."
            yield f"{names}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabelStyle
    default_sorting_style = SortingStyle


def setup(app):
    register_plugin("pybtex.style.formatting", "author_year_links", AuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
