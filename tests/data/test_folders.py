"""Your own images in the library: image folders as data sets (and through the embedding cache),
holding images out, the γ for a backbone's geometry, and models that keep their classes and backbone."""

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from llu_core import (LLUClassifier, check_backbone, embed_dataset, embedding_statistics, hold_out_shots,
                      load_classifier, load_dataset, load_image_folder, save_classifier, suggest_gamma)
from llu_core.data import datasets as registry
from llu_core.data.folders import folder_splits
from llu_core.evaluation.geometry import CLIP_TYPICAL_DISTANCE
from llu_core.method.defaults import BETA, GAMMA
from synthetic import embedded_dataset


def write_images(folder, counts, size=(8, 6)):
    """``counts[name]`` small distinct PNGs in ``folder/name/``."""
    rng = np.random.default_rng(len(str(folder)))
    for name, count in counts.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{index:03d}.png")
    return folder


class ToyBackbone:
    """A deterministic backbone that counts the images it encodes (no weights, no downloads)."""

    centre_images = False
    logit_scale = 100.0
    name = "toy"
    cache_key = "toy-v1"

    def __init__(self):
        self.images_seen = 0

    @staticmethod
    def preprocess(image):
        return torch.from_numpy(np.asarray(image.resize((8, 6)), dtype=np.float32)).permute(2, 0, 1) / 255.0

    def encode_image(self, images):
        self.images_seen += len(images)
        return images.flatten(1)[:, :16] + 0.1

    @staticmethod
    def embed_images(features, centre):
        return torch.nn.functional.normalize(features - centre, dim=1)

    @staticmethod
    def encode_text(classnames, templates):
        rows = torch.tensor([[len(name), sum(map(ord, name)) % 7, 1.0] + [0.0] * 13 for name in classnames])
        return torch.nn.functional.normalize(rows, dim=1)

    @staticmethod
    def context_tower():
        return None


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "cache"))


def test_an_image_folder_is_a_data_set_with_its_class_names(tmp_path):
    folder = write_images(tmp_path / "photos", {"tabby_cat": 2, "dog": 3})
    (folder / "dog" / ".hidden.png").write_bytes(b"")
    (folder / "dog" / "notes.txt").write_text("not an image")
    (folder / ".thumbnails").mkdir()
    (folder / "classnames.txt").write_text("# folder, then the name in the prompts\ndog puppy\n")
    images = load_image_folder(folder)
    assert images.name == "photos" and images.split == "train" and folder_splits(folder) == ("train",)
    assert images.classnames == ["puppy", "tabby cat"]  # sorted folders; "_" read as a space
    assert images.paths == ["dog/000.png", "dog/001.png", "dog/002.png", "tabby_cat/000.png", "tabby_cat/001.png"]
    assert images.labels.tolist() == [0, 0, 0, 1, 1] and images.templates == ["a photo of a {}."]
    image, label = images[3]
    assert image.mode == "RGB" and label == 1
    with pytest.raises(ValueError, match="has the splits \\['train'\\], not 'test'.*hold_out_shots"):
        load_image_folder(folder, "test")


def test_an_image_folder_with_split_folders_has_those_splits(tmp_path):
    folder = tmp_path / "photos"
    write_images(folder / "train", {"a": 2, "b": 2})
    write_images(folder / "test", {"a": 1, "b": 1})
    assert folder_splits(folder) == ("train", "test")
    assert len(load_image_folder(folder, "test")) == 2
    write_images(folder / "test", {"c": 1})
    with pytest.raises(ValueError, match="the splits must have the same class folders"):
        load_image_folder(folder, "test")


def test_load_dataset_reads_a_path_as_a_folder_and_names_as_data_sets(tmp_path, monkeypatch):
    write_images(tmp_path / "photos", {"a": 1, "b": 1})
    assert load_dataset(tmp_path / "photos", "train").name == "photos"
    monkeypatch.chdir(tmp_path)
    assert len(load_dataset("./photos", "train")) == 2
    with pytest.raises(ValueError, match="or a folder of images"):
        load_dataset("photoz", "train")
    with pytest.raises(ValueError, match="classes_file is for a folder of images"):
        load_dataset("cifar10", "test", classes_file="names.txt")


def test_embed_dataset_embeds_a_folder_once_and_again_when_a_file_changes(tmp_path, cache):
    folder = write_images(tmp_path / "photos", {"a": 3, "b": 4})
    backbone = ToyBackbone()
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


