"""The offline image tower in ONNX Runtime (llu_core.backbones.onnx_tower): the PyTorch tower's
features, exported once per cache, rebuilt when stale or damaged, a session per process."""

import numpy as np
import pytest
import torch

from llu_core.backbones import onnx_tower
from llu_core.backbones.offline import image_tower
from llu_core.backbones.onnx_tower import TowerSession, load_exported_tower
from llu_core.data.datasets import load_dataset
from llu_core.data.features import encode_images
from damage import flip_bit


class TinyTower(torch.nn.Module):
    """A stand-in tower that exports in seconds: one convolution and a ReLU6, like EfficientNet's blocks."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

    def extract_features(self, images):
        return torch.nn.functional.relu6(self.conv(images))


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return TinyTower().eval()


@pytest.fixture
def exports(monkeypatch):
    """The exports made while the test runs (one entry each)."""
    made, export = [], onnx_tower.export_tower

    def counted(*args):
        made.append(args)
        return export(*args)

    monkeypatch.setattr(onnx_tower, "export_tower", counted)
    return made


def test_onnx_runtime_computes_the_pytorch_towers_features_of_real_images(offline):
    dataset = load_dataset("cifar10", "test")
    images = torch.stack([offline.preprocess(dataset[i][0]) for i in range(0, 60, 10)])
    with torch.inference_mode():
        pooled = image_tower().extract_features(images.contiguous(memory_format=torch.channels_last)).mean(dim=(2, 3))
    expected = pooled @ offline.basis.T
    features = offline.encode_image(images)
    assert offline._cpu_tower is not None  # the CPU path is the one measured
    assert torch.nn.functional.cosine_similarity(features, expected).min() >= 1 - 1e-5
    torch.testing.assert_close(offline.encode_image(images[:1]), features[:1], rtol=1e-4, atol=1e-4)


def test_a_tower_is_exported_once_and_its_session_takes_any_batch_size(tmp_path, tiny, exports):
    path = tmp_path / "image_tower.safetensors"
    model = load_exported_tower(tiny, 16, path)
    assert load_exported_tower(tiny, 16, path) == model and len(exports) == 1
    images = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        expected = tiny.extract_features(images).mean(dim=(2, 3))
    session = TowerSession(model)
    for batch in (images[:1], images):
        torch.testing.assert_close(session(batch), expected[:len(batch)], rtol=1e-5, atol=1e-5)


def test_a_damaged_export_is_detected_and_rebuilt(tmp_path, tiny, exports):
    path = tmp_path / "image_tower.safetensors"
    load_exported_tower(tiny, 16, path)
    flip_bit(path, "model", bit=3)
    with pytest.warns(UserWarning, match="checksum"):
        model = load_exported_tower(tiny, 16, path)
    assert len(exports) == 2
    images = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(TowerSession(model)(images), tiny.extract_features(images).mean(dim=(2, 3)),
                                   rtol=1e-5, atol=1e-5)


def test_an_export_made_with_other_package_versions_is_made_again(tmp_path, tiny, exports, monkeypatch):
    path = tmp_path / "image_tower.safetensors"
    load_exported_tower(tiny, 16, path)
    monkeypatch.setattr(onnx_tower, "_versions", lambda: "torch=99.0")
    load_exported_tower(tiny, 16, path)
    load_exported_tower(tiny, 16, path)
    assert len(exports) == 2


def test_worker_processes_make_their_own_sessions(offline):
    # This process's session (two threads) is made first; the forked workers must not use it.
    dataset, indices = load_dataset("cifar10", "test"), np.arange(0, 80, 10)
    here_indices, here = encode_images(offline, dataset, indices, num_workers=0)
    forked_indices, forked = encode_images(offline, dataset, indices, num_workers=2)
    order = np.argsort(forked_indices)
    assert np.array_equal(here_indices, forked_indices[order])
    torch.testing.assert_close(forked[order], here, rtol=1e-4, atol=1e-4)
