"""Class text embeddings that keep their class names: the ``T`` of ``fit(X, y, T)``.

Most estimators need only the class embeddings ``T`` (C, d). A prompt learner (CoOp and its
kin, :mod:`llu_core.estimators.prompt_learners`) needs more: it builds class embeddings itself, from the
class *names* and a text tower with learned context (:mod:`llu_core.backbones.prompt_towers`). So ``T``
may be a :class:`ClassTexts`: the embeddings, the class names and the tower, together.

A ``ClassTexts`` behaves as its (C, d) embedding array wherever an array is expected
(``np.asarray(T)``, ``T.shape``, ``len(T)``, ``T @ x``), so every array-only estimator takes
it unchanged; indexing rows (``T[base]``, ``T[:5]``, a boolean mask) gives a ``ClassTexts`` of
those classes, names and rows sliced together, so the base-to-new protocol and the grids pass
it through as they pass an array. :func:`llu_core.data.embedded.embed_dataset` returns one as
``data.text``.

**Class identity is explicit.** Every class is its own: two names that differ only in case or
spacing, and two rows that are the same embedding, are refused, naming both classes. A
``ClassTexts`` also remembers how its rows were made (its ``tower``'s backbone and the prompt
``templates``), and :meth:`ClassTexts.check_rows` re-derives them from the names through that
tower: a prompt learner runs it before it trusts the names, so rows in another order than the
names, or rows of another backbone's tower of the same width, are refused instead of training
garbage.
"""

import numpy as np

from .validation import as_embeddings, check_distinct_classes

#: The prompt a ``ClassTexts`` assumes its rows were made with unless told (CoOp's initial context).
DEFAULT_TEMPLATES = ("a photo of a {}.",)
#: The least cosine between a row and the tower's embedding of its name that :meth:`ClassTexts.check_rows` accepts.
ROWS_MATCH = 1.0 - 1e-4


def name_key(name):
    """What two class names must differ in: ``name`` with case and runs of whitespace folded."""
    return " ".join(name.split()).casefold()


class ClassTexts:
    """Unit-norm class embeddings (C, d) with their C class names and the text tower.

    Parameters
    ----------
    embeddings : array-like, shape (C, d)
        The class text embeddings (the hand-crafted prompts' embeddings).
    classnames : sequence of str, length C
        The class names in row order: non-empty strings, no duplicates.
    tower : PromptTower, optional
        The text tower that maps learned context and class names to embeddings of the same
        space (``backbone.context_tower()``); ``None`` where only the embeddings are known.
    templates : sequence of str, optional
        The prompt templates the rows were made with by ``tower``'s backbone
        (``backbone.encode_text(classnames, templates)``); default :data:`DEFAULT_TEMPLATES`.

    Raises
    ------
    ValueError
        For an empty name list, a name that is not a non-empty string, two names that differ
        only in case or spacing, a number of names that differs from the number of rows, rows
        that cannot be normalised, or two rows that are the same class embedding.
    """

    def __init__(self, embeddings, classnames, tower=None, templates=DEFAULT_TEMPLATES):
        embeddings = np.asarray(embeddings, dtype=np.float32)
        classnames = list(classnames)
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings must be a 2-D array of shape (C, d), got shape {embeddings.shape}")
        if not classnames:
            raise ValueError("classnames is empty; expected one class name per row of the embeddings")
        if not all(isinstance(name, str) and name.strip() for name in classnames):
            raise ValueError(f"class names must be non-empty strings, got {classnames[:5]!r}...")
        seen = {}
        for index, name in enumerate(classnames):
            first = seen.setdefault(name_key(name), index)
            if first != index:
                raise ValueError(f"duplicate class names {classnames[first]!r} and {name!r} (equal up to case and "
                                 "spacing); every class needs its own name")
        if len(classnames) != embeddings.shape[0]:
            raise ValueError(f"{len(classnames)} class names for {embeddings.shape[0]} embedding rows; "
                             "expected one name per row")
        check_distinct_classes(as_embeddings(embeddings, "embeddings"), "embeddings", classnames)
        self.embeddings = embeddings
        self.classnames = tuple(classnames)
        self.tower = tower
        self.templates = tuple(templates)
        self._rows_checked = False

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.embeddings, dtype=dtype, copy=True)
        return self.embeddings if dtype is None else self.embeddings.astype(dtype, copy=False)

    @property
    def shape(self):
        return self.embeddings.shape

    @property
    def ndim(self):
        return 2

    @property
    def dtype(self):
        return self.embeddings.dtype

    def __len__(self):
        return self.embeddings.shape[0]

    def __getitem__(self, index):
        """Rows ``index`` (array of ints, slice, boolean mask) as a ClassTexts; any other index
        (a single row, a tuple that reaches into the columns) indexes the plain array."""
        if isinstance(index, (tuple, int, np.integer)):
            return self.embeddings[index]
        rows = np.arange(len(self))[index]
        sliced = ClassTexts(self.embeddings[rows], [self.classnames[i] for i in rows], self.tower, self.templates)
        sliced._rows_checked = self._rows_checked  # names and rows were sliced together
        return sliced

    def check_rows(self):
        """Raise ``ValueError`` unless every row is the tower's embedding of its own class name.

        The rows are made again, ``tower.encode_text(classnames, templates)``, and each must
        have cosine ≥ :data:`ROWS_MATCH` with the stored one: names in another order than the
        rows, rows of another backbone or of other templates fail. Passing once is remembered
        (by this object and its slices).
        """
        if self._rows_checked:
            return
        if self.tower is None:
            raise ValueError("T has no text tower to check its rows with (ClassTexts(..., tower=None)); pass "
                             "tower=backbone.context_tower()")
        made = np.asarray(self.tower.encode_text(list(self.classnames), list(self.templates)).detach().cpu(),
                          dtype=np.float64)
        rows = self.embeddings.astype(np.float64)
        cosine = (rows * made).sum(axis=1) / (np.linalg.norm(rows, axis=1) * np.linalg.norm(made, axis=1))
        wrong = np.flatnonzero(~(cosine >= ROWS_MATCH))
        if wrong.size:
            i = int(wrong[0])
            raise ValueError(f"T's rows are not its class names' embeddings by its text tower ({self.tower.key}) and "
                             f"templates {list(self.templates)}: {wrong.size} row(s) differ, e.g. row {i} "
                             f"({self.classnames[i]!r}, cosine {cosine[i]:.4f} with the tower's embedding of its name). "
                             "Rows in another order than the names, rows of another backbone or other templates "
                             "(pass templates=) would train the prompts to garbage")
        self._rows_checked = True

    def __repr__(self):
        names = ", ".join(self.classnames[:3]) + (", ..." if len(self) > 3 else "")
        return f"ClassTexts({len(self)} classes: {names}; d={self.shape[1]}, tower={self.tower!r})"


def as_class_rows(T):
    """``T`` ready to be indexed by class: a :class:`ClassTexts` stays one (names and rows are
    sliced together), anything else becomes a float32 numpy array (C, d)."""
    return T if isinstance(T, ClassTexts) else np.asarray(T, dtype=np.float32)
