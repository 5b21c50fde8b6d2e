"""From images to embeddings: the data sets, their corruptions, the embedding cache, the data
root, and the offline data's manifest and fetcher.

The names below are imported lazily (PEP 562), so that ``python -m llu_core fetch-data``, which
needs only :mod:`llu_core.data.fetch`, starts without loading torch.
"""

from importlib import import_module

_PUBLIC = {"DATASET_NAMES": "datasets", "load_dataset": "datasets", "embed_dataset": "features",
           "embed_target": "features", "extract_features": "features", "extract_text_features": "features",
           "data_root": "paths"}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(f"module 'llu_core.data' has no attribute {name!r}") from None
    return getattr(import_module(f".{module}", __name__), name)
