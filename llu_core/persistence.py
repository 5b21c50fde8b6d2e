"""Save and load fitted classifiers: one safetensors file, never pickle.

The file holds the fitted tensors (adapter weights, centres, cache, probe coefficients, learned
context) and, in its header metadata under ``"llu_core"``, a JSON document with the class name,
the hyperparameters (``get_params()``) and the fitted scalars (e.g. ``identity_distance_``,
``loss_history_``). It is written atomically (:func:`llu_core.io.write_tensors`).
"""

import json

import torch
from safetensors import safe_open

from . import classifiers, prompt_learners
from .io import write_tensors
from .validation import default_device

_HEADER_KEY = "llu_core"
_FORMAT_VERSION = 1

# Per class: fitted tensors stored as such, and fitted plain values stored in the JSON.
_FITTED = {
    "ZeroShotClassifier": ((), ("dim_",)),
    "LLUClassifier": (("image_adapter_", "text_adapter_", "image_centres_", "text_centres_"),
                      ("dim_", "identity_distance_", "loss_history_", "n_epochs_")),
    "CLIPAdapterClassifier": (("adapter_",), ("dim_", "loss_history_", "n_epochs_")),
    "TipAdapterClassifier": (("keys_", "values_", "class_embeddings_"), ("dim_", "loss_history_")),
    "LinearProbeClassifier": (("coef_", "intercept_", "class_embeddings_"), ("dim_",)),
    **{name: (("context_", *modules), ("dim_", "ctx_dim_", "tower_key_", "loss_history_", "n_epochs_"))
       for name, modules in (("CoOpClassifier", ()), ("CoCoOpClassifier", ("meta_net_",)),
                             ("ProGradClassifier", ()), ("KgCoOpClassifier", ()))},
}


def _estimator_class(name):
    """The estimator class called ``name`` (an adapter-style classifier or a prompt learner)."""
    return getattr(classifiers, name, None) or getattr(prompt_learners, name)


def save_classifier(clf, path):
    """Write the fitted classifier ``clf`` to ``path`` (a ``.safetensors`` file), atomically."""
    name = type(clf).__name__
    if name not in _FITTED:
        raise ValueError(f"cannot save a {name}; expected one of {sorted(_FITTED)}")
    tensor_names, value_names = _FITTED[name]
    classifiers.check_is_fitted(clf, "dim_")
    tensors = {}
    for attribute in tensor_names:
        value = getattr(clf, attribute)
        if isinstance(value, torch.nn.Module):
            tensors.update({f"{attribute}.{key}": tensor for key, tensor in value.state_dict().items()})
        else:
            tensors[attribute] = value
    header = {"format": _FORMAT_VERSION, "class": name, "params": clf.get_params(),
              "fitted": {attribute: getattr(clf, attribute) for attribute in value_names}}
    write_tensors(path, tensors, metadata={_HEADER_KEY: json.dumps(header, default=str)})


def load_classifier(path, device=None):
    """Read a classifier written by :func:`save_classifier`; it scores exactly as the saved one.

    ``device`` overrides where the loaded model computes (default: the saved ``device``
    hyperparameter, i.e. CUDA when available for ``None``).
    """
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
        if _HEADER_KEY not in metadata:
            raise ValueError(f"{path} is not a classifier saved by llu_core (no '{_HEADER_KEY}' header)")
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    header = json.loads(metadata[_HEADER_KEY])
    clf = _estimator_class(header["class"])(**header["params"])
    for attribute, value in header["fitted"].items():
        setattr(clf, attribute, value)
    clf.device_ = default_device(device or header["params"].get("device"))
    clf._build_modules()
    for attribute in _FITTED[header["class"]][0]:
        value = getattr(clf, attribute, None)
        if isinstance(value, torch.nn.Module):
            prefix = f"{attribute}."
            value.load_state_dict({key[len(prefix):]: t for key, t in tensors.items() if key.startswith(prefix)})
            value.to(clf.device_)
        else:
            setattr(clf, attribute, tensors[attribute].to(clf.device_))
    return clf
