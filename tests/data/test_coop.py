"""The data set registry (llu_core.data.datasets) on the real offline data, and CoOp's protocol
(llu_core.evaluation.protocols) on CoOp's real split files.

Reads the offline data under ``llu_core.data.paths.data_root()`` (``shared/data``: the CIFAR-10
subset, the 10-class DTD subset, CoOp's split files) and Debian's Fashion-MNIST files. Fake
data sets for the error paths are built in ``tmp_path`` from the real split files.
"""

import collections
import gzip
import io
import json
import math
import warnings

import numpy as np
import pytest
from PIL import Image

from llu_core.data.coop import COOP_DATASETS, find_split_file
from llu_core.data.datasets import DATASET_NAMES, load_dataset, resolve_dataset
from llu_core.data.labelled import ImageArrays, ImageFiles
from llu_core.data.paths import DEBIAN_FASHION_MNIST, data_root
from llu_core.evaluation.protocols import base_new_split, few_shot_indices, validation_shots

DATA = data_root()
SPLITS_DIR = DATA / "coop_splits"
DTD_SPLIT = SPLITS_DIR / "split_zhou_DescribableTextures.json"
UCF_SPLIT = SPLITS_DIR / "split_zhou_UCF101.json"
# The 10 DTD classes of shared/data/dtd_subset (its README), 120 images each.
DTD_SUBSET_CLASSES = ["banded", "blotchy", "braided", "bubbly", "bumpy", "chequered",
                      "cobwebbed", "cracked", "crosshatched", "crystalline"]

# Classes and train/val/test sizes of CoOp's split files, as published with CoOp
# (Zhou et al., IJCV 2022, Table on the 11 data sets).
COOP_SPLIT_FACTS = {
    "split_zhou_Caltech101.json": (100, 4128, 1649, 2465),
    "split_zhou_DescribableTextures.json": (47, 2820, 1128, 1692),
    "split_zhou_EuroSAT.json": (10, 13500, 5400, 8100),
    "split_zhou_OxfordFlowers.json": (102, 4093, 1633, 2463),
    "split_zhou_OxfordPets.json": (37, 2944, 736, 3669),
    "split_zhou_StanfordCars.json": (196, 6509, 1635, 8041),
    "split_zhou_UCF101.json": (101, 7639, 1898, 3783),
}
# Section anchors of CoOp's DATASETS.md ("### Flowers102" and so on).
COOP_DATASETS_MD_ANCHORS = {
    "imagenet": "imagenet", "caltech101": "caltech101", "oxford_pets": "oxfordpets",
    "stanford_cars": "stanfordcars", "oxford_flowers": "flowers102", "food101": "food101",
    "fgvc_aircraft": "fgvcaircraft", "sun397": "sun397", "dtd": "dtd", "eurosat": "eurosat",
    "ucf101": "ucf101",
}


def _read_json(path):
    return json.loads(path.read_text())


_SPLIT_CACHE = {}


def split_file(name):
    """The parsed split file ``name`` of shared/data/coop_splits (parsed once per session)."""
    if name not in _SPLIT_CACHE:
        _SPLIT_CACHE[name] = _read_json(SPLITS_DIR / name)
    return _SPLIT_CACHE[name]


def class_names(splits):
    """{label: class name} over all splits of a split file."""
    return {label: name for items in splits.values() for _, label, name in items}


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


# --- DTD: the real split file and the real 10-class subset -------------------------------------


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


# --- CoOp's protocol on the real split files ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(COOP_SPLIT_FACTS))
def test_coop_split_file_classes_and_base_new_split(name):
    splits = split_file(name)
    n_classes, *sizes = COOP_SPLIT_FACTS[name]
    assert sorted(splits) == ["test", "train", "val"]
    assert [len(splits[s]) for s in ("train", "val", "test")] == sizes
    names = class_names(splits)
    # Labels are 0..n-1, one name per label, and every class is in every split.
    assert sorted(names) == list(range(n_classes))
    assert len(set(names.values())) == n_classes
    for items in splits.values():
        assert {label for _, label, _ in items} == set(range(n_classes))
        assert all(names[label] == cname for _, label, cname in items)
    labels = [label for _, label, _ in splits["test"]]
    base, new = base_new_split(labels)
    n_base = math.ceil(n_classes / 2)
    assert base.tolist() == list(range(n_base))
    assert new.tolist() == list(range(n_base, n_classes))


