"""Your own images, end to end: fit LLU on a folder of images and classify new images with it.

:func:`fit_image_folder` (``python -m llu_core fit``) embeds a folder with one sub-folder per class
(:mod:`llu_core.data.folders`), fits LLU with the paper's hyperparameters on ``shots`` images of
every class, scores zero-shot CLIP and LLU on the images held out, measures the embedding geometry
the local mask sees (:func:`~llu_core.evaluation.geometry.embedding_statistics`) with the γ that
suits it (:func:`~llu_core.evaluation.geometry.suggest_gamma`), and saves the model with its
class names, prompt template, image centre and backbone. :func:`predict_images`
(``python -m llu_core predict``) loads such a model with its backbone, refuses another backbone,
and gives every readable image its most probable class.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..backbones import OFFLINE, load_backbone
from ..data.datasets import load_dataset
from ..data.embedded import embed_dataset
from ..data.features import encode_images, extract_text_features
from ..data.labelled import ImageFiles
from ..estimators.baselines import ZeroShotClassifier
from ..estimators.llu import LLUClassifier
from ..estimators.persistence import check_backbone, load_classifier, save_classifier
from ..method.defaults import BETA, GAMMA, LAM, N_CLUSTERS
from .geometry import CLIP_TYPICAL_DISTANCE, CLIP_VIT_B32, embedding_statistics, suggest_gamma
from .protocols import base_new_split, check_shots, hold_out_shots


@dataclass
class FolderFit:
    """What :func:`fit_image_folder` did and measured; accuracies are percentages of the held-out images."""

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

    def summary(self):
        """The report ``python -m llu_core fit`` prints."""
        s, clip = self.statistics, CLIP_VIT_B32
        base, _ = base_new_split(np.arange(len(self.classnames)))

        def pair(key_base, key_new, digits=3):
            return f"{s[key_base]:.{digits}f} / {s[key_new]:.{digits}f}"

        def clip_range(key):
            low, high = clip[key]
            return f"{low:g}" if low == high else f"{low:g}-{high:g}"

        lines = [
            f"{self.folder}: {len(self.classnames)} classes ({', '.join(self.classnames)}); backbone {self.backbone}",
            f"fitted LLU (β = {BETA:g}, γ = {self.gamma:g}, λ = {LAM:g}, at most {N_CLUSTERS} clusters) on "
            f"{self.shots} images per class (seed {self.seed}): {self.n_fitted} images; {self.n_held_out} held out",
            f"held-out accuracy: zero-shot {self.zero_shot:.1f} %, LLU {self.llu:.1f} %",
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
            f"saved the model to {self.model_path} (with its class names, prompt template, image centre and backbone)",
        ]
        return "\n".join(lines)


def fit_image_folder(folder, out, backbone=None, pretrained=None, shots=16, seed=1, classes_file=None, gamma=None,
                     device=None, progress=True):
    """Fit LLU on ``shots`` images of every class of an image folder, evaluate it on the rest, save it.

    Parameters
    ----------
    folder : str or Path
        One sub-folder of images per class (:func:`llu_core.data.folders.load_image_folder`).
    out : str or Path
        The model file to write (safetensors, :func:`llu_core.save_classifier`).
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

    Returns
    -------
    FolderFit
    """
    folder = Path(folder)
    images = load_dataset(folder, "train", classes_file=classes_file)  # the folder's own checks, before anything loads
    check_shots(images.labels, images.classnames, shots, hold_out="test" not in images.resolved.splits)
    model = load_backbone(backbone or OFFLINE, pretrained=pretrained, device=device)
    data = hold_out_shots(embed_dataset(model, images.resolved, progress=progress), shots, seed)
    gamma = GAMMA if gamma is None else float(gamma)
    zero_shot = ZeroShotClassifier(logit_scale=model.logit_scale, device=device).fit(data.train_X, data.train_y,
                                                                                      data.text)
    llu = LLUClassifier(gamma=gamma, logit_scale=model.logit_scale, seed=seed, device=device)
    llu.fit(data.train_X, data.train_y, data.text)
    save_classifier(llu, out, image_centre=data.image_centre, classnames=data.classnames, templates=data.templates,
                    backbone=model)
    return FolderFit(folder=str(folder), model_path=str(out), backbone=model.name, classnames=list(data.classnames),
                     shots=shots, seed=seed, n_fitted=len(data.train_y), n_held_out=len(data.test_y), gamma=gamma,
                     zero_shot=100.0 * zero_shot.score(data.test_X, data.test_y, data.text),
                     llu=100.0 * llu.score(data.test_X, data.test_y, data.text),
                     statistics=embedding_statistics(data, shots=shots, seed=seed, gamma=gamma),
                     suggested_gamma=suggest_gamma(data, shots=shots, seed=seed))


@dataclass(frozen=True)
class Prediction:
    """One image's most probable class and its probability (softmax over the model's classes)."""

    path: str
    classname: str
    probability: float


def predict_images(model_path, images, backbone=None, pretrained=None, device=None):
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

    Returns
    -------
    list of Prediction
        For the images that could be read, in the order given.

    Raises
    ------
    ValueError
        For a model without class names or backbone, a backbone other than the model's, or when
        no image can be read.
    """
    clf = load_classifier(model_path, device=device)
    if clf.backbone_ is None or clf.classnames_ is None or clf.templates_ is None:
        raise ValueError(f"{model_path} does not say which classes and backbone it is for; fit it with "
                         "`python -m llu_core fit`, or save it with save_classifier(..., classnames=, templates=, "
                         "backbone=)")
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
    images = [str(image) for image in images]
    files = ImageFiles("images", "test", Path(), images, np.zeros(len(images), dtype=np.int64), clf.classnames_,
                       clf.templates_)
    decoded, features = encode_images(model, files, np.arange(len(images)))
    if features is None:
        raise ValueError(f"none of the {len(images)} image(s) could be read")
    centre = torch.zeros(features.shape[1]) if clf.image_centre_ is None else torch.from_numpy(clf.image_centre_)
    X = model.embed_images(features, centre).numpy()
    T = extract_text_features(model, clf.classnames_, clf.templates_)
    probabilities = torch.softmax(torch.from_numpy(clf.decision_function(X, T)), dim=1)
    best, classes = probabilities.max(dim=1)
    return [Prediction(images[index], clf.classnames_[label], float(probability))
            for index, label, probability in zip(decoded.tolist(), classes.tolist(), best.tolist())]
