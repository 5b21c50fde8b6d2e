"""Your own images as a data set: any folder in torchvision's ImageFolder layout.

::

    photos/
        classnames.txt      optional: one line "<folder> <class name>" per class, the names put in
                            the prompts ("a photo of a {}."); other classes are named by their
                            folder, with "_" read as a space
        cat/  0001.jpg 0002.png ...
        dog/  ...

A folder whose sub-folders are split folders (``train/`` with ``test/`` and/or ``val/``, each in
the layout above, as the offline CIFAR-10 is) has those splits. A folder without them is one
pool of images, its ``"train"`` split: :func:`llu_core.evaluation.protocols.hold_out_shots`
fits on a few of them and holds out the rest. Image files are those torchvision's ImageFolder
reads (``.jpg``, ``.png``, ``.webp``, ...); hidden files and folders are skipped.

The images are read by :class:`llu_core.data.labelled.ImageFiles`, the decoder of every loader of
the project, and cached by :func:`llu_core.data.features.extract_features` as other image files:
keyed by the folder and every file's size and modification time. The registry
(:func:`llu_core.data.datasets.image_folder`) decides which names are folders; everything
:func:`llu_core.embed_dataset` does for a registered data set it does for a folder:
``embed_dataset(backbone, "path/to/photos")``.
"""

from pathlib import Path

from ..utils.io import read_text_lines
from .labelled import DEFAULT_TEMPLATE, SPLITS, ImageFiles

#: The file in an image folder that names its classes.
CLASSNAMES_FILE = "classnames.txt"


def _image_extensions():
    from torchvision.datasets.folder import IMG_EXTENSIONS

    return IMG_EXTENSIONS


def _visible_folders(folder):
    return sorted(path.name for path in folder.iterdir() if path.is_dir() and not path.name.startswith("."))


def folder_splits(folder):
    """The splits of an image folder: those of its split folders, else ``("train",)`` (one pool)."""
    folder = _existing(folder)
    present = _visible_folders(folder)
    if "train" in present and set(present) <= set(SPLITS) and len(present) > 1:
        return tuple(split for split in SPLITS if split in present)
    return ("train",)


def _existing(folder):
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist or is not a folder; expected "
                                f"{folder}/<class>/<images>")
    return folder


def read_classnames(path, folders):
    """``{folder: class name}`` from a classnames file: one line ``<folder> <class name>`` per class.

    Blank lines and lines starting with ``#`` are skipped. The file must be a regular file of
    UTF-8 text (:func:`llu_core.utils.io.read_text_lines`: a FIFO or a folder is refused, never waited
    on). Raises ``ValueError`` naming the file and line for a line without a name or a folder that
    is not a class of the image folder, and naming the file for text that is not UTF-8.
    """
    names = {}
    for number, line in read_text_lines(path, "classes file", "lines '<folder> <class name>'"):
        folder, _, name = line.partition(" ")
        if not name.strip():
            raise ValueError(f"{path}, line {number}: {line!r} is not '<folder> <class name>'")
        if folder not in folders:
            raise ValueError(f"{path}, line {number}: {folder!r} is not a class folder; the classes are "
                             f"{', '.join(folders)}")
        names[folder] = name.strip()
    return names


def load_image_folder(folder, split="train", classes_file=None):
    """The images of ``folder`` (one sub-folder per class) as a data set.

    Parameters
    ----------
    folder : str or Path
        An image folder (see the module's docstring).
    split : {"train", "val", "test"}
        For a folder with split folders, which one; a folder without them has only ``"train"``.
    classes_file : str or Path, optional
        Class names for the prompts (``<folder> <class name>`` lines); default
        ``folder/classnames.txt`` when it exists.

    Returns
    -------
    llu_core.data.labelled.ImageFiles
        Labels follow the sorted class folders (as ImageFolder's); ``name`` is the folder's name.

    Raises
    ------
    FileNotFoundError
        When ``folder`` or ``classes_file`` does not exist.
    ValueError
        For an unknown split, a folder with fewer than two classes, a class folder without
        images, split folders whose classes differ, a malformed classnames file, or two classes
        with one name.
    """
    folder = _existing(folder)
    splits = folder_splits(folder)
    if split not in splits:
        hint = ("; a folder without train/ and test/ folders is one pool of images: hold some out with "
                "llu_core.hold_out_shots" if splits == ("train",) else "")
        raise ValueError(f"image folder {folder} has the splits {list(splits)}, not {split!r}{hint}")
    images = folder / split if splits != ("train",) else folder
    classes = _visible_folders(images)
    if len(classes) < 2:
        found = f"one class folder ({classes[0]})" if classes else "no class folders"
        raise ValueError(f"image folder {images} has {found}: a classifier needs at least two classes, each a "
                         f"sub-folder of images ({images}/<class>/<images>)")
    if splits != ("train",) and split != "train" and classes != _visible_folders(folder / "train"):
        raise ValueError(f"image folder {images} has the classes {classes}, {folder / 'train'} has others; the "
                         "splits must have the same class folders")
    extensions = _image_extensions()
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(path.name for path in (images / name).iterdir()
                       if path.is_file() and not path.name.startswith(".") and path.name.lower().endswith(extensions))
        if not files:
            raise ValueError(f"class folder {images / name} holds no images (files ending in {', '.join(extensions)})")
        paths += [f"{name}/{file}" for file in files]
        labels += [label] * len(files)
    given = classes_file is not None
    classes_file = Path(classes_file).expanduser() if given else folder / CLASSNAMES_FILE
    names = read_classnames(classes_file, classes) if given or classes_file.exists() else {}
    classnames = [names.get(name, name.replace("_", " ")) for name in classes]
    repeated = sorted({name for name in classnames if classnames.count(name) > 1})
    if repeated:
        raise ValueError(f"image folder {images}: several classes are named {repeated}; give each class its own "
                         f"name in {classes_file}")
    return ImageFiles(folder.name, split, images, paths, labels, classnames, [DEFAULT_TEMPLATE])
