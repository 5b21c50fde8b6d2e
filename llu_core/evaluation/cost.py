"""What a fit costs, measured side by side: its wall time, the numbers it learns, the size of
the model it leaves.

Times are wall seconds of ``fit`` on this machine with torch's threads as they are set: a
ratio between two methods measured back to back in one run is what to compare, not a number
from another run or another machine.
"""

import math
import tempfile
import time
from pathlib import Path

from sklearn.base import clone

from ..estimators.persistence import save_classifier
from ..utils.validation import check_integer
from .protocols import base_training_job

#: The fitted attributes that hold what each estimator learns from its shots: trained or solved
#: for. What it keeps of its input (the shots of a cache or a kernel, class texts, cluster
#: centres) is stored but not learned, and counts in the model's size only. Tip-Adapter's keys are
#: its training images, learned only by Tip-Adapter-F (``finetune=True``).
LEARNED = {
    "ZeroShotClassifier": (),
    "LLUClassifier": ("image_adapter_", "text_adapter_"),
    "CLIPAdapterClassifier": ("adapter_",),
    "TipAdapterClassifier": ("keys_",),
    "LinearProbeClassifier": ("coef_", "intercept_"),
    "GDAClassifier": ("coef_", "intercept_"),
    "ProKeRClassifier": ("dual_coef_",),
    "LPPlusPlusClassifier": ("visual_prototypes_", "bias_", "blending_"),
    "CLAPClassifier": ("prototypes_",),
}


def learned_numbers(model):
    """How many numbers a fitted model learned from its shots (:data:`LEARNED`).

    Parameters
    ----------
    model : a fitted estimator of :mod:`llu_core.estimators` named in :data:`LEARNED`.

    Returns
    -------
    int: the elements of its learned tensors and of its torch modules' parameters.
    """
    name = type(model).__name__
    if name not in LEARNED:
        raise ValueError(f"model is a {name}; learned_numbers knows {sorted(LEARNED)}")
    attributes = LEARNED[name]
    if name == "TipAdapterClassifier" and not model.finetune:
        attributes = ()
    total = 0
    for attribute in attributes:
        value = getattr(model, attribute)
        parameters = value.parameters() if hasattr(value, "parameters") else [value]
        total += sum(int(tensor.numel()) for tensor in parameters)
    return total


def model_bytes(model):
    """The size in bytes of the file :func:`~llu_core.estimators.persistence.save_classifier`
    writes for a fitted model: everything it needs to score, learned or kept."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        save_classifier(model, path)
        return path.stat().st_size


def fit_costs(methods, X, y, T, repeats=1):
    """Fit every method on the same shots, one after the other, and measure what each fit costs.

    Parameters
    ----------
    methods : dict of str -> estimator
        Unfitted estimators named in :data:`LEARNED` (each fit is of a fresh clone).
    X : array-like, shape (n, d)
        The shots' image embeddings.
    y : array-like of int, shape (n,)
        Their labels into the rows of ``T``.
    T : array-like, shape (C, d)
        The class embeddings.
    repeats : int
        Fits per method; the fastest is kept (the least disturbed by other work on the machine).

    Returns
    -------
    list of dict, one per method in the order given: ``method``, ``fit_s`` (wall seconds of the
    fastest fit), ``learned`` (:func:`learned_numbers`) and ``model_bytes`` (:func:`model_bytes`).
    """
    check_integer("repeats", repeats)
    unknown = sorted(name for name, method in methods.items() if type(method).__name__ not in LEARNED)
    if unknown:
        raise ValueError(f"methods {unknown} are not estimators that fit_costs knows: {sorted(LEARNED)}")
    records = []
    for name, method in methods.items():
        best, model = math.inf, None
        for _ in range(int(repeats)):
            model = clone(method)
            start = time.perf_counter()
            model.fit(X, y, T)
            best = min(best, time.perf_counter() - start)
        records.append({"method": name, "fit_s": best, "learned": learned_numbers(model),
                        "model_bytes": model_bytes(model)})
    return records


def base_fit_costs(methods, data, shots, seed, repeats=1):
    """:func:`fit_costs` on the training set that base-to-new fits: ``shots`` of every base class.

    Parameters
    ----------
    methods : dict of str -> estimator
        As for :func:`fit_costs`.
    data : embedded data set
        With ``train_X``, ``train_y`` and ``text`` (:func:`llu_core.data.embedded.embed_dataset`).
    shots, seed : int
        The few-shot sample (:func:`~llu_core.evaluation.protocols.base_training_job`).
    repeats : int
        As for :func:`fit_costs`.

    Returns
    -------
    list of dict: :func:`fit_costs`' records, each with ``ratio_to_llu`` added: its fit time over
    that of ``"llu"`` when ``methods`` has it (else NaN).
    """
    first = next(iter(methods.values()), None)
    if first is None:
        raise ValueError("methods is empty; expected at least one estimator")
    _, X, y, T = base_training_job(first, data.train_X, data.train_y, data.text, shots, seed)
    records = fit_costs(methods, X, y, T, repeats=repeats)
    reference = next((r["fit_s"] for r in records if r["method"] == "llu"), math.nan)
    for record in records:
        record["ratio_to_llu"] = record["fit_s"] / reference
    return records
