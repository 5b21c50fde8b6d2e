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
  (:mod:`llu_core.prompt_towers`);
- ``logit_scale``: CLIP's 1/τ;
- ``centre_images``: whether image embeddings are centred by the training images' mean feature
  (see :mod:`llu_core.offline_model`; False for CLIP);
- ``embed_images(features, centre)``: image features (n, d) and the centre subtracted from
  them (d,) → the unit-norm image embeddings (n, d) that the classifiers consume;
- ``name`` and ``cache_key``: a readable name, and a string that changes whenever the weights
  or the preprocessing change (the embedding cache is keyed by it).

The paper's backbone is ``load_backbone("ViT-B-16", pretrained="openai")``, or with a
checkpoint file downloaded elsewhere, ``pretrained="/models/ViT-B-16.pt"``.
"""

import hashlib
import warnings
from pathlib import Path

import torch

from .validation import default_device

OFFLINE = "offline"
OPEN_CLIP_CHECKPOINTS = "https://github.com/mlfoundations/open_clip#pretrained-model-interface"


def load_backbone(name=OFFLINE, pretrained=None, device=None):
    """Load a backbone by name.

    Parameters
    ----------
    name : str
        ``"offline"`` (the embedded default, :mod:`llu_core.offline_model`) or an open_clip
        model name such as ``"ViT-B-16"`` (``open_clip.list_models()`` lists them).
    pretrained : str or Path, optional
        For open_clip models: a pretrained tag (``"openai"``; needs a download, or open_clip's
        cache) or the path of a local checkpoint file. None gives random weights, with a
        warning. Ignored by the offline model.
    device : str or torch.device, optional
        None: CUDA when available, else the CPU.

    Raises
    ------
    ValueError
        For a model name or pretrained tag that open_clip does not know; the message lists the
        known ones.
    FileNotFoundError
        For a checkpoint path that does not exist.
    RuntimeError
        When pretrained weights are not on disk and cannot be downloaded; the message says what
        to download.
    """
    device = default_device(device)
    if name == OFFLINE:
        from .offline_model import OfflineBackbone

        return OfflineBackbone(device)
    return OpenCLIPBackbone(name, pretrained, device)


def _file_digest(path, chunk=1 << 24):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


class OpenCLIPBackbone:
    """An open_clip model (any architecture and weights open_clip can create)."""

    centre_images = False

    def __init__(self, name, pretrained=None, device="cpu"):
        import open_clip

        if name not in open_clip.list_models():
            raise ValueError(f"unknown backbone {name!r}: use 'offline' or one of open_clip's models: "
                             f"{', '.join(open_clip.list_models())}")
        weights = self._resolve_weights(open_clip, name, pretrained)
        self.name = name if pretrained is None else f"{name} ({Path(str(pretrained)).name})"
        self.device = torch.device(device)
        try:
            # Without pretrained weights, draw the random ones from a fixed seed so that the
            # same call gives the same model (and the cache key stays truthful).
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                self.model, _, self.preprocess = open_clip.create_model_and_transforms(
                    name, pretrained=None if pretrained is None else str(pretrained), device=self.device)
        except Exception as error:
            if weights.startswith("file-"):  # a local file that is not a checkpoint of this model
                raise ValueError(f"checkpoint {pretrained} cannot be loaded as {name} weights "
                                 f"({type(error).__name__}: {error})") from error
            if not isinstance(error, (OSError, RuntimeError)):
                raise
            raise RuntimeError(
                f"could not load open_clip weights {name}/{pretrained} ({error}). Without network access, "
                f"download them elsewhere ({OPEN_CLIP_CHECKPOINTS}) and pass the file: "
                f"load_backbone({name!r}, pretrained='/path/to/{name}.pt')") from error
        self.model.eval()
        self.tokenizer = open_clip.get_tokenizer(name)
        self.logit_scale = float(self.model.logit_scale.detach().exp())
        self.cache_key = f"open_clip-{name}-{weights}"

    @staticmethod
    def _resolve_weights(open_clip, name, pretrained):
        """A short, stable description of the weights for the cache key; validates ``pretrained``."""
        if pretrained is None:
            warnings.warn(f"{name}: no pretrained weights given; the model has random weights", stacklevel=4)
            return "random-seed0"
        if Path(str(pretrained)).suffix in {".pt", ".pth", ".bin", ".safetensors"} or Path(str(pretrained)).exists():
            if Path(pretrained).is_dir():
                raise ValueError(f"checkpoint {pretrained} is a directory; pass the checkpoint file itself")
            if not Path(pretrained).is_file():
                raise FileNotFoundError(f"checkpoint {pretrained} does not exist; download {name}'s weights "
                                        f"({OPEN_CLIP_CHECKPOINTS}) and pass the file's path")
            return f"file-{_file_digest(pretrained)}"
        tags = open_clip.list_pretrained_tags_by_model(name)
        if pretrained not in tags:
            raise ValueError(f"open_clip has no pretrained tag {pretrained!r} for {name}; known tags: "
                             f"{', '.join(tags) or 'none'}, or pass a checkpoint file")
        return f"tag-{pretrained}"

    @torch.no_grad()
    def encode_image(self, images):
        """Image features (n, d) of preprocessed images (n, 3, H, W), not normalised."""
        return self.model.encode_image(images.to(self.device)).float()

    @staticmethod
    def embed_images(features, centre):
        """Unit-norm image embeddings (n, d): ``features`` minus ``centre`` (zeros for CLIP), normalised."""
        return torch.nn.functional.normalize(features - centre, dim=1)

    @torch.no_grad()
    def encode_text(self, classnames, templates):
        """Unit-norm class embeddings (C, d): the normalised mean over the normalised prompts."""
        rows = []
        for classname in classnames:
            tokens = self.tokenizer([template.format(classname) for template in templates]).to(self.device)
            prompts = torch.nn.functional.normalize(self.model.encode_text(tokens).float(), dim=1)
            rows.append(prompts.mean(dim=0))
        return torch.nn.functional.normalize(torch.stack(rows), dim=1)

    def context_tower(self):
        """This model's text tower with learned context (:class:`llu_core.prompt_towers.OpenCLIPContextTower`);
        None for models whose text encoder is not CLIP's own transformer (e.g. Hugging Face text towers)."""
        from .prompt_towers import OpenCLIPContextTower

        return OpenCLIPContextTower(self) if hasattr(self.model, "token_embedding") else None

    def __repr__(self):
        return f"OpenCLIPBackbone(cache_key={self.cache_key!r}, device={str(self.device)!r})"
