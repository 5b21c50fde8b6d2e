"""The offline data's manifest (llu_core.data.manifest): its files, sizes and hashes against the
real offline data, and the resize step that rebuilds DTD's images."""

from pathlib import Path

import pytest
from PIL import Image

from llu_core.data import fetch as fetch_module
from llu_core.data.manifest import BUNDLED_FOLDER, compare, file_sha256, load_manifest, resize_shorter_side
from llu_core.data.paths import development_data_root
from image_sets import jpeg_bytes, smooth_image


def test_the_resize_step_makes_the_shorter_side_and_copies_small_images(tmp_path):
    source, target = tmp_path / "source.jpg", tmp_path / "target.jpg"
    source.write_bytes(jpeg_bytes(smooth_image(640, 480, 3)))
    resize_shorter_side(source, target, shorter_side=224, resample="bicubic", quality=90)
    with Image.open(target) as image:
        assert image.size == (299, 224)  # 640 * 224 / 480 = 298.7, rounded as DTD's long sides are
    source.write_bytes(jpeg_bytes(smooth_image(200, 300, 4)))
    resize_shorter_side(source, target, shorter_side=224, resample="bicubic", quality=90)
    assert target.read_bytes() == source.read_bytes()


def _files_under(folder):
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


# The real manifest against the real offline data, where a checkout has it beside it.
REAL_ROOT = development_data_root()


needs_real_data = pytest.mark.skipif(REAL_ROOT is None, reason="no offline data beside this checkout")


def test_the_manifest_describes_the_offline_data_and_its_sources():
    manifest = load_manifest()
    assert manifest.folders() == {"cifar10": 15001, "coop_splits": 9, "dtd_subset": 1201, "fashion-mnist": 4}
    assert {entry.source for entry in manifest.entries} == set(manifest.sources)
    dtd = [entry for entry in manifest.entries if entry.source == "dtd"]
    assert len(dtd) == 1200 and all(entry.check.startswith("pixels:") for entry in dtd)
    for entry in manifest.entries:
        if entry.source == "bundled":
            assert file_sha256(BUNDLED_FOLDER / entry.source_path) == entry.sha256


@needs_real_data
def test_every_offline_file_is_in_the_manifest_and_a_sample_matches_it():
    manifest = load_manifest()
    on_disk = _files_under(REAL_ROOT)
    assert on_disk == sorted(entry.path for entry in manifest.entries if not entry.path.startswith("fashion-mnist/"))
    entries = {entry.path: entry for entry in manifest.entries}
    sample = on_disk[::97] + [path for path in on_disk if not path.endswith(".jpg")]
    for path in sample:
        assert compare(entries[path], REAL_ROOT / path) == ("identical", ""), path


def test_fashion_mnist_in_the_manifest_is_debians():
    debian = fetch_module.INSTALLED_ELSEWHERE["fashion-mnist"]
    if not debian.is_dir():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    for entry in load_manifest().entries:
        if entry.path.startswith("fashion-mnist/"):
            assert compare(entry, debian / Path(entry.path).name) == ("identical", "")


def test_a_field_that_would_split_a_line_of_files_tsv_is_refused(tmp_path):
    from llu_core.data.manifest import Entry, Manifest, write_manifest

    manifest = load_manifest()
    for path in ("cifar10/a\tb.jpg", "cifar10/a\nb.jpg"):
        with pytest.raises(ValueError, match="holds a tab or a line break, which files.tsv cannot hold"):
            write_manifest(Manifest(manifest.sources, (Entry(path, 1, "0" * 64, "cifar10", "x.jpg", ""),)), tmp_path)
    assert not (tmp_path / "files.tsv").exists()
