"""The image data sets: one registry, a CoOp-style interface, the CoOp split files.

``load_dataset(name, split, root=None)`` returns a :class:`LabelledImages`: ``ds[i]`` is a
``(PIL.Image, int label)`` pair, and ``ds.classnames``, ``ds.templates``, ``ds.labels``,
``ds.name`` and ``ds.split`` describe it. Data are read from the data root
(:func:`llu_core.data.paths.data_root`: the ``root`` argument, else ``$LLU_DATA_ROOT``, else the
offline data beside the repository).

The 11 data sets of the CoOp benchmark are read exactly as CoOp reads them (folder layouts of
CoOp's ``DATASETS.md``; split files ``split_zhou_<Name>.json`` whose items are
``[relative image path, label, class name]``; ImageNet through its folders plus
``classnames.txt``; FGVC-Aircraft through its own ``images_variant_*.txt`` files). A split
file is looked for inside the data set's folder, where CoOp puts it, and then in a
``coop_splits/`` folder under the data root. Class names have ``_`` replaced by spaces, as
CoOp's prompt learner does (``trainers/coop.py``).

When only some classes of a split file have their images on disk (the offline DTD subset
holds 10 of DTD's 47 classes), the data set is restricted to the classes whose images are all
present, relabelled ``0..k-1`` in the order of their original labels; ``ds.missing_classes``
names the others. A folder whose name ends in ``_subset`` declares itself partial; any other
folder with missing classes gives a warning. A class with only some of its images is an
incomplete download and raises :class:`FileNotFoundError`.

Two small data sets outside the benchmark run the book offline:

- ``fashion_mnist``: Debian's ``dataset-fashion-mnist`` files (``*-idx?-ubyte.gz``) in
  ``<root>/fashion-mnist`` or ``/usr/share/datasets/fashion-mnist``, else torchvision's
  layout ``<root>/FashionMNIST/raw``. Grayscale 28x28 images become RGB and are **inverted to
  dark-on-white**, the way product photos look (a documented preprocessing of this loader; it
  is part of the feature cache key).
- ``cifar10``: ``<root>/cifar10/<split>/<class>/*.jpg`` (ImageFolder layout), else
  torchvision's ``<root>/cifar-10-batches-py``.

Test-only data sets for the transfer protocols (Sec. 4.2-4.3; their only split is ``"test"``):

- ``imagenet_v2``, ``imagenet_sketch``, ``imagenet_a``, ``imagenet_r``: ImageNet's classes in
  other domains, laid out as in CoOp's ``DATASETS.md`` with a copy of ImageNet's
  ``classnames.txt`` in each folder (else ``<root>/imagenet/classnames.txt`` is read).
  ImageNet-V2's folders ``0``..``999`` are ImageNet's labels (classes in sorted wnid order);
  Sketch, A and R have one folder per wnid, and their classes are the sorted wnid folders
  present: all 1000 for Sketch, 200 for A and R, so that A and R are scored against their 200
  classes only, as CoOp does (``datasets/imagenet_a.py``, ``imagenet_r.py``).
- ``cifar10_<kind>`` for each corruption of :mod:`llu_core.data.corruptions` (``cifar10_sketch``,
  ``cifar10_gray_contrast``, ``cifar10_blur_noise``, ``cifar10_jpeg``): CIFAR-10's test split,
  corrupted at severity 3 with seed 0 when an image is read; ``cifar10_<kind>@<severity>``
  chooses another severity (1-5). No image file is written; the corruption is part of the
  loader's preprocessing and so of the feature cache key.
"""

import gzip
import hashlib
import io
import math
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..utils.io import parse_json, read_file
from .corruptions import CORRUPTIONS, check_corruption, corrupt
from .images import as_8bit_pixels, decode_image
from .paths import DEBIAN_FASHION_MNIST, data_root

COOP_DATASETS_MD = "https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md"

# Class names of torchvision.datasets.FashionMNIST.classes (torchvision/datasets/mnist.py).
FASHION_MNIST_CLASSNAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


