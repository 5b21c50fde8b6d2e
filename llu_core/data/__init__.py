"""From images to embeddings: the data sets, their corruptions, the embedding cache, the data root."""

from .datasets import DATASET_NAMES, load_dataset
from .features import embed_dataset, embed_target, extract_features, extract_text_features
from .paths import data_root

__all__ = ["DATASET_NAMES", "load_dataset", "embed_dataset", "embed_target", "extract_features",
           "extract_text_features", "data_root"]
