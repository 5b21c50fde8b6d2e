"""How far the book's numbers move when DTD's images are rebuilt with other pixels.

fetch-data rebuilds the DTD subset by resizing and JPEG-encoding every image
(:func:`llu_core.data.manifest.resize_shorter_side`), whose bytes depend on Pillow's resampling
and the libjpeg version; the manifest then accepts an image whose 8x8 thumbnail lies within
``PIXEL_TOLERANCE`` grey levels of the book's. This script moves the pixels at least that much:
it encodes every image of the offline subset once more (JPEG quality 90, a second generation),
measures how far the pixels and the thumbnails moved, and compares zero-shot and 16-shot LLU
accuracy (the offline model, all ten classes trained, the README's table) on both copies.

    python benchmarks/bench_rebuilt_pixels.py [--seeds 1 2 3] [--output results/rebuilt_pixels.json]
"""

import argparse
import base64
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from llu_core import LLUClassifier, ZeroShotClassifier, embed_dataset, few_shot_indices
from llu_core.data.manifest import PIXEL_TOLERANCE, load_manifest, pixel_signature
from llu_core.data.paths import data_root
from llu_core.utils.io import write_json


def reencode(source_root, target_root):
    """Copy the DTD subset and CoOp's split files to ``target_root``, encoding every image once more.

    Returns the largest thumbnail difference (grey levels) and the mean absolute pixel difference.
    """
    shutil.copytree(source_root / "coop_splits", target_root / "coop_splits")
    largest, differences = 0, []
    for entry in load_manifest().entries:
        if entry.source != "dtd":
            continue
        source, target = source_root / entry.path, target_root / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(source) as image:
            image.convert("RGB").save(target, "JPEG", quality=90)
        before, after = (np.asarray(Image.open(path).convert("RGB"), dtype=np.int16) for path in (source, target))
        differences.append(np.abs(before - after).mean())
        thumbnails = [np.frombuffer(base64.b64decode(pixel_signature(path).split(":", 1)[1]), np.uint8)
                      for path in (source, target)]
        largest = max(largest, int(np.abs(thumbnails[0].astype(np.int16) - thumbnails[1]).max()))
    return largest, float(np.mean(differences))


def accuracies(root, seeds):
    """Zero-shot and 16-shot LLU accuracy (%) on the DTD subset under ``root``, as in the README's table."""
    data = embed_dataset("offline", "dtd", train_per_class=50, root=root, progress=False)
    zero_shot = 100 * ZeroShotClassifier().fit(data.test_X, data.test_y, data.text).score(data.test_X, data.test_y,
                                                                                        data.text)
    llu = []
    for seed in seeds:
        shots = few_shot_indices(data.train_y, 16, seed)
        model = LLUClassifier(seed=seed).fit(data.train_X[shots], data.train_y[shots], data.text)
        llu.append(100 * model.score(data.test_X, data.test_y, data.text))
    return data, zero_shot, llu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--output", type=Path, default=Path("results/rebuilt_pixels.json"))
    arguments = parser.parse_args()
    source = data_root()
    with tempfile.TemporaryDirectory() as folder:
        largest, pixel_change = reencode(source, Path(folder))
        original, zero_shot, llu = accuracies(source, arguments.seeds)
        rebuilt, zero_shot_rebuilt, llu_rebuilt = accuracies(Path(folder), arguments.seeds)
    cosine = np.einsum("ij,ij->i", np.vstack([original.train_X, original.test_X]),
                       np.vstack([rebuilt.train_X, rebuilt.test_X]))
    result = {"largest_thumbnail_change": largest, "tolerance": PIXEL_TOLERANCE, "mean_pixel_change": pixel_change,
              "smallest_embedding_cosine": float(cosine.min()), "seeds": arguments.seeds,
              "zero_shot": [zero_shot, zero_shot_rebuilt], "llu": [llu, llu_rebuilt]}
    write_json(arguments.output, result)
    print(f"thumbnails moved by at most {largest} grey levels (tolerance {PIXEL_TOLERANCE}); pixels by "
          f"{pixel_change:.2f} on average; smallest cosine between an image's two embeddings {cosine.min():.4f}")
    print("| | offline subset | encoded once more |\n|---|---|---|")
    print(f"| zero-shot | {zero_shot:.1f} | {zero_shot_rebuilt:.1f} |")
    print(f"| 16-shot LLU, seeds {', '.join(map(str, arguments.seeds))} | {np.mean(llu):.1f} ± {np.std(llu):.1f} "
          f"({', '.join(f'{value:.1f}' for value in llu)}) | {np.mean(llu_rebuilt):.1f} ± {np.std(llu_rebuilt):.1f} "
          f"({', '.join(f'{value:.1f}' for value in llu_rebuilt)}) |")


if __name__ == "__main__":
    main()
