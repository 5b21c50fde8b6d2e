"""open_clip's models as backbones: any architecture and weights open_clip can create."""

import difflib
import hashlib
import warnings
from pathlib import Path

import torch

OPEN_CLIP_CHECKPOINTS = "https://github.com/mlfoundations/open_clip#pretrained-model-interface"


def _file_digest(path, chunk=1 << 24):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()[:16]


def check_model_name(name):
    """Raise ``ValueError`` unless ``name`` is a model open_clip can create."""
    import open_clip

    models = open_clip.list_models()
    if name not in models:
        close = difflib.get_close_matches(str(name), models, n=5, cutoff=0.5)
        raise ValueError(f"unknown backbone {name!r}: use 'offline' or one of open_clip's {len(models)} models "
                         f"(open_clip.list_models() lists them){'; the closest: ' + ', '.join(close) if close else ''}")


#: File name endings that make ``pretrained`` a checkpoint path rather than a tag.
CHECKPOINT_SUFFIXES = {".pt", ".pth", ".bin", ".safetensors"}


def is_checkpoint_path(pretrained):
    """Whether ``pretrained`` names a file (a checkpoint suffix, a folder in it, or an existing path) rather than a tag."""
    text = str(pretrained)
    return Path(text).suffix in CHECKPOINT_SUFFIXES or "/" in text or Path(text).exists()


def check_pretrained(name, pretrained):
    """Raise unless ``pretrained`` is None, a pretrained tag open_clip has for model ``name``, or a
    regular checkpoint file: ``FileNotFoundError`` for a missing file, ``ValueError`` otherwise."""
    import open_clip

    check_model_name(name)
    if pretrained is None:
        return
    if not isinstance(pretrained, (str, Path)) or not str(pretrained):
        raise ValueError(f"pretrained must be a tag or a checkpoint file path, got {pretrained!r}")
    if is_checkpoint_path(pretrained):
        path = Path(pretrained).expanduser()
        if path.is_dir():
            raise ValueError(f"checkpoint {pretrained} is a directory; pass the checkpoint file itself")
        if path.exists() and not path.is_file():
            raise ValueError(f"checkpoint {pretrained} is not a regular file (a FIFO or a device); pass the "
                             "checkpoint file itself")
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {pretrained} does not exist; download {name}'s weights "
                                    f"({OPEN_CLIP_CHECKPOINTS}) and pass the file's path")
        return
    tags = open_clip.list_pretrained_tags_by_model(name)
    if pretrained not in tags:
        raise ValueError(f"open_clip has no pretrained tag {pretrained!r} for {name}; known tags: "
                         f"{', '.join(tags) or 'none'}, or pass a checkpoint file")


def _weights(name, pretrained):
    """A short, stable description of the weights for the cache key; checks ``pretrained`` first."""
    check_pretrained(name, pretrained)
    if pretrained is None:
        warnings.warn(f"{name}: no pretrained weights given; the model has random weights", stacklevel=4)
        return "random-seed0"
    if is_checkpoint_path(pretrained):
        return f"file-{_file_digest(Path(pretrained).expanduser())}"
    return f"tag-{pretrained}"


class OpenCLIPBackbone:
    """An open_clip model (any architecture and weights open_clip can create)."""

    centre_images = False

    def __init__(self, name, pretrained=None, device="cpu"):
        import open_clip

        weights = _weights(name, pretrained)
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
        """This model's text tower with learned context (:class:`llu_core.backbones.prompt_towers.OpenCLIPContextTower`);
        None for models whose text encoder is not CLIP's own transformer (e.g. Hugging Face text towers)."""
        from .prompt_towers import OpenCLIPContextTower

        return OpenCLIPContextTower(self) if hasattr(self.model, "token_embedding") else None

    def __repr__(self):
        return f"OpenCLIPBackbone(cache_key={self.cache_key!r}, device={str(self.device)!r})"
