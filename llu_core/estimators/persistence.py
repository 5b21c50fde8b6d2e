"""Save and load fitted classifiers: one safetensors file, never pickle, checked on every load.

The file holds the fitted tensors (adapter weights, centres, cache, probe coefficients, learned
context) and,
in its header metadata under ``"llu_core"``, a JSON document with the format version, the
class name, the hyperparameters (``get_params()``, numpy scalars stored as plain numbers)
and the fitted scalars (e.g. ``identity_distance_``, ``loss_history_``); ``"checksum"`` is a
SHA-256 of that document and every tensor. It is written atomically
(:func:`llu_core.utils.io.write_tensors`).

Loading reads the file's bytes once (:func:`llu_core.utils.io.read_tensors`) and trusts
nothing in them: it verifies the format version and the checksum of what was read, builds
only the project's estimators, re-runs the hyperparameter checks of ``fit``, compares
every tensor's name, dtype and shape with what the header's ``dim_`` implies *before*
building any tensor, and refuses non-finite values. The loaded model's tensors are its own
memory: copying another model over the file, or truncating it, changes nothing in a model
already loaded. Every failure is a ``ValueError`` that names the file and the problem (a
missing file: ``FileNotFoundError``; one the system refuses to open: ``PermissionError``).

A model is fitted on embeddings made with some ``image_centre`` (the mean feature subtracted
by :func:`llu_core.data.embedded.embed_dataset`); test embeddings centred differently are scored
wrongly without any visible sign. Pass ``image_centre=`` to :func:`save_classifier` to keep it
with the model (the loaded model's ``image_centre_``), and to :func:`load_classifier` to check
that new embeddings were made with the same one.

The same holds for the backbone that made the embeddings, and a model on its own does not say
which classes its scores are for. ``save_classifier(..., classnames=, templates=, backbone=)``
keeps the class names and prompt templates (``classnames_``, ``templates_`` after loading) and the
backbone's identity (``backbone_``: its ``cache_key``, description and the arguments that load it
again); ``load_classifier(path, backbone=...)`` and :func:`check_backbone` refuse a backbone
whose ``cache_key`` differs.
"""

import json
import numbers

import numpy as np
import torch
from ..utils.io import checksum, parse_json, read_tensors, target_path, write_tensors
from ..utils.validation import check_is_fitted, default_device
from .baselines import CLIPAdapterClassifier, LinearProbeClassifier, TipAdapterClassifier, ZeroShotClassifier
from .clap import CLAPClassifier
from .gda import GDAClassifier
from .layouts import FITTED, expected_shapes
from .llu import LLUClassifier
from .lp_plus_plus import LPPlusPlusClassifier
from .multi import MultiLLUClassifier
from .prompt_learners import CoCoOpClassifier, CoOpClassifier, KgCoOpClassifier, ProGradClassifier
from .proker import ProKeRClassifier

_HEADER_KEY = "llu_core"
_CHECKSUM_KEY = "checksum"
#: Version 2 added the checksum; version 1 files are refused (refit and save again).
_FORMAT_VERSION = 2
_IMAGE_CENTRE = "image_centre"

#: The classes a file may ask for: the project's estimators, nothing else.
_CLASSES = {cls.__name__: cls for cls in (ZeroShotClassifier, LLUClassifier, CLIPAdapterClassifier,
                                          TipAdapterClassifier, LinearProbeClassifier, CoOpClassifier,
                                          CoCoOpClassifier, ProGradClassifier, KgCoOpClassifier, GDAClassifier,
                                          ProKeRClassifier, LPPlusPlusClassifier, CLAPClassifier,
                                          MultiLLUClassifier)}

def _plain(value, name):
    """``value`` as JSON data: numpy scalars become Python numbers, a torch device its string."""
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(item, name) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"cannot save {name}={value!r}: a {type(value).__name__} is not a number, string or None")


def _fitted_tensors(clf, tensor_names):
    tensors = {}
    for attribute in tensor_names:
        value = getattr(clf, attribute)
        if isinstance(value, torch.nn.Module):
            tensors.update({f"{attribute}.{key}": tensor for key, tensor in value.state_dict().items()})
        else:
            tensors[attribute] = value
    return tensors


