"""Many fits at once: grids one by one against together, and clustering through matrix products.

In one run, on the offline model's three data sets (the book's defaults: 50 training and 100
test images per class):

- **chapter 8's grid**: Table 4's 8 ablations × seeds 1-3 × 3 data sets at 16 shots (72 LLU
  fits), once one by one (each ``LLUClassifier.fit`` alone, as ``run_grid`` ran them before) and
  once together (``run_grid``: each data set's fits as one batched problem), with the same
  records expected from both;
- **the whole offline reproduction's grids**: Tables 1 and 4 at 1, 2, 4, 8 and 16 shots,
  seeds 1-3, the three data sets (zero-shot, CLIP-Adapter, Tip-Adapter, the linear probe, LLU
  and the 8 ablations: 675 fits, 405 of them LLU), one by one and together;
- for both, the fraction of the arithmetic floor each reaches: the floor is the time the
  matrix products of the dense formulation would take at this machine's measured float32
  matrix-product rate (4 (B + C) d² floating-point operations per LLU step of a batch of B
  images and C classes, 10 B d h per CLIP-Adapter step with a bottleneck of h); the batched
  trainer does less arithmetic than that (``llu_core.method.batched``), so its fraction can
  pass 1;
- **clustering 16,000 points** (d = 512, 1000 groups of 16 around random directions, into
  512 centres): ``llu_core.method.clustering.complete_linkage_labels`` against scikit-learn's
  ``AgglomerativeClustering(metric="cosine", linkage="complete")``, each in a child process
  for its memory (the peak resident size above the size before clustering), with the
  partitions compared;
- optionally (``--reproduce``) the wall time of ``python -m llu_core.report.reproduce`` with
  the full grid (``--shots 1 2 4 8 16 --seeds 1 2 3``, every chapter through papermill).

CPU times are the process's (``time.process_time``), which a busy machine disturbs less than
wall times; both are printed, and the ratios within one run are what to compare.
Usage: ``python benchmarks/bench_grids.py [--quick] [--threads N] [--reproduce]``
(``--quick``: one seed, shots 1 and 16 and 2,000 points to cluster, a smoke run).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

DATASETS = ("fashion_mnist", "cifar10", "dtd")
SHOTS = (1, 2, 4, 8, 16)
SEEDS = (1, 2, 3)


def timed(function):
    """``function()``'s result with its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def matmul_rate(size=2048, repeats=5):
    """The best float32 matrix-product rate of this process, in FLOP/s of CPU time."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        a @ b
        best = min(best, time.process_time() - start)
    return 2 * size ** 3 / best


def one_by_one(methods, datasets, shots, seeds):
    """The grid as ``run_grid`` ran it before the batched trainer: every fit alone, then scored."""
    from llu_core import LLUClassifier
    from llu_core.evaluation.protocols import fit_on_base, score_base_to_new

    records = []
    for data in datasets:
        for shot in shots:
            for seed in seeds:
                for name, method in methods.items():
                    model = fit_on_base(method, data.train_X, data.train_y, data.text, shot, seed)
                    record = {"method": name, "dataset": data.name, "shots": shot, "seed": seed,
                              **score_base_to_new(model, data.test_X, data.test_y, data.text)}
                    if isinstance(model, LLUClassifier):
                        record["identity_distance"] = model.identity_distance_
                    records.append(record)
    return records


def dense_flops(methods, datasets, shots, seeds):
    """The matrix-product FLOPs of every training step of the grid in the dense formulation."""
    from llu_core import CLIPAdapterClassifier, LLUClassifier
    from llu_core.evaluation.protocols import base_training_job
    from llu_core.method.training import training_epochs

    total = 0
    for data in datasets:
        d = data.train_X.shape[1]
        for shot in shots:
            for seed in seeds:
                for method in methods.values():
                    if not isinstance(method, (LLUClassifier, CLIPAdapterClassifier)):
                        continue
                    _, X, y, T = base_training_job(method, data.train_X, data.train_y, data.text, shot, seed)
                    epochs = training_epochs(method.epochs, y)
                    full, last = divmod(len(y), method.batch_size)
                    batches = [method.batch_size] * full + ([last] if last else [])
                    if isinstance(method, LLUClassifier):
                        total += epochs * sum(4 * (B + len(T)) * d * d for B in batches)
                    else:
                        total += epochs * sum(10 * B * d * (d // method.reduction) for B in batches)
    return total


def same_records(first, second):
    """How many records differ in base, new or H (accuracies, percent), and the largest relative
    difference of the identity distances."""
    differ, distance = 0, 0.0
    for a, b in zip(first, second, strict=True):
        assert (a["method"], a["dataset"], a["shots"], a["seed"]) == (b["method"], b["dataset"], b["shots"], b["seed"])
        differ += any(not np.isclose(a[m], b[m], equal_nan=True, atol=1e-9) for m in ("base", "new", "hm"))
        if "identity_distance" in a:
            distance = max(distance, abs(a["identity_distance"] - b["identity_distance"]) / a["identity_distance"])
    return differ, distance


def compare_grid(label, methods, datasets, shots, seeds, rate):
    from llu_core import run_grid

    flops = dense_flops(methods, datasets, shots, seeds)
    alone, alone_time = timed(lambda: one_by_one(methods, datasets, shots, seeds))
    together, together_time = timed(lambda: run_grid(methods, datasets, shots, seeds, progress=False))
    differ, distance = same_records(alone, together)
    floor = flops / rate
    row = {"grid": label, "runs": len(alone), "dense_gflop": flops / 1e9, "floor_s": floor,
           "one_by_one": alone_time, "together": together_time, "records_that_differ": differ,
           "largest_identity_distance_difference": distance}
    print(f"\n**{label}** ({len(alone)} runs, {flops / 1e9:.0f} GFLOP of dense matrix products, floor "
          f"{floor:.1f} s at {rate / 1e9:.0f} GFLOP/s)\n")
    print("| | CPU s | wall s | fraction of the floor (CPU) |\n|---|---|---|---|")
    for name, measured in (("one by one", alone_time), ("together", together_time)):
        print(f"| {name} | {measured['cpu_s']:.1f} | {measured['wall_s']:.1f} | {floor / measured['cpu_s']:.3f} |")
    print(f"\ntogether / one by one: {alone_time['cpu_s'] / together_time['cpu_s']:.2f}× less CPU time, "
          f"{alone_time['wall_s'] / together_time['wall_s']:.2f}× less wall time; records that differ in an "
          f"accuracy: {differ} of {len(alone)}; identity distances within {distance:.1e} (relative)")
    return row


def grouped_points(n, dim=512, per_group=16, seed=0):
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(-(-n // per_group), dim))
    X = directions.repeat(per_group, axis=0)[:n] + 0.7 * rng.normal(size=(n, dim))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


def peak_resident_mib():
    """This process's peak resident size (Linux ``VmHWM``), in MiB. Not ``getrusage``'s ru_maxrss,
    which a child started by ``subprocess`` inherits from its (larger) parent across exec."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def cluster_child(method, n, n_clusters, labels_path):
    """In a child process: cluster ``n`` points with ``method``; print seconds and peak RSS as JSON."""
    import torch
    from sklearn.cluster import AgglomerativeClustering

    from llu_core.method.clustering import complete_linkage_labels

    X = grouped_points(n)
    with open("/proc/self/statm") as statm:  # resident pages before clustering (Linux)
        before = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    if method == "llu_core":
        labels, measured = timed(lambda: complete_linkage_labels(torch.from_numpy(X), n_clusters))
    else:
        labels, measured = timed(lambda: AgglomerativeClustering(n_clusters=n_clusters, metric="cosine",
                                                                 linkage="complete").fit_predict(X))
    np.save(labels_path, labels)
    peak = peak_resident_mib()
    print(json.dumps({**measured, "peak_rss_mib": peak, "memory_mib": peak - before}))


