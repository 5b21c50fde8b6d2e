"""Extraction throughput and the offline model's accuracy (issue 3's benchmark).

1. Throughput: :func:`llu_core.extract_features` on real CIFAR-10 JPEGs with an empty cache
   (decode, preprocess, forward, cache writes) against the bare ``encode_image`` forward on the
   same, already preprocessed batches; and a cache hit. The ratio bare/extraction is the share
   of the model's speed that extraction keeps (target ≥ 90 %).
2. Accuracy of the offline model on the book's default subsets (50 training and 100 test
   images per class; DTD: its whole test split of the 10 classes present): zero-shot, and
   16-shot linear probe and LLU, mean ± std over seeds 1-3.

Prints markdown tables; the README quotes them. Timings are noisy: run on an idle machine.
Usage: ``python benchmarks/bench_extraction.py [--images N] [--batch-size B]``.
"""

import argparse
import os
import tempfile
import time

import numpy as np
import torch

from llu_core import LinearProbeClassifier, LLUClassifier, ZeroShotClassifier, embed_dataset, load_backbone
from llu_core.datasets import load_dataset
from llu_core.features import class_balanced_subset, extract_features
from llu_core.protocols import few_shot_indices

DATASETS = ("fashion_mnist", "cifar10", "dtd")
SEEDS = (1, 2, 3)


def throughput(backbone, n_images, batch_size):
    dataset = load_dataset("cifar10", "test")
    indices = class_balanced_subset(dataset.labels, n_images // len(dataset.classnames), seed=1)
    batches = [torch.stack([backbone.preprocess(dataset[int(i)][0]) for i in indices[start:start + batch_size]])
               for start in range(0, len(indices), batch_size)]
    backbone.encode_image(batches[0])  # warm-up
    start = time.perf_counter()
    for batch in batches:
        backbone.encode_image(batch)
    bare = time.perf_counter() - start
    saved = os.environ.get("LLU_CACHE_DIR")
    with tempfile.TemporaryDirectory() as empty_cache:
        os.environ["LLU_CACHE_DIR"] = empty_cache
        start = time.perf_counter()
        extract_features(backbone, dataset, indices, batch_size=batch_size, progress=False)
        extraction = time.perf_counter() - start
        start = time.perf_counter()
        extract_features(backbone, dataset, indices, batch_size=batch_size, progress=False)
        hit = time.perf_counter() - start
    if saved is not None:
        os.environ["LLU_CACHE_DIR"] = saved
    n = len(indices)
    print(f"## Extraction throughput ({backbone.name}, {n} CIFAR-10 JPEGs, batch {batch_size}, "
          f"{torch.get_num_threads()} threads)\n")
    print("| measurement | images/s | share of the bare forward |\n|---|---|---|")
    print(f"| bare `encode_image` on preprocessed batches | {n / bare:.1f} | 100 % |")
    print(f"| `extract_features`, empty cache | {n / extraction:.1f} | {100 * bare / extraction:.0f} % |")
    print(f"| `extract_features`, cache hit | {n / hit:.0f} | {bare / hit:.0f}× faster than the forward |\n")


def accuracy(backbone):
    print(f"## Offline model accuracy (%, mean ± std over seeds {', '.join(map(str, SEEDS))})\n")
    print("| data set | classes | test images | zero-shot | 16-shot linear probe | 16-shot LLU |\n|---|---|---|---|---|---|")
    for name in DATASETS:
        data = embed_dataset(backbone, name, train_per_class=50, test_per_class=100, progress=False)
        zero_shot = 100 * ZeroShotClassifier().fit(data.train_X, data.train_y, data.text).score(
            data.test_X, data.test_y, data.text)
        runs = {"probe": [], "llu": []}
        for seed in SEEDS:
            shots = few_shot_indices(data.train_y, 16, seed)
            for key, model in (("probe", LinearProbeClassifier()), ("llu", LLUClassifier(seed=seed))):
                model.fit(data.train_X[shots], data.train_y[shots], data.text)
                runs[key].append(100 * model.score(data.test_X, data.test_y, data.text))
        print(f"| {name} | {len(data.classnames)} | {len(data.test_y)} | {zero_shot:.1f} | "
              f"{np.mean(runs['probe']):.1f} ± {np.std(runs['probe']):.1f} | "
              f"{np.mean(runs['llu']):.1f} ± {np.std(runs['llu']):.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=320, help="images for the throughput measurement")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    backbone = load_backbone("offline")
    throughput(backbone, args.images, args.batch_size)
    accuracy(backbone)


if __name__ == "__main__":
    main()