@pytest.mark.parametrize("name", sorted(COOP_SPLIT_FACTS))
def test_few_shot_sampling_on_coop_split_files(name):
    splits = split_file(name)
    train = np.array([label for _, label, _ in splits["train"]])
    val = np.array([label for _, label, _ in splits["val"]])
    n_classes = COOP_SPLIT_FACTS[name][0]
    counts = np.bincount(train)
    for shots in (1, 16):
        picks = [few_shot_indices(train, shots, seed) for seed in (1, 2, 3)]
        for seed, picked in zip((1, 2, 3), picks):
            assert picked.shape == (n_classes * shots,)
            assert len(set(picked.tolist())) == picked.size  # without replacement
            assert np.bincount(train[picked], minlength=n_classes).tolist() == [shots] * n_classes
            # Class by class in sorted class order.
            assert train[picked].tolist() == np.repeat(np.arange(n_classes), shots).tolist()
            np.testing.assert_array_equal(picked, few_shot_indices(train, shots, seed))
        for a, b in ((0, 1), (0, 2), (1, 2)):
            assert set(picks[a].tolist()) != set(picks[b].tolist())
    with pytest.raises(ValueError, match=f"class {counts.argmin()} has {counts.min()} sample"):
        few_shot_indices(train, int(counts.min()) + 1, seed=1)
    # CoOp's validation set for a 16-shot run: min(16, 4) = 4 images per class.
    val_picked = few_shot_indices(val, validation_shots(16), seed=1)
    assert np.bincount(val[val_picked]).tolist() == [4] * n_classes


def test_validation_shots_caps_at_four():
    assert [validation_shots(k) for k in (1, 2, 4, 8, 16)] == [1, 2, 4, 4, 4]


def test_few_shot_on_the_loaded_dtd_subset(dtd_real):
    """The real DTD subset has 60 training images per class: 16 shots fit, 61 do not."""
    labels = dtd_real["train"].labels
    picked = few_shot_indices(labels, 16, seed=1)
    assert np.bincount(labels[picked]).tolist() == [16] * 10
    with pytest.raises(ValueError, match="60 sample"):
        few_shot_indices(labels, 61, seed=1)


# --- Fashion-MNIST and CIFAR-10 ----------------------------------------------------------------


def _raw_idx(path, magic):
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    assert int.from_bytes(data[:4], "big") == magic
    n_dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * n_dims).reshape(shape)


