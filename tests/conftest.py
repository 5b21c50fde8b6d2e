"""Shared test setup: one embedding cache for the whole suite and the book build, and the fixtures
that tests of several layers use.

`make test` already exports LLU_CACHE_DIR=.cache; a bare `pytest` gets the same default here,
so features extracted by one test (or by `make book`) are reused by the next. The helpers every
test may import by name live in tests/helpers/ (on the path through pyproject.toml).
"""

import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("LLU_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache"))
os.environ.setdefault("MPLBACKEND", "Agg")
pytest.register_assert_rewrite("damage", "our_errors")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty embedding cache of this test's own (``LLU_CACHE_DIR``), its folder."""
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def offline():
    """The offline model on the CPU."""
    from llu_core import load_backbone

    return load_backbone("offline", device="cpu")


@pytest.fixture(scope="module")
def offline_cifar10():
    """A few real offline embeddings of CIFAR-10: 4 training and 4 test images per class."""
    from llu_core import embed_dataset

    return embed_dataset("offline", "cifar10", train_per_class=4, test_per_class=4, device="cpu", progress=False)


@pytest.fixture(scope="module")
def vit_b32():
    """open_clip's ViT-B-32 with random weights, on purpose: nothing may be downloaded."""
    from llu_core.backbones.openclip import OpenCLIPBackbone

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OpenCLIPBackbone("ViT-B-32", pretrained=None, device="cpu")
