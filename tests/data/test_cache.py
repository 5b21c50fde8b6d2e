"""The embedding cache (llu_core.data.cache, through extract_features and embed_dataset): a hit
reads, a miss or a changed key computes; an interrupted write resumes; a corrupt, foreign or
unusable file is computed again; a cache that cannot be written warns once and computes in memory."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from llu_core import embed_dataset
from llu_core.data.cache import image_cache_folder
from llu_core.data.embedded import class_balanced_subset
from llu_core.data.features import encode_images, extract_features, extract_text_features
from llu_core.data.labelled import ImageArrays
from llu_core.utils.locations import cache_dir
from damage import flip_bit
from fresh_python import run_python
from image_sets import files_dataset, png_files, random_images, toy_images, write_images
from stand_in_backbones import CountingBackbone, FolderBackbone


class FailingImages(ImageArrays):
    """Raises when image ``fail_at`` is loaded, like a run stopped half-way."""

    fail_at = None

    def load_image(self, index):
        if index == self.fail_at:
            raise KeyboardInterrupt("stopped")
        return super().load_image(index)


def parts(cache):
    return sorted(cache.rglob("part-*.safetensors"))


# --- A hit reads the cache; a miss computes only what is missing ----------------------------------


def test_miss_then_hit(cache):
    backbone, dataset = CountingBackbone(), random_images()
    features, labels = extract_features(backbone, dataset, progress=False)
    assert features.shape == (40, 8) and backbone.images_seen == 40
    assert torch.equal(labels, torch.from_numpy(dataset.labels))
    again, _ = extract_features(backbone, dataset, progress=False)
    assert backbone.images_seen == 40 and torch.equal(again, features)
    subset, subset_labels = extract_features(backbone, dataset, indices=[5, 3, 39], progress=False)
    assert backbone.images_seen == 40 and torch.equal(subset, features[[5, 3, 39]])
    assert subset_labels.tolist() == [1, 3, 3]
    assert not list(cache.rglob("*.tmp"))


def test_a_larger_subset_embeds_only_the_new_images(cache):
    backbone, dataset = CountingBackbone(), random_images()
    small, large = class_balanced_subset(dataset.labels, 3), class_balanced_subset(dataset.labels, 6)
    assert set(small) < set(large) and np.bincount(dataset.labels[large]).tolist() == [6, 6, 6, 6]
    extract_features(backbone, dataset, indices=small, progress=False)
    extract_features(backbone, dataset, indices=large, progress=False)
    assert backbone.images_seen == len(large)


def test_text_features_are_cached_and_checked(cache):
    backbone = CountingBackbone()
    text = extract_text_features(backbone, ["cat", "horse"], ["a {}.", "the {}."])
    (path,) = cache.rglob("*.safetensors")
    assert text.shape == (2, 3) and backbone.texts_seen == 2
    assert torch.equal(extract_text_features(backbone, ["cat", "horse"], ["a {}.", "the {}."]), text)
    assert backbone.texts_seen == 2
    extract_text_features(backbone, ["cat", "horse"], ["a {}."])  # other templates: a miss
    assert backbone.texts_seen == 4
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="cannot be read"):
        extract_text_features(backbone, ["cat", "horse"], ["a {}.", "the {}."])
    assert backbone.texts_seen == 6


# --- The key: the backbone, the preprocessing, the pixels or the files and their data root --------


def test_key_change_is_a_miss(cache):
    dataset = random_images()
    first, second, third = CountingBackbone("weights-a"), CountingBackbone("weights-b"), CountingBackbone("weights-a")
    extract_features(first, dataset, progress=False)
    extract_features(second, dataset, progress=False)  # other weights
    assert second.images_seen == 40
    extract_features(third, random_images(invert=True), progress=False)  # other loader preprocessing
    assert third.images_seen == 40
    extract_features(third, random_images(seed=1), progress=False)  # other pixels
    assert third.images_seen == 80
    assert len({image_cache_folder(first, dataset), image_cache_folder(second, dataset),
                image_cache_folder(first, random_images(invert=True))}) == 3


def test_image_cache_is_keyed_by_the_data_root_and_the_files(cache, tmp_path, monkeypatch):
    root_a, root_b = tmp_path / "a", tmp_path / "b"
    paths = png_files(root_a, ["red", "green", "blue", "white"])
    assert png_files(root_b, ["black", "yellow", "cyan", "gray"]) == paths  # same names, other pixels
    for path in paths:  # even with identical modification times the roots' identities separate them
        stat = (root_a / path).stat()
        os.utime(root_b / path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    backbone = CountingBackbone()
    features_a, _ = extract_features(backbone, files_dataset(root_a, paths), progress=False)
    features_b, _ = extract_features(backbone, files_dataset(root_b, paths), progress=False)
    assert backbone.images_seen == 8
    assert torch.equal(features_b, encode_images(CountingBackbone(), files_dataset(root_b, paths), range(4))[1])
    assert not torch.equal(features_a, features_b)

    # An image edited in place (new pixels, new modification time) is a miss.
    Image.new("RGB", (4, 4), "purple").save(root_a / paths[0])
    stat = (root_a / paths[0]).stat()
    os.utime(root_a / paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10 ** 9))
    edited, _ = extract_features(backbone, files_dataset(root_a, paths), progress=False)
    assert backbone.images_seen == 12 and not torch.equal(edited[0], features_a[0])
    assert torch.equal(edited[1:], features_a[1:])

    # A hit looks at the files' sizes and times only: no image is decoded.
    def no_decoding(*args, **kwargs):
        raise AssertionError("a cache hit decoded an image")

    monkeypatch.setattr(Image, "open", no_decoding)
    hit, _ = extract_features(backbone, files_dataset(root_a, paths), progress=False)
    assert torch.equal(hit, edited) and backbone.images_seen == 12


def test_embed_dataset_embeds_a_folder_once_and_again_when_a_file_changes(tmp_path, cache):
    folder = write_images(tmp_path / "photos", {"a": 3, "b": 4})
    backbone = FolderBackbone()
    data = embed_dataset(backbone, folder, progress=False, num_workers=0)
    assert data.train_X.shape == (7, 16) and data.test_X.shape == (0, 16) and data.classnames == ["a", "b"]
    assert backbone.images_seen == 7
    again = embed_dataset(backbone, folder, progress=False, num_workers=0)
    assert backbone.images_seen == 7 and np.array_equal(again.train_X, data.train_X)  # from the cache
    os.utime(folder / "b" / "000.png", ns=(1, 1))
    embed_dataset(backbone, folder, progress=False, num_workers=0)
    assert backbone.images_seen == 14  # another key: the folder's files are part of it
    with pytest.raises(ValueError, match="test_per_class: image folder .* has no test split"):
        embed_dataset(backbone, folder, test_per_class=1, progress=False, num_workers=0)


def test_split_name_cannot_leave_the_cache(cache):
    dataset = ImageArrays("toy", "x/../../../../../../escaped", np.zeros((4, 4, 4, 3), np.uint8), np.arange(4),
                          list("abcd"), ["{}"])
    backbone = CountingBackbone()
    folder = image_cache_folder(backbone, dataset)
    assert folder.parent == cache_dir() / "features" / backbone.cache_key
    extract_features(backbone, dataset, progress=False)
    assert all(cache in path.parents for path in cache.parent.rglob("part-*"))


# --- Parts: an interrupted extraction resumes, many parts are merged ------------------------------


def test_interrupted_extraction_resumes_where_it_stopped(cache):
    backbone, dataset = CountingBackbone(), random_images(dataset_class=FailingImages)
    dataset.fail_at = 20
    with pytest.raises(KeyboardInterrupt):
        extract_features(backbone, dataset, chunk_size=8, batch_size=4, progress=False)
    assert len(parts(cache)) == 2 and not list(cache.rglob("*.tmp"))  # chunks 0-7 and 8-15 were kept
    dataset.fail_at = None
    resumed = CountingBackbone()
    features, _ = extract_features(resumed, dataset, chunk_size=8, batch_size=4, progress=False)
    assert resumed.images_seen == 40 - 16
    fresh, _ = extract_features(CountingBackbone(), dataset, progress=False)
    assert torch.equal(features, fresh)


def test_many_parts_are_merged(cache):
    backbone, dataset = CountingBackbone(), random_images()
    features, _ = extract_features(backbone, dataset, chunk_size=2, progress=False)  # 20 parts > 16
    assert len(parts(cache)) == 1
    again = CountingBackbone()
    assert torch.equal(extract_features(again, dataset, progress=False)[0], features) and again.images_seen == 0


# --- A file that cannot be trusted is computed again, never used ----------------------------------


@pytest.mark.parametrize("damage, reason", [
    (lambda path: path.write_bytes(path.read_bytes()[:50]), "cannot be read"),
    (lambda path: path.write_bytes(path.read_bytes()[:-4] + b"\x00\x00\x80\x7f"), "checksum"),
])
def test_corrupt_file_is_detected_and_rebuilt(cache, damage, reason):
    backbone, dataset = CountingBackbone(), random_images()
    features, _ = extract_features(backbone, dataset, progress=False)
    (part,) = parts(cache)
    damage(part)
    with pytest.warns(UserWarning, match=reason):
        rebuilt, _ = extract_features(backbone, dataset, progress=False)
    assert backbone.images_seen == 80 and torch.equal(rebuilt, features)


def test_file_of_another_key_is_not_used(cache):
    backbone, dataset = CountingBackbone(), random_images()
    extract_features(backbone, random_images(seed=1), progress=False)
    foreign = parts(cache)[0]
    folder = image_cache_folder(backbone, dataset)
    folder.mkdir(parents=True)
    shutil.copy(foreign, folder / foreign.name)
    with pytest.warns(UserWarning, match="another key"):
        extract_features(backbone, dataset, progress=False)
    assert backbone.images_seen == 80


def test_a_part_that_is_a_directory_is_ignored(cache):
    dataset = ImageArrays("toy", "train", np.zeros((6, 4, 4, 3), np.uint8) + np.arange(6)[:, None, None, None],
                          np.arange(6) % 2, ["a", "b"], ["{}"])
    backbone = CountingBackbone()
    folder = image_cache_folder(backbone, dataset)
    (folder / "part-directory.safetensors").mkdir(parents=True)
    with pytest.warns(UserWarning, match="part-directory.safetensors is not a file"):
        features, _ = extract_features(backbone, dataset, chunk_size=1, progress=False)
    assert features.shape == (6, 8) and backbone.images_seen == 6


def test_cached_text_embeddings_are_not_the_cache_file(cache):
    backbone = CountingBackbone()
    extract_text_features(backbone, ["a", "bb"], ["{}"])
    text = extract_text_features(backbone, ["a", "bb"], ["{}"])  # from the cache file
    assert backbone.texts_seen == 2
    copy = text.clone()
    (path,) = cache.rglob("text/*/*.safetensors")
    raw = bytearray(path.read_bytes())
    raw[-12:] = bytes(12)
    with open(path, "r+b") as handle:
        handle.write(bytes(raw))
    assert torch.equal(text, copy)


# --- A cache that cannot be written: one warning, the embeddings computed in memory ---------------


def test_a_read_only_cache_with_a_corrupt_part_computes_in_memory(cache, monkeypatch):
    import llu_core.utils.locations as locations

    dataset = ImageArrays("toy", "train", np.arange(6 * 48, dtype=np.uint8).reshape(6, 4, 4, 3), np.arange(6) % 2,
                          ["a", "b"], ["{}"])
    reference, _ = extract_features(CountingBackbone(), dataset, progress=False)
    (part,) = cache.rglob("part-*.safetensors")
    flip_bit(part, "features")

    # What a read-only folder does to any user (tests may run as root, who could still write).
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "unlink", refused)
    monkeypatch.setattr(locations, "write_tensors", refused)
    backbone = CountingBackbone()
    with pytest.warns(UserWarning) as warned:
        features, _ = extract_features(backbone, dataset, progress=False)
    assert torch.equal(features, reference) and backbone.images_seen == 6
    messages = " ".join(str(warning.message) for warning in warned)
    assert "checksum" in messages and "computed in memory" in messages


@pytest.mark.parametrize("where", ["a file", "below a file", "/dev/null"])
def test_a_cache_folder_that_cannot_be_created_computes_in_memory(where, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    folder = {"a file": tmp_path / "file", "below a file": tmp_path / "file" / "cache", "/dev/null": "/dev/null"}
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "reference"))
    reference, _ = extract_features(CountingBackbone(), toy_images(), progress=False)
    monkeypatch.setenv("LLU_CACHE_DIR", str(folder[where]))
    backbone = CountingBackbone()
    with pytest.warns(UserWarning) as warned:
        features, _ = extract_features(backbone, toy_images(), chunk_size=2, progress=False)
        text = extract_text_features(backbone, ["a", "bb"], ["{}"])
    assert torch.equal(features, reference) and text.shape == (2, 3)
    assert [str(w.message) for w in warned if "computed in memory" in str(w.message)] == [str(warned[0].message)]
    assert len(warned) == 1 and str(folder[where]) in str(warned[0].message)


def test_a_file_size_limit_is_a_warning_for_the_cache_and_an_error_for_a_model(tmp_path):
    result = run_python(f"""
