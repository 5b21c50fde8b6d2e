"""Your own images, end to end: fit LLU on a folder of images and classify new images with it.

:func:`fit_image_folder` (``python -m llu_core fit``) embeds a folder with one sub-folder per class
(:mod:`llu_core.data.folders`), fits LLU with the paper's hyperparameters on ``shots`` images of
every class, scores zero-shot CLIP and LLU on the images held out, measures the embedding geometry
the local mask sees (:func:`~llu_core.evaluation.geometry.embedding_statistics`) with the γ that
suits it (:func:`~llu_core.evaluation.geometry.suggest_gamma`), and saves the model with its
class names, prompt template, image centre and backbone. Classes can be held out of the fit
(``hold_out_classes``): the model never sees them, and they are scored as new classes.
:func:`predict_images` (``python -m llu_core predict``) loads such a model with its backbone,
refuses another backbone, and gives every readable image its most probable class, among the
model's classes and any new ones named at prediction time (``classes``): their text embeddings
come from the saved backbone's text tower, and LLU's local mask (Eq. 5) leaves them, far from
the training texts D_text, nearly as zero-shot CLIP has them.

Every argument is checked before anything is loaded or embedded: the folder and class file, the
model file to write (:func:`llu_core.utils.io.check_writable`), shots, seed and γ, the backbone
and its weights (:func:`llu_core.backbones.factory.check_backbone_arguments`) and the device.
"""

import copy
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..backbones import OFFLINE, load_backbone
from ..backbones.factory import check_backbone_arguments
from ..data.datasets import load_dataset
from ..data.embedded import embed_dataset
from ..data.features import encode_images, extract_text_features
from ..data.labelled import ImageFiles
from ..estimators.baselines import ZeroShotClassifier
from ..estimators.llu import LLUClassifier
from ..estimators.persistence import check_backbone, load_classifier, save_classifier
from ..method.defaults import BETA, GAMMA, LAM, N_CLUSTERS
from ..utils.io import check_writable
from ..utils.records import shown
from ..utils.validation import check_distinct_classes, check_in_range, check_seed, default_device
from .geometry import CLIP_TYPICAL_DISTANCE, CLIP_VIT_B32, embedding_statistics, suggest_gamma
from .protocols import base_new_split, check_shots, hold_out_shots


#: The suffix of a model file.
MODEL_SUFFIX = ".safetensors"


