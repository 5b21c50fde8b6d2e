"""One model for many data sets: K fitted LLU updates in one embedding space (the paper's Sec. 5).

The paper closes: "it would be possible to use dataset-dependent adapters and interpolation
weights, but some further work would be needed to make this scalable". Each LLU update acts
only near its own training embeddings: its weight α(x, D) of Eq. 5 decays away from D. So the
updates of several data sets, each fitted alone with its own g_I, g_T, D_image, D_text, β and γ,
can live side by side: for an input x, the K weights α_k(x) say which updates act, and a
combination rule (:mod:`llu_core.method.combination`) turns them into one move of x (Eq. 4).

**The default rule is ``"max"``**: only the update whose D is nearest acts, with its own α. It
was chosen by measurement (the chapter "One model, many data sets" compares the three rules on
the offline model's three data sets and on the toy, over seeds): on every data set's own test
set it is the rule that stays closest to that data set's LLU alone, because a neighbour's
update, which acts with a small but nonzero α under the other rules, never touches x; and it
applies one adapter per row, so scoring costs the same adapter work whatever K is (only the
distances to every D grow with K).

Adding a data set (:meth:`MultiLLUClassifier.add`) stores a copy of its fitted LLU and its
class texts; nothing else changes, so :meth:`~MultiLLUClassifier.remove` restores the others'
scores exactly. The classes are the union of the data sets' classes: a class text that two
data sets share (the same embedding) is one class; two different classes of the same name are
told apart by their data set's name.
"""

import copy

import numpy as np
import torch

from ..method.combination import COMBINATIONS, combination_weights, combine_updates
from ..method.locality import local_weight
from ..utils.class_texts import ClassTexts, name_key
from ..utils.validation import as_embeddings, check_choice, check_is_fitted, default_device
from ._base import EmbeddingClassifier, MovedEmbeddings, check_logit_scale, match_classes, store_params
from .llu import LLUClassifier

_MODALITIES = ("image", "text")


class MultiLLUClassifier(MovedEmbeddings, EmbeddingClassifier):
    """K fitted LLU updates, one per data set, each acting where its own data lie.

    An embedding x (image or class text) gets the weight α_k(x) = α(x, D_k) of Eq. 5 under every
    update k (its D_image or D_text, β_k, γ_k); ``combine`` turns the K weights into the weights
    w_k with which each update's adapter moves x (:func:`~llu_core.method.combination.combination_weights`),
    and x becomes normalize(W · normalize(Σ_k w_k · normalize(g_k(x))) + (1 − W) · x), W = Σ_k w_k
    (Eq. 4 for K updates). The scores are ``logit_scale`` · the cosine of the moved image and
    class embeddings. With one update every rule is that LLU.

    The model is assembled, not fitted: :meth:`add` a fitted :class:`LLUClassifier` per data
    set (with the class texts it was fitted against), :meth:`remove` one by name.

    Parameters
    ----------
    combine : {"max", "mixture", "share"}
        The combination rule (:mod:`llu_core.method.combination`); ``"max"``, the default, lets
        only the update of the largest α_k act (see the module docstring for why).
    logit_scale : float
        The CLIP temperature 1/τ; every added update must have been fitted with it.
    device : str or torch.device, optional
        Where to score; default CUDA when available, else CPU.

    Attributes
    ----------
    updates_ : dict of str -> LLUClassifier
        Copies of the added updates, by data set name, in the order they were added.
    texts_ : dict of str -> ClassTexts
        Each data set's class texts, in its label order.
    text_ : ClassTexts, shape (C, d)
        The union of the classes, data set after data set (a shared class once).
    dim_ : int
        The embedding dimension d.
    """

    def __init__(self, combine="max", logit_scale=100.0, device=None):
        store_params(self, locals())

    def _check_params(self):
        check_choice("combine", self.combine, COMBINATIONS)
        check_logit_scale(self.logit_scale)

    @property
    def names_(self):
        """The data sets' names, in the order they were added."""
        check_is_fitted(self, "dim_")
        return list(self.updates_)

    def add(self, classifier, name, texts, classnames=None):
        """Add the fitted LLU ``classifier`` of data set ``name``; the other updates stay as they are.

        Parameters
        ----------
        classifier : LLUClassifier
            Fitted on the data set (its own β, γ, D); a copy is stored.
        name : str
            The data set's name, not yet in the model.
        texts : ClassTexts or array-like, shape (C, d)
            The class text embeddings it was fitted against, in its label order.
        classnames : sequence of str, optional
            The C class names, when ``texts`` is an array (a ClassTexts brings its own).

        Returns
        -------
        self
        """
        self._check_params()
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string naming the data set, got {name!r}")
        if not isinstance(classifier, LLUClassifier):
            raise ValueError(f"classifier must be a fitted LLUClassifier, got a {type(classifier).__name__}")
        check_is_fitted(classifier, "dim_")
        fitted = getattr(self, "updates_", {})
        if name in fitted:
            raise ValueError(f"data set {name!r} is already in the model; remove it first or choose another name")
        dim = getattr(self, "dim_", classifier.dim_)
        if classifier.dim_ != dim:
            raise ValueError(f"classifier {name!r} has embedding dimension {classifier.dim_}, the model's updates "
                             f"have {dim}: fit every data set on embeddings of the same backbone")
        if classifier.logit_scale != self.logit_scale:
            raise ValueError(f"classifier {name!r} was fitted with logit_scale={classifier.logit_scale!r}, the model "
                             f"scores with logit_scale={self.logit_scale!r}; they must agree")
        texts = _class_texts(texts, classnames, dim, name)
        device = self.device_ if hasattr(self, "device_") else default_device(self.device)
        update = copy.deepcopy(classifier)
        update.device_ = device
        for attribute in ("image_adapter_", "text_adapter_", "image_centres_", "text_centres_"):
            setattr(update, attribute, getattr(update, attribute).to(device))
        self.dim_, self.device_ = dim, device
        self.updates_, self.texts_ = {**fitted, name: update}, {**getattr(self, "texts_", {}), name: texts}
        self._unite()
        return self

    def remove(self, name):
        """Remove data set ``name``'s update and classes; the others score exactly as before it was added.

        Removing the last one leaves the model empty (unfitted). Returns self.
        """
        check_is_fitted(self, "dim_")
        if name not in self.updates_:
            raise ValueError(f"no data set {name!r} in the model; it holds {list(self.updates_)}")
        self.updates_ = {key: update for key, update in self.updates_.items() if key != name}
        self.texts_ = {key: texts for key, texts in self.texts_.items() if key != name}
        if not self.updates_:
            for attribute in ("dim_", "device_", "updates_", "texts_", "text_", "_rows"):
                delattr(self, attribute)
            return self
        self._unite()
        return self

    def _unite(self):
        """The union of the data sets' classes (``text_``) and each data set's rows in it."""
        self.text_, self._rows = union_classes(self.texts_)

    def classes_of(self, name):
        """The rows of ``text_`` that are data set ``name``'s classes, in its label order: int64 (C_name,).

        A label y of that data set is the union's class ``classes_of(name)[y]``.
        """
        check_is_fitted(self, "dim_")
        if name not in self._rows:
            raise ValueError(f"no data set {name!r} in the model; it holds {list(self.updates_)}")
        return self._rows[name].copy()

    def _alphas(self, E, modality):
        """α_k of Eq. 5 of every row of ``E`` under every update: (K, n)."""
        return torch.stack([local_weight(E, getattr(update, f"{modality}_centres_"), update.beta, update.gamma,
                                         update.mask, update.dirac_threshold) for update in self.updates_.values()])

    def _transform(self, E, modality):
        weights = combination_weights(self._alphas(E, modality), self.combine)
        adapters = [getattr(update, f"{modality}_adapter_") for update in self.updates_.values()]
        return combine_updates(E, adapters, weights)

    def _logits(self, X, T):
        return self.logit_scale * self._transform(X, "image") @ self._transform(T, "text").T

    def local_weights(self, E, modality="image"):
        """α_k (Eq. 5) of every row of ``E`` (n, d) under every update: numpy float32 (n, K), columns in ``names_`` order."""
        check_choice("modality", modality, _MODALITIES)
        check_is_fitted(self, "dim_")
        E = as_embeddings(E, "E", dim=self.dim_).to(self.device_)
        with torch.no_grad():
            return self._alphas(E, modality).T.cpu().numpy()


