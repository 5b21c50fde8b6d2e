"""The paper's Figure 3: seconds per training step against the batch size, per method.

"Training speed" (Sec. 4.4) times one forward and backward pass of LLU, CLIP-Adapter, CoOp,
CoCoOp and ProGrad as the batch grows, at two numbers of classes. The adapters' cost grows with
the batch (every image passes the adapter) and hardly with the classes (class embeddings are
computed once); a prompt learner's cost grows with the classes (the text tower runs over every
class at every step) and hardly with the batch; CoCoOp runs the tower over every class *per
image*, which is why the paper has it at batch 1 only.

A step here is the real estimator's step (forward, backward, update): the time difference of
fits of ``1 + steps`` and of 1 epochs on exactly one batch, so set-up costs (clustering D,
tokenising the class names) cancel, as in ``benchmarks/bench_method.py``. End to end, as the
paper measures it, each step also passes the batch's images through the frozen image encoder
(no gradient flows into it): that forward pass is timed on random images of the encoder's input
size and added. Random images and random embeddings are enough: a timing does not depend on
the weights' values.
"""

import time

import numpy as np
import torch
from sklearn.base import clone

from ..estimators import (CLIPAdapterClassifier, CoCoOpClassifier, CoOpClassifier, KgCoOpClassifier, LLUClassifier,
                          ProGradClassifier)
from ..utils.progress import progress_bar

#: Figure 3's methods (plus KgCoOp) with their published settings; batch size and epochs are set per measurement.
METHODS = {"llu": LLUClassifier(), "clip_adapter": CLIPAdapterClassifier(), "coop": CoOpClassifier(),
           "cocoop": CoCoOpClassifier(), "prograd": ProGradClassifier(), "kgcoop": KgCoOpClassifier()}

#: Batch sizes at which CoCoOp is timed: the paper's Figure 3 has it at batch 1 only ("a batch
#: size bigger than one does not fit into memory").
COCOOP_BATCH_SIZES = (1,)
#: Attempts at a positive time difference in :func:`step_seconds`.
_RETRIES = 3


def best_seconds(function, repeats):
    """The smallest of ``repeats`` wall-clock times of ``function()`` (the least disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        if torch.cuda.is_initialized():  # GPU work is asynchronous: wait for it
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def step_seconds(estimator, X, y, T, batch_size, steps=None, repeats=1, warm_up=True):
    """Seconds of one training step of ``estimator`` on a batch of ``batch_size`` rows.

    Parameters
    ----------
    estimator : an unfitted trainable estimator of ``llu_core``
    X : array-like, shape (n, d); y : array-like of int, shape (n,); T : array-like or ClassTexts
        Training rows, repeated cyclically to fill the batch.
    batch_size, repeats : int
    steps : int, optional
        The step time is (fit of 1 + ``steps`` epochs − fit of 1 epoch) / ``steps``, each fit
        the best of ``repeats``. None: enough steps for about half a second of difference
        (1 to 50), so that cheap steps rise above the noise of a fit's set-up.
    warm_up : bool
        Fit once untimed first (lazy imports, the tower's tokenisation cache, the allocator).

    Returns
    -------
    float, seconds; 0 if the difference stayed negative (noise) after doubling the steps twice.
    """
    rows = np.resize(np.arange(len(y)), batch_size)
    X, y = np.asarray(X)[rows], np.asarray(y)[rows]
    model = clone(estimator).set_params(batch_size=batch_size)

    def fit(epochs):
        return best_seconds(lambda: clone(model).set_params(epochs=epochs).fit(X, y, T), repeats)

    if warm_up:
        fit(1)
    one = fit(1)
    steps = steps or int(np.clip(np.ceil(0.5 / max(one, 1e-3)), 1, 50))
    for _ in range(_RETRIES):  # a busy machine can drown a short difference: retry with twice the steps
        difference = fit(1 + steps) - one
        if difference > 0:
            return difference / steps
        steps *= 2
    return 0.0


def encode_seconds(backbone, batch_size, image_size=224, repeats=1):
    """Seconds of the frozen image encoder's forward pass on ``batch_size`` random images."""
    images = torch.rand(batch_size, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    backbone.encode_image(images[:1])  # warm-up
    return best_seconds(lambda: backbone.encode_image(images), repeats)


def measure_training_speed(X, y, T, batch_sizes, methods=None, backbone=None, image_size=224, steps=None,
                           repeats=1, progress=True):
    """Figure 3's measurements: per method and batch size, the seconds of a training step.

    Parameters
    ----------
    X, y, T :
        Training embeddings, labels and class texts (a ``ClassTexts`` for the prompt learners);
        ``len(T)`` is the number of classes of the measurement.
    batch_sizes : sequence of int
    methods : dict of str -> estimator, optional
        Default :data:`METHODS`. CoCoOp is timed only at :data:`COCOOP_BATCH_SIZES`.
    backbone : optional
        With a backbone, every step also includes its image encoder's forward pass on the batch
        (end to end, as the paper measures); without, the step starts from cached embeddings.
    image_size : int
        Side of the random images for the encoder.
    steps, repeats : int
        See :func:`step_seconds`.

    Returns
    -------
    list of dict
        ``method``, ``classes``, ``batch_size``, ``step_s`` (the method's step), ``encode_s``
        (the encoder's forward; 0 from cached embeddings) and ``total_s`` (their sum).
    """
    methods = METHODS if methods is None else methods
    runs = [(name, batch) for batch in batch_sizes for name in methods
            if name != "cocoop" or batch in COCOOP_BATCH_SIZES]
    encode = {batch: encode_seconds(backbone, batch, image_size, repeats) if backbone is not None else 0.0
              for batch in batch_sizes}
    records, warm = [], set()
    for name, batch in progress_bar(runs, show=progress, desc=f"steps, {len(T)} classes"):
        step = step_seconds(methods[name], X, y, T, batch, steps, repeats, warm_up=name not in warm)
        warm.add(name)
        records.append({"method": name, "classes": len(T), "batch_size": batch, "step_s": step,
                        "encode_s": encode[batch], "total_s": step + encode[batch]})
    return records
