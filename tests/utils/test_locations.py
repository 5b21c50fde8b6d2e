"""Where the library writes (llu_core.utils.locations): the cache folder, a cache file written or a
failure reported once, and the checkout it runs from."""

import warnings
from pathlib import Path

import pytest
import torch

from llu_core.utils import locations
from llu_core.utils.io import read_tensors
from llu_core.utils.locations import cache_dir, checkout_root, user_cache_folder, write_cache_file


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A home folder of this test's own, no cache folder set."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("LLU_CACHE_DIR", raising=False)
    return tmp_path / "home"


def test_the_cache_is_llu_cache_dir_else_the_users_cache_folder(home, tmp_path, monkeypatch):
    assert user_cache_folder() == home / ".cache" / "llu_book" and cache_dir() == user_cache_folder()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "llu_book"
    monkeypatch.setenv("LLU_CACHE_DIR", "~/elsewhere")
    assert cache_dir() == home / "elsewhere"  # expanded
    assert not (home / "elsewhere").exists()  # named, not created


def test_a_cache_file_is_written_with_its_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "cache"))
    path = cache_dir() / "a" / "b" / "part.safetensors"
    assert write_cache_file(path, {"x": torch.arange(3.0)}, {"key": "value"}) is True
    stored = read_tensors(path)
    assert torch.equal(stored.tensors()["x"], torch.arange(3.0)) and stored.metadata == {"key": "value"}


def test_a_cache_that_cannot_be_written_is_reported_once_per_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(locations, "_REPORTED", set())
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "file"))
    with pytest.warns(UserWarning, match=f"the cache {tmp_path / 'file'} cannot be written .* computed in memory"):
        assert write_cache_file(tmp_path / "file" / "part.safetensors", {"x": torch.zeros(1)}, {}) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same folder again: no second warning
        assert write_cache_file(tmp_path / "file" / "other.safetensors", {"x": torch.zeros(1)}, {}) is False
    monkeypatch.setenv("LLU_CACHE_DIR", str(tmp_path / "file" / "below"))  # another folder: reported again
    with pytest.warns(UserWarning, match="below cannot be written"):
        write_cache_file(tmp_path / "file" / "below" / "part.safetensors", {"x": torch.zeros(1)}, {})


def test_the_checkout_is_the_folder_of_the_book_beside_the_package():
    assert checkout_root() == Path(__file__).resolve().parents[2]
    assert (checkout_root() / "_toc.yml").is_file() and (checkout_root() / "llu_core").is_dir()
