"""Image-text backbones behind one interface: open_clip models and the offline model.

:func:`load_backbone` is the single factory, in the spirit of open_clip's
``create_model_and_transforms``. Whatever it returns has

- ``encode_image(images)``: preprocessed images (n, 3, H, W) → image features (n, d), not yet
  normalised;
- ``encode_text(classnames, templates)``: one unit-norm embedding per class (C, d), the
  normalised mean of the normalised embeddings of its prompts (CLIP's prompt ensembling;
  one template is the plain case);
- ``preprocess``: a PIL image → tensor transform;
- ``context_tower()``: the text tower with learned context that prompt learners train through
  (:mod:`llu_core.backbones.prompt_towers`);
- ``logit_scale``: CLIP's 1/τ;
- ``centre_images``: whether image embeddings are centred by the training images' mean feature
  (see :mod:`llu_core.backbones.offline`; False for CLIP);
- ``embed_images(features, centre)``: image features (n, d) and the centre subtracted from
  them (d,) → the unit-norm image embeddings (n, d) that the classifiers consume;
- ``name`` and ``cache_key``: a readable name, and a string that changes whenever the weights
  or the preprocessing change (the embedding cache is keyed by it);
- ``origin``: the ``name`` and ``pretrained`` it was loaded with (a checkpoint file as an
  absolute path), so that a saved model can say which backbone to load again.

The paper's backbone is ``load_backbone("ViT-B-16", pretrained="openai")``, or with a
checkpoint file downloaded elsewhere, ``pretrained="/models/ViT-B-16.pt"``.
"""

from pathlib import Path

from ..utils.validation import default_device

OFFLINE = "offline"


def _offline(pretrained, device):
    from .offline import OfflineBackbone  # its towers' packages load only when it is asked for

    return OfflineBackbone(device)


#: Backbones by name besides open_clip's models: name -> ``load(pretrained, device)``; any other
#: name is an open_clip model.
REGISTRY = {OFFLINE: _offline}
#: Names of :data:`REGISTRY` whose backbones have their own weights and refuse ``pretrained``.
OWN_WEIGHTS = {OFFLINE}


def check_backbone_name(name):
    """Raise ``ValueError`` unless ``name`` is a backbone :func:`load_backbone` can load (nothing is loaded)."""
    if name in REGISTRY:
        return
    from .openclip import check_model_name

    check_model_name(name)


def check_backbone_arguments(name, pretrained=None):
    """Raise unless :func:`load_backbone` can load ``name`` with ``pretrained`` (nothing is loaded).

    ``ValueError`` for an unknown name, weights given to a backbone that has its own
    (:data:`OWN_WEIGHTS`), or a pretrained tag open_clip lacks; ``FileNotFoundError`` for a
    missing checkpoint.
    """
    check_backbone_name(name)
    if name in REGISTRY:
        if pretrained is not None and name in OWN_WEIGHTS:
            raise ValueError(f"pretrained={str(pretrained)!r}: the {name} backbone has its own weights and takes no "
                             "pretrained tag or checkpoint; give one with an open_clip model such as ViT-B-16")
        return
    from .openclip import check_pretrained

    check_pretrained(name, pretrained)


def load_backbone(name=OFFLINE, pretrained=None, device=None):
    """Load a backbone by name.

    Parameters
    ----------
    name : str
        A name of :data:`REGISTRY` (``"offline"``: the embedded default,
        :mod:`llu_core.backbones.offline`) or an open_clip model name such as ``"ViT-B-16"``
        (``open_clip.list_models()`` lists them).
    pretrained : str or Path, optional
        For open_clip models: a pretrained tag (``"openai"``; needs a download, or open_clip's
        cache) or the path of a local checkpoint file. None gives random weights, with a
        warning. The offline model has its own weights: it refuses any.
    device : str or torch.device, optional
        None: CUDA when available, else the CPU.

    Raises
    ------
    ValueError
        For a model name or pretrained tag that open_clip does not know (the message lists the
        known ones), or weights given to the offline model.
    FileNotFoundError
        For a checkpoint path that does not exist.
    RuntimeError
        When pretrained weights are not on disk and cannot be downloaded; the message says what
        to download.
    """
    device = default_device(device)
    check_backbone_arguments(name, pretrained)
    if name in REGISTRY:
        backbone = REGISTRY[name](pretrained, device)
    else:
        from .openclip import OpenCLIPBackbone  # open_clip loads only when one of its models is asked for

        backbone = OpenCLIPBackbone(name, pretrained, device)
    if pretrained is not None and Path(str(pretrained)).is_file():
        pretrained = Path(pretrained).resolve()
    backbone.origin = {"name": name, "pretrained": None if pretrained is None else str(pretrained)}
    return backbone
