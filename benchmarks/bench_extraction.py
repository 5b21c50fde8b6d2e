"""Extraction throughput against the FLOP floor, the speed-up of the current defaults, and the
offline model's accuracy.

1. The floor: the image tower's floating-point operations per image (2 per multiply-add of every
   convolution, counted by forward hooks) against this machine's float32 matrix-multiply rate
   (``torch.mm`` on 1024 x 1024 matrices, the same threads), as images/s that a forward pass
   running at that rate would reach.
2. Throughput: :func:`llu_core.extract_features` on real CIFAR-10 JPEGs with an empty cache
   (decode, preprocess, forward, cache writes) against the bare ``encode_image`` forward on the
   same, already preprocessed batches; and a cache hit.
3. Speed-up of the defaults: extraction as the book ran it before (the PyTorch tower, 32 images
   per forward pass in this process on all its threads, one worker process decoding) against
   :func:`llu_core.extract_features` with the worker processes that :func:`llu_core.embed_dataset`
   starts by default, into an empty cache (on a CPU, one worker process per thread, each decoding
   and embedding batches of 4 on one thread through ONNX Runtime,
   :mod:`llu_core.backbones.onnx_tower`), alternately, best of three; the CPU time per image of
   one forward pass on one thread at several batch sizes, in PyTorch and in ONNX Runtime
   (robust to other load on the machine); and the smallest cosine between an image's two
   features (1 - 1e-5 or more: the same embedding, so the cache key stays).
4. The arithmetic not taken: the PyTorch forward pass in bfloat16 (the CPU time per image on one
   thread at the default batch, best of three, and the smallest cosine to the float32 features).
5. Accuracy of the offline model on the book's default subsets (50 training and 100 test
   images per class; DTD: its whole test split of the 10 classes present): zero-shot, and
   16-shot linear probe and LLU, mean ± std over seeds 1-3.

Prints markdown tables; the README quotes them. Timings are noisy: run on an idle machine.
Usage: ``python benchmarks/bench_extraction.py [--images N] [--skip-accuracy]``.
"""

import argparse
import contextlib
import os
import tempfile
import time

import numpy as np
import torch

from llu_core import LinearProbeClassifier, LLUClassifier, ZeroShotClassifier, embed_dataset, load_backbone
from llu_core.backbones.offline import image_tower
from llu_core.data.datasets import load_dataset
from llu_core.data.embedded import class_balanced_subset
from llu_core.data.features import default_batch_size, default_num_workers, extract_features
from llu_core.evaluation.protocols import few_shot_indices

DATASETS = ("fashion_mnist", "cifar10", "dtd")
SEEDS = (1, 2, 3)
#: Extraction as the book ran it before the current defaults: the PyTorch tower, images per forward
#: pass, in this process on all its threads, one worker process decoding.
BEFORE_BATCH = 32


class Decoded(torch.utils.data.Dataset):
    """Preprocessed images of ``dataset[indices]``, decoded in a worker process."""

    def __init__(self, backbone, dataset, indices):
        self.backbone, self.dataset, self.indices = backbone, dataset, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.backbone.preprocess(self.dataset[int(self.indices[i])][0])


class TorchForward:
    """``backbone.encode_image`` computed by the PyTorch tower (as arranged for inference), the way
    it ran on a CPU before ONNX Runtime."""

    def __init__(self, backbone):
        self.tower, self.basis = image_tower(), backbone.basis

    @torch.inference_mode()
    def __call__(self, images):
        pooled = self.tower.extract_features(images.contiguous(memory_format=torch.channels_last)).mean(dim=(2, 3))
        return pooled @ self.basis.T


def extract_before(backbone, forward, dataset, indices):
    """Features as extraction computed them before: the PyTorch tower on batches of 32 in this process."""
    loader = torch.utils.data.DataLoader(Decoded(backbone, dataset, indices), batch_size=BEFORE_BATCH, num_workers=1)
    return torch.cat([forward(images) for images in loader])


