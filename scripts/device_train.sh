#!/usr/bin/env bash
# One GPU training run inside a single device call (issue #5): unpack the carried crops, time 60 iterations,
# train for TRAIN_S seconds at that speed, and send the weights back in parts under the 16 MiB file limit.
#
# Here, once:  python scripts/device_pack.py pack .data/bench .data/device/bench
# Device call: bash scripts/device_train.sh   (carry .data/device; timeout_s 600)
# Back here:   cat <files_at>/embedder.part.* > runs/gpu/embedder.safetensors, then `sphereapp-train eval lfw`.
set -euo pipefail
PYTHON=${PYTHON:-python3}
TRAIN_S=${TRAIN_S:-360}
CONFIG=${CONFIG:-configs/device_sphereface20_sphereface2.toml}
OUT=${OUT:?set by the device tool}
export PYTHONPATH="$PWD:$PWD/.data/device/site" PYTHONUNBUFFERED=1
WORK=$(mktemp -d)

$PYTHON scripts/device_pack.py unpack .data/device/bench "$WORK/data"
fit() {
    $PYTHON -m training fit --config "$CONFIG" --data "$WORK/data" \
        --set "teacher.embeddings='$WORK/data/teacher_dlib.npy'" "$@"
}
fit --out "$WORK/probe" --set iterations=60 --set log_every=20 >"$OUT/probe.log" 2>&1
RATE=$(tail -n 1 "$WORK/probe/metrics.csv" | cut -d, -f6)  # images/s of iterations 41-60
BATCH=$($PYTHON -c "import json; print(json.load(open('$WORK/probe/config.json'))['data']['batch_size'])")
ITERATIONS=$($PYTHON -c "print(max(100, int($TRAIN_S * $RATE / $BATCH)))")
echo "measured $RATE images/s: training $ITERATIONS iterations of $BATCH" | tee "$OUT/plan.txt"
fit --out "$WORK/run" --set iterations="$ITERATIONS" 2>&1 | tr '\r' '\n' | grep -v '^fit: ' | tee "$OUT/fit.log"
cp "$WORK/run/metrics.csv" "$WORK/run/config.json" "$OUT/"
split -b 15M "$WORK/run/embedder.safetensors" "$OUT/embedder.part."
nvidia-smi --query-gpu=name,memory.used --format=csv >>"$OUT/plan.txt" 2>/dev/null || true