class LabelledImages(torch.utils.data.Dataset):
    """A labelled image data set with the metadata zero-shot classification needs.

    Attributes
    ----------
    name, split : str
        Registry name and split ("train", "val" or "test").
    classnames : list of str
        One name per label, in label order.
    templates : list of str
        Prompt templates with one ``"{}"`` for the class name.
    labels : ndarray of int64, shape (n,)
    preprocessing : str
        What the loader does to an image beyond decoding it (part of the cache key).
    missing_classes : list of str
        Classes of the split file whose images are not on disk (empty when complete).
    """

    preprocessing = "rgb"

    def __init__(self, name, split, labels, classnames, templates, missing_classes=()):
        self.name = name
        self.split = split
        self.labels = np.asarray(labels, dtype=np.int64)
        self.classnames = list(classnames)
        self.templates = list(templates)
        self.missing_classes = list(missing_classes)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.load_image(index), int(self.labels[index])

    def load_image(self, index):
        """Return image ``index`` as an RGB :class:`PIL.Image.Image`.

        Raises :class:`llu_core.data.images.UnreadableImageError`, naming the file, when it cannot
        be decoded (:func:`llu_core.data.images.decode_image`).
        """
        raise NotImplementedError

    def content_digest(self):
        """A hex digest of what the items are (files or pixels, and labels), for cache keys."""
        raise NotImplementedError

    def __repr__(self):
        return (f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, "
                f"n={len(self)}, classes={len(self.classnames)})")


class ImageFiles(LabelledImages):
    """Images stored as files: ``paths[i]`` relative to ``image_dir``."""

    def __init__(self, name, split, image_dir, paths, labels, classnames, templates,
                 missing_classes=()):
        super().__init__(name, split, labels, classnames, templates, missing_classes)
        self.image_dir = Path(image_dir)
        self.paths = [str(path) for path in paths]

    def load_image(self, index):
        return decode_image(self.image_dir / self.paths[index])

    def content_digest(self):
        """A digest of the image folder, every item's path and label, and every file's size and
        modification time: the way build tools decide staleness, without reading the pixels.

        Another data root, an edited, replaced or damaged file changes it; a cache hit costs
        one ``stat`` per file.
        """
        digest = hashlib.sha256(os.fsencode(f"{self.image_dir.resolve()}\n"))  # file names need not be UTF-8
        for path, label in zip(self.paths, self.labels.tolist()):
            try:
                stat = (self.image_dir / path).stat()
                version = f"{stat.st_size}\t{stat.st_mtime_ns}"
            except OSError:
                version = "missing"
            digest.update(os.fsencode(f"{path}\t{label}\t{version}\n"))
        return digest.hexdigest()


class ImageArrays(LabelledImages):
    """Images held in memory as 8-bit pixels of shape (n, H, W) or (n, H, W, 3)
    (checked by :func:`llu_core.data.images.as_8bit_pixels`)."""

    def __init__(self, name, split, pixels, labels, classnames, templates, invert=False):
        super().__init__(name, split, labels, classnames, templates)
        self.pixels = as_8bit_pixels(pixels)
        self.invert = invert
        self.preprocessing = "rgb,inverted" if invert else "rgb"

    def load_image(self, index):
        pixels = self.pixels[index]
        if self.invert:
            pixels = 255 - pixels
        return Image.fromarray(pixels).convert("RGB")

    def content_digest(self):
        digest = hashlib.sha256(self.pixels.tobytes())
        digest.update(self.labels.tobytes())
        return digest.hexdigest()


