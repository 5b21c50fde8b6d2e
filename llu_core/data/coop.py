"""CoOp's benchmark on disk: its 11 data sets, ImageNet's shifted test sets and their file formats.

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

ImageNet's shifted test sets (``imagenet_v2``, ``imagenet_sketch``, ``imagenet_a``,
``imagenet_r``) hold ImageNet's classes in other domains, laid out as in CoOp's ``DATASETS.md``
with a copy of ImageNet's ``classnames.txt`` in each folder (else ``<root>/imagenet/classnames.txt``
is read). ImageNet-V2's folders ``0``..``999`` are ImageNet's labels (classes in sorted wnid
order); Sketch, A and R have one folder per wnid, and their classes are the sorted wnid folders
present: all 1000 for Sketch, 200 for A and R, so that A and R are scored against their 200
classes only, as CoOp does (``datasets/imagenet_a.py``, ``imagenet_r.py``).

Every loader here takes the data root ``root`` resolved, and a split the registry
(:mod:`llu_core.data.datasets`) has checked.
"""

import warnings
from dataclasses import dataclass

from ..utils.io import parse_json, read_file
from .labelled import SPLITS, ImageFiles

COOP_DATASETS_MD = "https://github.com/KaiyangZhou/CoOp/blob/main/DATASETS.md"


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

# ImageNet's shifted versions (CoOp's DATASETS.md): folder, image folder, DATASETS.md anchor.
IMAGENET_SHIFTS = {
    "imagenet_v2": ("imagenetv2", "imagenetv2-matched-frequency-format-val", "imagenetv2"),
    "imagenet_sketch": ("imagenet-sketch", "images", "imagenet-sketch"),
    "imagenet_a": ("imagenet-adversarial", "imagenet-a", "imagenet-a"),
    "imagenet_r": ("imagenet-rendition", "imagenet-r", "imagenet-r"),
}


def load_coop_dataset(name, split, root):
    """Split ``split`` of the CoOp data set ``name`` (a key of :data:`COOP_DATASETS`) under the data
    root ``root``."""
    if name == "imagenet":
        return _load_imagenet(split, root)
    if name == "fgvc_aircraft":
        return _load_fgvc_aircraft(split, root)
    return _load_from_split_file(name, split, root)


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


def load_imagenet_shift(name, root):
    """The test set of ImageNet's shifted version ``name`` (a key of :data:`IMAGENET_SHIFTS`) under the
    data root ``root``."""
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


def find_split_file(name, root):
    """Return the path of CoOp's split file for data set ``name`` under the data root ``root``.

    Looked for in the data set's folder (CoOp's place), then in ``<root>/coop_splits/``.
    """
    spec = COOP_DATASETS[name]
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
                      f"using the {len(present)} present ones", stacklevel=5)  # at load_dataset's caller
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
