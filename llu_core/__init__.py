"""LLU Book's library: Localized Latent Updates (Ibing, Lim, Kobbelt) and its baselines.

Everything the book computes lives here, in layers whose imports only point down:

- ``report``: tables and their labels, the paper's numbers, figures and their style, the
  explorers and the static control, ``reproduce``;
- ``evaluation``: the protocols, grids and their summaries, geometry, diagnostics, the toy's
  dial, training speed;
- ``estimators`` (LLU, its ablations, the baselines, the prompt learners, LP++ and CLAP,
  persistence) and, beside them, ``data`` (data sets, the embedding cache) over ``backbones``
  (open_clip, the offline model);
- ``method``: adapters, the local mask (Eq. 4-5), clustering, training, the paper's defaults;
- ``utils``: validation, atomic files, progress bars, ``ClassTexts``.

The public names below are everything the chapters use (they import from here only), imported
lazily (PEP 562): ``from llu_core import LLUClassifier`` needs only torch and scikit-learn,
while the image side (open_clip, the offline model, data sets) and the figures load on first
use.
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
    "GDAClassifier": "estimators.gda",
    "ProKeRClassifier": "estimators.proker",
    "CoOpClassifier": "estimators.prompt_learners",
    "CoCoOpClassifier": "estimators.prompt_learners",
    "ProGradClassifier": "estimators.prompt_learners",
    "KgCoOpClassifier": "estimators.prompt_learners",
    "MultiLLUClassifier": "estimators.multi",
    "LPPlusPlusClassifier": "estimators.lp_plus_plus",
    "CLAPClassifier": "estimators.clap",
    "save_classifier": "estimators.persistence",
    "load_classifier": "estimators.persistence",
    "check_backbone": "estimators.persistence",
    "ClassTexts": "utils.class_texts",
    # The method's parts and the published training settings.
    "AffineAdapter": "method.adapters",
    "cluster_centres": "method.clustering",
    "BETA": "method.defaults",
    "GAMMA": "method.defaults",
    "coop_epochs": "method.training",
    "COCOOP_EPOCHS": "estimators.prompt_learners",
    "KGCOOP_EPOCHS": "estimators.prompt_learners",
    # From images to embeddings.
    "load_backbone": "backbones.factory",
    "content_of": "backbones.offline",
    "load_dataset": "data.datasets",
    "data_root": "data.paths",
    "extract_features": "data.features",
    "extract_text_features": "data.features",
    "embed_dataset": "data.embedded",
    "embed_target": "data.embedded",
    "load_image_folder": "data.folders",
    # The protocols: base to new, cross-dataset and domain generalisation, and their noise.
    "base_new_split": "evaluation.protocols",
    "few_shot_indices": "evaluation.protocols",
    "base_training_indices": "evaluation.protocols",
    "harmonic_mean": "evaluation.protocols",
    "binomial_standard_error": "evaluation.noise",
    "standard_errors_apart": "evaluation.noise",
    "mean_standard_error": "evaluation.noise",
    "summary_standard_error": "evaluation.noise",
    "summary_rows_apart": "evaluation.noise",
    "paired_difference": "evaluation.noise",
    "average_difference": "evaluation.noise",
    "describe_difference": "evaluation.noise",
    "base_new_counts": "evaluation.noise",
    "APART": "evaluation.noise",
    "validation_shots": "evaluation.protocols",
    "hold_out_shots": "evaluation.protocols",
    "fit_on_base": "evaluation.protocols",
    "fit_all_on_base": "evaluation.protocols",
    "evaluate_base_to_new": "evaluation.protocols",
    "correct_base_to_new": "evaluation.protocols",
    "fit_on_source": "evaluation.transfer",
    "run_transfer": "evaluation.transfer",
    "gains_over_zero_shot": "evaluation.transfer",
    "run_grid": "evaluation.grids",
    "summarise": "evaluation.summary",
    "add_average": "evaluation.summary",
    "measure_training_speed": "evaluation.training_speed",
    "fit_costs": "evaluation.cost",
    "base_fit_costs": "evaluation.cost",
    "batch_mask_base_to_new": "evaluation.batch_mask",
    # One model for many data sets (the paper's future work).
    "run_many_datasets": "evaluation.many_datasets",
    "summarise_many": "evaluation.many_datasets",
    "measure_cost": "evaluation.many_datasets",
    "predict_images": "evaluation.image_folders",
    # What the mask sees, and what a fitted update does beyond its training classes.
    "embedding_statistics": "evaluation.geometry",
    "suggest_gamma": "evaluation.geometry",
    "mean_pairwise_cosine": "evaluation.geometry",
    "CLIP_VIT_B32": "evaluation.geometry",
    "CLIP_TYPICAL_DISTANCE": "evaluation.geometry",
    "training_weights": "evaluation.diagnostics",
    "mean_test_weights": "evaluation.diagnostics",
    "adapter_side_accuracies": "evaluation.diagnostics",
    "adapter_side_correct": "evaluation.diagnostics",
    "decompose_update": "evaluation.diagnostics",
    # Chapter 5's toy vision-language model and its alignment dial.
    "toy_dataset": "data.toy",
    "toy_family": "data.toy",
    "map_extent": "data.toy",
    "to_map": "data.toy",
    "new_class_margin": "evaluation.alignment",
    "sweep_misalignment": "evaluation.alignment",
    "mask_effect": "evaluation.alignment",
    "misalignment_for_margin": "evaluation.alignment",
    "toy_view": "evaluation.alignment",
    "weight_on_map": "evaluation.alignment",
    # The book's tables, their labels and the paper's numbers.
    "markdown_table": "report.tables",
    "format_table_1": "report.tables",
    "format_table_2": "report.tables",
    "format_table_3": "report.tables",
    "format_table_4": "report.tables",
    "format_paper_table_1": "report.tables",
    "format_paper_table_2": "report.tables",
    "format_paper_table_3": "report.tables",
    "format_paper_table_4": "report.tables",
    "format_binomial_table": "report.tables",
    "format_speed_table": "report.tables",
    "format_many_datasets_table": "report.many_datasets",
    "format_cost_table": "report.many_datasets",
    "format_per_dataset_table": "report.many_datasets",
    "format_statistics_table": "report.tables",
    "summary_cell": "report.tables",
    "spread": "report.tables",
    "dataset_label": "report.labels",
    "method_label": "report.labels",
    "rounded": "report.quoting",
    "TABLE_1": "report.paper_results",
    "PEER_TABLE_1": "report.paper_results",
    "TABLE_2": "report.paper_results",
    "TABLE_3": "report.paper_results",
    "TABLE_4": "report.paper_results",
    # The book's figures.
    "plot_local_interpolation": "report.diagrams",
    "plot_where_methods_learn": "report.diagrams",
    "plot_examples": "report.plots",
    "plot_grouped_bars": "report.plots",
    "plot_base_new": "report.plots",
    "plot_loss_curves": "report.plots",
    "plot_cluster_sweep": "report.plots",
    "plot_gamma_sweep": "report.plots",
    "plot_clusters": "report.plots",
    "plot_accuracy_vs_shots": "report.grid_plots",
    "plot_base_against_new": "report.grid_plots",
    "plot_ablations": "report.plots",
    "plot_training_speed": "report.plots",
    "plot_gain_vs_alpha": "report.plots",
    "plot_image_rows": "report.plots",
    "plot_interference": "report.many_datasets",
    "plot_toy_alpha": "report.toy_plots",
    "plot_toy_updates": "report.toy_plots",
    "plot_toy_sweep": "report.toy_plots",
    "plot_margin_effect": "report.toy_plots",
    # The explorers: chapter 4's mask and chapter 5's dial, live and static.
    "build_mask_explorer": "report.widgets",
    "mask_numbers": "report.widgets",
    "gamma_sweep": "report.widgets",
    "mask_view": "report.widgets",
    "mask_sliders": "report.widgets",
    "static_mask_control": "report.widgets",
    "static_toy_control": "report.widgets",
    # Result files and the command line (python -m llu_core).
    "write_json": "utils.io",
    "main": "__main__",
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