def test_a_folder_is_resolved_once_and_its_splits_read_from_what_was_resolved(tmp_path, cache, monkeypatch):
    folder = tmp_path / "photos"
    write_images(folder / "train", {"a": 2, "b": 2})
    write_images(folder / "test", {"a": 1, "b": 1})
    train = load_dataset(folder, "train")
    resolved = train.resolved
    assert resolved.is_folder and resolved.folder == folder and resolved.root is None
    assert resolved.splits == ("train", "test") and resolved.name == str(folder)
    test = load_dataset(resolved, "test")
    assert len(test) == 2 and test.resolved is resolved
    with pytest.raises(ValueError, match="root and classes_file are resolved already"):
        load_dataset(resolved, "test", root=tmp_path)
    decisions = []
    decide = registry.image_folder
    monkeypatch.setattr(registry, "image_folder", lambda name: decisions.append(name) or decide(name))
    data = embed_dataset(ToyBackbone(), folder, progress=False, num_workers=0)
    assert decisions == [folder] and data.name == str(folder)  # the test split read from the resolved train split
    assert data.train_X.shape == (4, 16) and data.test_X.shape == (2, 16)


def pool(seed=0):
    """A synthetic embedded data set as one pool of images (no test split)."""
    data = embedded_dataset(n_classes=4, train_per_class=10, test_per_class=1, seed=seed)
    data.test_X, data.test_y = data.test_X[:0], data.test_y[:0]
    return data


def test_hold_out_shots_fits_on_the_shots_and_tests_on_the_rest_of_the_pool():
    data = pool()
    split = hold_out_shots(data, shots=3, seed=1)
    assert np.bincount(split.train_y).tolist() == [3] * 4 and np.bincount(split.test_y).tolist() == [7] * 4
    rows = {tuple(row) for row in np.vstack([split.train_X, split.test_X]).round(6)}
    assert len(rows) == 40 == len({tuple(row) for row in data.train_X.round(6)} | rows)  # disjoint, all of the pool
    assert hold_out_shots(data, shots=3, seed=2).train_X.tolist() != split.train_X.tolist()
    with_test = embedded_dataset(n_classes=4, train_per_class=10, test_per_class=5)
    kept = hold_out_shots(with_test, shots=3, seed=1)
    assert kept.test_X is with_test.test_X and len(kept.train_y) == 12
    with pytest.raises(ValueError, match="class 'class 0' has 10 image\\(s\\); it needs 11"):
        hold_out_shots(data, shots=10, seed=1)


def test_suggest_gamma_gives_clips_alpha_at_the_backbones_typical_distance():
    split = hold_out_shots(pool(), shots=3, seed=1)
    distance = embedding_statistics(split, shots=3, seed=1)["median_distance_base"]
    gamma = suggest_gamma(split, shots=3, seed=1)
    assert gamma == pytest.approx(GAMMA * CLIP_TYPICAL_DISTANCE / distance)
    assert BETA * np.exp(-gamma * distance) == pytest.approx(BETA * np.exp(-GAMMA * CLIP_TYPICAL_DISTANCE))
    assert CLIP_TYPICAL_DISTANCE == pytest.approx(0.115)
    with pytest.raises(ValueError, match="no test images"):
        suggest_gamma(pool(), shots=3, seed=1)  # a pool needs its images held out first


def test_a_saved_model_keeps_its_classes_and_refuses_another_backbone(tmp_path):
    data = embedded_dataset(n_classes=3, dim=16, train_per_class=4)
    model = LLUClassifier(epochs=1, n_clusters=4, seed=1).fit(data.train_X, data.train_y, data.text)
    backbone = SimpleNamespace(cache_key="toy-v1", name="toy", origin={"name": "toy", "pretrained": None})
    path = tmp_path / "model.safetensors"
    save_classifier(model, path, classnames=["a", "b", "c"], templates=["a photo of a {}."], backbone=backbone)
    loaded = load_classifier(path, backbone=backbone)
    assert loaded.classnames_ == ["a", "b", "c"] and loaded.templates_ == ["a photo of a {}."]
    assert loaded.backbone_ == {"cache_key": "toy-v1", "description": "toy", "name": "toy", "pretrained": None}
    other = SimpleNamespace(cache_key="toy-v2", name="toy 2")
    with pytest.raises(ValueError, match="another backbone: toy \\(toy-v1\\), not toy 2 \\(toy-v2\\).*load_backbone"):
        load_classifier(path, backbone=other)
    save_classifier(model, path)
    assert load_classifier(path).classnames_ is None
    with pytest.raises(ValueError, match="holds no backbone identity"):
        check_backbone(load_classifier(path), backbone)
    with pytest.raises(ValueError, match="distinct class names"):
        save_classifier(model, path, classnames=["a", "a", "c"])