def _as_centre(image_centre):
    centre = torch.as_tensor(np.asarray(image_centre, dtype=np.float32)).reshape(-1)
    if centre.numel() == 0 or not torch.isfinite(centre).all():
        raise ValueError("image_centre must be a non-empty 1-D array of finite numbers (the mean feature "
                         "subtracted before normalisation, EmbeddedDataset.image_centre)")
    return centre


def _description(classnames, templates, backbone):
    """The header's record of what the model scores: class names, templates, the backbone's identity."""
    described = {}
    if classnames is not None:
        classnames = [str(name) for name in classnames]
        if not classnames or len(set(classnames)) != len(classnames):
            raise ValueError("classnames must be a non-empty list of distinct class names")
        described["classnames"] = classnames
    if templates is not None:
        templates = [str(template) for template in templates]
        if not templates or not all(template.count("{}") == 1 for template in templates):
            raise ValueError("templates must be a non-empty list of strings with exactly one '{}'")
        described["templates"] = templates
    if backbone is not None:
        origin = getattr(backbone, "origin", None) or {"name": None, "pretrained": None}
        described["backbone"] = {"cache_key": str(backbone.cache_key), "description": str(backbone.name),
                                 "name": origin["name"], "pretrained": origin["pretrained"]}
    return described


def _record(clf):
    """The header entries (class, hyperparameters, fitted values) and the tensors of a fitted estimator."""
    name = type(clf).__name__
    check_is_fitted(clf, "dim_")
    clf._check_params()
    tensor_names, value_names = FITTED[name]
    tensors = _fitted_tensors(clf, tensor_names)
    record = {"class": name, "params": {key: _plain(value, key) for key, value in clf.get_params().items()},
              "fitted": {attribute: _plain(getattr(clf, attribute), attribute) for attribute in value_names}}
    if name == "MultiLLUClassifier":
        record["updates"] = []
        for i, (dataset, update) in enumerate(clf.updates_.items()):
            part, own = _record(update)
            texts = clf.texts_[dataset]
            record["updates"].append({**part, "name": dataset, "classnames": list(texts.classnames)})
            tensors.update({f"updates.{i}.{key}": tensor for key, tensor in own.items()})
            tensors[f"updates.{i}.texts"] = torch.from_numpy(texts.embeddings)
    return record, tensors


def fitted_class_count(clf):
    """The number of classes ``clf`` was fitted on, where it keeps them, else None: a model saved with
    fewer class names is refused (a class it scores would have none).

    Estimators that score their own classes keep their embeddings (``class_embeddings_``); LLU
    keeps the class texts themselves as D_text when they were fewer than its clusters.
    """
    embeddings = getattr(clf, "class_embeddings_", None)
    if embeddings is not None:
        return int(embeddings.shape[0])
    if isinstance(clf, LLUClassifier) and clf.mask != "global":
        rows = int(clf.text_centres_.shape[0])
        return rows if clf.n_clusters is None or rows < clf.n_clusters else None
    return None


