"""The display names of the book's tables and figures, and the paper's order of its data sets.

``llu_core`` names methods and data sets by keys (``"clip_adapter"``, ``"oxford_flowers"``);
the book shows them by the paper's names where it has them (``"CLIP-Adapter"``,
``"Flowers102"``): :func:`method_label`, :func:`dataset_label` and, for Table 4's ablation
variants, :data:`VARIANT_LABELS`. :func:`in_paper_order` sorts data sets as the paper's tables
list them.
"""

#: How the tables call our methods (the paper's names where it has them).
METHOD_LABELS = {
    "zero_shot": "Zero-shot", "clip_adapter": "CLIP-Adapter", "tip_adapter": "Tip-Adapter",
    "tip_adapter_f": "Tip-Adapter-F", "linear_probe": "Linear probe", "llu": "LLU",
    "coop": "CoOp", "cocoop": "CoCoOp", "prograd": "ProGrad", "kgcoop": "KgCoOp",
    "no_mask": "LLU, no mask",  # the ablation, where chapter 10 compares it with the methods
    "gda": "GDA", "proker": "ProKeR", "lp_plus_plus": "LP++", "clap": "CLAP",
}

#: How the tables and figures call the data sets, in the order they are listed: the average,
#: the offline data sets, then the paper's 11 in the order of its Table 1 (its names, as in its
#: Tables 1-3), ImageNet's shifted versions (Table 3) and the corrupted CIFAR-10 domains.
DATASET_LABELS = {
    "average": "Average", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10", "imagenet": "ImageNet",
    "caltech101": "Caltech101", "oxford_pets": "OxfordPets", "stanford_cars": "StanfordCars",
    "oxford_flowers": "Flowers102", "food101": "Food101", "fgvc_aircraft": "FGVCAircraft", "sun397": "SUN397",
    "dtd": "DTD", "eurosat": "EuroSAT", "ucf101": "UCF101", "imagenet_v2": "ImageNet-V2",
    "imagenet_sketch": "ImageNet-Sketch", "imagenet_a": "ImageNet-A", "imagenet_r": "ImageNet-R",
    "cifar10_sketch": "CIFAR-10 sketch", "cifar10_gray_contrast": "CIFAR-10 grey, low contrast",
    "cifar10_blur_noise": "CIFAR-10 blur and noise", "cifar10_jpeg": "CIFAR-10 JPEG",
}

#: How Table 4 calls the ablation variants (``llu_core.ABLATIONS`` keys).
VARIANT_LABELS = {
    "zero_shot": "Zero-shot", "default": "Default", "no_cluster": "no cluster", "no_damping": "no damp.",
    "no_mask": "no mask", "dirac_mask": "Dirac mask", "no_reg": "no reg", "random_init": "rand. init",
    "linear": "Linear",
}


def dataset_label(name):
    """The display name of data set ``name`` (a corruption's severity, ``"@3"``, in words); unknown names as given."""
    registered, _, severity = str(name).partition("@")
    label = DATASET_LABELS.get(registered, registered)
    return f"{label}, severity {severity}" if severity else label


def method_label(name):
    """The display name of method ``name`` (:data:`METHOD_LABELS`); unknown names as given."""
    return METHOD_LABELS.get(name, name)


def in_paper_order(names, average="first"):
    """``names`` without repeats, in the order of :data:`DATASET_LABELS` (the paper's order for
    its data sets), names it does not list after them in their given order, and ``"average"``
    ``"first"`` (as in Table 1) or ``"last"`` (as in Table 2)."""
    if average not in ("first", "last"):
        raise ValueError(f"average must be 'first' or 'last', got {average!r}")
    listed = list(DATASET_LABELS)
    names = list(dict.fromkeys(names))
    ordered = sorted((n for n in names if n != "average"),
                     key=lambda n: (listed.index(n.partition("@")[0]) if n.partition("@")[0] in listed
                                    else len(listed) + names.index(n)))
    if "average" in names:
        ordered = ["average", *ordered] if average == "first" else [*ordered, "average"]
    return ordered
