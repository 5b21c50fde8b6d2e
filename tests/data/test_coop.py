"""CoOp's data sets (llu_core.data.coop) on the real offline data and CoOp's real split files:
the DTD subset, class names, ImageNet's shifted test sets on folder trees built here, and the
errors of a missing, incomplete or malformed data set, each naming the file.

Reads the offline data under ``llu_core.data.paths.data_root()`` (``shared/data``: the 10-class
DTD subset, CoOp's split files). Fake data sets for the error paths are built in ``tmp_path``
from the real split files.
"""

import collections
import io
import json
import re
import warnings

import numpy as np
import pytest
from PIL import Image

from llu_core.data.coop import COOP_DATASETS, IMAGENET_SHIFTS, find_split_file
from llu_core.data.datasets import load_dataset
from llu_core.data.labelled import ImageFiles
from llu_core.data.paths import data_root
from coop_files import SPLITS_DIR, class_names, split_file
from our_errors import assert_raises_ours, our_error_cases

DATA = data_root()


DTD_SPLIT = SPLITS_DIR / "split_zhou_DescribableTextures.json"


UCF_SPLIT = SPLITS_DIR / "split_zhou_UCF101.json"


# The 10 DTD classes of shared/data/dtd_subset (its README), 120 images each.
DTD_SUBSET_CLASSES = ["banded", "blotchy", "braided", "bubbly", "bumpy", "chequered",
                      "cobwebbed", "cracked", "crosshatched", "crystalline"]


# Section anchors of CoOp's DATASETS.md ("### Flowers102" and so on).
COOP_DATASETS_MD_ANCHORS = {
    "imagenet": "imagenet", "caltech101": "caltech101", "oxford_pets": "oxfordpets",
    "stanford_cars": "stanfordcars", "oxford_flowers": "flowers102", "food101": "food101",
    "fgvc_aircraft": "fgvcaircraft", "sun397": "sun397", "dtd": "dtd", "eurosat": "eurosat",
    "ucf101": "ucf101",
}


def _read_json(path):
    return json.loads(path.read_text())


def _tiny_jpeg():
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 90)).save(buffer, format="JPEG")
    return buffer.getvalue()


TINY_JPEG = _tiny_jpeg()


def fake_coop_root(root, folder, image_dir, split_name, splits, present_labels):
    """Lay out a CoOp data set under ``root/folder``: the split file, and a tiny JPEG for every
    item of the classes in ``present_labels``. Returns the image folder."""
    images = root / folder / image_dir
    images.mkdir(parents=True)
    (root / folder / split_name).write_text(json.dumps(splits))
    for items in splits.values():
        for path, label, _ in items:
            if label in present_labels:
                (images / path).parent.mkdir(parents=True, exist_ok=True)
                (images / path).write_bytes(TINY_JPEG)
    return images


@pytest.fixture(scope="module")
def dtd_real():
    return {split: load_dataset("dtd", split) for split in ("train", "val", "test")}


# --- DTD: the real split file and the real 10-class subset ----------------------------------------


def test_dtd_subset_reads_the_ten_present_classes_of_the_real_split_file(dtd_real):
    splits = split_file("split_zhou_DescribableTextures.json")
    names = class_names(splits)
    assert find_split_file("dtd", DATA) == DTD_SPLIT
    present = sorted(label for label, name in names.items() if name in DTD_SUBSET_CLASSES)
    assert len(present) == 10
    for split, ds in dtd_real.items():
        assert ds.name == "dtd" and ds.split == split
        assert ds.image_dir == DATA / "dtd_subset" / "images"
        # Relabelled 0..9 in the order of the split file's labels; names are the file's.
        assert ds.classnames == [names[label].replace("_", " ") for label in present]
        assert sorted(ds.classnames) == DTD_SUBSET_CLASSES
        assert ds.templates == ["{} texture."]
        assert len(ds.missing_classes) == 37
        assert set(ds.missing_classes) == set(names.values()) - set(DTD_SUBSET_CLASSES)
        assert ds.labels.dtype == np.int64 and set(ds.labels.tolist()) == set(range(10))
        # Exactly the split file's items of those classes, in its order, with the new labels.
        expected = [(path, present.index(label)) for path, label, _ in splits[split]
                    if label in present]
        assert list(zip(ds.paths, ds.labels.tolist())) == expected
        # Counts per class equal the split file's (60/24/36 per class in CoOp's DTD split).
        file_counts = collections.Counter(label for _, label, _ in splits[split])
        assert np.bincount(ds.labels, minlength=10).tolist() == [file_counts[l] for l in present]
        assert all((ds.image_dir / path).is_file() for path in ds.paths)
    assert [len(dtd_real[s]) for s in ("train", "val", "test")] == [600, 240, 360]


