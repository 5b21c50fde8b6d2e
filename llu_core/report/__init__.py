"""What the book shows: tables (and the paper's numbers), figures, the mask's controls, and the
papermill runs of ``reproduce``.

Nothing is re-exported here: the plots and widgets load matplotlib and ipywidgets, which the
rest of the library does not need. Import the module (``llu_core.report.tables``) or the names
``llu_core`` exports.
"""
