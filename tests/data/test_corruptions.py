"""The transfer targets of the registry: ImageNet-V2/-Sketch/-A/-R on folder trees built here,
and the corrupted CIFAR-10 test sets (llu_core.data.corruptions) on the real offline CIFAR-10."""

import io

import numpy as np
import pytest
from PIL import Image

from llu_core.data.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from llu_core.data.cache import image_cache_folder
from llu_core.data.coop import IMAGENET_SHIFTS
from llu_core.data.datasets import CORRUPTED_DATASETS, TEST_ONLY, load_dataset
from llu_core.data.labelled import CorruptedImages, ImageFiles

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


# --- corrupted CIFAR-10 ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean():
    test = load_dataset("cifar10", "test")
    return test, [test.load_image(index) for index in (0, 1500, 9999)]


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corruptions_are_deterministic_and_change_the_images(kind, clean):
    _, images = clean
    for index, image in enumerate(images):
        first = corrupt(image, kind, 3, seed=0, index=index)
        assert first.mode == "RGB" and first.size == image.size
        assert first.tobytes() == corrupt(image, kind, 3, seed=0, index=index).tobytes()  # same seed, same bytes
        distance = {s: np.abs(np.asarray(corrupt(image, kind, s, 0, index), dtype=float)
                              - np.asarray(image, dtype=float)).mean() for s in (1, 5)}
        assert distance[1] > 2.0  # gray levels: the image changed
        assert distance[5] > distance[1]  # the stronger the severity, the farther from the clean image
    if kind in ("sketch", "blur_noise"):  # the kinds with random parts: the seed drives them
        assert corrupt(images[0], kind, 3, seed=0).tobytes() != corrupt(images[0], kind, 3, seed=1).tobytes()
        assert corrupt(images[0], kind, 3, seed=0, index=0).tobytes() != \
            corrupt(images[0], kind, 3, seed=0, index=1).tobytes()


def test_unknown_corruption_and_bad_severity_raise_value_errors(clean):
    image = clean[1][0]
    with pytest.raises(ValueError, match="unknown corruption 'fog'; known corruptions: sketch"):
        corrupt(image, "fog", 3, seed=0)
    for severity in (0, 6, 2.5, True, "3"):
        with pytest.raises(ValueError, match="severity must be an integer from 1 to 5"):
            corrupt(image, "jpeg", severity, seed=0)
    for name in ("cifar10_jpeg@0", "cifar10_jpeg@6", "cifar10_jpeg@x", "cifar10_jpeg@"):
        with pytest.raises(ValueError, match="severity must be an integer from 1 to 5"):
            load_dataset(name, "test")
    for name in ("cifar10_fog", "cifar10@3", "dtd@2"):
        with pytest.raises(ValueError, match="unknown data set"):
            load_dataset(name, "test")
    with pytest.raises(ValueError, match="only a 'test' split"):
        load_dataset("cifar10_sketch", "train")


class _Backbone:
    cache_key = "key-only"

    @staticmethod
    def preprocess(image):
        return image


def test_corrupted_cifar10_is_a_registry_data_set_with_its_own_cache_key(clean):
    test, images = clean
    assert set(CORRUPTED_DATASETS) == {f"cifar10_{kind}" for kind in CORRUPTIONS} and len(CORRUPTIONS) >= 4
    assert set(CORRUPTED_DATASETS) < set(TEST_ONLY) and SEVERITIES == (1, 2, 3, 4, 5)
    default = load_dataset("cifar10_blur_noise", "test")
    assert isinstance(default, CorruptedImages) and default.name == "cifar10_blur_noise@3"
    assert default.severity == 3 and default.seed == 0 and default.split == "test"
    assert default.classnames == test.classnames and default.templates == test.templates
    np.testing.assert_array_equal(default.labels, test.labels)
    image, label = default[1500]
    assert label == test.labels[1500]
    assert image.tobytes() == corrupt(images[1], "blur_noise", 3, seed=0, index=1500).tobytes()
    assert image.tobytes() == load_dataset("cifar10_blur_noise", "test")[1500][0].tobytes()  # reloaded: same bytes
    strong = load_dataset("cifar10_blur_noise@5", "test")
    assert strong.name == "cifar10_blur_noise@5" and strong.preprocessing.endswith("blur_noise@5,seed=0")
    folders = {image_cache_folder(_Backbone(), data) for data in
               (test, default, strong, load_dataset("cifar10_jpeg", "test"))}
    assert len(folders) == 4  # clean, two severities and another kind: four cache entries
