"""Class text embeddings that keep their class names: the ``T`` of ``fit(X, y, T)``.

Most estimators need only the class embeddings ``T`` (C, d). A prompt learner (CoOp and its
kin, :mod:`llu_core.estimators.prompt_learners`) needs more: it builds class embeddings itself, from the
class *names* and a text tower with learned context (:mod:`llu_core.backbones.prompt_towers`). So ``T``
may be a :class:`ClassTexts`: the embeddings, the class names and the tower, together.

A ``ClassTexts`` behaves as its (C, d) embedding array wherever an array is expected
(``np.asarray(T)``, ``T.shape``, ``len(T)``, ``T @ x``), so every array-only estimator takes
it unchanged; indexing rows (``T[base]``, ``T[:5]``, a boolean mask) gives a ``ClassTexts`` of
those classes, names and rows sliced together, so the base-to-new protocol and the grids pass
it through as they pass an array. :func:`llu_core.data.features.embed_dataset` returns one as
``data.text``.
"""

from collections import Counter

import numpy as np


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

    Raises
    ------
    ValueError
        For an empty name list, a name that is not a non-empty string, duplicate names, or a
        number of names that differs from the number of rows.
    """

    def __init__(self, embeddings, classnames, tower=None):
        embeddings = np.asarray(embeddings, dtype=np.float32)
        classnames = list(classnames)
        if embeddings.ndim != 2:
            raise ValueError(f"embeddings must be a 2-D array of shape (C, d), got shape {embeddings.shape}")
        if not classnames:
            raise ValueError("classnames is empty; expected one class name per row of the embeddings")
        if not all(isinstance(name, str) and name.strip() for name in classnames):
            raise ValueError(f"class names must be non-empty strings, got {classnames[:5]!r}...")
        duplicates = sorted(name for name, count in Counter(classnames).items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate class names {duplicates[:5]}; every class needs its own name")
        if len(classnames) != embeddings.shape[0]:
            raise ValueError(f"{len(classnames)} class names for {embeddings.shape[0]} embedding rows; "
                             "expected one name per row")
        self.embeddings = embeddings
        self.classnames = tuple(classnames)
        self.tower = tower

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
        return ClassTexts(self.embeddings[rows], [self.classnames[i] for i in rows], self.tower)

    def __repr__(self):
        names = ", ".join(self.classnames[:3]) + (", ..." if len(self) > 3 else "")
        return f"ClassTexts({len(self)} classes: {names}; d={self.shape[1]}, tower={self.tower!r})"


def as_class_rows(T):
    """``T`` ready to be indexed by class: a :class:`ClassTexts` stays one (names and rows are
    sliced together), anything else becomes a float32 numpy array (C, d)."""
    return T if isinstance(T, ClassTexts) else np.asarray(T, dtype=np.float32)