@dataclass
class FolderFit:
    """What :func:`fit_image_folder` did and measured; accuracies are percentages of the held-out images.

    ``zero_shot`` and ``llu`` are measured on the trained classes' images held out, ``zero_shot_new``
    and ``llu_new`` on every image of the classes held out of the fit (None without such
    classes); with held-out classes, every image is scored among all classes of the folder.
    """

    folder: str
    model_path: str
    backbone: str
    classnames: list
    shots: int
    seed: int
    n_fitted: int
    n_held_out: int
    gamma: float
    zero_shot: float
    llu: float
    statistics: dict
    suggested_gamma: float
    held_out_classes: list = field(default_factory=list)
    n_new: int = 0
    zero_shot_new: float = None
    llu_new: float = None

    def summary(self):
        """The report ``python -m llu_core fit`` prints (names that are not printable are escaped)."""
        s, clip = self.statistics, CLIP_VIT_B32
        base, _ = base_new_split(np.arange(len(self.classnames)))

        def pair(key_base, key_new, digits=3):
            return f"{s[key_base]:.{digits}f} / {s[key_new]:.{digits}f}"

        def clip_range(key):
            low, high = clip[key]
            return f"{low:g}" if low == high else f"{low:g}-{high:g}"

        def names(classes):
            return ", ".join(map(shown, classes))

        among = f" (scored among all {len(self.classnames) + len(self.held_out_classes)} classes)"
        lines = [
            f"{shown(self.folder)}: {len(self.classnames)} classes ({names(self.classnames)}); backbone "
            f"{shown(self.backbone)}",
            *([f"held out of the fit: {len(self.held_out_classes)} class{'es' if len(self.held_out_classes) > 1 else ''} "
               f"({names(self.held_out_classes)}), "
               f"{self.n_new} images"] if self.held_out_classes else []),
            f"fitted LLU (β = {BETA:g}, γ = {self.gamma:g}, λ = {LAM:g}, at most {N_CLUSTERS} clusters) on "
            f"{self.shots} images per class (seed {self.seed}): {self.n_fitted} images; {self.n_held_out} held out",
            f"held-out accuracy: zero-shot {self.zero_shot:.1f} %, LLU {self.llu:.1f} %"
            + (among if self.held_out_classes else ""),
            *([f"accuracy on the classes held out of the fit: zero-shot {self.zero_shot_new:.1f} %, LLU "
               f"{self.llu_new:.1f} %{among}"] if self.held_out_classes else []),
            f"embedding statistics (classes split as in base-to-new: base = the first {base.size}), "
            "here | CLIP ViT-B/32:",
            f"  median distance 1 − xᵀd of a test image to D, base / new classes: "
            f"{pair('median_distance_base', 'median_distance_new')} | "
            f"{clip_range('median_distance_base')} / {clip_range('median_distance_new')}",
            f"  mean α (β = {BETA:g}, γ = {self.gamma:g}), base / new classes: "
            f"{pair('mean_alpha_base', 'mean_alpha_new')} | "
            f"{clip_range('mean_alpha_base')} / {clip_range('mean_alpha_new')} (at γ = 20)",
            f"  mean cosine between two images, two class texts: {s['mean_cosine_images']:.2f}, "
            f"{s['mean_cosine_texts']:.2f} | {clip_range('mean_cosine_images')}, {clip_range('mean_cosine_texts')}",
            f"  cosine of an image with its class text / other class texts: "
            f"{pair('cosine_own_text', 'cosine_other_texts', 2)} | "
            f"{clip_range('cosine_own_text')} / {clip_range('cosine_other_texts')}",
            f"suggested γ for this backbone: {self.suggested_gamma:.1f} (the paper's {GAMMA:g} is tuned to CLIP's "
            f"typical distance {CLIP_TYPICAL_DISTANCE:.3f}; fit with --gamma {self.suggested_gamma:.1f} to use it)",
            f"saved the model to {shown(self.model_path)} (with its class names, prompt template, image centre and "
            "backbone)",
        ]
        return "\n".join(lines)


def _check_model_path(out):
    out = check_writable(out, "out")
    if out.suffix.lower() != MODEL_SUFFIX:
        raise ValueError(f"out {out} must name a {MODEL_SUFFIX} file (a model file is written there; an existing "
                         "file of another kind would be replaced)")
    return out


def _held_out_rows(images, hold_out_classes):
    """Labels of the classes to hold out of the fit, from their folder or class names (checked)."""
    if hold_out_classes is None:
        return []
    if isinstance(hold_out_classes, str):
        raise ValueError(f"hold_out_classes must be a list of class names, got the string {hold_out_classes!r}")
    first = [int(np.flatnonzero(images.labels == label)[0]) for label in range(len(images.classnames))]
    paths = getattr(images, "paths", None)
    folders = [paths[row].split("/")[0] for row in first] if paths is not None else list(images.classnames)
    labels = []
    for name in hold_out_classes:
        if name not in folders and name not in images.classnames:
            raise ValueError(f"hold_out_classes: {name!r} is not a class of {images.name}; its classes are "
                             f"{', '.join(map(repr, folders))}")
        label = folders.index(name) if name in folders else images.classnames.index(name)
        if label in labels:
            raise ValueError(f"hold_out_classes names class {name!r} twice")
        labels.append(label)
    if len(folders) - len(labels) < 2:
        raise ValueError(f"hold_out_classes leaves {len(folders) - len(labels)} class(es) to fit on; LLU needs at "
                         "least two")
    return sorted(labels)


def _split_classes(data, held):
    """``data`` (a pool) as the trained classes' pool (labels renumbered) and the held-out classes' rows."""
    labels = np.asarray(data.train_y)
    trained = [label for label in range(len(data.classnames)) if label not in held]
    order = np.array(trained + held)  # old label of each new one: trained classes first
    renumber = np.argsort(order)
    fitted = copy.copy(data)
    rows = np.isin(labels, trained)
    fitted.train_X, fitted.train_y = data.train_X[rows], renumber[labels[rows]]
    fitted.classnames, fitted.text = [data.classnames[k] for k in trained], data.text[np.array(trained)]
    new_rows = ~rows
    return fitted, data.train_X[new_rows], renumber[labels[new_rows]], data.text[order]


