"""What a fit of LLU's successors costs beside LLU's: fit time, learned numbers, saved size.

On the offline model's three data sets (the book's defaults: 50 training and 100 test images per
class), each method is fitted on the same 16 shots of every base class (seed 1), back to back,
``--repeats`` times, and the fastest fit is kept (``llu_core.evaluation.cost.base_fit_costs``).
The ratio to LLU's fit time, measured in the same run, is what to compare: the seconds depend on
the machine and on what else runs on it.
Usage: ``python benchmarks/bench_successors.py [--repeats N] [--threads N]``.
"""

import argparse

import torch

from llu_core import (CLAPClassifier, GDAClassifier, LLUClassifier, LPPlusPlusClassifier, ProKeRClassifier,
                      base_fit_costs, embed_dataset, method_label)

DATASETS = ("fashion_mnist", "cifar10", "dtd")
METHODS = {"llu": LLUClassifier, "gda": GDAClassifier, "proker": ProKeRClassifier,
           "lp_plus_plus": LPPlusPlusClassifier, "clap": CLAPClassifier}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="fits per method; the fastest is kept")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--shots", type=int, default=16)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.shots} shots, seed 1, "
          f"fastest of {args.repeats} fits\n")
    print("| data set | " + " | ".join(method_label(m) for m in METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    for name in DATASETS:
        data = embed_dataset("offline", name, train_per_class=50, test_per_class=100)
        costs = base_fit_costs({m: make() for m, make in METHODS.items()}, data, args.shots, 1, repeats=args.repeats)
        cells = [f"{r['fit_s']:.2f} s" if r["method"] == "llu" else f"{r['ratio_to_llu']:.3f}" for r in costs]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nLLU: its fit time; the others: their fit time over LLU's.")


if __name__ == "__main__":
    main()
