"""Synthetic embeddings for the tests: small, seeded, with a known answer (no backbone needed).

- :func:`unit_rows`, :func:`random_unit`: unit rows, and random ones.
- :func:`small_problem`: eight images of three classes in six dimensions, the smallest fit.
- :func:`shifted_domain_task`: a base-to-new task whose base images sit in a shifted domain
  (zero-shot misreads them, new classes lie far from D).
- :func:`embedded_dataset`, :func:`embedded_pool`: namespaces shaped like ``llu_core.embed_dataset``'s
  result, with a test split or as one pool of images.
- :func:`summary_rows`: rows shaped like ``llu_core.summarise``'s, for the figures' tests.
"""

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np


def unit_rows(array, precision=np.float32):
    """Normalise the rows of ``array`` to unit length, computed in ``precision``; float32."""
    array = np.asarray(array, dtype=precision)
    return (array / np.linalg.norm(array, axis=1, keepdims=True)).astype(np.float32)


def random_unit(n, dim, seed):
    """``n`` random unit vectors of dimension ``dim``, float32 (n, dim)."""
    return unit_rows(np.random.default_rng(seed).normal(size=(n, dim)))


def small_problem():
    """The smallest fit: images ``X`` (8, 6), labels ``y`` of three classes, class texts ``T`` (3, 6)."""
    return random_unit(8, 6, seed=0), np.array([0, 1, 2, 0, 1, 2, 0, 1]), random_unit(3, 6, seed=1)


@dataclass
class ShiftedDomainTask:
    """A base-to-new task whose base images sit in a shifted domain.

    Base class c's images lie mostly towards the text embedding of another base class, so
    zero-shot CLIP misreads them and an update is needed. New classes live in the other half
    of the coordinates, orthogonal to everything seen in training: far from D, where LLU
    must keep zero-shot behaviour. Labels index the rows of ``T`` (base classes first).
    """

    T: np.ndarray
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    base: np.ndarray
    new: np.ndarray


def shifted_domain_task(n_base=5, n_new=5, dim=64, shots=16, n_test=40, noise=0.15, seed=0):
    rng = np.random.default_rng(seed)
    half = dim // 2
    T = np.zeros((n_base + n_new, dim), dtype=np.float32)
    T[:n_base, :half] = rng.normal(size=(n_base, half))
    T[n_base:, half:] = rng.normal(size=(n_new, dim - half))
    T = unit_rows(T)
    confused_with = np.roll(np.arange(n_base), 1)

    def images(labels):
        labels = np.asarray(labels)
        centre = T[labels].copy()
        base_rows = labels < n_base
        centre[base_rows] = 0.4 * T[labels[base_rows]] + 0.6 * T[confused_with[labels[base_rows]]]
        return unit_rows(unit_rows(centre) + noise * rng.normal(size=centre.shape) / np.sqrt(dim))

    y_train = np.repeat(np.arange(n_base), shots)
    y_test = np.repeat(np.arange(n_base + n_new), n_test)
    return ShiftedDomainTask(T=T, X_train=images(y_train), y_train=y_train, X_test=images(y_test), y_test=y_test,
                             base=np.arange(n_base), new=np.arange(n_base, n_base + n_new))


def embedded_dataset(name="toy", n_classes=6, dim=32, train_per_class=20, test_per_class=30, seed=0):
    """A namespace shaped like ``llu_core.embed_dataset``'s result.

    Each class has a random unit text embedding; image embeddings are noisy copies of a
    direction that is rotated away from their class text, so zero-shot is imperfect and a
    trained adapter has something to learn.
    """
    rng = np.random.default_rng(seed)
    text = unit_rows(rng.normal(size=(n_classes, dim)), np.float64)
    image_centres = unit_rows(text + 0.9 * rng.normal(size=(n_classes, dim)) / np.sqrt(dim) * 4, np.float64)

    def sample(per_class):
        labels = np.repeat(np.arange(n_classes), per_class)
        noise = 0.35 * rng.normal(size=(labels.size, dim)) / np.sqrt(dim) * 4
        return unit_rows(image_centres[labels] + noise, np.float64), labels

    train_X, train_y = sample(train_per_class)
    test_X, test_y = sample(test_per_class)
    return SimpleNamespace(name=name, train_X=train_X, train_y=train_y, test_X=test_X, test_y=test_y, text=text,
                           classnames=[f"class {k}" for k in range(n_classes)])


def embedded_pool(seed=0):
    """A synthetic embedded data set as one pool of images (no test split): 4 classes of 10 images."""
    data = embedded_dataset(n_classes=4, train_per_class=10, test_per_class=1, seed=seed)
    data.test_X, data.test_y = data.test_X[:0], data.test_y[:0]
    return data


def summary_rows(datasets, methods, shots=(1, 4, 16)):
    """Summary rows of every data set, method and shot count: base about 50 %, new about 40 %, two seeds."""
    rng = np.random.default_rng(0)
    return [{"dataset": d, "method": m, "shots": s, "n_seeds": 2, "base_mean": 50 + rng.random(), "base_std": 1.0,
             "new_mean": 40 + rng.random(), "new_std": 1.0} for d in datasets for m in methods for s in shots]