def _class_texts(texts, classnames, dim, name):
    """``texts`` (with ``classnames``) as a checked ClassTexts of dimension ``dim``."""
    if isinstance(texts, ClassTexts):
        if classnames is not None and list(classnames) != list(texts.classnames):
            raise ValueError(f"classnames of {name!r} differ from the names its ClassTexts carries; pass one of them")
        classnames = texts.classnames
    elif classnames is None:
        raise ValueError(f"texts of {name!r} is an array: pass classnames, one name per row")
    texts = ClassTexts(np.asarray(texts, dtype=np.float32), classnames)  # rows and names; no text tower
    if texts.shape[1] != dim:
        raise ValueError(f"texts of {name!r} have embedding dimension {texts.shape[1]}, the model's updates have {dim}")
    return texts


def union_classes(texts):
    """The union of several data sets' classes, and where each data set's classes are in it.

    Classes are taken data set after data set, in each one's label order; a class text whose
    embedding is already in the union (cosine ≥ 1 − 1e-5, :func:`~llu_core.estimators.match_classes`)
    is that class, and a new class whose name is already taken (up to case and spacing) is named
    ``"<class> (<data set>)"``.

    Parameters
    ----------
    texts : dict of str -> ClassTexts
        Each data set's class texts, by data set name.

    Returns
    -------
    (ClassTexts, dict of str -> numpy.ndarray)
        The union's class texts (C, d) and, per data set, the int64 rows of its classes in it.
    """
    rows, names, positions = [], [], {}
    for name, classes in texts.items():
        embeddings = as_embeddings(classes, f"texts of {name!r}")
        known = match_classes(embeddings, torch.stack(rows)) if rows else torch.full((len(classes),), -1)
        where = []
        for row, classname, match in zip(embeddings, classes.classnames, known.tolist()):
            if match < 0:
                taken = {name_key(other) for other in names}
                match = len(rows)
                rows.append(row)
                names.append(classname if name_key(classname) not in taken else f"{classname} ({name})")
            where.append(match)
        positions[name] = np.asarray(where, dtype=np.int64)
    return ClassTexts(torch.stack(rows).numpy(), names), positions