class CorruptedImages(LabelledImages):
    """Another data set's images, corrupted when read (:func:`llu_core.data.corruptions.corrupt`).

    Item ``i`` is ``corrupt(source[i], kind, severity, seed, index=i)`` with ``source[i]``'s
    label, so the same seed gives the same bytes in any reading order.
    """

    def __init__(self, name, source, kind, severity, seed):
        check_corruption(kind, severity)
        super().__init__(name, source.split, source.labels, source.classnames, source.templates)
        self.source, self.kind, self.severity, self.seed = source, kind, int(severity), int(seed)
        self.preprocessing = f"{source.preprocessing},{kind}@{self.severity},seed={self.seed}"

    def load_image(self, index):
        return corrupt(self.source.load_image(index), self.kind, self.severity, self.seed, index)

    def content_digest(self):
        return self.source.content_digest()


@dataclass(frozen=True)
class CoOpDataset:
    """Where CoOp keeps one benchmark data set (CoOp's ``datasets/<name>.py``)."""

    folder: str
    image_dir: str
    split_file: str
    template: str
    subset_folder: str = ""
    #: The section of CoOp's DATASETS.md on this data set, when not the name without "_".
    anchor: str = ""


# Folder layouts from CoOp's DATASETS.md; templates from CoOp's CUSTOM_TEMPLATES
# (KaiyangZhou/CoOp, trainers/coop.py). ImageNet and FGVC-Aircraft have no split file.
COOP_DATASETS = {
    "imagenet": CoOpDataset("imagenet", "images", "", "a photo of a {}."),
    "caltech101": CoOpDataset("caltech-101", "101_ObjectCategories", "split_zhou_Caltech101.json",
                              "a photo of a {}."),
    "oxford_pets": CoOpDataset("oxford_pets", "images", "split_zhou_OxfordPets.json",
                               "a photo of a {}, a type of pet."),
    "stanford_cars": CoOpDataset("stanford_cars", "", "split_zhou_StanfordCars.json",
                                 "a photo of a {}."),
    "oxford_flowers": CoOpDataset("oxford_flowers", "jpg", "split_zhou_OxfordFlowers.json",
                                  "a photo of a {}, a type of flower.", anchor="flowers102"),
    "food101": CoOpDataset("food-101", "images", "split_zhou_Food101.json",
                           "a photo of {}, a type of food."),
    "fgvc_aircraft": CoOpDataset("fgvc_aircraft", "images", "",
                                 "a photo of a {}, a type of aircraft."),
    "sun397": CoOpDataset("sun397", "SUN397", "split_zhou_SUN397.json", "a photo of a {}."),
    "dtd": CoOpDataset("dtd", "images", "split_zhou_DescribableTextures.json", "{} texture.",
                       subset_folder="dtd_subset"),
    "eurosat": CoOpDataset("eurosat", "2750", "split_zhou_EuroSAT.json",
                           "a centered satellite photo of {}."),
    "ucf101": CoOpDataset("ucf101", "UCF-101-midframes", "split_zhou_UCF101.json",
                          "a photo of a person doing {}."),
}
# The generic CLIP/CoOp prompt for the two small data sets outside the benchmark.
DEFAULT_TEMPLATE = "a photo of a {}."

# ImageNet's shifted versions (CoOp's DATASETS.md): folder, image folder, DATASETS.md anchor.
IMAGENET_SHIFTS = {
    "imagenet_v2": ("imagenetv2", "imagenetv2-matched-frequency-format-val", "imagenetv2"),
    "imagenet_sketch": ("imagenet-sketch", "images", "imagenet-sketch"),
    "imagenet_a": ("imagenet-adversarial", "imagenet-a", "imagenet-a"),
    "imagenet_r": ("imagenet-rendition", "imagenet-r", "imagenet-r"),
}
#: The corrupted data sets' source, default severity and seed (see :mod:`llu_core.data.corruptions`).
CORRUPTED_SOURCE, DEFAULT_SEVERITY, CORRUPTION_SEED = "cifar10", 3, 0
CORRUPTED_DATASETS = tuple(f"{CORRUPTED_SOURCE}_{kind}" for kind in CORRUPTIONS)
DATASET_NAMES = ("fashion_mnist", "cifar10", *COOP_DATASETS, *IMAGENET_SHIFTS, *CORRUPTED_DATASETS)
#: Data sets that exist only as test sets: transfer targets, never fitted on.
TEST_ONLY = (*IMAGENET_SHIFTS, *CORRUPTED_DATASETS)
SPLITS = ("train", "val", "test")


