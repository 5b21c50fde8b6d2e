"""Recompute the CLIP row of the geometry table (``llu_core.evaluation.geometry.CLIP_VIT_B32``).

The appendix on the offline model compares its embedding geometry (the cone of the image
embeddings, the image-text margin, the local weight α of Eq. 5) with CLIP ViT-B/32's. That
row was measured on published CLIP ViT-B/32 features (see ``CLIP_VIT_B32``). This script
measures the same statistics with ``embedding_statistics`` for any backbone and data set, so a
reader with the weights and the data on disk can check it:

    .venv/bin/python scripts/clip_geometry.py --backbone ViT-B-32 --pretrained /models/ViT-B-32.pt \\
        --data-root /data --datasets caltech101 oxford_pets

It prints one row per data set and the (low, high) range over them in the form of
``CLIP_VIT_B32``; ``--output`` also writes both as JSON. The published row used Tip-Adapter's
cached subsets of the two data sets (66 and 24 classes) and text embeddings from other
prompt sets, so a rerun on CoOp's whole splits agrees in the regime, not to the last digit.
"""

import argparse
import sys

from llu_core import embed_dataset, load_backbone
from llu_core.evaluation.geometry import STATISTICS, embedding_statistics, statistics_range
from llu_core.method.defaults import BETA, GAMMA
from llu_core.report.tables import format_statistics_table
from llu_core.utils.io import write_json


def integer_at_least(low):
    """An argparse type: an integer ≥ ``low``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ {low}, got {value}")
        return value
    return parse


def number_in(low, high=None):
    """An argparse type: a float in [low, high] (no upper bound when ``high`` is None)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not low <= value <= (float("inf") if high is None else high):
            bounds = f"[{low:g}, {high:g}]" if high is not None else f"≥ {low:g}"
            raise argparse.ArgumentTypeError(f"expected a number {bounds}, got {value:g}")
        return value
    return parse


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="ViT-B-32", help="open_clip model name, or 'offline' (default ViT-B-32)")
    parser.add_argument("--pretrained", default=None, help="open_clip pretrained tag or checkpoint file")
    parser.add_argument("--data-root", default=None, help="folder of the data sets (CoOp's layout)")
    parser.add_argument("--datasets", nargs="+", default=["caltech101", "oxford_pets"],
                        help="data sets of llu_core.load_dataset (default: caltech101 oxford_pets)")
    parser.add_argument("--shots", type=integer_at_least(1), default=16, help="training images per base class (D)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the few-shot draw")
    parser.add_argument("--beta", type=number_in(0.0, 1.0), default=BETA, help="β of Eq. 5")
    parser.add_argument("--gamma", type=number_in(0.0), default=GAMMA, help="γ of Eq. 5")
    parser.add_argument("--train-per-class", type=integer_at_least(0), default=0,
                        help="training pool per class (default 0: the whole split)")
    parser.add_argument("--test-per-class", type=integer_at_least(0), default=0,
                        help="test images per class (default 0: the whole split)")
    parser.add_argument("--device", default=None, help="torch device (default: CUDA when available)")
    parser.add_argument("--output", default=None, help="also write the rows and the range to this JSON file")
    arguments = parser.parse_args(argv)
    arguments.train_per_class = arguments.train_per_class or None  # 0: the whole split
    arguments.test_per_class = arguments.test_per_class or None
    if arguments.train_per_class is not None and arguments.train_per_class < arguments.shots:
        parser.error(f"--train-per-class {arguments.train_per_class} is smaller than --shots {arguments.shots}")
    return arguments


def main(argv=None):
    """Measure and print the geometry of every data set; returns the exit status 0."""
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    backbone = load_backbone(arguments.backbone, pretrained=arguments.pretrained, device=arguments.device)
    rows = {}
    for name in arguments.datasets:
        data = embed_dataset(backbone, name, train_per_class=arguments.train_per_class,
                             test_per_class=arguments.test_per_class, root=arguments.data_root)
        rows[f"{backbone.name}, {name}"] = embedding_statistics(data, shots=arguments.shots, seed=arguments.seed,
                                                                beta=arguments.beta, gamma=arguments.gamma)
    ranges = statistics_range(rows.values())
    print(format_statistics_table(rows, reference=None))
    print("\nRange over the data sets, in the form of CLIP_VIT_B32:")
    print("{" + ", ".join(f'"{key}": ({low:.3g}, {high:.3g})' for key, (low, high) in ranges.items()) + "}")
    if arguments.output:
        write_json(arguments.output, {"backbone": backbone.name, "datasets": arguments.datasets,
                                      "shots": arguments.shots, "seed": arguments.seed, "beta": arguments.beta,
                                      "gamma": arguments.gamma, "statistics": rows,
                                      "range": {key: list(ranges[key]) for key in STATISTICS}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
