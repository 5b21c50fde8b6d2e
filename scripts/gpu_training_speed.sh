#!/usr/bin/env bash
# The paper's Figure 3 on a GPU machine: one training step of LLU, CLIP-Adapter, CoOp, CoCoOp,
# ProGrad and KgCoOp against the batch size (1 to 256), end to end with open_clip ViT-B/16
# (random weights from seed 0; nothing is downloaded) and with the offline model, at 10 and at
# 100 classes, and from cached embeddings. Sized to finish within 10 minutes (timeout 570 s).
# The table, the records and the figure go to $OUT (training_speed.md, .json, .png).
#
#   scripts/gpu_training_speed.sh
#   OUT=/tmp/speed BATCH_SIZES="1 8 64 256" scripts/gpu_training_speed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${OUT:-results/gpu/training_speed}
BATCH_SIZES=${BATCH_SIZES:-1 2 4 8 16 32 64 128 256}
export LLU_CACHE_DIR=${LLU_CACHE_DIR:-$PWD/.cache}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$OUT"
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda:", torch.cuda.is_available(),
              torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")' | tee "$OUT/device.txt"
start=$(date +%s)
# shellcheck disable=SC2086  # BATCH_SIZES is a list of words
timeout 570 "$PYTHON" benchmarks/bench_training_speed.py --device cuda --batch-sizes $BATCH_SIZES \
    --classes 10 100 --output "$OUT"
echo "wall time: $(( $(date +%s) - start )) s" | tee -a "$OUT/device.txt"