def compare_clustering(n, n_clusters, threads):
    from sklearn.metrics import adjusted_rand_score

    results, labels = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for method in ("llu_core", "scikit-learn"):
            path = os.path.join(folder, f"{method}.npy")
            command = [sys.executable, __file__, "--cluster-child", method, str(n), str(n_clusters), path,
                       "--threads", str(threads)]
            completed = subprocess.run(command, capture_output=True, text=True, check=True)
            results[method] = json.loads(completed.stdout.strip().splitlines()[-1])
            labels[method] = np.load(path)
    agreement = adjusted_rand_score(labels["llu_core"], labels["scikit-learn"])
    print(f"\n**Clustering {n:,} points into {n_clusters} centres** (d = 512)\n")
    print("| | wall s | CPU s | memory MiB (peak RSS above the RSS before) |\n|---|---|---|---|")
    for method, label in (("llu_core", "1 − X Xᵀ in float32 blocks, SciPy's complete linkage"),
                          ("scikit-learn", "scikit-learn, metric='cosine'")):
        r = results[method]
        print(f"| {label} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['memory_mib']:.0f} |")
    ratio = results["scikit-learn"]["wall_s"] / results["llu_core"]["wall_s"]
    print(f"\nscikit-learn / llu_core: {ratio:.2f}× (wall); adjusted Rand index of the two partitions: {agreement:.4f}")
    return {"points": n, **results, "adjusted_rand_index": agreement}


