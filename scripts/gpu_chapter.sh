#!/usr/bin/env bash
# Chapter 7 (base to new) at a larger scale on a GPU machine, sized to finish within 15 minutes:
# the paper's shot grid (1 2 4 8 16) and seeds (1 2 3) on the three offline data sets, with 10x
# the book's training pools and test sets. The notebooks pick the GPU up by themselves
# (device=None means CUDA when available). Results and the executed notebooks go to $OUT.
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
start=$(date +%s)
# shellcheck disable=SC2086  # DATASETS is a list of words
timeout 840 "$PYTHON" -m llu_core.report.reproduce --chapters base_to_new --backbone "$BACKBONE" "${options[@]}" \
    --datasets $DATASETS --shots 1 2 4 8 16 --seeds 1 2 3 --train-per-class 500 --test-per-class 1000 \
    --output "$OUT" | tee "$OUT/table.md"
echo "wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/device.txt"
