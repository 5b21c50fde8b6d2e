"""Write ``llu_core/data/offline/files.tsv``, the manifest of the offline data, from a copy of it.

    python scripts/write_data_manifest.py DATA_ROOT [--fashion-mnist /usr/share/datasets/fashion-mnist]

Every file under DATA_ROOT (``cifar10/``, ``dtd_subset/``, ``coop_splits/``) and the four
Fashion-MNIST files get one line: their path, size, SHA-256, the source they are made from
(``sources.json``, written by hand), their path in it and, for the files a faithful rebuild may
change, the check it passes instead (see :mod:`llu_core.data.manifest`). The READMEs must equal
the package's copies in ``llu_core/data/offline/bundled/``.
"""

import argparse
from pathlib import Path

from llu_core.data.manifest import (BUNDLED_FOLDER, MANIFEST_FOLDER, Entry, Manifest, file_sha256, load_sources,
                                    signature, write_manifest)
from llu_core.data.paths import DEBIAN_FASHION_MNIST

#: Offline folder -> (source, the folder's path inside the source, the kind of check of a rebuild).
LAYOUT = {"cifar10": ("cifar10", "", ""), "dtd_subset": ("dtd", "", "pixels"),
          "coop_splits": ("coop_splits", "splits/", ""), "fashion-mnist": ("fashion_mnist", "data/fashion/", "gunzip")}


def entry(path, relative):
    """The manifest line of the file at ``path``, stored under ``relative`` in the data root."""
    folder, _, rest = relative.partition("/")
    if rest == "README.md":
        bundled = BUNDLED_FOLDER / relative
        if not bundled.is_file() or bundled.read_bytes() != path.read_bytes():
            raise SystemExit(f"{path} differs from the package's {bundled}: copy it there first")
        source, source_path, check = "bundled", relative, ""
    else:
        source, prefix, kind = LAYOUT[folder]
        source_path, check = prefix + rest, signature(kind, path) if kind else ""
    return Entry(relative, path.stat().st_size, file_sha256(path), source, source_path, check)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="a copy of the offline data (cifar10/, dtd_subset/, coop_splits/)")
    parser.add_argument("--fashion-mnist", type=Path, default=DEBIAN_FASHION_MNIST,
                        help="the folder of Fashion-MNIST's four IDX files")
    arguments = parser.parse_args()
    files = [(path, path.relative_to(arguments.root).as_posix()) for path in sorted(arguments.root.rglob("*"))
             if path.is_file()]
    files += [(path, f"fashion-mnist/{path.name}") for path in sorted(arguments.fashion_mnist.glob("*-ubyte.gz"))]
    unknown = sorted({relative.split("/")[0] for _, relative in files} - set(LAYOUT))
    if unknown:
        raise SystemExit(f"folders {unknown} of {arguments.root} have no source in LAYOUT")
    sources = load_sources()
    write_manifest(Manifest(sources, tuple(entry(path, relative) for path, relative in files)), MANIFEST_FOLDER)
    print(f"wrote {len(files)} entries to {MANIFEST_FOLDER / 'files.tsv'}")


if __name__ == "__main__":
    main()
