"""What a saved classifier stores: its fitted attributes, and the shape of every stored tensor.

:mod:`llu_core.estimators.persistence` writes, per estimator class, the fitted tensors and plain
values :data:`FITTED` names, and checks every tensor of a file against :func:`expected_shapes`
before building any (a letter in a shape is a size that must agree between tensors).
"""

#: Per class: the fitted tensors stored as such, and the fitted plain values stored in the JSON.
FITTED = {
    "ZeroShotClassifier": ((), ("dim_",)),
    "LLUClassifier": (("image_adapter_", "text_adapter_", "image_centres_", "text_centres_"),
                      ("dim_", "identity_distance_", "loss_history_", "n_epochs_")),
    # Its updates are LLUClassifier records of their own, under "updates" (see expected_shapes).
    "MultiLLUClassifier": ((), ("dim_",)),
    "CLIPAdapterClassifier": (("adapter_",), ("dim_", "loss_history_", "n_epochs_")),
    "TipAdapterClassifier": (("keys_", "values_", "class_embeddings_"), ("dim_", "loss_history_")),
    "LinearProbeClassifier": (("coef_", "intercept_", "class_embeddings_"), ("dim_",)),
    "GDAClassifier": (("coef_", "intercept_", "features_", "class_embeddings_"), ("dim_", "alpha_")),
    "ProKeRClassifier": (("support_", "dual_coef_", "class_embeddings_"), ("dim_", "beta_", "lam_")),
    "LPPlusPlusClassifier": (("visual_prototypes_", "bias_", "blending_", "class_embeddings_"),
                             ("dim_", "prototype_step_", "blending_step_", "loss_history_")),
    "CLAPClassifier": (("prototypes_", "penalty_weights_", "class_embeddings_"),
                       ("dim_", "loss_history_", "n_epochs_")),
    **{name: (("context_", *modules), ("dim_", "ctx_dim_", "tower_key_", "loss_history_", "n_epochs_"))
       for name, modules in (("CoOpClassifier", ()), ("CoCoOpClassifier", ("meta_net_",)),
                             ("ProGradClassifier", ()), ("KgCoOpClassifier", ()))},
}


def expected_shapes(name, params, d, updates=()):
    """Every stored tensor's shape for a model of dimension ``d``: ints, or letters that must agree
    (``updates``: the update records of a MultiLLUClassifier, each with its own letters)."""
    if name == "MultiLLUClassifier":
        return {f"updates.{i}.{key}": tuple(f"{i}{size}" if isinstance(size, str) else size for size in shape)
                for i, update in enumerate(updates)
                for key, shape in {**expected_shapes("LLUClassifier", update["params"], d), "texts": ("C", d)}.items()}
    if name == "LLUClassifier":
        adapter = {f"{side}_adapter_.linear.{part}": shape for side in ("image", "text")
                   for part, shape in (("weight", (d, d)), ("bias", (d,)))}
        return {**adapter, "image_centres_": ("k", d), "text_centres_": ("m", d)}
    if name == "CLIPAdapterClassifier":
        hidden = max(1, d // params["reduction"])
        return {"adapter_.down.weight": (hidden, d), "adapter_.up.weight": (d, hidden)}
    if name == "TipAdapterClassifier":
        return {"keys_": ("n", d), "values_": ("n", "K"), "class_embeddings_": ("K", d)}
    if name == "LinearProbeClassifier":
        return {"coef_": ("k", d), "intercept_": ("k",), "class_embeddings_": ("K", d)}
    if name == "GDAClassifier":
        return {"coef_": ("K", d), "intercept_": ("K",), "features_": ("n", d), "class_embeddings_": ("K", d)}
    if name == "ProKeRClassifier":
        return {"support_": ("n", d), "dual_coef_": ("n", "K"), "class_embeddings_": ("K", d)}
    if name == "LPPlusPlusClassifier":
        return {"visual_prototypes_": ("K", d), "bias_": ("K",), "blending_": ("K",), "class_embeddings_": ("K", d)}
    if name == "CLAPClassifier":
        return {"prototypes_": ("K", d), "penalty_weights_": ("K",), "class_embeddings_": ("K", d)}
    if name in ("CoOpClassifier", "CoCoOpClassifier", "ProGradClassifier", "KgCoOpClassifier"):
        shapes = {"context_": (params["n_ctx"] or "M", "w")}  # w: the tower's word-embedding width
        if name == "CoCoOpClassifier":
            hidden = max(1, d // 16)
            shapes.update({"meta_net_.0.weight": (hidden, d), "meta_net_.0.bias": (hidden,),
                           "meta_net_.2.weight": ("w", hidden), "meta_net_.2.bias": ("w",)})
        return shapes
    return {}