def test_dtd_subset_images_open_as_rgb(dtd_real):
    for split, ds in dtd_real.items():
        # The first and the last item of every class (not all 1,200, to stay fast).
        for label in range(10):
            rows = np.flatnonzero(ds.labels == label)
            for row in (rows[0], rows[-1]):
                image, target = ds[int(row)]
                assert isinstance(image, Image.Image) and image.mode == "RGB"
                assert min(image.size) > 16
                assert target == label and type(target) is int
                # The file of the item is in its class's folder.
                assert ds.paths[row].split("/")[0] == ds.classnames[label]


def test_dtd_relabels_present_classes_in_the_order_of_their_original_labels(tmp_path):
    """A sparse subset (labels 40, 3, 11 of CoOp's file) becomes 0, 1, 2 in label order,
    even when the split file lists label 40 first (items reversed)."""
    splits = {split: items[::-1] for split, items in _read_json(DTD_SPLIT).items()}
    names = class_names(splits)
    present = {40, 3, 11}
    fake_coop_root(tmp_path, "dtd_subset", "images", DTD_SPLIT.name, splits, present)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "_subset" folder declares itself partial: no warning
        ds = load_dataset("dtd", "test", root=tmp_path)
    assert ds.classnames == [names[3], names[11], names[40]]
    assert ds.missing_classes == [names[l] for l in sorted(names) if l not in present]
    new = {3: 0, 11: 1, 40: 2}
    expected = [(p, new[l]) for p, l, _ in splits["test"] if l in present]
    assert list(zip(ds.paths, ds.labels.tolist())) == expected
    assert ds[0][0].size == (4, 4)


def test_class_names_lose_their_underscores(tmp_path):
    """UCF101's names (Apply_Eye_Makeup) are cleaned as CoOp's prompt learner does."""
    full = split_file(UCF_SPLIT.name)
    keep = {0, 1, 5}
    splits = {split: [item for label in sorted(keep)
                      for item in [item for item in items if item[1] == label][:2]]
              for split, items in full.items()}
    fake_coop_root(tmp_path, "ucf101", "UCF-101-midframes", UCF_SPLIT.name, splits, keep)
    ds = load_dataset("ucf101", "train", root=tmp_path)
    raw = class_names(splits)
    assert "_" in raw[0]
    assert ds.classnames == [raw[l].replace("_", " ") for l in sorted(keep)]
    assert ds.classnames[0] == "Apply Eye Makeup"
    assert ds.templates == ["a photo of a person doing {}."]
    assert ds.labels.tolist() == [0, 0, 1, 1, 2, 2]


def test_data_root_comes_from_the_environment(tmp_path, monkeypatch):
    splits = {s: items[:2] for s, items in split_file(UCF_SPLIT.name).items()}
    fake_coop_root(tmp_path, "ucf101", "UCF-101-midframes", UCF_SPLIT.name, splits, {0})
    monkeypatch.setenv("LLU_DATA_ROOT", str(tmp_path))
    assert load_dataset("ucf101", "test").image_dir == tmp_path / "ucf101" / "UCF-101-midframes"
    # An explicit root wins over the environment.
    assert load_dataset("dtd", "val", root=DATA).image_dir == DATA / "dtd_subset" / "images"


# --- ImageNet's shifted test sets: their classes, ImageNet's labels -------------------------------


# A 12-class "ImageNet" in classnames.txt order (CoOp's file is sorted by wnid; this one is not).
WNIDS = ["n07", "n03", "n11", "n01", "n05", "n09", "n02", "n12", "n04", "n06", "n10", "n08"]