def time_reproduce():
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "llu_core.report.reproduce", "--shots", *map(str, SHOTS), "--seeds",
                        *map(str, SEEDS), "--output", folder], check=True, capture_output=True,
                       env=dict(os.environ, TQDM_DISABLE="1"))
        seconds = time.perf_counter() - start
    print(f"\n**make reproduce, full grid** (chapters 7, 8 and 10 through papermill, shots {list(SHOTS)}, seeds "
          f"{list(SEEDS)}): {seconds:.0f} s wall")
    return {"reproduce_wall_s": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: one seed, shots 1 and 16, 2,000 points")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--reproduce", action="store_true", help="also time make reproduce with the full grid")
    parser.add_argument("--output", default=None, help="also write the measurements to this JSON file")
    parser.add_argument("--cluster-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cluster_child:
        method, n, n_clusters, path = args.cluster_child
        return cluster_child(method, int(n), int(n_clusters), path)

    from llu_core import (ABLATIONS, CLIPAdapterClassifier, LinearProbeClassifier, LLUClassifier,
                          TipAdapterClassifier, ZeroShotClassifier, embed_dataset)

    os.environ["TQDM_DISABLE"] = "1"
    seeds, shots, points = ((1,), (1, 16), 2000) if args.quick else (SEEDS, SHOTS, 16000)
    datasets = [embed_dataset("offline", name, train_per_class=50, test_per_class=100) for name in DATASETS]
    rate = matmul_rate()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); float32 matrix products: "
          f"{rate / 1e9:.1f} GFLOP/s")
    ablations = {name: LLUClassifier(**kwargs) for name, kwargs in ABLATIONS.items()}
    table_1 = {"zero_shot": ZeroShotClassifier(), "clip_adapter": CLIPAdapterClassifier(),
               "tip_adapter": TipAdapterClassifier(), "linear_probe": LinearProbeClassifier(), "llu": LLUClassifier()}
    rows = [compare_grid("Chapter 8's grid: 8 ablations × 3 seeds × 3 data sets, 16 shots", ablations, datasets,
                         (16,), seeds, rate)]
    reproduction = {**table_1, **{f"ablation_{name}": method for name, method in ablations.items()}}
    rows.append(compare_grid(f"The offline reproduction: Tables 1 and 4 at shots {list(shots)}, seeds {list(seeds)}, "
                             "3 data sets", reproduction, datasets, shots, seeds, rate))
    rows.append(compare_clustering(points, 512, torch.get_num_threads()))
    if args.reproduce:
        rows.append(time_reproduce())
    if args.output:
        with open(args.output, "w") as file:
            json.dump({"threads": torch.get_num_threads(), "matmul_gflops": rate / 1e9, "rows": rows}, file, indent=1)


if __name__ == "__main__":
    main()