import os, resource, warnings
import numpy as np
from llu_core.data.features import extract_features
from llu_core.data.labelled import ImageArrays
from llu_core.estimators import ZeroShotClassifier
from llu_core.estimators.persistence import save_classifier
from stand_in_backbones import CountingBackbone
os.environ["LLU_CACHE_DIR"] = {str(tmp_path / "cache")!r}
resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))
images = ImageArrays("toy", "train", np.zeros((6, 4, 4, 3), np.uint8), np.arange(6) % 2, ["a", "b"], ["{{}}"])
with warnings.catch_warnings(record=True) as warned:
    warnings.simplefilter("always")
    features, _ = extract_features(CountingBackbone(), images, chunk_size=2, progress=False)
print(features.shape[0], len(warned), "computed in memory" in str(warned[0].message))
try:
    save_classifier(ZeroShotClassifier().fit(np.eye(2), [0, 1], np.eye(2)), {str(tmp_path / "model.safetensors")!r})
except OSError as error:
    print(error)
""")
    assert result.stdout.splitlines() == [
        "6 1 True", f"[Errno 27] cannot write {tmp_path}/model.safetensors: the file would exceed the file-size limit"], \
        result.stdout + result.stderr[-3000:]
    assert not list(tmp_path.glob("*.safetensors")) and not list(tmp_path.rglob("*.tmp"))
