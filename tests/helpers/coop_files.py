"""CoOp's real split files in the offline data (``coop_splits/``), each parsed once per session."""

import json

from llu_core.data.paths import data_root

SPLITS_DIR = data_root() / "coop_splits"

_SPLIT_CACHE = {}


def split_file(name):
    """The parsed split file ``name`` of shared/data/coop_splits (parsed once per session)."""
    if name not in _SPLIT_CACHE:
        _SPLIT_CACHE[name] = json.loads((SPLITS_DIR / name).read_text())
    return _SPLIT_CACHE[name]


def class_names(splits):
    """{label: class name} over all splits of a split file."""
    return {label: name for items in splits.values() for _, label, name in items}
