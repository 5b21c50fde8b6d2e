"""Synthetic unit embeddings for the method's tests: small, seeded, with a known answer."""

from dataclasses import dataclass

import numpy as np


def unit_rows(array):
    """Normalise the rows of ``array`` to unit length (float32)."""
    array = np.asarray(array, dtype=np.float32)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def random_unit(n, dim, seed):
    """``n`` random unit vectors of dimension ``dim``, float32 (n, dim)."""
    return unit_rows(np.random.default_rng(seed).normal(size=(n, dim)))


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
