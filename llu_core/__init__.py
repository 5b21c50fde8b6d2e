"""LLU Book's library: Localized Latent Updates (Ibing, Lim, Kobbelt) and its baselines.

Everything the book computes lives here, in layers whose imports only point down:

- ``report``: tables, the paper's numbers, figures, widgets, ``reproduce``;
- ``evaluation``: the protocols, grids and their summaries, geometry, training speed;
- ``estimators`` (LLU, its ablations, the baselines, the prompt learners, persistence) and,
  beside them, ``data`` (data sets, the embedding cache) over ``backbones`` (open_clip, the
  offline model);
- ``method``: adapters, the local mask (Eq. 4-5), clustering, training, the paper's defaults;
- ``utils``: validation, atomic files, progress bars, ``ClassTexts``.

The public names below are imported lazily (PEP 562), so ``from llu_core import LLUClassifier``
needs only torch and scikit-learn, while the image side (open_clip, the offline model, data
sets) loads on first use.
"""

from importlib import import_module

__version__ = "0.1.0"

# Public name -> module that defines it. Keep this table the single list of the API.
_PUBLIC_API = {
    # The method and the baselines on cached embeddings.
    "LLUClassifier": "estimators.llu",
    "ABLATIONS": "estimators.llu",
    "ZeroShotClassifier": "estimators.baselines",
    "CLIPAdapterClassifier": "estimators.baselines",
    "TipAdapterClassifier": "estimators.baselines",
    "LinearProbeClassifier": "estimators.baselines",
    "CoOpClassifier": "estimators.prompt_learners",
    "CoCoOpClassifier": "estimators.prompt_learners",
    "ProGradClassifier": "estimators.prompt_learners",
    "KgCoOpClassifier": "estimators.prompt_learners",
    "save_classifier": "estimators.persistence",
    "load_classifier": "estimators.persistence",
    "check_backbone": "estimators.persistence",
    "ClassTexts": "utils.class_texts",
    "cluster_centres": "method.clustering",
    # From images to embeddings.
    "load_backbone": "backbones.factory",
    "load_dataset": "data.datasets",
    "extract_features": "data.features",
    "extract_text_features": "data.features",
    "embed_dataset": "data.embedded",
    "embed_target": "data.embedded",
    "load_image_folder": "data.folders",
    "data_root": "data.paths",
    # Chapter 5's toy vision-language model.
    "toy_dataset": "data.toy",
    "to_map": "data.toy",
    "map_extent": "data.toy",
    # The protocols: base to new, cross-dataset and domain generalisation.
    "base_new_split": "evaluation.protocols",
    "few_shot_indices": "evaluation.protocols",
    "harmonic_mean": "evaluation.protocols",
    "validation_shots": "evaluation.protocols",
    "hold_out_shots": "evaluation.protocols",
    "fit_on_base": "evaluation.protocols",
    "evaluate_base_to_new": "evaluation.protocols",
    "fit_on_source": "evaluation.transfer",
    "run_transfer": "evaluation.transfer",
    "run_grid": "evaluation.grids",
    "summarise": "evaluation.summary",
    "embedding_statistics": "evaluation.geometry",
    "suggest_gamma": "evaluation.geometry",
    "add_average": "evaluation.summary",
    # The book's tables.
    "markdown_table": "report.tables",
    "format_table_1": "report.tables",
    "format_table_2": "report.tables",
    "format_table_3": "report.tables",
    "format_table_4": "report.tables",
    "format_paper_table_1": "report.tables",
    "format_paper_table_2": "report.tables",
    "format_paper_table_3": "report.tables",
    "format_paper_table_4": "report.tables",
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
