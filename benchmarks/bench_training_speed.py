"""The paper's Figure 3: one training step (forward, backward, update) against the batch size.

Times LLU, CLIP-Adapter, CoOp, CoCoOp (batch 1 only, as in the paper), ProGrad and KgCoOp with
:func:`llu_core.evaluation.training_speed.measure_training_speed`:

- **end to end**, as the paper measures: the frozen image encoder's forward pass on the batch
  plus the method's step, with open_clip ViT-B/16 (random weights drawn from seed 0: a timing
  does not depend on the weights' values, and nothing is downloaded) and with the offline model,
  at 10 and at 100 classes (the first ImageNet class names of open_clip's list);
- **from cached embeddings**: the method's step alone (ViT-B/16's text tower for the prompt
  learners), the same measurement without the encoder.

The class texts are the prompts "a photo of a {class}." through the tower itself, which equals
``encode_text`` (tests/backbones/test_prompt_towers.py). Training rows are random unit embeddings.
Writes ``training_speed.json`` (every record), ``training_speed.md`` (the tables, each method's
ms per step and its ratio to CLIP-Adapter's, and the paper's two claims checked) and
``training_speed.png`` (the figure) to ``--output``.

Usage: ``python benchmarks/bench_training_speed.py [--batch-sizes 1 2 4 8 16 32] [--classes 10 100]
[--device cpu] [--threads N] [--output results/training_speed]``; ``--quick`` is a smoke run.
The GPU version (batch sizes up to 256) is ``scripts/gpu_training_speed.sh``.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")  # before tqdm is imported: no bar per fit in the log

from llu_core.backbones import load_backbone
from llu_core.backbones.openclip import OpenCLIPBackbone  # noqa: E402
from llu_core.utils.class_texts import ClassTexts  # noqa: E402
from llu_core.utils.io import atomic_path, write_json  # noqa: E402
from llu_core.evaluation.training_speed import measure_training_speed  # noqa: E402
from llu_core.report.tables import format_speed_table  # noqa: E402

SEED = 0


def class_texts(backbone, n_classes):
    """"a photo of a {class}." for the first ``n_classes`` ImageNet names, through the backbone's tower."""
    import torch
    from open_clip import IMAGENET_CLASSNAMES

    names = list(IMAGENET_CLASSNAMES[:n_classes])
    tower = backbone.context_tower()
    with torch.no_grad():
        embeddings = tower(tower.word_embeddings("a photo of a"), names).cpu().numpy()
    return ClassTexts(embeddings, names, tower)


def training_rows(n, dim, n_classes):
    rows = np.random.default_rng(SEED).normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True), np.arange(n) % n_classes


def claims(records):
    """The paper's two statements about Figure 3, checked on the end-to-end ViT-B/16 records."""
    total = {(r["setting"], r["classes"], r["batch_size"], r["method"]): r["total_s"] for r in records}
    setting = "ViT-B/16, end to end"
    keys = sorted({(c, b) for s, c, b, _ in total if s == setting})
    ratios = [total[(setting, c, b, "llu")] / total[(setting, c, b, "clip_adapter")] for c, b in keys]
    most = max(c for c, _ in keys)
    below_coop = all(total[(setting, most, b, "llu")] < total[(setting, most, b, "coop")] for c, b in keys if c == most)
    return [f"- LLU's step ≤ 1.1× CLIP-Adapter's end to end at every batch size: "
            f"{'yes' if max(ratios) <= 1.1 else 'no'} (largest ratio {max(ratios):.3f})",
            f"- LLU's step below CoOp's at {most} classes, every batch size: {'yes' if below_coop else 'no'}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--classes", nargs="+", type=int, default=[10, 100])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many fits per measurement")
    parser.add_argument("--output", default="results/training_speed")
    parser.add_argument("--quick", action="store_true", help="batch sizes 1 and 2, 10 classes: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.batch_sizes, args.classes = [1, 2], [10]
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "random weights": on purpose
        backbones = {"ViT-B/16": (OpenCLIPBackbone("ViT-B-16", pretrained=None, device=args.device), 224),
                     "offline": (load_backbone("offline", device=args.device), 224)}
    records = []
    for name, (backbone, image_size) in backbones.items():
        for n_classes in args.classes:
            T = class_texts(backbone, n_classes)
            X, y = training_rows(max(args.batch_sizes), T.shape[1], n_classes)
            measured = measure_training_speed(X, y, T, args.batch_sizes, backbone=backbone, image_size=image_size,
                                              repeats=args.repeats, progress=False)
            records += [dict(r, setting=f"{name}, end to end") for r in measured]
            if name == "ViT-B/16":  # the same steps without the encoder
                records += [dict(r, setting=f"{name}, cached embeddings", encode_s=0.0, total_s=r["step_s"])
                            for r in measured]
            print(f"{name}, {n_classes} classes: done after {time.perf_counter() - start:.0f} s", flush=True)
    device = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else (
        f"{os.cpu_count()} CPU core(s), {torch.get_num_threads()} torch thread(s), "
        f"load average {os.getloadavg()[0]:.1f}")
    lines = [f"Figure 3 reproduced on {device}; {time.perf_counter() - start:.0f} s in all.", ""]
    for setting in dict.fromkeys(r["setting"] for r in records):
        lines += [f"**{setting}**: ms per training step (× CLIP-Adapter's)", "",
                  format_speed_table([r for r in records if r["setting"] == setting]), ""]
    lines += claims(records)
    output = Path(args.output)
    write_json(output / "training_speed.json", {"device": device, "records": records})
    with atomic_path(output / "training_speed.md") as temporary:
        temporary.write_text("\n".join(lines) + "\n")
    from llu_core.report.plots import plot_training_speed

    with atomic_path(output / "training_speed.png") as temporary:
        plot_training_speed(records).savefig(temporary, dpi=110, format="png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