def save_classifier(clf, path, image_centre=None, classnames=None, templates=None, backbone=None):
    """Write the fitted classifier ``clf`` to ``path`` (a ``.safetensors`` file), atomically.

    A :class:`~llu_core.estimators.multi.MultiLLUClassifier` is stored with every update (its
    LLU's record and tensors, its data set's name, class names and class texts), in order.

    Parameters
    ----------
    clf : a fitted estimator of :mod:`llu_core.estimators`
    path : str or Path
        The file to write (``~`` is expanded; a folder is refused).
    image_centre : array-like, shape (m,), optional
        The centre the training embeddings were made with (``EmbeddedDataset.image_centre``),
        kept with the model so that :func:`load_classifier` can check new embeddings.
    classnames, templates : list of str, optional
        The classes the model was fitted for (in label order) and their prompt templates
        (``EmbeddedDataset.classnames``, ``.templates``): the loaded model's ``classnames_`` and
        ``templates_``, from which the class embeddings to score against are made again.
    backbone : backbone object, optional
        The backbone of the embeddings (:func:`llu_core.load_backbone`): its identity is kept as
        the loaded model's ``backbone_`` and checked by :func:`check_backbone`.
    """
    name = type(clf).__name__
    if name not in _CLASSES or type(clf) is not _CLASSES[name]:
        raise ValueError(f"cannot save a {name}; expected one of {sorted(_CLASSES)}")
    path = target_path(path)
    record, tensors = _record(clf)
    count = fitted_class_count(clf)
    if classnames is not None and count is not None and len(list(classnames)) < count:
        raise ValueError(f"classnames has {len(list(classnames))} name(s); the {name} was fitted on {count} classes, "
                         "each needs its name")
    tensors = {key: tensor.detach().to("cpu", torch.float32).contiguous() for key, tensor in tensors.items()}
    if image_centre is not None:
        tensors[_IMAGE_CENTRE] = _as_centre(image_centre)
    for key, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise ValueError(f"cannot save this {name}: its {key} has NaN or infinite entries")
    header = {"format": _FORMAT_VERSION, **record, **_description(classnames, templates, backbone)}
    text = json.dumps(header, sort_keys=True)
    write_tensors(path, tensors, metadata={_HEADER_KEY: text,
                                           _CHECKSUM_KEY: checksum(text, *(tensors[k] for k in sorted(tensors)))})


def _read_header(metadata, path):
    """The JSON header of a file's metadata, checked: format, class, names; with its text and checksum."""
    if _HEADER_KEY not in metadata:
        raise ValueError(f"{path} is not a classifier saved by llu_core (no '{_HEADER_KEY}' header)")
    header = parse_json(metadata[_HEADER_KEY], f"{path}: the '{_HEADER_KEY}' header")
    if not isinstance(header, dict) or header.get("format") != _FORMAT_VERSION:
        version = header.get("format") if isinstance(header, dict) else None
        raise ValueError(f"{path} has format version {version!r}; this llu_core reads version {_FORMAT_VERSION} "
                         "only (refit the model and save it again)")
    name = header.get("class")
    if name not in _CLASSES:
        raise ValueError(f"{path} asks for class {name!r}; only {sorted(_CLASSES)} can be loaded")
    _check_record(header, path)
    if name == "MultiLLUClassifier":
        updates = header.get("updates")
        if not isinstance(updates, list) or not updates:
            raise ValueError(f"{path}: a MultiLLUClassifier holds a non-empty list of updates")
        for update in updates:
            if not isinstance(update, dict) or update.get("class") != "LLUClassifier" \
                    or not isinstance(update.get("name"), str) or not isinstance(update.get("classnames"), list):
                raise ValueError(f"{path}: every update of a MultiLLUClassifier is an LLUClassifier record with its "
                                 "data set's name and class names")
            _check_record(update, path)
            _check_fitted_values(update["fitted"], path)
    try:
        _description(header.get("classnames"), header.get("templates"), None)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    backbone = header.get("backbone")
    if backbone is not None and not (isinstance(backbone, dict) and isinstance(backbone.get("cache_key"), str)
                                     and isinstance(backbone.get("description"), str)):
        raise ValueError(f"{path}: the backbone record must hold a cache_key and a description")
    return header, metadata[_HEADER_KEY], metadata.get(_CHECKSUM_KEY)


def _check_record(record, path):
    """The hyperparameters and fitted values of a record are exactly those of its class."""
    name, params, fitted = record["class"], record.get("params"), record.get("fitted")
    expected_params = set(_CLASSES[name]._get_param_names())
    if not isinstance(params, dict) or set(params) != expected_params:
        raise ValueError(f"{path}: the hyperparameters of a {name} must be exactly {sorted(expected_params)}")
    if not isinstance(fitted, dict) or set(fitted) != set(FITTED[name][1]):
        raise ValueError(f"{path}: the fitted values of a {name} must be exactly {sorted(FITTED[name][1])}")