def fit_image_folder(folder, out, backbone=None, pretrained=None, shots=16, seed=1, classes_file=None, gamma=None,
                     device=None, progress=True, hold_out_classes=None):
    """Fit LLU on ``shots`` images of every class of an image folder, evaluate it on the rest, save it.

    Parameters
    ----------
    folder : str or Path
        One sub-folder of images per class (:func:`llu_core.data.folders.load_image_folder`).
    out : str or Path
        The model file to write (``.safetensors``, :func:`llu_core.save_classifier`).
    backbone, pretrained : str, optional
        For :func:`llu_core.load_backbone` (default: the offline model).
    shots, seed : int
        Images per class to fit on, and the seed that draws them and trains
        (:func:`llu_core.evaluation.protocols.hold_out_shots`); every class needs more images.
    classes_file : str or Path, optional
        The class names put in the prompts (default ``folder/classnames.txt`` when present).
    gamma : float, optional
        γ of the local mask (default: the paper's 20); the result suggests one for the backbone.
    device : str, optional
        Where to embed and fit (default: CUDA when available).
    progress : bool
        Show the embedding's progress bar.
    hold_out_classes : list of str, optional
        Classes (folder or class names) left out of the fit and scored as new classes, among all
        classes; the saved model holds the other classes only.

    Returns
    -------
    FolderFit

    Raises
    ------
    ValueError, FileNotFoundError, OSError
        For an argument that cannot work, before anything is loaded: the message names it.
    """
    if folder is None or isinstance(folder, str) and not folder.strip():
        raise ValueError(f"folder must be the path of a folder with one sub-folder of images per class, got {folder!r}")
    out = _check_model_path(out)
    if gamma is not None:
        check_in_range("gamma", gamma, low=0.0)
    check_seed(seed)
    check_backbone_arguments(backbone or OFFLINE, pretrained)
    default_device(device)
    images = load_dataset(folder, "train", classes_file=classes_file)  # the folder's own checks, before anything loads
    folder = Path(folder)
    held = _held_out_rows(images, hold_out_classes)
    kept = [label for label in range(len(images.classnames)) if label not in held]
    labels = images.labels[np.isin(images.labels, kept)]
    check_shots(np.searchsorted(kept, labels), [images.classnames[k] for k in kept], shots,
                hold_out="test" not in images.resolved.splits)
    model = load_backbone(backbone or OFFLINE, pretrained=pretrained, device=device)
    pool = embed_dataset(model, images.resolved, progress=progress)
    pool, new_X, new_y, every_text = _split_classes(pool, held) if held else (pool, None, None, None)
    data = hold_out_shots(pool, shots, seed)
    gamma = GAMMA if gamma is None else float(gamma)
    zero_shot = ZeroShotClassifier(logit_scale=model.logit_scale, device=device).fit(data.train_X, data.train_y,
                                                                                      data.text)
    llu = LLUClassifier(gamma=gamma, logit_scale=model.logit_scale, seed=seed, device=device)
    llu.fit(data.train_X, data.train_y, data.text)
    save_classifier(llu, out, image_centre=data.image_centre, classnames=data.classnames, templates=data.templates,
                    backbone=model)
    scored_against = data.text if every_text is None else every_text
    accuracy = {name: 100.0 * clf.score(data.test_X, data.test_y, scored_against)
                for name, clf in (("zero_shot", zero_shot), ("llu", llu))}
    if held:
        accuracy.update({f"{name}_new": 100.0 * clf.score(new_X, new_y, every_text)
                         for name, clf in (("zero_shot", zero_shot), ("llu", llu))})
    return FolderFit(folder=str(folder), model_path=str(out), backbone=model.name, classnames=list(data.classnames),
                     shots=shots, seed=seed, n_fitted=len(data.train_y), n_held_out=len(data.test_y), gamma=gamma,
                     statistics=embedding_statistics(data, shots=shots, seed=seed, gamma=gamma),
                     suggested_gamma=suggest_gamma(data, shots=shots, seed=seed),
                     held_out_classes=[images.classnames[k] for k in held], n_new=0 if new_y is None else len(new_y),
                     **accuracy)


@dataclass(frozen=True)
class Prediction:
    """One image's most probable class and its probability (softmax over the classes scored)."""

    path: str
    classname: str
    probability: float


