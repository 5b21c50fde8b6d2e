#!/usr/bin/env bash
# Chapters 8 and 7 at a larger scale on a GPU machine, sized to finish within 15 minutes:
# first chapter 8 (Table 4) with the paper's grid, 8 ablations × seeds 1-3 at 16 shots on each
# data set, every data set's 24 LLU models trained together as one batched problem
# (llu_core.method.batched); then chapter 7 (Table 1) with the paper's shot grid (1 2 4 8 16) and
# seeds (1 2 3). Both on the three offline data sets with 10x the book's training pools and test
# sets. The notebooks pick the GPU up by themselves (device=None means CUDA when available).
# Results, the executed notebooks and the timings go to $OUT.
#
#   scripts/gpu_chapter.sh                       # offline model
#   BACKBONE=ViT-B-16 PRETRAINED=/models/ViT-B-16.pt DATA_ROOT=/data DATASETS="dtd eurosat" scripts/gpu_chapter.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${OUT:-results/gpu}
BACKBONE=${BACKBONE:-offline}
DATASETS=${DATASETS:-fashion_mnist cifar10 dtd}
export LLU_CACHE_DIR=${LLU_CACHE_DIR:-$PWD/.cache}
options=()
[ -n "${PRETRAINED:-}" ] && options+=(--pretrained "$PRETRAINED")
[ -n "${DATA_ROOT:-}" ] && options+=(--data-root "$DATA_ROOT")
mkdir -p "$OUT"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda:", torch.cuda.is_available(),
              torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' | tee "$OUT/device.txt"
scale=(--train-per-class 500 --test-per-class 1000)
for chapter in ablations base_to_new; do
    if [ "$chapter" = ablations ]; then shots=(16); limit=300; else shots=(1 2 4 8 16); limit=540; fi
    start=$(date +%s)
    # shellcheck disable=SC2086  # DATASETS is a list of words
    timeout "$limit" "$PYTHON" -m llu_core.report.reproduce --chapters "$chapter" --backbone "$BACKBONE" "${options[@]}" \
        --datasets $DATASETS --shots "${shots[@]}" --seeds 1 2 3 "${scale[@]}" --output "$OUT" | tee "$OUT/$chapter.md"
    echo "$chapter: wall time $(( $(date +%s) - start )) s" | tee -a "$OUT/device.txt"
done