def load_dataset(name, split, root=None, classes_file=None):
    """Load split ``split`` of data set ``name``.

    Parameters
    ----------
    name : str or Path
        One of :data:`DATASET_NAMES`: ``"fashion_mnist"``, ``"cifar10"``, a CoOp data set, a
        shifted ImageNet or a corrupted CIFAR-10 (``"cifar10_<kind>"``, optionally with
        ``"@<severity>"``); or a folder of your own images, one sub-folder per class
        (:mod:`llu_core.data.folders`; a ``Path``, or a string with a ``/``).
    split : {"train", "val", "test"}
        ``"val"`` exists for the CoOp data sets only (ImageNet's test split is its val folder);
        the data sets of :data:`TEST_ONLY` have only ``"test"``; an image folder without split
        folders only ``"train"``.
    root : str or Path, optional
        The data root; default :func:`llu_core.data.paths.data_root` (not used for a folder).
    classes_file : str or Path, optional
        For an image folder: its class names (:func:`llu_core.data.folders.load_image_folder`).

    Returns
    -------
    LabelledImages

    Raises
    ------
    ValueError
        For an unknown name, split, corruption or severity.
    FileNotFoundError
        When the data are not on disk; the message says what to download and where to put it.
    """
    from .folders import image_folder, load_image_folder  # folders builds on this module

    folder = image_folder(name)
    if folder is not None:
        return load_image_folder(folder, split, classes_file)
    if classes_file is not None:
        raise ValueError(f"classes_file is for a folder of images; {name!r} is a registered data set")
    registered, severity = check_dataset_name(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if registered in TEST_ONLY and split != "test":
        raise ValueError(f"{registered} is a transfer target with only a 'test' split, not {split!r}: "
                         "fit on its source data set and evaluate on this one")
    root = data_root(root)
    if registered in CORRUPTED_DATASETS:
        kind = registered[len(CORRUPTED_SOURCE) + 1:]
        return CorruptedImages(f"{registered}@{severity}", load_dataset(CORRUPTED_SOURCE, split, root), kind,
                               severity, CORRUPTION_SEED)
    if name in IMAGENET_SHIFTS:
        return _load_imagenet_shift(name, root)
    if name == "fashion_mnist":
        return _load_fashion_mnist(split, root)
    if name == "cifar10":
        return _load_cifar10(split, root)
    if name == "imagenet":
        return _load_imagenet(split, root)
    if name == "fgvc_aircraft":
        return _load_fgvc_aircraft(split, root)
    return _load_from_split_file(name, split, root)


def check_dataset_name(name):
    """Split a data-set name into its registered name and severity (None for an uncorrupted one).

    Raises ``ValueError`` for anything but a name of :data:`DATASET_NAMES`, a corrupted one
    optionally followed by ``@<severity>`` with a severity of 1-5 in ASCII digits.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a data-set name (a str), got {name!r}; known names: {', '.join(DATASET_NAMES)}")
    registered, at, severity = name.partition("@")
    if registered not in DATASET_NAMES or (at and registered not in CORRUPTED_DATASETS):
        raise ValueError(f"unknown data set {name!r}; known names: {', '.join(DATASET_NAMES)} "
                         f"(a corrupted one may end in @<severity>, e.g. {CORRUPTED_DATASETS[0]}@5), or a "
                         "folder of images such as './photos'")
    if registered not in CORRUPTED_DATASETS:
        return registered, None
    if not at:
        return registered, DEFAULT_SEVERITY
    if not (severity.isascii() and severity.isdigit()):
        raise ValueError(f"severity must be an integer from 1 to 5, got {severity!r} (in {name!r})")
    check_corruption(registered[len(CORRUPTED_SOURCE) + 1:], int(severity))
    return registered, int(severity)


def _no_val_split(name, split):
    if split == "val":
        raise ValueError(f"{name} has only 'train' and 'test' splits, not 'val'")


def _read_idx(path, n_dims):
    """Read an IDX file of unsigned bytes with ``n_dims`` dimensions, gzipped or not.

    The format of MNIST: two zero bytes, the type byte 0x08, the number of dimensions, each
    size as a big-endian 32-bit integer, then the data. Only as many bytes as the header
    announces are decompressed. Raises ``ValueError`` naming the file when it is not such a
    file, is truncated or holds more data than its header says.
    """
    raw = read_file(path, "IDX file")
    stream = gzip.GzipFile(fileobj=io.BytesIO(raw)) if str(path).endswith(".gz") else io.BytesIO(raw)
    try:
        magic = stream.read(4)
        if len(magic) < 4 or magic[:3] != b"\x00\x00\x08" or magic[3] != n_dims:
            raise ValueError(f"IDX file {path} is not an IDX file of unsigned bytes with {n_dims} dimension(s) "
                             f"(it starts with {magic.hex() or 'nothing'})")
        sizes = stream.read(4 * n_dims)
        if len(sizes) < 4 * n_dims:
            raise ValueError(f"IDX file {path} is truncated inside its header")
        shape = [int.from_bytes(sizes[4 * i: 4 * i + 4], "big") for i in range(n_dims)]
        expected = math.prod(shape)
        data = stream.read(expected + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"IDX file {path} cannot be decompressed ({error})") from None
    if len(data) != expected:
        raise ValueError(f"IDX file {path} holds {'more' if len(data) > expected else len(data)} bytes of data "
                         f"where its header announces {expected} (shape {shape}): it is truncated or damaged")
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def _load_fashion_mnist(split, root):
    _no_val_split("fashion_mnist", split)
    prefix = "train" if split == "train" else "t10k"
    for folder in (root / "fashion-mnist", DEBIAN_FASHION_MNIST):
        images = folder / f"{prefix}-images-idx3-ubyte.gz"
        if images.exists():
            labels_file = folder / f"{prefix}-labels-idx1-ubyte.gz"
            pixels, labels = _read_idx(images, 3), _read_idx(labels_file, 1)
            if len(pixels) != len(labels):
                raise ValueError(f"Fashion-MNIST in {folder}: {images.name} holds {len(pixels)} images but "
                                 f"{labels_file.name} {len(labels)} labels; the copy is incomplete or mixed")
            break
    else:
        if not (root / "FashionMNIST" / "raw").is_dir():
            raise FileNotFoundError(
                f"Fashion-MNIST not found in {root / 'fashion-mnist'}, {DEBIAN_FASHION_MNIST} or "
                f"{root / 'FashionMNIST'}: run `apt-get install -y dataset-fashion-mnist` or "
                "`python -m llu_core fetch-data` (the book's offline data), or set LLU_DATA_ROOT to the "
                "folder that holds fashion-mnist/")
        from torchvision.datasets import FashionMNIST

        original = FashionMNIST(str(root), train=split == "train", download=False)
        pixels, labels = original.data.numpy(), original.targets.numpy()
    return ImageArrays("fashion_mnist", split, pixels, labels, FASHION_MNIST_CLASSNAMES,
                       [DEFAULT_TEMPLATE], invert=True)


def _load_cifar10(split, root):
    _no_val_split("cifar10", split)
    folder = root / "cifar10" / split
    if folder.is_dir():
        from torchvision.datasets import ImageFolder

        images = ImageFolder(str(folder))
        paths = [Path(path).relative_to(folder) for path, _ in images.samples]
        return ImageFiles("cifar10", split, folder, paths, images.targets, images.classes,
                          [DEFAULT_TEMPLATE])
    if not (root / "cifar-10-batches-py").is_dir():
        raise FileNotFoundError(
            f"CIFAR-10 not found: expected {folder}/<class>/*.jpg, the book's offline data (run `python -m "
            "llu_core fetch-data`, or pass root= / set LLU_DATA_ROOT to the folder that holds it), or "
            f"torchvision's {root / 'cifar-10-batches-py'} (other pixels than the book's JPEGs)")
    from torchvision.datasets import CIFAR10

    original = CIFAR10(str(root), train=split == "train", download=False)
    return ImageArrays("cifar10", split, original.data, original.targets, original.classes,
                       [DEFAULT_TEMPLATE])


def _missing(name, what, root):
    spec = COOP_DATASETS[name]
    anchor = spec.anchor or name.replace("_", "")
    offline = (f" (the book's offline {spec.subset_folder}/: `python -m llu_core fetch-data`)"
               if spec.subset_folder else "")
    return FileNotFoundError(
        f"{name}: {what} not found under {root}. Download it as CoOp's DATASETS.md says "
        f"({COOP_DATASETS_MD}#{anchor}){offline} and pass root= or set LLU_DATA_ROOT to the folder "
        "that holds it")


def _clean(classname):
    return classname.replace("_", " ")


def _load_imagenet(split, root):
    _no_val_split("imagenet", split)
    spec = COOP_DATASETS["imagenet"]
    folder = root / spec.folder
    classnames_file = folder / "classnames.txt"
    # CoOp reads ImageNet's val folder as the test split (datasets/imagenet.py).
    split_dir = folder / spec.image_dir / ("train" if split == "train" else "val")
    if not classnames_file.exists() or not split_dir.is_dir():
        raise _missing("imagenet", f"{classnames_file} or {split_dir}", root)
    names = _read_classnames(classnames_file)
    wnids = sorted(path.name for path in split_dir.iterdir() if path.is_dir())
    unknown = [wnid for wnid in wnids if wnid not in names]
    if unknown:
        raise ValueError(f"class file {classnames_file} has no class name for the folders {unknown[:5]} of {split_dir}")
    paths, labels = [], []
    for label, wnid in enumerate(wnids):
        for image in sorted((split_dir / wnid).iterdir()):
            paths.append(f"{wnid}/{image.name}")
            labels.append(label)
    return ImageFiles("imagenet", split, split_dir, paths, labels,
                      [names[wnid] for wnid in wnids], [spec.template])


def _text_lines(path, what):
    """The non-empty lines of the UTF-8 text file ``path``, stripped, with their line numbers."""
    try:
        text = read_file(path, what).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{what} {path} is not UTF-8 text ({error})") from None
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _read_classnames(path):
    """{wnid: class name} of an ImageNet ``classnames.txt``: one "<wnid> <class name>" per line.

    Raises ``ValueError`` naming the file and the line for a malformed line or a wnid listed twice.
    """
    names = {}
    for number, line in _text_lines(path, "class file"):
        wnid, _, classname = line.partition(" ")
        if not classname.strip():
            raise ValueError(f"class file {path}, line {number}: {line[:80]!r} is not '<wnid> <class name>'")
        if wnid in names:
            raise ValueError(f"class file {path}, line {number}: wnid {wnid!r} is listed a second time")
        names[wnid] = classname.strip()
    return names


def _imagenet_classnames(folder, root, name):
    """{wnid: class name} from ``folder/classnames.txt``, else ImageNet's own copy."""
    for path in (folder / "classnames.txt", root / COOP_DATASETS["imagenet"].folder / "classnames.txt"):
        if path.exists():
            return _read_classnames(path)
    raise FileNotFoundError(
        f"{name}: classnames.txt not found in {folder} or {root / 'imagenet'}; copy ImageNet's "
        f"classnames.txt there as CoOp's DATASETS.md says ({COOP_DATASETS_MD}#{IMAGENET_SHIFTS[name][2]})")


def _load_imagenet_shift(name, root):
    folder_name, image_folder, anchor = IMAGENET_SHIFTS[name]
    folder = root / folder_name
    image_dir = folder / image_folder
    if not image_dir.is_dir():
        raise FileNotFoundError(
            f"{name}: {image_dir} not found under {root}. Download it as CoOp's DATASETS.md says "
            f"({COOP_DATASETS_MD}#{anchor}) and pass root= or set LLU_DATA_ROOT to the folder that holds it")
    names = _imagenet_classnames(folder, root, name)
    folders = sorted(path.name for path in image_dir.iterdir() if path.is_dir() and not path.name.startswith("."))
    if name == "imagenet_v2":  # folder k holds ImageNet's class k (classes in sorted wnid order)
        wnids = sorted(names)
        unknown = [f for f in folders if not f.isdigit() or int(f) >= len(wnids)]
        folders = sorted((f for f in folders if f not in unknown), key=int)
        classes = wnids
        label_of = {f: int(f) for f in folders}
    else:
        unknown = [f for f in folders if f not in names]
        classes = folders
        label_of = {f: label for label, f in enumerate(folders)}
    if unknown:
        raise ValueError(f"{name}: folders {unknown[:5]} under {image_dir} are not ImageNet classes of classnames.txt")
    paths, labels = [], []
    for class_folder in folders:
        for image in sorted((image_dir / class_folder).iterdir()):
            if image.is_file() and not image.name.startswith("."):
                paths.append(f"{class_folder}/{image.name}")
                labels.append(label_of[class_folder])
    if not paths:
        raise FileNotFoundError(f"{name}: no images under {image_dir}; see {COOP_DATASETS_MD}#{anchor}")
    return ImageFiles(name, "test", image_dir, paths, labels, [names[wnid] for wnid in classes],
                      [COOP_DATASETS["imagenet"].template])


def _load_fgvc_aircraft(split, root):
    spec = COOP_DATASETS["fgvc_aircraft"]
    folder = root / spec.folder
    variants = folder / "variants.txt"
    listing = folder / f"images_variant_{split}.txt"
    if not variants.exists() or not listing.exists():
        raise _missing("fgvc_aircraft", f"{variants} or {listing}", root)
    classnames, label_of = [], {}
    for number, classname in _text_lines(variants, "class file"):
        if label_of.setdefault(classname, len(classnames)) != len(classnames):
            raise ValueError(f"class file {variants}, line {number}: variant {classname!r} is listed a second time")
        classnames.append(classname)
    paths, labels = [], []
    for number, line in _text_lines(listing, "image list"):
        image, _, variant = line.partition(" ")
        problem = "" if variant.strip() in label_of else f"names no variant of {variants.name}"
        problem = problem or _file_name_problem(f"{image}.jpg")
        if problem:
            raise ValueError(f"image list {listing}, line {number}: {line[:80]!r} {problem}; expected "
                             "'<image id> <variant>'")
        paths.append(f"{image}.jpg")
        labels.append(label_of[variant.strip()])
    return ImageFiles("fgvc_aircraft", split, folder / spec.image_dir, paths, labels,
                      classnames, [spec.template])


def find_split_file(name, root=None):
    """Return the path of CoOp's split file for data set ``name``.

    Looked for in the data set's folder (CoOp's place), then in ``<root>/coop_splits/``.
    """
    spec = COOP_DATASETS[name]
    root = data_root(root)
    candidates = [root / folder / spec.split_file for folder in (spec.folder, spec.subset_folder)
                  if folder]
    candidates.append(root / "coop_splits" / spec.split_file)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise _missing(name, f"{spec.split_file} (looked in {', '.join(map(str, candidates))})", root)


def _image_dir(name, root):
    spec = COOP_DATASETS[name]
    for folder in (spec.folder, spec.subset_folder):
        if folder and (root / folder / spec.image_dir).is_dir():
            return folder, root / folder / spec.image_dir
    raise _missing(name, f"the image folder {root / spec.folder / spec.image_dir}", root)


def read_split_file(path):
    """Read and check a CoOp split file: ``{"train"|"val"|"test": [[path, label, class name], ...]}``.

    Raises ``ValueError`` naming the file for invalid or too deeply nested JSON, a missing
    split, a malformed item, an image path that leaves the image folder (absolute, or with a
    ``..`` part) or that no file system takes (a NUL byte, a name part longer than 255 bytes,
    characters without a UTF-8 encoding), and a label given two class names.
    """
    splits = parse_json(read_file(path, "split file"), f"split file {path}")
    if not isinstance(splits, dict) or not all(isinstance(splits.get(split), list) for split in SPLITS):
        raise ValueError(f"split file {path} must map each of {SPLITS} to a list of "
                         "[relative image path, label, class name] items")
    names = {}
    for split in SPLITS:
        for item in splits[split]:
            if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and item[0]
                    and isinstance(item[1], int) and not isinstance(item[1], bool) and item[1] >= 0
                    and isinstance(item[2], str)):
                raise ValueError(f"split file {path}: item {item!r} of {split!r} is not "
                                 "[relative image path, non-negative integer label, class name]")
            problem = _file_name_problem(item[0])
            if problem:
                raise ValueError(f"split file {path}: item {item[0][:80]!r} of {split!r} {problem}")
            name = names.setdefault(item[1], item[2])
            if name != item[2]:
                raise ValueError(f"split file {path}: label {item[1]} has two class names, {name!r} and "
                                 f"{item[2]!r}; one label, one name")
    return {split: splits[split] for split in SPLITS}