@pytest.mark.parametrize("split,prefix,n", [("train", "train", 60000), ("test", "t10k", 10000)])
def test_fashion_mnist_is_debians_files_inverted(split, prefix, n, tmp_path):
    # An empty root: the loader falls back to Debian's dataset-fashion-mnist files.
    ds = load_dataset("fashion_mnist", split, root=tmp_path)
    raw_pixels = _raw_idx(DEBIAN_FASHION_MNIST / f"{prefix}-images-idx3-ubyte.gz", 2051)
    raw_labels = _raw_idx(DEBIAN_FASHION_MNIST / f"{prefix}-labels-idx1-ubyte.gz", 2049)
    assert len(ds) == n and raw_pixels.shape == (n, 28, 28)
    assert ds.classnames[0] == "T-shirt/top" and ds.classnames[9] == "Ankle boot"
    assert len(ds.classnames) == 10 and ds.templates == ["a photo of a {}."]
    np.testing.assert_array_equal(ds.labels, raw_labels)
    assert np.bincount(ds.labels).tolist() == [n // 10] * 10
    assert ds.preprocessing == "rgb,inverted" and "invert" in ds.preprocessing
    for index in (0, 1, n // 2, n - 1):
        image, label = ds[index]
        assert image.mode == "RGB" and image.size == (28, 28) and label == raw_labels[index]
        rgb = np.asarray(image)
        for channel in range(3):
            np.testing.assert_array_equal(rgb[..., channel], 255 - raw_pixels[index])
    # The background (border) of the raw images is black: dark-on-white after inversion.
    first = np.asarray(ds[0][0])
    assert raw_pixels[0][0].max() == 0 and first[0].min() == 255


def test_cifar10_imagefolder_subset():
    expected_names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                      "ship", "truck"]
    for split, per_class in (("train", 500), ("test", 1000)):
        ds = load_dataset("cifar10", split)
        assert isinstance(ds, ImageFiles) and ds.image_dir == DATA / "cifar10" / split
        assert ds.classnames == expected_names and ds.preprocessing == "rgb"
        assert ds.templates == ["a photo of a {}."]
        assert len(ds) == 10 * per_class
        assert np.bincount(ds.labels).tolist() == [per_class] * 10
        for index in (0, len(ds) - 1):
            image, label = ds[index]
            assert image.mode == "RGB" and image.size == (32, 32)
            assert ds.paths[index].split("/")[0] == expected_names[label]


def test_data_root_comes_from_the_environment(tmp_path, monkeypatch):
    splits = {s: items[:2] for s, items in split_file(UCF_SPLIT.name).items()}
    fake_coop_root(tmp_path, "ucf101", "UCF-101-midframes", UCF_SPLIT.name, splits, {0})
    monkeypatch.setenv("LLU_DATA_ROOT", str(tmp_path))
    assert load_dataset("ucf101", "test").image_dir == tmp_path / "ucf101" / "UCF-101-midframes"
    # An explicit root wins over the environment.
    assert load_dataset("dtd", "val", root=DATA).image_dir == DATA / "dtd_subset" / "images"


def test_a_name_is_resolved_once_into_its_data_root_and_splits(tmp_path, monkeypatch):
    test = load_dataset("cifar10", "test")
    resolved = test.resolved
    assert resolved.root == DATA and resolved.splits == ("train", "test") and not resolved.is_folder
    assert (resolved.registered, resolved.severity) == ("cifar10", None)
    assert resolve_dataset("dtd").splits == ("train", "val", "test")
    shifted = resolve_dataset("cifar10_sketch@5", root=tmp_path)
    assert shifted.splits == ("test",) and shifted.root == tmp_path and shifted.severity == 5
    monkeypatch.setenv("LLU_DATA_ROOT", str(tmp_path))  # read from the root resolved, not resolved again
    train = load_dataset(resolved, "train")
    assert train.resolved is resolved and train.image_dir.is_relative_to(DATA)
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_dataset("cifar10", "train")


# --- Errors ------------------------------------------------------------------------------------


def test_unknown_name_and_split_name_the_known_options():
    with pytest.raises(ValueError, match="known names") as error:
        load_dataset("cifar100", "train")
    for name in DATASET_NAMES:
        assert name in str(error.value)
    assert "cifar100" in str(error.value)
    with pytest.raises(ValueError, match="unknown split") as error:
        load_dataset("dtd", "validation")
    for split in ("train", "val", "test"):
        assert f"'{split}'" in str(error.value)


@pytest.mark.parametrize("name", ["fashion_mnist", "cifar10"])
def test_no_val_split_outside_coop(name, tmp_path):
    with pytest.raises(ValueError, match=f"{name} has only 'train' and 'test'"):
        load_dataset(name, "val", root=tmp_path)


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


# --- content_digest ----------------------------------------------------------------------------


def test_image_files_digest_tracks_paths_and_labels(dtd_real):
    ds = dtd_real["train"]
    digest = ds.content_digest()
    assert len(digest) == 64 and digest == load_dataset("dtd", "train").content_digest()
    assert digest != dtd_real["test"].content_digest()

    def rebuilt(paths, labels):
        return ImageFiles("dtd", "train", ds.image_dir, paths, labels, ds.classnames,
                          ds.templates).content_digest()

    assert rebuilt(ds.paths, ds.labels) == digest
    labels = ds.labels.copy()
    labels[5] = (labels[5] + 1) % 10
    assert rebuilt(ds.paths, labels) != digest
    paths = list(ds.paths)
    paths[5] = paths[5].replace(".jpg", ".png")
    assert rebuilt(paths, ds.labels) != digest
    swapped = list(ds.paths)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    assert rebuilt(swapped, ds.labels) != digest


def test_image_arrays_digest_tracks_pixels_and_labels():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(6, 8, 8), dtype=np.uint8)
    labels = np.array([0, 1, 2, 0, 1, 2])

    def digest(pixels, labels):
        return ImageArrays("toy", "train", pixels, labels, ["a", "b", "c"], ["{}"],
                           invert=True).content_digest()

    reference = digest(pixels, labels)
    assert reference == digest(pixels.copy(), list(labels))
    changed_labels = labels.copy()
    changed_labels[2] = 1
    assert digest(pixels, changed_labels) != reference
    changed_pixels = pixels.copy()
    changed_pixels[3, 4, 4] ^= 1
    assert digest(changed_pixels, labels) != reference