def check_new_classes(classes, known):
    """``classes`` as a list of new class names: strings with a visible character, none twice, none
    of the model's own ``known`` classes; ``ValueError`` naming the first that is not."""
    if isinstance(classes, str) or not isinstance(classes, (list, tuple)):
        raise ValueError(f"classes must be a list of class names, got {classes!r}")
    for index, name in enumerate(classes):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"classes: item {index} ({name!r}) is not a class name; expected text with a visible "
                             "character")
        if name in known:
            raise ValueError(f"classes: {name!r} is already a class of the model (its classes: "
                             f"{', '.join(map(repr, known))}); name only new classes")
        if name in classes[:index]:
            raise ValueError(f"classes: {name!r} is named twice")
    return list(classes)


def predict_images(model_path, images, backbone=None, pretrained=None, device=None, classes=None):
    """Classify image files with a model saved by :func:`fit_image_folder`.

    Parameters
    ----------
    model_path : str or Path
        A model file holding its class names, templates and backbone (``save_classifier(...,
        classnames=, templates=, backbone=)``).
    images : list of str or Path
        Image files. One that cannot be read is named in a warning and skipped.
    backbone : str or backbone object, optional
        The backbone to embed the images with: default the one the model names. A name (with
        ``pretrained``, e.g. a checkpoint that has moved) is loaded; a loaded backbone is used as
        it is. It must be the model's (:func:`llu_core.estimators.persistence.check_backbone`).
    pretrained : str, optional
        For :func:`llu_core.load_backbone`.
    device : str, optional
    classes : list of str, optional
        New class names, scored together with the model's classes: their prompts (the model's
        templates) go through the backbone's text tower, and the model scores them as any class
        embedding (for LLU: its local mask keeps a class far from its training texts nearly as
        zero-shot CLIP has it). The model must score unseen classes (not the linear probe).

    Returns
    -------
    list of Prediction
        For the images that could be read, in the order given; the probability is the softmax
        over the model's classes and ``classes``.

    Raises
    ------
    ValueError
        For a model without class names or backbone, a backbone other than the model's, new
        classes that repeat a class or cannot be scored, or when no image can be read.
    """
    if isinstance(images, (str, Path)) or not isinstance(images, (list, tuple)) or not images:
        raise ValueError(f"images must be a non-empty list of image files, got {images!r}")
    default_device(device)
    clf = load_classifier(model_path, device=device)
    if clf.backbone_ is None or clf.classnames_ is None or clf.templates_ is None:
        raise ValueError(f"{model_path} does not say which classes and backbone it is for; fit it with "
                         "`python -m llu_core fit`, or save it with save_classifier(..., classnames=, templates=, "
                         "backbone=)")
    new = [] if classes is None else check_new_classes(classes, clf.classnames_)
    if new and not clf.scores_unseen_classes:
        raise ValueError(f"{model_path} holds a {type(clf).__name__}, which scores only the classes it was fitted "
                         "on; classes cannot be added")
    if backbone is None or isinstance(backbone, str):
        saved = clf.backbone_
        pretrained = pretrained if pretrained is not None else None if backbone else saved["pretrained"]
        model = load_backbone(backbone or saved["name"] or OFFLINE, pretrained=pretrained, device=device)
    else:
        model = backbone
    try:
        check_backbone(clf, model)
    except ValueError as error:
        raise ValueError(f"{model_path}: {error}") from None
    names = list(clf.classnames_) + new
    T = extract_text_features(model, names, clf.templates_)
    check_distinct_classes(T, "classes", names)
    images = [str(image) for image in images]
    files = ImageFiles("images", "test", Path(), images, np.zeros(len(images), dtype=np.int64), names,
                       clf.templates_)
    decoded, features = encode_images(model, files, np.arange(len(images)))
    if features is None:
        named = ", ".join(map(shown, images[:3])) + (", ..." if len(images) > 3 else "")
        raise ValueError(f"none of the {len(images)} image(s) could be read ({named}); the warnings say why")
    centre = torch.zeros(features.shape[1]) if clf.image_centre_ is None else torch.from_numpy(clf.image_centre_)
    X = model.embed_images(features, centre).numpy()
    probabilities = torch.softmax(torch.from_numpy(clf.decision_function(X, T)), dim=1)
    best, labels = probabilities.max(dim=1)
    return [Prediction(images[index], names[label], float(probability))
            for index, label, probability in zip(decoded.tolist(), labels.tolist(), best.tolist())]
