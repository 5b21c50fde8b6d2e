"""Speed and memory of the method on cached embeddings.

On the same random unit embeddings (d = 512) this measures, at 16 shots × 50 classes and at
16 shots × 1000 classes with 50,000 test rows:

- one LLU training step against one CLIP-Adapter training step (both on CoOp's batch of 32),
  from the time difference of fits of 1 and 3 epochs, so set-up costs cancel;
- LLU test-time scoring (512 complete-linkage centres) against plain zero-shot scoring;
- an LLU fit of one epoch, mostly its one-off set-up (clustering D_image into 512 centres);
- the peak resident memory of each measurement, each run in its own child process;
- the wall time of one full 16-shot base-to-new evaluation (fit + scoring) at 100 classes.

Prints a markdown table; the README quotes it. Timings are noisy: run on an idle machine.
Usage: ``python benchmarks/bench_method.py [--quick] [--threads N]`` (``--quick``: small
sizes, a smoke run; ``--threads``: OpenMP threads of torch, 1 is steadier on a busy machine).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

DIM, SHOTS, SEED = 512, 16, 0


def unit_rows(n, seed):
    rows = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def data(n_classes, n_test):
    T = unit_rows(n_classes, SEED)
    y = np.repeat(np.arange(n_classes), SHOTS)
    X = unit_rows(len(y), SEED + 1) + T[y]
    return X / np.linalg.norm(X, axis=1, keepdims=True), y, T, unit_rows(n_test, SEED + 2)


def seconds(function, repeats=3):
    """The best of ``repeats`` wall times of ``function()``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def measure(kind, n_classes, n_test):
    """Run one measurement in this process; returns a dict of seconds."""
    from llu_core import CLIPAdapterClassifier, LLUClassifier, ZeroShotClassifier, evaluate_base_to_new

    X, y, T, X_test = data(n_classes, n_test)
    LLUClassifier(epochs=1).fit(X[:64], y[:64], T)  # warm-up: torch's lazy imports, allocator
    steps_per_epoch = -(-len(y) // 32)
    if kind in ("llu_step", "clip_adapter_step"):
        # n_clusters=None: α is precomputed once per fit, so D's size does not change a step.
        make = {"llu_step": lambda e: LLUClassifier(epochs=e, n_clusters=None),
                "clip_adapter_step": lambda e: CLIPAdapterClassifier(epochs=e)}[kind]
        one, three = (seconds(lambda: make(e).fit(X, y, T), repeats=2) for e in (1, 3))
        return {"step": (three - one) / (2 * steps_per_epoch)}
    if kind == "llu_scoring":
        start = time.perf_counter()
        model = LLUClassifier(epochs=1).fit(X, y, T)
        fit = time.perf_counter() - start
        return {"fit_one_epoch": fit, "scoring": seconds(lambda: model.decision_function(X_test, T))}
    if kind == "zero_shot_scoring":
        model = ZeroShotClassifier().fit(X, y, T)
        return {"scoring": seconds(lambda: model.decision_function(X_test, T))}
    if kind == "base_to_new":
        X_pool, y_pool, T_all, _ = data(2 * n_classes, 0)
        return {"total": seconds(lambda: evaluate_base_to_new(LLUClassifier(), X_pool, y_pool, X_pool, y_pool, T_all,
                                                              SHOTS, seed=1), repeats=1)}
    raise ValueError(kind)


def in_child(kind, n_classes, n_test, threads):
    """Run :func:`measure` in a fresh interpreter; return its seconds plus "peak_mib" (peak RSS)."""
    command = [sys.executable, __file__, "--child", kind, str(n_classes), str(n_test)]
    env = dict(os.environ, TQDM_DISABLE="1")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "CLASSES", "TEST_ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(args.child[0], int(args.child[1]), int(args.child[2]))
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        print(json.dumps(result))
        return

    import torch

    settings = [(10, 1000), (50, 5000)] if args.quick else [(50, 10000), (1000, 50000)]
    print(f"d = {DIM}, {SHOTS} shots per class, batch 32; {os.cpu_count()} CPU core(s), "
          f"{args.threads or torch.get_num_threads()} torch thread(s), load average {os.getloadavg()[0]:.1f}\n")
    print("| classes | test rows | LLU step / CLIP-Adapter step | LLU scoring / zero-shot scoring "
          "| LLU fit: clustering + 1 epoch | peak RSS MiB (LLU step, LLU fit + scoring, zero-shot scoring) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n_classes, n_test in settings:
        llu_step = in_child("llu_step", n_classes, n_test, args.threads)
        adapter_step = in_child("clip_adapter_step", n_classes, n_test, args.threads)
        llu = in_child("llu_scoring", n_classes, n_test, args.threads)
        zero_shot = in_child("zero_shot_scoring", n_classes, n_test, args.threads)
        print(f"| {n_classes} | {n_test} | {llu_step['step'] / adapter_step['step']:.2f} "
              f"({1e3 * llu_step['step']:.2f} ms / {1e3 * adapter_step['step']:.2f} ms) "
              f"| {llu['scoring'] / zero_shot['scoring']:.2f} ({llu['scoring']:.3f} s / {zero_shot['scoring']:.3f} s) "
              f"| {llu['fit_one_epoch']:.1f} s "
              f"| {llu_step['peak_mib']:.0f}, {llu['peak_mib']:.0f}, {zero_shot['peak_mib']:.0f} |")
    n_classes = 10 if args.quick else 50
    result = in_child("base_to_new", n_classes, 0, args.threads)
    print(f"\nOne 16-shot base-to-new evaluation of LLU (defaults: 512 centres, CoOp's 200 epochs; "
          f"{2 * n_classes} classes, fit on {n_classes} x 16 rows): {result['total']:.1f} s, "
          f"peak RSS {result['peak_mib']:.0f} MiB.")


if __name__ == "__main__":
    main()
