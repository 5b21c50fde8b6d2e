"""Small synthetic embedded data sets for the book-side tests (no backbone needed).

Each class has a random unit text embedding; image embeddings are noisy copies of a
direction that is rotated away from their class text, so zero-shot is imperfect and a trained
adapter has something to learn.
"""

from types import SimpleNamespace

import numpy as np


def _unit(rows):
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def embedded_dataset(name="toy", n_classes=6, dim=32, train_per_class=20, test_per_class=30, seed=0):
    """A namespace shaped like ``llu_core.data.embedded.embed_dataset``'s result."""
    rng = np.random.default_rng(seed)
    text = _unit(rng.normal(size=(n_classes, dim)))
    image_centres = _unit(text + 0.9 * rng.normal(size=(n_classes, dim)) / np.sqrt(dim) * 4)

    def sample(per_class):
        labels = np.repeat(np.arange(n_classes), per_class)
        return _unit(image_centres[labels] + 0.35 * rng.normal(size=(labels.size, dim)) / np.sqrt(dim) * 4), labels

    train_X, train_y = sample(train_per_class)
    test_X, test_y = sample(test_per_class)
    return SimpleNamespace(name=name, train_X=train_X, train_y=train_y, test_X=test_X, test_y=test_y, text=text,
                           classnames=[f"class {k}" for k in range(n_classes)])