NAMES = {wnid: f"name of {wnid}" for wnid in WNIDS}


def _jpeg(colour):
    buffer = io.BytesIO()
    Image.new("RGB", (6, 6), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def _classnames_file(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{wnid} {NAMES[wnid]}\n" for wnid in WNIDS))


def _folder_tree(image_dir, folders, per_folder=2):
    for index, folder in enumerate(folders):
        (image_dir / folder).mkdir(parents=True)
        for k in range(per_folder):
            (image_dir / folder / f"img{k}.jpg").write_bytes(_jpeg((10 * index, 5 * k, 0)))


@pytest.mark.parametrize("name", ["imagenet_a", "imagenet_r"])
def test_imagenet_a_and_r_have_the_classes_of_their_folders_only(name, tmp_path):
    folder, image_folder, _ = IMAGENET_SHIFTS[name]
    present = ["n09", "n02", "n11", "n05"]  # 4 of the 12 classes, created out of order
    _folder_tree(tmp_path / folder / image_folder, present, per_folder=3)
    (tmp_path / folder / image_folder / "README.txt").write_text("not a class")
    if name == "imagenet_a":
        _classnames_file(tmp_path / folder / "classnames.txt")
    else:  # no copy in the folder: ImageNet's own classnames.txt is read
        _classnames_file(tmp_path / "imagenet" / "classnames.txt")
    ds = load_dataset(name, "test", root=tmp_path)
    assert isinstance(ds, ImageFiles) and ds.name == name and ds.split == "test"
    order = sorted(present)  # labels are the sorted wnid folders present
    assert ds.classnames == [NAMES[wnid] for wnid in order] and len(ds.classnames) == 4
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert [path.split("/")[0] for path in ds.paths] == [wnid for wnid in order for _ in range(3)]
    assert ds.templates == ["a photo of a {}."]
    image, label = ds[4]
    assert image.mode == "RGB" and label == 1
    with pytest.raises(ValueError, match="only a 'test' split"):
        load_dataset(name, "train", root=tmp_path)


def test_imagenet_sketch_and_v2_keep_imagenets_1000_class_labels(tmp_path):
    _classnames_file(tmp_path / "imagenet" / "classnames.txt")
    ordered = sorted(WNIDS)
    sketch_dir = tmp_path / "imagenet-sketch" / "images"
    _folder_tree(sketch_dir, ordered)
    sketch = load_dataset("imagenet_sketch", "test", root=tmp_path)
    assert sketch.classnames == [NAMES[wnid] for wnid in ordered]
    assert sketch.labels.tolist() == [label for label in range(12) for _ in range(2)]
    # ImageNet-V2: folder k holds ImageNet's class k (sorted wnids); folders sort by number.
    v2_dir = tmp_path / "imagenetv2" / "imagenetv2-matched-frequency-format-val"
    _folder_tree(v2_dir, ["10", "2", "0", "11"], per_folder=1)
    v2 = load_dataset("imagenet_v2", "test", root=tmp_path)
    assert v2.classnames == [NAMES[wnid] for wnid in ordered]  # all 12 classes, as ImageNet's
    assert v2.labels.tolist() == [0, 2, 10, 11] and v2.paths[1] == "2/img0.jpg"
    (v2_dir / "12").mkdir()
    with pytest.raises(ValueError, match=r"folders \['12'\].*not ImageNet classes"):
        load_dataset("imagenet_v2", "test", root=tmp_path)


def test_imagenet_shift_with_a_foreign_folder_or_no_data_says_what_is_wrong(tmp_path):
    _folder_tree(tmp_path / "imagenet-rendition" / "imagenet-r", ["n01", "n99"], per_folder=1)
    with pytest.raises(FileNotFoundError, match="classnames.txt not found.*DATASETS.md#imagenet-r"):
        load_dataset("imagenet_r", "test", root=tmp_path)
    _classnames_file(tmp_path / "imagenet-rendition" / "classnames.txt")
    with pytest.raises(ValueError, match=r"folders \['n99'\]"):
        load_dataset("imagenet_r", "test", root=tmp_path)
    for name, (_, _, anchor) in IMAGENET_SHIFTS.items():
        with pytest.raises(FileNotFoundError, match=f"DATASETS.md#{anchor}\\)"):
            load_dataset(name, "test", root=tmp_path / "empty")


# --- A data set that is missing or incomplete says what to download -------------------------------


@pytest.mark.parametrize("name", sorted(COOP_DATASETS))
def test_missing_coop_dataset_points_to_datasets_md(name, tmp_path):
    with pytest.raises(FileNotFoundError, match="DATASETS.md") as error:
        load_dataset(name, "test", root=tmp_path)
    message = str(error.value)
    assert name in message and str(tmp_path) in message
    assert f"DATASETS.md#{COOP_DATASETS_MD_ANCHORS[name]})" in message


def test_split_file_without_images_points_to_datasets_md():
    """Caltech101's real split file is in coop_splits/, its images are not in shared/data."""
    assert find_split_file("caltech101", DATA) == SPLITS_DIR / "split_zhou_Caltech101.json"
    with pytest.raises(FileNotFoundError, match="DATASETS.md") as error:
        load_dataset("caltech101", "train")
    assert "101_ObjectCategories" in str(error.value)


def test_class_with_some_images_missing_is_an_incomplete_download(tmp_path):
    splits = _read_json(DTD_SPLIT)
    names = class_names(splits)
    images = fake_coop_root(tmp_path, "dtd", "images", DTD_SPLIT.name, splits, {0, 7})
    victim = splits["val"][[l for _, l, _ in splits["val"]].index(7)][0]
    (images / victim).unlink()
    with pytest.raises(FileNotFoundError, match="incomplete") as error:
        load_dataset("dtd", "train", root=tmp_path)
    assert names[7] in str(error.value) and names[0] not in str(error.value)


def test_folder_with_whole_classes_missing_warns(tmp_path):
    splits = _read_json(DTD_SPLIT)
    fake_coop_root(tmp_path, "dtd", "images", DTD_SPLIT.name, splits, {0, 7})
    with pytest.warns(UserWarning, match="dtd: 45 classes have no images.*2 present") as caught:
        ds = load_dataset("dtd", "val", root=tmp_path)
    assert caught[0].filename == __file__  # the warning points at the call of load_dataset
    assert len(ds.classnames) == 2 and len(ds.missing_classes) == 45
    assert len(ds) == 2 * 24


def test_folder_with_no_image_of_the_split_file_raises(tmp_path):
    splits = _read_json(DTD_SPLIT)
    fake_coop_root(tmp_path, "dtd", "images", DTD_SPLIT.name, splits, set())
    with pytest.raises(FileNotFoundError, match="none of the split file's images"):
        load_dataset("dtd", "test", root=tmp_path)


# --- A malformed split, class or list file is refused, naming the file and the line ---------------


def split_file_root(tmp, splits, name="x.jpg"):
    """A DTD folder with one image and the split file ``splits`` (JSON text or data)."""
    (tmp / "dtd" / "images").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp / "dtd" / "images" / name)
    text = splits if isinstance(splits, str) else json.dumps(splits)
    (tmp / "dtd" / "split_zhou_DescribableTextures.json").write_text(text)
    return tmp / "dtd" / "split_zhou_DescribableTextures.json"


def test_a_split_file_that_gives_one_label_two_names_is_refused(tmp_path):
    path = split_file_root(tmp_path, {"train": [["x.jpg", 0, "banded"]], "val": [], "test": [["x.jpg", 0, "dotted"]]})
    with pytest.raises(ValueError, match=f"^split file {re.escape(str(path))}: label 0 has two class names, 'banded' "
                                         "and 'dotted'"):
        load_dataset("dtd", "train", root=tmp_path)  # before: the last name won


def _split_file_root(tmp, content):
    (tmp / "dtd" / "images").mkdir(parents=True)
    (tmp / "dtd" / "split_zhou_DescribableTextures.json").write_text(content)
    return load_dataset("dtd", "train", root=tmp)


def _split_item(tmp, relative):
    return load_dataset("dtd", "train", root=split_file_root(tmp, {"train": [[relative, 0, "x"]], "val": [],
                                                                   "test": []}).parent.parent)


def _imagenet_root(tmp, classnames):
    (tmp / "imagenet" / "images" / "train" / "n01").mkdir(parents=True)
    (tmp / "imagenet" / "classnames.txt").write_text(classnames)
    return load_dataset("imagenet", "train", root=tmp)


def _fgvc_root(tmp, listing):
    (tmp / "fgvc_aircraft" / "images").mkdir(parents=True)
    (tmp / "fgvc_aircraft" / "variants.txt").write_text("707-320\nA300B4\n")
    (tmp / "fgvc_aircraft" / "images_variant_train.txt").write_text(listing)
    return load_dataset("fgvc_aircraft", "train", root=tmp)


BAD_INPUT = [
    ("malformed split JSON", lambda tmp: _split_file_root(tmp, '{"train": [["a.jpg", 0, "x"]'), ValueError,
     "split file {tmp}/dtd/split_zhou_DescribableTextures.json is not valid JSON"),
    ("split item not a triple", lambda tmp: _split_file_root(tmp, json.dumps(
        {"train": [["a.jpg", "0"]], "val": [], "test": []})), ValueError, "split file {tmp}/dtd/.* item"),
    ("split item outside the root", lambda tmp: _split_file_root(tmp, json.dumps(
        {"train": [["../../../etc/passwd", 0, "x"]], "val": [], "test": []})), ValueError,
     "split file {tmp}/dtd/.*'../../../etc/passwd' of 'train' lies outside"),
    ("absolute split item", lambda tmp: _split_file_root(tmp, json.dumps(
        {"train": [["/etc/passwd", 0, "x"]], "val": [], "test": []})), ValueError, "'/etc/passwd' .* lies outside"),
    ("NUL byte in a split file", lambda tmp: _split_item(tmp, "a\x00.jpg"), ValueError,
     r"^split file {tmp}/dtd/split_zhou_DescribableTextures.json: item 'a\\x00.jpg' of 'train' holds a NUL"),
    ("over-long name in a split file", lambda tmp: _split_item(tmp, "a" * 300 + ".jpg"), ValueError,
     r"^split file {tmp}/dtd/.* has a name part longer than 255 bytes"),
    ("unencodable name in a split file", lambda tmp: _split_item(tmp, "\ud800.jpg"), ValueError,
     r"^split file {tmp}/dtd/.* holds characters that have no UTF-8 encoding"),
    ("deeply nested split file", lambda tmp: load_dataset("dtd", "train", root=split_file_root(
        tmp, "[" * 100000).parent.parent), ValueError,
     r"^split file {tmp}/dtd/split_zhou_DescribableTextures.json is nested too deeply"),
    ("ImageNet class file line without a name", lambda tmp: _imagenet_root(tmp, "n01 tench\nn02\n"), ValueError,
     r"^class file {tmp}/imagenet/classnames.txt, line 2: 'n02' is not '<wnid> <class name>'"),
    ("ImageNet class file without a folder's wnid", lambda tmp: _imagenet_root(tmp, "n02 goldfish\n"), ValueError,
     r"^class file {tmp}/imagenet/classnames.txt has no class name for the folders \['n01'\]"),
    ("FGVC line without a variant", lambda tmp: _fgvc_root(tmp, "1025794\n"), ValueError,
     r"^image list {tmp}/fgvc_aircraft/images_variant_train.txt, line 1: '1025794' names no variant"),
    ("FGVC unknown variant", lambda tmp: _fgvc_root(tmp, "1025794 707-320\n1340192 Boeing 747\n"), ValueError,
     r"^image list {tmp}/fgvc_aircraft/images_variant_train.txt, line 2: '1340192 Boeing 747' names no variant"),
]


@our_error_cases(BAD_INPUT)
def test_bad_input_raises_our_error_naming_the_argument_or_file(call, error, message, tmp_path, cache):
    assert_raises_ours(call, error, message, tmp_path)