def _file_name_problem(relative):
    """Why ``relative`` cannot name a file inside the image folder, or None."""
    if relative.startswith(("/", "\\")) or ".." in relative.replace("\\", "/").split("/"):
        return "lies outside the image folder; paths must be relative, without '..'"
    if "\x00" in relative:
        return "holds a NUL character, which no file name can"
    try:
        parts = [part.encode() for part in relative.split("/")]
    except UnicodeEncodeError:
        return "holds characters that have no UTF-8 encoding"
    if max(map(len, parts)) > 255:
        return "has a name part longer than 255 bytes, more than file systems allow"
    return None


def _load_from_split_file(name, split, root):
    spec = COOP_DATASETS[name]
    splits = read_split_file(find_split_file(name, root))
    folder, image_dir = _image_dir(name, root)
    present, missing = _classes_on_disk(name, splits, image_dir)
    if missing and not folder.endswith("_subset"):
        warnings.warn(f"{name}: {len(missing)} classes have no images under {image_dir}; "
                      f"using the {len(present)} present ones", stacklevel=3)
    new_label = {label: index for index, label in enumerate(sorted(present))}
    items = [item for item in splits[split] if item[1] in new_label]
    return ImageFiles(name, split, image_dir, [item[0] for item in items],
                      [new_label[item[1]] for item in items],
                      [_clean(present[label]) for label in sorted(present)], [spec.template],
                      missing_classes=[_clean(classname) for classname in missing])


def _classes_on_disk(name, splits, image_dir):
    """Split the split file's classes into present ones ({label: name}) and missing names."""
    found, total, classnames = {}, {}, {}
    for items in splits.values():
        for path, label, classname in items:
            classnames[label] = classname
            total[label] = total.get(label, 0) + 1
            found[label] = found.get(label, 0) + (image_dir / path).exists()
    partial = [classnames[label] for label in total if 0 < found[label] < total[label]]
    if partial:
        raise FileNotFoundError(
            f"{name}: some images of classes {partial} are missing under {image_dir}; the "
            f"download looks incomplete (see {COOP_DATASETS_MD})")
    present = {label: classnames[label] for label in total if found[label]}
    if not present:
        raise FileNotFoundError(f"{name}: none of the split file's images exist under {image_dir}; "
                                f"see {COOP_DATASETS_MD}")
    missing = [classnames[label] for label in sorted(total) if not found[label]]
    return present, missing