def _check_fitted_values(fitted, path):
    """The JSON-stored fitted values: a positive integer dimension, finite numbers."""
    def is_number(value):
        return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)

    checks = {"dim_": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
              "n_epochs_": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
              "identity_distance_": lambda v: is_number(v) and v >= 0,
              "alpha_": lambda v: is_number(v) and v >= 0,
              "beta_": lambda v: is_number(v) and v >= 0,
              "lam_": lambda v: is_number(v) and v > 0,
              "prototype_step_": lambda v: is_number(v) and v > 0,
              "blending_step_": lambda v: is_number(v) and v > 0,
              "loss_history_": lambda v: isinstance(v, list) and all(is_number(item) for item in v),
              "ctx_dim_": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
              "tower_key_": lambda v: isinstance(v, str) and bool(v)}
    for attribute, value in fitted.items():
        if not checks[attribute](value):
            raise ValueError(f"{path}: the fitted value {attribute}={value!r} is not valid")


def _check_shapes(layout, path, header):
    """Compare every stored tensor (``layout``: name -> (dtype, shape)) with the shapes the header implies."""
    name, d = header["class"], header["fitted"]["dim_"]
    expected = expected_shapes(name, header["params"], d, header.get("updates", ()))
    stored = set(layout) - {_IMAGE_CENTRE}
    if stored != set(expected):
        raise ValueError(f"{path}: a {name} stores the tensors {sorted(expected)}, this file holds {sorted(stored)}")
    sizes = {}
    for key, shape in expected.items():
        dtype, actual = layout[key]
        agrees = len(actual) == len(shape) and all(
            size == want if isinstance(want, int) else sizes.setdefault(want, size) == size
            for size, want in zip(actual, shape))
        if dtype != "F32" or not agrees:
            raise ValueError(f"{path}: tensor {key} is {dtype} of shape {list(actual)}; a {name} of "
                             f"dimension {d} needs F32 of shape {list(shape)}")
    if name == "LinearProbeClassifier" and sizes["k"] != (1 if sizes["K"] == 2 else sizes["K"]):
        raise ValueError(f"{path}: coef_ has {sizes['k']} row(s) for {sizes['K']} classes")
    llus = {"LLUClassifier": [("", header)], "MultiLLUClassifier": list(enumerate(header.get("updates", ())))}
    for i, update in llus.get(name, []):
        mask = update["params"]["mask"]
        if mask != "global" and min(sizes[f"{i}k"], sizes[f"{i}m"]) == 0:
            raise ValueError(f"{path}: the {mask} mask needs image and text centres, one is empty")
        if i != "" and sizes[f"{i}C"] != len(update["classnames"]):
            raise ValueError(f"{path}: update {update['name']!r} has {sizes[f'{i}C']} class texts for "
                             f"{len(update['classnames'])} class names")
    if _IMAGE_CENTRE in layout:
        dtype, shape = layout[_IMAGE_CENTRE]
        if dtype != "F32" or len(shape) != 1:
            raise ValueError(f"{path}: {_IMAGE_CENTRE} must be a 1-D F32 tensor")