def tower_gflop():
    """Floating-point operations (GFLOP) of one 224 px image through the offline image tower
    (EfficientNet-Lite0's convolutions): 2 per multiply-add."""
    macs = []

    def count(module, inputs, output):
        kernel = module.weight.shape[2] * module.weight.shape[3]
        macs.append(output[0].numel() * (module.in_channels // module.groups) * kernel)

    tower = image_tower()
    hooks = [m.register_forward_hook(count) for m in tower.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            tower.extract_features(torch.zeros(1, 3, 224, 224))
    finally:
        for hook in hooks:
            hook.remove()
    return 2 * sum(macs) / 1e9


def matmul_gflops(size=1024, repeats=20):
    """This machine's float32 matrix-multiply rate (GFLOP/s) on torch's threads, best of three."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        best = max(best, 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9)
    return best


def throughput(backbone, n_images):
    dataset = load_dataset("cifar10", "test")
    batch_size = default_batch_size(backbone)
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
        extract_features(backbone, dataset, indices, progress=False)
        extraction = time.perf_counter() - start
        start = time.perf_counter()
        extract_features(backbone, dataset, indices, progress=False)
        hit = time.perf_counter() - start
    n, gflop, rate = len(indices), tower_gflop(), matmul_gflops()
    print(f"## Extraction throughput ({backbone.name}, {n} CIFAR-10 JPEGs, batch {batch_size}, "
          f"{torch.get_num_threads()} threads)\n")
    print(f"The image tower: {gflop:.2f} GFLOP an image; float32 matrix multiply here: {rate:.0f} GFLOP/s, "
          f"so a forward pass at that rate would reach {rate / gflop:.0f} images/s (the floor).\n")
    print("| measurement | images/s | share of the floor |\n|---|---|---|")
    print(f"| bare `encode_image` on preprocessed batches | {n / bare:.1f} | {100 * n / bare * gflop / rate:.0f} % |")
    print(f"| `extract_features`, empty cache | {n / extraction:.1f} | {100 * n / extraction * gflop / rate:.0f} % |")
    print(f"| `extract_features`, cache hit | {n / hit:.0f} | – |\n")


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


def forward_cpu_ms(forward, images, batch_size):
    """CPU time (ms) per image of ``forward`` on batches of ``batch_size`` over ``images`` on one thread, best of three."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    batches = [images[start:start + batch_size] for start in range(0, len(images), batch_size)]
    forward(batches[0])
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for batch in batches:
            forward(batch)
        best = min(best, (time.process_time() - start) / len(images))
    torch.set_num_threads(threads)
    return 1000 * best


def speedup(backbone, n_images):
    dataset = load_dataset("cifar10", "train")
    now = {"batch_size": default_batch_size(backbone), "num_workers": default_num_workers(backbone)}
    best, features, cosine, before = {"before": 0.0, "now": 0.0}, {}, 1.0, TorchForward(backbone)
    for round_ in range(3):
        indices = class_balanced_subset(dataset.labels, n_images // len(dataset.classnames), seed=round_ + 10)
        start = time.perf_counter()
        features["before"] = extract_before(backbone, before, dataset, indices)
        best["before"] = max(best["before"], len(indices) / (time.perf_counter() - start))
        with empty_cache():
            start = time.perf_counter()
            features["now"], _ = extract_features(backbone, dataset, indices, num_workers=now["num_workers"],
                                                  progress=False)
            best["now"] = max(best["now"], len(indices) / (time.perf_counter() - start))
        similarity = torch.nn.functional.cosine_similarity(features["before"], features["now"], dim=1)
        cosine = min(cosine, similarity.min().item())
    images = torch.stack([backbone.preprocess(dataset[i][0]) for i in range(32)])
    sizes = sorted({1, now["batch_size"], 8, BEFORE_BATCH})
    cpu = {runtime: {size: forward_cpu_ms(forward, images, size) for size in sizes}
           for runtime, forward in (("PyTorch", before), ("ONNX Runtime", backbone.encode_image))}
    print(f"## Speed-up of the defaults ({len(indices)} CIFAR-10 JPEGs, {torch.get_num_threads()} threads, "
          "alternately, best of 3)\n")
    print(f"| | before: PyTorch, batch {BEFORE_BATCH} in this process on {torch.get_num_threads()} threads, one "
          f"worker decoding | now: ONNX Runtime, batch {now['batch_size']}, {now['num_workers']} workers decoding "
          "and embedding on one thread each, into an empty cache | ratio |\n|---|---|---|---|")
    print(f"| images/s | {best['before']:.1f} | {best['now']:.1f} | {best['now'] / best['before']:.2f}× |")
    print(f"| forward pass, CPU ms per image (1 thread) | {cpu['PyTorch'][BEFORE_BATCH]:.1f} | "
          f"{cpu['ONNX Runtime'][now['batch_size']]:.1f} | "
          f"{cpu['PyTorch'][BEFORE_BATCH] / cpu['ONNX Runtime'][now['batch_size']]:.2f}× |")
    print("\nForward pass, CPU ms per image on one thread, by batch size:\n")
    print("| runtime | " + " | ".join(f"batch {size}" for size in sizes) + " |\n|---|" + "---|" * len(sizes))
    for runtime, by_size in cpu.items():
        print(f"| {runtime} | " + " | ".join(f"{ms:.1f}" for ms in by_size.values()) + " |")
    print(f"\nSmallest cosine between an image's features before and now: {cosine:.7f} "
          f"({'at least' if cosine >= 1 - 1e-5 else 'below'} 1 - 1e-5)\n")


def bfloat16_alternative(backbone, n_images=64):
    """The PyTorch forward pass in bfloat16 against float32: CPU ms per image on one thread at the default
    batch, and the smallest cosine between an image's two pooled features."""
    dataset = load_dataset("cifar10", "train")
    images = torch.stack([backbone.preprocess(dataset[i][0]) for i in range(n_images)])
    images = images.contiguous(memory_format=torch.channels_last)
    towers = {"float32": image_tower(), "bfloat16": image_tower().to(torch.bfloat16)}
    batch_size, threads = default_batch_size(backbone), torch.get_num_threads()
    torch.set_num_threads(1)
    features, cpu = {}, {}
    with torch.inference_mode():
        for name, tower in towers.items():
            inputs = images.to(next(tower.parameters()).dtype)
            features[name] = tower.extract_features(inputs).float().mean(dim=(2, 3))
            cpu[name] = float("inf")
            for _ in range(3):
                start = time.process_time()
                for first in range(0, n_images, batch_size):
                    tower.extract_features(inputs[first:first + batch_size])
                cpu[name] = min(cpu[name], 1000 * (time.process_time() - start) / n_images)
    torch.set_num_threads(threads)
    cosine = torch.nn.functional.cosine_similarity(features["float32"], features["bfloat16"], dim=1).min().item()
    print(f"## The arithmetic not taken (PyTorch, {n_images} CIFAR-10 JPEGs, batch {batch_size}, 1 thread)\n")
    print("| | float32 | bfloat16 | ratio |\n|---|---|---|---|")
    print(f"| forward pass, CPU ms per image | {cpu['float32']:.1f} | {cpu['bfloat16']:.1f} | "
          f"{cpu['float32'] / cpu['bfloat16']:.2f}× |")
    print(f"\nSmallest cosine between an image's float32 and bfloat16 features: {cosine:.4f} "
          f"({'at least' if cosine >= 1 - 1e-5 else 'below'} 1 - 1e-5)\n")


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
    parser.add_argument("--skip-accuracy", action="store_true", help="only the speed measurements")
    args = parser.parse_args()
    backbone = load_backbone("offline")
    throughput(backbone, args.images)
    speedup(backbone, args.images)
    bfloat16_alternative(backbone)
    if args.skip_accuracy:
        return
    accuracy(backbone)


if __name__ == "__main__":
    main()
