"""Peak memory of clustering D (llu_core.method.clustering.cluster_centres) against the number of rows.

    .venv/bin/python benchmarks/bench_cluster_memory.py --rows 4000 8000 16000 23170 40000 60000

Each size runs in a fresh process (unit rows, d = 512, 512 centres), which reports its peak resident
memory (``ru_maxrss``) and wall time; a process that only imports torch and draws the rows gives the
baseline. Up to ``MAX_LINKAGE_ROWS`` the linkage runs on every row, and its memory grows with the square
of the rows (16 bytes per pair, :func:`~llu_core.method.clustering.linkage_bytes`); beyond, it runs on
``MAX_LINKAGE_ROWS`` spread rows and the memory stops growing. The last line extrapolates the largest
number of rows whose whole linkage fits a given memory (``--memory-gib``, default 24) from the measured
peaks (a least-squares fit of peak = a + b · n(n − 1)/2).
"""

import argparse
import json
import subprocess
import sys

import numpy as np

CHILD = """
import json, resource, sys, time
import torch
from llu_core.method.clustering import cluster_centres
n, d, run = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "run"
X = torch.nn.functional.normalize(torch.randn(n, d, generator=torch.Generator().manual_seed(0)), dim=1)
started = time.perf_counter()
if run:
    centres = cluster_centres(X, 512)
print(json.dumps({"rows": n, "seconds": time.perf_counter() - started,
                  "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20}))
"""


def measure(rows, dim, run=True):
    done = subprocess.run([sys.executable, "-c", CHILD, str(rows), str(dim), "run" if run else "baseline"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", nargs="+", type=int, default=[4000, 8000, 16000, 23170, 40000, 60000])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--memory-gib", type=float, default=24.0)
    arguments = parser.parse_args()
    from llu_core.method.clustering import MAX_LINKAGE_ROWS

    baseline = measure(1000, arguments.dim, run=False)
    print(f"baseline (torch imported, rows drawn): {baseline['peak_gib']:.2f} GiB")
    whole = []
    for rows in arguments.rows:
        result = measure(rows, arguments.dim)
        clustered = min(rows, MAX_LINKAGE_ROWS)
        print(f"{rows:>7,} rows (linkage on {clustered:,}): peak {result['peak_gib']:.2f} GiB, {result['seconds']:.1f} s",
              flush=True)
        if rows <= MAX_LINKAGE_ROWS:
            whole.append((rows * (rows - 1) / 2, result["peak_gib"]))
    if len(whole) >= 2:
        pairs, peaks = map(np.array, zip(*whole))
        slope, intercept = np.polyfit(pairs, peaks, 1)
        largest = int((1 + np.sqrt(1 + 8 * (arguments.memory_gib - intercept) / slope)) / 2)
        print(f"fit: peak = {intercept:.2f} GiB + {slope * 2 ** 30:.1f} bytes per pair; the whole linkage of "
              f"{largest:,} rows would fit {arguments.memory_gib:g} GiB")


if __name__ == "__main__":
    main()