def load_classifier(path, device=None, image_centre=None, backbone=None):
    """Read a classifier written by :func:`save_classifier`; it scores exactly as the saved one.

    Parameters
    ----------
    path : str or Path
        The file (``~`` is expanded).
    device : str or torch.device, optional
        Where the loaded model computes (default: the saved ``device`` hyperparameter, i.e.
        CUDA when available for ``None``).
    image_centre : array-like, shape (m,), optional
        The centre the embeddings to be scored were made with: compared with the one saved
        with the model, a mismatch raises ``ValueError``.
    backbone : backbone object, optional
        The backbone the embeddings to be scored are made with: checked by :func:`check_backbone`.

    Returns
    -------
    The fitted estimator; its ``image_centre_`` is the saved centre (numpy float32) or None, its
    ``classnames_``, ``templates_`` and ``backbone_`` what :func:`save_classifier` was given (or None).

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    PermissionError
        When the system refuses to open it.
    ValueError
        When the file is not a regular file, not a complete, unmodified classifier of a
        supported format, when a value in it is invalid, or when ``image_centre`` differs
        from the saved one.
    """
    path = target_path(path)
    stored = read_tensors(path, "model file")
    header, text, stored_checksum = _read_header(stored.metadata, path)
    name = header["class"]
    clf = _CLASSES[name](**header["params"])
    try:  # the checks of fit, before any size in the file is believed
        clf._check_params()
        clf.device_ = default_device(device if device is not None else header["params"].get("device"))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    _check_fitted_values(header["fitted"], path)
    _check_shapes(stored.layout, path, header)
    tensors = stored.tensors()
    if stored_checksum != checksum(text, *(tensors[k] for k in sorted(tensors))):
        raise ValueError(f"{path}: the checksum does not match; the file was modified or damaged")
    for key, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise ValueError(f"{path}: tensor {key} has NaN or infinite entries")
    saved_centre = tensors.pop(_IMAGE_CENTRE, None)
    clf.image_centre_ = None if saved_centre is None else saved_centre.numpy()
    if image_centre is not None:
        _compare_centres(path, saved_centre, _as_centre(image_centre))
    for attribute in ("classnames", "templates", "backbone"):
        setattr(clf, f"{attribute}_", header.get(attribute))
    if backbone is not None:
        try:
            check_backbone(clf, backbone)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    if name != "MultiLLUClassifier":
        return _restore(clf, header["fitted"], tensors)
    for i, update in enumerate(header["updates"]):
        prefix = f"updates.{i}."
        own = {key[len(prefix):]: tensor for key, tensor in tensors.items() if key.startswith(prefix)}
        llu = LLUClassifier(**update["params"])
        try:  # the checks of fit and of add: a file is trusted no more than a caller
            llu._check_params()
            llu.device_ = clf.device_
            clf.add(_restore(llu, update["fitted"], own), update["name"], own["texts"].numpy(), update["classnames"])
        except ValueError as error:
            raise ValueError(f"{path}: update {update['name']!r}: {error}") from None
    return clf


def _restore(clf, fitted, tensors):
    """``clf`` (built with its hyperparameters, its ``device_`` set) with its fitted values and tensors."""
    for attribute, value in fitted.items():
        setattr(clf, attribute, value)
    clf._build_modules()
    for attribute in FITTED[type(clf).__name__][0]:
        value = getattr(clf, attribute, None)
        if isinstance(value, torch.nn.Module):
            prefix = f"{attribute}."
            value.load_state_dict({key[len(prefix):]: t for key, t in tensors.items() if key.startswith(prefix)})
            value.to(clf.device_)
        else:
            setattr(clf, attribute, tensors[attribute].to(clf.device_))
    return clf


def _compare_centres(path, saved, given):
    if saved is None:
        raise ValueError(f"{path} holds no image centre to compare image_centre with; save the model with "
                         "save_classifier(..., image_centre=...)")
    if saved.shape != given.shape or not torch.allclose(saved, given, rtol=1e-5, atol=1e-6 * float(saved.abs().max())):
        raise ValueError(f"image_centre differs from the centre saved with the model in {path}: the embeddings were "
                         "centred differently from the training embeddings; embed them with the saved centre "
                         "(the loaded model's image_centre_)")


def check_backbone(clf, backbone):
    """Raise ``ValueError`` unless ``backbone`` is the backbone ``clf`` was saved with.

    Parameters
    ----------
    clf : a model from :func:`load_classifier`
    backbone : backbone object
        Compared by ``cache_key``, which changes with the weights and the preprocessing.
    """
    saved = getattr(clf, "backbone_", None)
    if saved is None:
        raise ValueError("the model holds no backbone identity to compare with; save it with "
                         "save_classifier(..., backbone=...)")
    if saved["cache_key"] != backbone.cache_key:
        again = (f"load_backbone({saved['name']!r}, pretrained={saved['pretrained']!r})" if saved.get("name")
                 else "the backbone it was fitted with")
        raise ValueError(f"the model was fitted on embeddings of another backbone: {saved['description']} "
                         f"({saved['cache_key']}), not {backbone.name} ({backbone.cache_key}); its scores would be "
                         f"meaningless. Use {again}")
