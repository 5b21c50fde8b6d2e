"""LLU Book's library: Localized Latent Updates (Ibing, Lim, Kobbelt) and its baselines.

Everything the book computes lives here. The public names below are imported lazily
(PEP 562), so ``from llu_core import LLUClassifier`` needs only torch and scikit-learn,
while the image side (open_clip, the offline model, datasets) loads on first use.
"""

from importlib import import_module

__version__ = "0.1.0"

# Public name -> module that defines it. Keep this table the single list of the API.
_PUBLIC_API = {
    # The method and the baselines on cached embeddings (issue 2).
    "LLUClassifier": "classifiers",
    "ZeroShotClassifier": "classifiers",
    "CLIPAdapterClassifier": "classifiers",
    "TipAdapterClassifier": "classifiers",
    "LinearProbeClassifier": "classifiers",
    "ABLATIONS": "classifiers",
    "save_classifier": "persistence",
    "load_classifier": "persistence",
    "base_new_split": "protocols",
    "few_shot_indices": "protocols",
    "harmonic_mean": "protocols",
    "validation_shots": "protocols",
    "fit_on_base": "protocols",
    "evaluate_base_to_new": "protocols",
    # Prompt learners and the class texts they need (issue 10).
    "CoOpClassifier": "prompt_learners",
    "CoCoOpClassifier": "prompt_learners",
    "ProGradClassifier": "prompt_learners",
    "KgCoOpClassifier": "prompt_learners",
    "ClassTexts": "class_texts",
    # From images to embeddings (issue 3).
    "load_backbone": "backbones",
    "load_dataset": "datasets",
    "extract_features": "features",
    "extract_text_features": "features",
    "embed_dataset": "features",
    # Transfer: cross-dataset and domain generalisation (issue 11).
    "embed_target": "features",
    "fit_on_source": "transfer",
    "run_transfer": "transfer",
}

__all__ = sorted(_PUBLIC_API)


def __getattr__(name):
    try:
        module = _PUBLIC_API[name]
    except KeyError:
        raise AttributeError(f"module 'llu_core' has no attribute {name!r}") from None
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
