"""The data root (llu_core.data.paths): an explicit folder, else ``$LLU_DATA_ROOT``, else the
development data beside a checkout, else the folder fetched data goes to; nothing else is guessed."""

from pathlib import Path

import pytest

from llu_core.data import paths
from llu_core.data.paths import data_root, development_data_root, fetched_data_root


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A checkout at ``tmp_path/repo`` with no data beside it, a user cache at ``tmp_path/cache``."""
    monkeypatch.setattr(paths, "checkout_root", lambda: tmp_path / "repo")
    monkeypatch.delenv("LLU_DATA_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_an_explicit_root_wins_over_the_environment(checkout, monkeypatch):
    monkeypatch.setenv("LLU_DATA_ROOT", str(checkout / "from-environment"))
    monkeypatch.setenv("HOME", str(checkout / "home"))
    assert data_root(checkout / "given") == checkout / "given"
    assert data_root("~/data") == checkout / "home" / "data"  # expanded
    assert data_root() == checkout / "from-environment"


def test_without_a_root_the_development_data_beside_the_checkout(checkout):
    (checkout / "shared" / "data").mkdir(parents=True)
    assert development_data_root() == checkout / "shared" / "data"
    assert data_root() == checkout / "shared" / "data"


def test_else_the_folder_fetched_data_goes_to(checkout, monkeypatch):
    assert development_data_root() is None  # no shared/data beside this checkout
    assert fetched_data_root() == checkout / "cache" / "llu_book" / "data"
    assert data_root() == fetched_data_root()
    monkeypatch.setenv("LLU_DATA_ROOT", "")  # empty: not set
    assert data_root() == fetched_data_root()
    monkeypatch.setattr(paths, "checkout_root", lambda: None)  # installed as a package
    (checkout / "shared" / "data").mkdir(parents=True)
    assert development_data_root() is None and data_root() == fetched_data_root()


def test_the_debian_fashion_mnist_folder_is_where_the_package_installs_it():
    assert paths.DEBIAN_FASHION_MNIST == Path("/usr/share/datasets/fashion-mnist")


def test_an_empty_root_is_refused_not_read_as_the_current_folder():
    with pytest.raises(ValueError, match="the data root is empty"):
        data_root("")
