"""What the book shows: tables and their labels (and the paper's numbers), figures and their
style, the explorers and the static control, and the papermill runs of ``reproduce``.

Nothing is re-exported here: the plots and widgets load matplotlib and ipywidgets, which the
rest of the library does not need. Import the names ``llu_core`` exports, or the module
(``llu_core.report.tables``).
"""
